//! Behaviour of the streaming parser through its public API.

use rollback_rca::logparse::{ConfigError, Parser, ParserConfig, Strategy};

fn improved() -> Parser {
    Parser::new(ParserConfig::new()).unwrap()
}

fn drain() -> Parser {
    Parser::new(ParserConfig::new().strategy(Strategy::Drain)).unwrap()
}

fn same(
    p: &Parser,
    a: rollback_rca::logparse::ClusterId,
    b: rollback_rca::logparse::ClusterId,
) -> bool {
    p.resolve(a).is_some() && p.resolve(a) == p.resolve(b)
}

#[test]
fn short_messages_differing_in_one_word_are_different_events() {
    let mut p = improved();
    let a = p.add("Connection closed");
    let b = p.add("Connection reset");
    assert!(!same(&p, a, b));
    // Drain at st 0.5 merges them: half the tokens match.
    let mut d = Parser::new(ParserConfig::new().strategy(Strategy::Drain).depth(3)).unwrap();
    let a = d.add("Connection closed");
    let b = d.add("Connection reset");
    assert!(same(&d, a, b));
}

#[test]
fn id_lists_of_varying_length_share_a_template() {
    let mut p = improved();
    let a = p.add("Removing blocks [blk_1, blk_2, blk_3] from node dn-4");
    let b = p.add("Removing blocks [blk_9] from node dn-2");
    assert!(same(&p, a, b));
    assert_eq!(p.template(a).unwrap(), "Removing blocks <*> from node <*>");
}

#[test]
fn a_parameter_containing_spaces_merges_across_token_counts() {
    let mut p = improved();
    let ids = [
        p.add("Failed to start Alpha service"),
        p.add("Failed to start Beta service"),
        p.add("Failed to start Gamma Delta service"),
        p.add("Failed to start Epsilon Zeta service"),
    ];
    assert!(ids.iter().all(|&id| same(&p, ids[0], id)));
    assert_eq!(p.templates(), ["Failed to start <*> service"]);
}

#[test]
fn a_leading_word_parameter_becomes_a_wildcard_after_three_values() {
    let mut p = improved();
    let a = p.add("alice logged in");
    let b = p.add("bob logged in");
    assert!(!same(&p, a, b), "two values may be two events");
    let c = p.add("carol logged in");
    let d = p.add("dave logged in");
    assert!(same(&p, a, b) && same(&p, a, c) && same(&p, a, d));
    assert_eq!(p.template(d).unwrap(), "<*> logged in");
    assert_eq!(p.cluster_summary(a).unwrap().count, 4);
}

#[test]
fn two_words_at_one_position_stay_two_templates() {
    let mut p = improved();
    let a = p.add("Starting service nginx");
    let b = p.add("Stopping service nginx");
    assert!(!same(&p, a, b));
    assert_eq!(p.templates().len(), 2);
}

#[test]
fn long_messages_absorb_a_differing_word_like_drain() {
    for mut p in [improved(), drain()] {
        let a = p.add("Invalid user admin from 10.0.0.1 port 5000");
        let b = p.add("Invalid user oracle from 10.0.0.2 port 5001");
        assert!(same(&p, a, b));
    }
}

#[test]
fn cluster_count_stays_within_max_clusters_and_forgotten_ids_resolve_to_none() {
    let mut p = Parser::new(ParserConfig::new().max_clusters(8)).unwrap();
    let first = p.add("event number zero happened");
    for i in 0..1000 {
        // Digit-free words, so every line is a new template.
        p.add(&format!("{} kind {} here", letters(i), letters(i * 7 + 3)));
        assert!(p.tracked_clusters() <= 8);
    }
    assert_eq!(p.resolve(first), None);
    assert_eq!(p.template(first), None);
    assert_eq!(p.lines(), 1001);
}

fn letters(mut n: usize) -> String {
    let mut s = String::new();
    loop {
        s.push((b'a' + (n % 26) as u8) as char);
        n /= 26;
        if n == 0 {
            return s;
        }
    }
}

#[test]
fn examples_are_bounded_and_counts_cover_every_line() {
    let mut p = Parser::new(ParserConfig::new().max_examples(2)).unwrap();
    let mut id = None;
    for i in 0..10 {
        id = Some(p.add(&format!("Took {i} ms to flush")));
    }
    let s = p.cluster_summary(id.unwrap()).unwrap();
    assert_eq!(s.count, 10);
    assert_eq!(s.examples, ["Took 0 ms to flush", "Took 1 ms to flush"]);
    assert_eq!(s.template, "Took <*> ms to flush");
}

#[test]
fn the_format_keeps_content_and_unmatched_lines_are_mined_whole() {
    let mut p =
        Parser::new(ParserConfig::new().format(r"\[<Time>\] \[<Level>\] <Content>")).unwrap();
    let a = p.add("[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties");
    assert_eq!(p.template(a).unwrap(), "workerEnv.init() ok <*>");
    assert_eq!(p.unformatted(), 0);
    p.add("a continuation line without header");
    assert_eq!(p.unformatted(), 1);
    // Examples keep the whole line, header included.
    assert!(p.cluster_summary(a).unwrap().examples[0].starts_with("[Sun Dec"));
}

#[test]
fn masks_apply_before_tokenising() {
    let mut p = Parser::new(ParserConfig::new().mask(r"core\.\d+")).unwrap();
    let a = p.add("generating core.2275");
    let b = p.add("generating core.862");
    assert!(same(&p, a, b));
    assert_eq!(p.template(a).unwrap(), "generating <*>");
}

#[test]
fn drain_strategy_never_matches_messages_shorter_than_depth_minus_two() {
    // logparser's Drain.py files such clusters nowhere, so each message starts a new one.
    let mut d = Parser::new(ParserConfig::new().strategy(Strategy::Drain).depth(6)).unwrap();
    let a = d.add("Connection closed");
    let b = d.add("Connection closed");
    assert!(!same(&d, a, b));
    let mut p = Parser::new(ParserConfig::new().depth(6)).unwrap();
    let a = p.add("Connection closed");
    let b = p.add("Connection closed");
    assert!(same(&p, a, b));
}

#[test]
fn bad_settings_are_refused_saying_what_is_accepted() {
    let err = Parser::new(ParserConfig::new().similarity(1.5)).unwrap_err();
    assert_eq!(err, ConfigError::Similarity(1.5));
    assert!(err.to_string().contains("0.0 to 1.0"));
    assert!(Parser::new(ParserConfig::new().similarity(f64::NAN)).is_err());
    assert_eq!(
        Parser::new(ParserConfig::new().depth(2)).unwrap_err(),
        ConfigError::Depth(2)
    );
    assert_eq!(
        Parser::new(ParserConfig::new().max_clusters(0)).unwrap_err(),
        ConfigError::MaxClusters
    );
    let err = Parser::new(ParserConfig::new().mask("(unclosed")).unwrap_err();
    assert!(
        matches!(err, ConfigError::Mask { ref pattern, .. } if pattern == "(unclosed"),
        "{err}"
    );
    let err = Parser::new(ParserConfig::new().format("<Date> <Msg>")).unwrap_err();
    assert!(matches!(err, ConfigError::FormatWithoutContent(_)));
}

#[test]
fn empty_messages_share_one_cluster() {
    let mut p = improved();
    let a = p.add("");
    let b = p.add("   ");
    assert!(same(&p, a, b));
}

#[test]
fn distinct_single_word_messages_never_merge() {
    let mut p = improved();
    let words = ["ok", "Shutdown", "Restart", "Starting", "ok", "Restart"];
    let ids: Vec<_> = words.iter().map(|w| p.add(w)).collect();
    assert!(same(&p, ids[0], ids[4]) && same(&p, ids[2], ids[5]));
    assert_eq!(p.templates().len(), 4, "{:?}", p.templates());
}

#[test]
fn messages_agreeing_on_less_than_half_their_words_stay_apart() {
    let mut p = improved();
    let a = p.add("Failed to open file config");
    let b = p.add("Failed to bind socket address");
    assert!(!same(&p, a, b));
}

#[test]
fn new_values_of_a_leading_parameter_join_without_new_clusters() {
    let mut p = improved();
    for user in ["alice", "bob", "carol"] {
        p.add(&format!("{user} logged in"));
    }
    let tracked = p.tracked_clusters();
    for user in ["dave", "erin", "frank", "grace", "heidi"] {
        p.add(&format!("{user} logged in"));
    }
    assert_eq!(p.tracked_clusters(), tracked);
    assert_eq!(p.templates(), ["<*> logged in"]);
}
