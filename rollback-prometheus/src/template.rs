//! PromQL templates: parsing and validation of placeholders, escaping, rendering, defaults.
//!
//! A template is PromQL with placeholders in braces. Value placeholders (`{deployment}`,
//! `{namespace}`, `{version}`, `{revision}`) must stand inside a double-quoted string: their value
//! is escaped for that string (and, after `=~` / `!~`, for the regular expression too), so a value
//! can never end the string and inject PromQL. Structural placeholders (`{selector}`,
//! `{pod_selector}`, `{window}`, `{step}`, `{quantile}`) must stand outside strings; they expand to
//! text this crate builds from escaped values and validated names.

use std::fmt::Write as _;
use std::time::Duration;

use rollback_core::{Error, ErrorKind, Quantile, ReleaseRef, Result, Target};

use crate::config::{LabelNames, LatencyUnit, MetricNames};

/// Every placeholder a template may use, in the order error messages list them.
pub const PLACEHOLDERS: [&str; 9] = [
    "deployment",
    "namespace",
    "version",
    "revision",
    "selector",
    "pod_selector",
    "window",
    "step",
    "quantile",
];

fn accepted_list() -> String {
    PLACEHOLDERS
        .iter()
        .map(|p| format!("{{{p}}}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Value {
    Deployment,
    Namespace,
    Version,
    Revision,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Structural {
    Selector,
    PodSelector,
    Window,
    Step,
    Quantile,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    /// A value inside a double-quoted string; `regex` when the string is a regex matcher.
    Value {
        value: Value,
        regex: bool,
    },
    Structural(Structural),
}

/// A parsed, validated PromQL template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    name: String,
    source: String,
    pieces: Vec<Piece>,
}

/// What a template is rendered with.
pub(crate) struct Vars<'a> {
    pub target: &'a Target,
    pub release: Option<&'a ReleaseRef>,
    pub window: Duration,
    pub step: Duration,
    pub quantile: Option<Quantile>,
    pub labels: &'a LabelNames,
}

fn template_error(name: &str, msg: String) -> Error {
    Error::new(ErrorKind::InvalidInput, msg)
        .with_backend("prometheus")
        .with_operation("configure")
        .with_context("template", name)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Lex {
    Code,
    Comment,
    Double { regex: bool },
    Single,
    Backtick,
}

impl Template {
    /// Parses and validates `source`. `allow_quantile` is true only for the latency template.
    pub(crate) fn parse(name: &str, source: &str, allow_quantile: bool) -> Result<Self> {
        if source.trim().is_empty() {
            return Err(template_error(
                name,
                format!("template `{name}` is empty: expected a PromQL expression"),
            ));
        }
        let mut pieces = Vec::new();
        let mut lit = String::new();
        let mut state = Lex::Code;
        let mut chars = source.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match state {
                Lex::Comment => {
                    lit.push(c);
                    if c == '\n' {
                        state = Lex::Code;
                    }
                    continue;
                }
                Lex::Double { .. } | Lex::Single | Lex::Backtick if c == '\\' => {
                    lit.push(c);
                    if state != Lex::Backtick {
                        if let Some((_, next)) = chars.next() {
                            lit.push(next);
                        }
                    }
                    continue;
                }
                Lex::Double { .. } if c == '"' => {
                    state = Lex::Code;
                    lit.push(c);
                    continue;
                }
                Lex::Single if c == '\'' => {
                    state = Lex::Code;
                    lit.push(c);
                    continue;
                }
                Lex::Backtick if c == '`' => {
                    state = Lex::Code;
                    lit.push(c);
                    continue;
                }
                Lex::Code => match c {
                    '"' => {
                        let before = lit.trim_end();
                        let regex = before.ends_with("=~") || before.ends_with("!~");
                        state = Lex::Double { regex };
                        lit.push(c);
                        continue;
                    }
                    '\'' => {
                        state = Lex::Single;
                        lit.push(c);
                        continue;
                    }
                    '`' => {
                        state = Lex::Backtick;
                        lit.push(c);
                        continue;
                    }
                    '#' => {
                        state = Lex::Comment;
                        lit.push(c);
                        continue;
                    }
                    _ => {}
                },
                _ => {}
            }
            // Code or inside a string: is this `{identifier}`?
            if c == '{' {
                if let Some(ident) = placeholder_at(&source[i + 1..]) {
                    // Consume the identifier and the closing brace.
                    for _ in 0..=ident.chars().count() {
                        chars.next();
                    }
                    let piece = classify(name, ident, state, allow_quantile)?;
                    if !lit.is_empty() {
                        pieces.push(Piece::Literal(std::mem::take(&mut lit)));
                    }
                    pieces.push(piece);
                    continue;
                }
            }
            lit.push(c);
        }
        match state {
            Lex::Double { .. } | Lex::Single | Lex::Backtick => {
                return Err(template_error(
                    name,
                    format!(
                        "template `{name}` has an unterminated string literal: \
                         expected every quote to be closed"
                    ),
                ));
            }
            Lex::Code | Lex::Comment => {}
        }
        if !lit.is_empty() {
            pieces.push(Piece::Literal(lit));
        }
        Ok(Template {
            name: name.to_string(),
            source: source.to_string(),
            pieces,
        })
    }

    /// The template as written.
    pub(crate) fn source(&self) -> &str {
        &self.source
    }

    /// Renders the template to PromQL.
    pub(crate) fn render(&self, vars: &Vars<'_>) -> Result<String> {
        let mut out = String::with_capacity(self.source.len() + 64);
        for piece in &self.pieces {
            match piece {
                Piece::Literal(s) => out.push_str(s),
                Piece::Value { value, regex } => {
                    let raw = self.value(*value, vars)?;
                    if *regex {
                        out.push_str(&escape_string(&escape_regex(raw)));
                    } else {
                        out.push_str(&escape_string(raw));
                    }
                }
                Piece::Structural(Structural::Selector) => out.push_str(&selector(vars)),
                Piece::Structural(Structural::PodSelector) => out.push_str(&pod_selector(vars)),
                Piece::Structural(Structural::Window) => {
                    out.push_str(&promql_duration(vars.window))
                }
                Piece::Structural(Structural::Step) => out.push_str(&promql_duration(vars.step)),
                Piece::Structural(Structural::Quantile) => match vars.quantile {
                    Some(q) => {
                        let _ = write!(out, "{}", q.as_fraction());
                    }
                    None => {
                        return Err(self.render_error(
                            "{quantile}",
                            "the query is not a latency query: expected MetricKind::Latency",
                        ))
                    }
                },
            }
        }
        Ok(out)
    }

    fn value<'v>(&self, value: Value, vars: &'v Vars<'_>) -> Result<&'v str> {
        match value {
            Value::Deployment => Ok(&vars.target.deployment),
            Value::Namespace => vars.target.namespace.as_deref().ok_or_else(|| {
                self.render_error(
                    "{namespace}",
                    &format!(
                        "target {} has no namespace: expected a target with a namespace, \
                         or a template without {{namespace}}",
                        vars.target
                    ),
                )
            }),
            Value::Version => vars.release.map(|r| r.version.as_str()).ok_or_else(|| {
                self.render_error(
                    "{version}",
                    "the query names no release: expected a query for one release \
                     (MetricQuery::for_release), or {selector}, which adds the version only \
                     when there is one",
                )
            }),
            Value::Revision => vars.release.map(|r| r.revision.as_str()).ok_or_else(|| {
                self.render_error(
                    "{revision}",
                    "the query names no release: expected a query for one release \
                     (MetricQuery::for_release), or {pod_selector}",
                )
            }),
        }
    }

    fn render_error(&self, placeholder: &str, why: &str) -> Error {
        Error::new(
            ErrorKind::InvalidInput,
            format!("template `{}` uses {placeholder} but {why}", self.name),
        )
        .with_backend("prometheus")
        .with_operation("query")
        .with_context("template", &self.name)
    }
}

/// The identifier of a `{identifier}` placeholder starting right after `{`, if there is one.
fn placeholder_at(rest: &str) -> Option<&str> {
    let end = rest.find('}')?;
    let ident = &rest[..end];
    let mut cs = ident.chars();
    let first = cs.next()?;
    if (first.is_ascii_alphabetic() || first == '_')
        && cs.all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        Some(ident)
    } else {
        None
    }
}

fn classify(name: &str, ident: &str, state: Lex, allow_quantile: bool) -> Result<Piece> {
    let value = match ident {
        "deployment" => Some(Value::Deployment),
        "namespace" => Some(Value::Namespace),
        "version" => Some(Value::Version),
        "revision" => Some(Value::Revision),
        _ => None,
    };
    let structural = match ident {
        "selector" => Some(Structural::Selector),
        "pod_selector" => Some(Structural::PodSelector),
        "window" => Some(Structural::Window),
        "step" => Some(Structural::Step),
        "quantile" => Some(Structural::Quantile),
        _ => None,
    };
    match (value, structural, state) {
        (None, None, _) => Err(template_error(
            name,
            format!(
                "template `{name}` has an unknown placeholder {{{ident}}}: accepted placeholders \
                 are {}",
                accepted_list()
            ),
        )),
        (Some(value), _, Lex::Double { regex }) => Ok(Piece::Value { value, regex }),
        (Some(_), _, _) => Err(template_error(
            name,
            format!(
                "template `{name}` has {{{ident}}} outside a double-quoted string: value \
                 placeholders must stand inside double quotes (e.g. label=\"{{{ident}}}\") so \
                 that their value is escaped"
            ),
        )),
        (None, Some(Structural::Quantile), Lex::Code) if !allow_quantile => Err(template_error(
            name,
            format!(
                "template `{name}` uses {{quantile}}, which is accepted only in the latency \
                 template"
            ),
        )),
        (None, Some(s), Lex::Code) => Ok(Piece::Structural(s)),
        (None, Some(_), _) => Err(template_error(
            name,
            format!(
                "template `{name}` has {{{ident}}} inside a string literal: expected it outside \
                 quotes (it expands to PromQL, e.g. metric{{{{selector}}}}[{{window}}])"
            ),
        )),
    }
}

/// Escapes `s` for the inside of a double-quoted PromQL string.
///
/// PromQL strings follow Go's escapes: `\\`, `\"`, `\n`, `\r`, `\t`, `\xNN`, `\uNNNN`. Every
/// backslash, double quote and control character is escaped; the result can never end the string.
pub(crate) fn escape_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// Escapes the metacharacters of RE2 (Prometheus's regex syntax) so `s` matches only itself.
pub(crate) fn escape_regex(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A PromQL duration: whole seconds as `60s`, otherwise milliseconds (`1500ms`), at least `1ms`.
pub(crate) fn promql_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 && d.as_secs() > 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis().max(1))
    }
}

/// `deployment="…",namespace="…",version="…"`: the target (and release) on application series.
fn selector(vars: &Vars<'_>) -> String {
    let l = vars.labels;
    let mut out = format!(
        "{}=\"{}\"",
        l.deployment,
        escape_string(&vars.target.deployment)
    );
    if let Some(ns) = &vars.target.namespace {
        let _ = write!(out, ",{}=\"{}\"", l.namespace, escape_string(ns));
    }
    if let Some(r) = vars.release {
        let _ = write!(
            out,
            ",{}=\"{}\"",
            l.version,
            escape_string(r.version.as_str())
        );
        if let Some(rev) = &l.revision {
            let _ = write!(out, ",{rev}=\"{}\"", escape_string(&r.revision));
        }
    }
    out
}

/// `namespace="…",pod=~"…"`: the target's (or release's) pods on cAdvisor and kube-state-metrics
/// series. Pods of a Deployment are named `<deployment>-<replicaset hash>-<suffix>`; a release's
/// revision is its ReplicaSet name, so its pods are `<revision>-<suffix>`.
fn pod_selector(vars: &Vars<'_>) -> String {
    let l = vars.labels;
    let mut out = String::new();
    if let Some(ns) = &vars.target.namespace {
        let _ = write!(out, "{}=\"{}\",", l.namespace, escape_string(ns));
    }
    let pods = match vars.release {
        Some(r) => format!("{}-[a-z0-9]+", escape_regex(&r.revision)),
        None => format!(
            "{}-[a-z0-9]+-[a-z0-9]+",
            escape_regex(&vars.target.deployment)
        ),
    };
    let _ = write!(out, "{}=~\"{}\"", l.pod, escape_string(&pods));
    out
}

/// Checks that a configured label or metric name is a valid Prometheus name, so it can be put
/// into PromQL unquoted.
pub(crate) fn check_name(what: &str, name: &str, metric: bool) -> Result<()> {
    let mut cs = name.chars();
    let ok = match cs.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' || (metric && c == ':') => {
            cs.all(|c| c.is_ascii_alphanumeric() || c == '_' || (metric && c == ':'))
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        let accepted = if metric {
            "[a-zA-Z_:][a-zA-Z0-9_:]*"
        } else {
            "[a-zA-Z_][a-zA-Z0-9_]*"
        };
        Err(Error::new(
            ErrorKind::InvalidInput,
            format!("{what} {name:?} is not a valid Prometheus name: expected {accepted}"),
        )
        .with_backend("prometheus")
        .with_operation("configure"))
    }
}

/// The default templates, built from the configured metric and label names.
pub(crate) struct Defaults {
    pub error_rate: String,
    pub request_rate: String,
    pub latency: String,
    pub cpu: String,
    pub memory: String,
    pub memory_bytes: String,
    pub status_codes: String,
    pub latency_histogram: String,
}

/// The default templates (see the crate README for the text with default names).
pub(crate) fn defaults(metrics: &MetricNames, labels: &LabelNames) -> Defaults {
    let req = &metrics.requests;
    let status = &labels.status;
    let bucket = format!("{}_bucket", metrics.latency_histogram);
    let scale = match metrics.latency_unit {
        LatencyUnit::Seconds => "1000 * ",
        LatencyUnit::Milliseconds => "",
    };
    let containers = r#"container!="",container!="POD""#;
    Defaults {
        error_rate: format!(
            "(sum(rate({req}{{{{selector}},{status}=~\"5..\"}}[{{window}}])) or vector(0)) \
             / sum(rate({req}{{{{selector}}}}[{{window}}]))"
        ),
        request_rate: format!("sum(rate({req}{{{{selector}}}}[{{window}}]))"),
        latency: format!(
            "{scale}histogram_quantile({{quantile}}, sum by (le) \
             (rate({bucket}{{{{selector}}}}[{{window}}])))"
        ),
        cpu: format!(
            "100 * sum(rate(container_cpu_usage_seconds_total{{{{pod_selector}},{containers}}}\
             [{{window}}])) / sum(kube_pod_container_resource_limits{{{{pod_selector}},\
             resource=\"cpu\"}})"
        ),
        memory: format!(
            "100 * sum(container_memory_working_set_bytes{{{{pod_selector}},{containers}}}) \
             / sum(kube_pod_container_resource_limits{{{{pod_selector}},resource=\"memory\"}})"
        ),
        memory_bytes: format!(
            "sum(container_memory_working_set_bytes{{{{pod_selector}},{containers}}})"
        ),
        // Counters, one series per process and label set: the source counts them per step.
        status_codes: format!("{req}{{{{selector}}}}"),
        latency_histogram: format!("{bucket}{{{{selector}}}}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rollback_core::{Environment, Version};

    fn target() -> Target {
        Target::new(Environment::Production, "checkout").with_namespace("shop")
    }

    fn release() -> ReleaseRef {
        ReleaseRef {
            version: Version::parse("v1.3.0").expect("version"),
            revision: "checkout-7d9f8b6c5".into(),
        }
    }

    fn render(src: &str, target: &Target, release: Option<&ReleaseRef>) -> Result<String> {
        let labels = LabelNames::default();
        let t = Template::parse("t", src, true)?;
        t.render(&Vars {
            target,
            release,
            window: Duration::from_secs(120),
            step: Duration::from_secs(60),
            quantile: Some(Quantile::P95),
            labels: &labels,
        })
    }

    #[test]
    fn unknown_placeholder_error_lists_the_accepted_ones() {
        let err = Template::parse("error_rate", "sum(x{d=\"{deploy}\"})", false).expect_err("bad");
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let msg = err.to_string();
        assert!(msg.contains("{deploy}"), "{msg}");
        for p in PLACEHOLDERS {
            assert!(msg.contains(&format!("{{{p}}}")), "{msg} lacks {p}");
        }
    }

    #[test]
    fn value_placeholder_outside_quotes_is_rejected() {
        let err = Template::parse("t", "sum(x{deployment={deployment}})", false).expect_err("bad");
        assert!(err.to_string().contains("inside double quotes"), "{err}");
        let err = Template::parse("t", "sum(x{deployment='{deployment}'})", false).expect_err("x");
        assert!(err.to_string().contains("inside double quotes"), "{err}");
    }

    #[test]
    fn structural_placeholder_inside_quotes_is_rejected() {
        let err = Template::parse("t", "x{a=\"{selector}\"}", false).expect_err("bad");
        assert!(err.to_string().contains("outside quotes"), "{err}");
    }

    #[test]
    fn quantile_is_accepted_only_in_the_latency_template() {
        let err = Template::parse("cpu", "histogram_quantile({quantile}, x)", false)
            .expect_err("not latency");
        assert!(err.to_string().contains("only in the latency"), "{err}");
        assert!(Template::parse("latency", "histogram_quantile({quantile}, x)", true).is_ok());
    }

    #[test]
    fn unterminated_string_and_empty_template_are_rejected() {
        assert!(Template::parse("t", "x{a=\"b}", false).is_err());
        assert!(Template::parse("t", "  ", false).is_err());
    }

    #[test]
    fn promql_braces_and_regex_quantifiers_are_not_placeholders() {
        let src = r#"sum(x{a=~"b{2,3}",c!=""}) # {not_a_placeholder}"#;
        assert_eq!(render(src, &target(), None).expect("renders"), src);
    }

    #[test]
    fn selector_adds_namespace_and_version_when_known() {
        let t = Target::new(Environment::Dev, "api");
        assert_eq!(
            render("x{{selector}}", &t, None).expect("renders"),
            r#"x{deployment="api"}"#
        );
        assert_eq!(
            render("x{{selector}}", &target(), Some(&release())).expect("renders"),
            r#"x{deployment="checkout",namespace="shop",version="v1.3.0"}"#
        );
    }

    #[test]
    fn pod_selector_matches_deployment_pods_or_release_replicaset_pods() {
        assert_eq!(
            render("x{{pod_selector}}", &target(), None).expect("renders"),
            r#"x{namespace="shop",pod=~"checkout-[a-z0-9]+-[a-z0-9]+"}"#
        );
        assert_eq!(
            render("x{{pod_selector}}", &target(), Some(&release())).expect("renders"),
            r#"x{namespace="shop",pod=~"checkout-7d9f8b6c5-[a-z0-9]+"}"#
        );
    }

    #[test]
    fn window_step_and_quantile_render_as_promql() {
        assert_eq!(
            render("q({quantile}, r(x[{window}])[{step}])", &target(), None).expect("renders"),
            "q(0.95, r(x[120s])[60s])"
        );
        assert_eq!(promql_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(promql_duration(Duration::ZERO), "1ms");
    }

    #[test]
    fn version_without_release_and_namespace_without_namespace_are_clear_errors() {
        let err = render("x{v=\"{version}\"}", &target(), None).expect_err("no release");
        assert!(err.to_string().contains("names no release"), "{err}");
        let t = Target::new(Environment::Dev, "api");
        let err = render("x{n=\"{namespace}\"}", &t, None).expect_err("no namespace");
        assert!(err.to_string().contains("has no namespace"), "{err}");
    }

    #[test]
    fn quotes_and_backslashes_in_values_are_escaped() {
        let t = Target::new(Environment::Dev, r#"a"}or vector(1)#\"#);
        assert_eq!(
            render("x{d=\"{deployment}\"}", &t, None).expect("renders"),
            r#"x{d="a\"}or vector(1)#\\"}"#
        );
    }

    #[test]
    fn values_in_regex_matchers_are_regex_escaped() {
        let t = Target::new(Environment::Dev, "a.b(c)");
        assert_eq!(
            render("x{pod=~\"{deployment}-.*\"}", &t, None).expect("renders"),
            r#"x{pod=~"a\\.b\\(c\\)-.*"}"#
        );
    }

    #[test]
    fn default_templates_parse() {
        let d = defaults(&MetricNames::default(), &LabelNames::default());
        for (name, src) in [
            ("error_rate", &d.error_rate),
            ("request_rate", &d.request_rate),
            ("latency", &d.latency),
            ("cpu", &d.cpu),
            ("memory", &d.memory),
            ("memory_bytes", &d.memory_bytes),
            ("status_codes", &d.status_codes),
            ("latency_histogram", &d.latency_histogram),
        ] {
            Template::parse(name, src, name == "latency").expect(name);
        }
        assert_eq!(
            d.error_rate,
            r#"(sum(rate(http_requests_total{{selector},code=~"5.."}[{window}])) or vector(0)) / sum(rate(http_requests_total{{selector}}[{window}]))"#
        );
    }

    #[test]
    fn count_defaults_select_the_counters_themselves() {
        let d = defaults(&MetricNames::default(), &LabelNames::default());
        assert_eq!(d.status_codes, "http_requests_total{{selector}}");
        assert_eq!(
            d.latency_histogram,
            "http_request_duration_seconds_bucket{{selector}}"
        );
        assert_eq!(
            render(&d.latency_histogram, &target(), Some(&release())).expect("renders"),
            r#"http_request_duration_seconds_bucket{deployment="checkout",namespace="shop",version="v1.3.0"}"#
        );
        // The unit changes the `le` labels of the answer, not the query; the name is configured.
        let metrics = MetricNames {
            latency_histogram: "latency_ms".into(),
            latency_unit: LatencyUnit::Milliseconds,
            ..MetricNames::default()
        };
        let d = defaults(&metrics, &LabelNames::default());
        assert_eq!(d.latency_histogram, "latency_ms_bucket{{selector}}");
        assert!(!d.latency.contains("1000"), "{}", d.latency);
    }

    #[test]
    fn quantile_is_rejected_in_the_latency_histogram_template() {
        let err = Template::parse(
            "latency_histogram",
            "histogram_quantile({quantile}, x)",
            false,
        )
        .expect_err("not the latency template");
        assert!(err.to_string().contains("only in the latency"), "{err}");
    }

    #[test]
    fn invalid_label_names_are_rejected() {
        assert!(check_name("labels.deployment", "app", false).is_ok());
        assert!(check_name("metrics.requests", "job:requests:rate5m", true).is_ok());
        let err = check_name("labels.deployment", "app\"}", false).expect_err("bad");
        assert!(err.to_string().contains("[a-zA-Z_][a-zA-Z0-9_]*"), "{err}");
        assert!(check_name("labels.version", "", false).is_err());
    }

    // --- injection: the code outside string literals never depends on the values -------------

    /// Splits rendered PromQL into code (outside strings) and the unescaped string contents,
    /// following the PromQL lexer (Go escapes in "…" and '…', none in `…`).
    fn lex(promql: &str) -> (String, Vec<String>) {
        let mut code = String::new();
        let mut strings = Vec::new();
        let mut cs = promql.chars();
        while let Some(c) = cs.next() {
            if c == '"' || c == '\'' {
                let mut s = String::new();
                loop {
                    match cs.next() {
                        None => panic!("unterminated string in {promql}"),
                        Some(q) if q == c => break,
                        Some('\\') => match cs.next() {
                            Some('n') => s.push('\n'),
                            Some('r') => s.push('\r'),
                            Some('t') => s.push('\t'),
                            Some('u') => {
                                let hex: String = cs.by_ref().take(4).collect();
                                let n = u32::from_str_radix(&hex, 16).expect("hex");
                                s.push(char::from_u32(n).expect("char"));
                            }
                            Some(e @ ('\\' | '"' | '\'')) => s.push(e),
                            other => panic!("invalid escape {other:?} in {promql}"),
                        },
                        Some(ch) => s.push(ch),
                    }
                }
                code.push('S');
                strings.push(s);
            } else {
                code.push(c);
            }
        }
        (code, strings)
    }

    fn unescape_regex(s: &str) -> String {
        let mut out = String::new();
        let mut cs = s.chars();
        while let Some(c) = cs.next() {
            if c == '\\' {
                out.extend(cs.next());
            } else {
                out.push(c);
            }
        }
        out
    }

    const INJECTION_TEMPLATE: &str =
        "sum(rate(x{{selector},a=\"{deployment}\",b=~\"{deployment}\"}[{window}])) \
         / sum(y{{pod_selector},v=\"{version}\",r=\"{revision}\"})";

    proptest! {
        #[test]
        fn no_value_can_change_the_promql_outside_strings(
            deployment in "\\PC{0,20}|[\"\\\\'`{}#\n]{0,10}",
            revision in "\\PC{0,20}|[\"\\\\'`{}#\n]{0,10}",
        ) {
            let hostile = Target::new(Environment::Production, deployment.clone())
                .with_namespace(revision.clone());
            let rel = ReleaseRef { version: release().version, revision: revision.clone() };
            let benign = Target::new(Environment::Production, "d").with_namespace("n");
            let benign_rel = ReleaseRef { version: release().version, revision: "r".into() };
            let hostile_q = render(INJECTION_TEMPLATE, &hostile, Some(&rel)).expect("renders");
            let benign_q = render(INJECTION_TEMPLATE, &benign, Some(&benign_rel)).expect("renders");
            let (hostile_code, strings) = lex(&hostile_q);
            let (benign_code, _) = lex(&benign_q);
            prop_assert_eq!(hostile_code, benign_code);
            // The plain string holds the value exactly; the regex one matches only the value.
            prop_assert!(strings.contains(&deployment));
            prop_assert!(strings.iter().any(|s| unescape_regex(s) == deployment));
        }
    }
}
