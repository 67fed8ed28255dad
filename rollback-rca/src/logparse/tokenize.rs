//! Turning a message into tokens: masks, then (improved strategy) parameter generalisation.

use std::borrow::Cow;

use regex::Regex;

/// The wildcard that stands for a parameter in templates.
pub const WILDCARD: &str = "<*>";

/// Replaces every match of every mask with the wildcard, in order.
pub(crate) fn apply_masks<'a>(masks: &[Regex], content: &'a str) -> Cow<'a, str> {
    let mut current = Cow::Borrowed(content);
    for mask in masks {
        let replaced = match mask.replace_all(&current, WILDCARD) {
            Cow::Borrowed(_) => None,
            Cow::Owned(s) => Some(s),
        };
        if let Some(s) = replaced {
            current = Cow::Owned(s);
        }
    }
    current
}

/// Splits on whitespace, keeping tokens as they are (Drain).
pub(crate) fn tokens_plain<'a>(content: &'a str, out: &mut Vec<Cow<'a, str>>) {
    out.clear();
    out.extend(content.split_whitespace().map(Cow::Borrowed));
}

/// Splits on whitespace, turns parameter-looking tokens into the wildcard (keeping the key of a
/// `key=value` token) and collapses each run of wildcards into one, so that a parameter spanning a
/// varying number of tokens (an id list, a quoted name with spaces of digits) yields one shape.
pub(crate) fn tokens_generalised<'a>(content: &'a str, out: &mut Vec<Cow<'a, str>>) {
    out.clear();
    for token in content.split_whitespace() {
        let token = generalise(token);
        if token == WILDCARD && out.last().is_some_and(|t| t == WILDCARD) {
            continue;
        }
        out.push(token);
    }
}

/// Whether a token is (or has just become) a parameter.
fn generalise(token: &str) -> Cow<'_, str> {
    let bytes = token.as_bytes();
    if token == WILDCARD {
        return Cow::Borrowed(WILDCARD);
    }
    // `()`, `[]`, `""`: a parameter whose value is empty this time.
    let bare = token.trim_end_matches([',', ';', ':', '.']);
    if matches!(bare, "()" | "[]" | "{}" | "<>" | "''" | "\"\"") {
        return Cow::Borrowed(WILDCARD);
    }
    if token.contains(WILDCARD) {
        // `<*>,` `(<*>)` `[<*>]` — a masked parameter with punctuation around it.
        let rest = token.replace(WILDCARD, "");
        if rest.bytes().all(|b| b.is_ascii_punctuation()) {
            return Cow::Borrowed(WILDCARD);
        }
        return Cow::Borrowed(token);
    }
    if bytes.iter().any(u8::is_ascii_digit) {
        // `uid=0`, `port:22` keep their key; anything else with a digit is a parameter
        // (numbers, hex, addresses, versions, ids, times).
        if let Some(p) = token.find(['=', ':']) {
            let (key, value) = (&token[..p], &token[p + 1..]);
            let key_is_word = !key.is_empty()
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphabetic() || b == b'_' || b == b'-' || b == b'.');
            if key_is_word && !value.is_empty() && value.bytes().any(|b| b.is_ascii_digit()) {
                return Cow::Owned(format!("{}{WILDCARD}", &token[..=p]));
            }
        }
        return Cow::Borrowed(WILDCARD);
    }
    if (bytes.len() > 1 && bytes[0] == b'/') || token.contains("://") || token.contains(":\\") {
        return Cow::Borrowed(WILDCARD);
    }
    Cow::Borrowed(token)
}

pub(crate) fn has_digit(token: &str) -> bool {
    token.bytes().any(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gen(s: &str) -> Vec<String> {
        let mut v = Vec::new();
        tokens_generalised(s, &mut v);
        v.into_iter().map(Cow::into_owned).collect()
    }

    #[test]
    fn numbers_paths_and_addresses_become_parameters() {
        assert_eq!(
            gen("Deleting block 42 file /data/dfs/1 from 10.0.0.1:50010"),
            ["Deleting", "block", "<*>", "file", "<*>", "from", "<*>"]
        );
    }

    #[test]
    fn an_empty_bracket_pair_is_an_empty_parameter() {
        assert_eq!(
            gen("connection from 1.2.3.4 () at"),
            gen("connection from 1.2.3.4 (host-1) at")
        );
        assert_eq!(gen("user=\"\", id=[]"), ["user=\"\",", "id=[]"]);
        assert_eq!(gen("got [] and \"\","), ["got", "<*>", "and", "<*>"]);
    }

    #[test]
    fn key_value_tokens_keep_their_key() {
        assert_eq!(
            gen("uid=0 euid=0 tty=ssh"),
            ["uid=<*>", "euid=<*>", "tty=ssh"]
        );
    }

    #[test]
    fn id_lists_of_any_length_collapse_to_one_parameter() {
        assert_eq!(gen("Removed ids [1, 2, 3] ok"), gen("Removed ids [7] ok"));
        assert_eq!(
            gen("Removed ids [1, 2, 3] ok"),
            ["Removed", "ids", "<*>", "ok"]
        );
    }

    #[test]
    fn masks_replace_whole_matches() {
        let masks = [Regex::new(r"blk_-?\d+").unwrap()];
        assert_eq!(apply_masks(&masks, "block blk_-12 ok"), "block <*> ok");
        assert!(matches!(apply_masks(&masks, "no match"), Cow::Borrowed(_)));
    }
}
