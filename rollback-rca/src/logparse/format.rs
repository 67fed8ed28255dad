//! Loghub-style log formats: `<Date> <Time> <Level> <Component>: <Content>` as a line regex.

use regex::Regex;

use super::ConfigError;

/// The name of the header field that holds the free-text message.
pub const CONTENT_FIELD: &str = "Content";

/// A log line layout in the Loghub syntax, compiled to a regular expression.
///
/// Field names are written in angle brackets (`<Date>`); everything between fields is a regular
/// expression fragment (as in Loghub's settings, e.g. `\[<Pid>\]`), in which runs of spaces match
/// any run of whitespace. Each field matches lazily (`.*?`) and the whole line is anchored, exactly
/// as logparser's `generate_logformat_regex` does. The format must contain `<Content>`.
#[derive(Debug, Clone)]
pub struct LogFormat {
    source: String,
    regex: Regex,
}

impl LogFormat {
    /// Compiles a format such as `<Date> <Time> <Level> <Component>: <Content>`.
    ///
    /// Fails if the format has no `<Content>` field, names a field twice, or its literal parts are
    /// not a valid regular expression.
    pub fn new(format: &str) -> Result<Self, ConfigError> {
        let field = Regex::new(r"<([^<>]+)>").map_err(|e| ConfigError::Format {
            format: format.to_owned(),
            reason: e.to_string(),
        })?;
        let spaces = Regex::new(" +").map_err(|e| ConfigError::Format {
            format: format.to_owned(),
            reason: e.to_string(),
        })?;
        let mut pattern = String::from("^");
        let mut names: Vec<&str> = Vec::new();
        let mut last = 0;
        for caps in field.captures_iter(format) {
            let (Some(whole), Some(name)) = (caps.get(0), caps.get(1)) else {
                continue;
            };
            pattern.push_str(&spaces.replace_all(&format[last..whole.start()], r"\s+"));
            let name = name.as_str();
            if !is_group_name(name) {
                return Err(ConfigError::Format {
                    format: format.to_owned(),
                    reason: format!(
                        "field <{name}> is not a valid field name (accepted: a letter or `_` \
                         followed by letters, digits or `_`)"
                    ),
                });
            }
            if names.contains(&name) {
                return Err(ConfigError::Format {
                    format: format.to_owned(),
                    reason: format!("field <{name}> appears twice"),
                });
            }
            names.push(name);
            pattern.push_str(&format!("(?P<{name}>.*?)"));
            last = whole.end();
        }
        pattern.push_str(&spaces.replace_all(&format[last..], r"\s+"));
        pattern.push('$');
        if !names.contains(&CONTENT_FIELD) {
            return Err(ConfigError::FormatWithoutContent(format.to_owned()));
        }
        let regex = Regex::new(&pattern).map_err(|e| ConfigError::Format {
            format: format.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            source: format.to_owned(),
            regex,
        })
    }

    /// The `<Content>` part of `line` (after trimming surrounding whitespace), or `None` when the
    /// line does not have this format.
    pub fn content<'a>(&self, line: &'a str) -> Option<&'a str> {
        self.regex
            .captures(line.trim())
            .and_then(|caps| caps.name(CONTENT_FIELD))
            .map(|m| m.as_str())
    }

    /// The format as it was written.
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

fn is_group_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_content_after_header_fields() {
        let f = LogFormat::new("<Date> <Time> <Level> <Component>: <Content>").unwrap();
        assert_eq!(
            f.content("081109 203615 INFO dfs.DataNode: Receiving block blk_1 src: /10.0.0.1"),
            Some("Receiving block blk_1 src: /10.0.0.1")
        );
    }

    #[test]
    fn literal_parts_are_regex_fragments() {
        let f = LogFormat::new(r"\[<Time>\] \[<Level>\] <Content>").unwrap();
        assert_eq!(
            f.content("[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok"),
            Some("workerEnv.init() ok")
        );
        let g = LogFormat::new(r"<Month> <Date> <Time> <Level> <Component>(\[<PID>\])?: <Content>")
            .unwrap();
        assert_eq!(
            g.content("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass; user unknown"),
            Some("check pass; user unknown")
        );
    }

    #[test]
    fn line_of_another_format_has_no_content() {
        let f = LogFormat::new(r"\[<Time>\] <Content>").unwrap();
        assert_eq!(f.content("no brackets here"), None);
    }

    #[test]
    fn format_without_content_is_rejected_with_an_example() {
        let err = LogFormat::new("<Date> <Time> <Message>").unwrap_err();
        assert!(matches!(err, ConfigError::FormatWithoutContent(_)));
        assert!(err.to_string().contains("<Content>"), "{err}");
    }

    #[test]
    fn duplicate_or_invalid_fields_are_rejected() {
        assert!(LogFormat::new("<Date> <Date> <Content>").is_err());
        assert!(LogFormat::new("<Da-te> <Content>").is_err());
        assert!(LogFormat::new(r"<Date> ( <Content>").is_err());
    }
}
