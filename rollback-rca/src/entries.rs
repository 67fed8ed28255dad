//! Multi-line log entries: joins stack traces and other continuation lines to the line that
//! started them, per instance, in one pass with bounded memory.
//!
//! Platforms hand over one [`LogLine`] per physical line, so a Java exception with forty frames
//! arrives as forty-one lines, interleaved with other instances' output. The [`EntryAssembler`]
//! keeps one open entry per source (pod, task) and decides for each line whether it continues
//! that entry or starts a new one:
//!
//! * a line that starts with a header (a timestamp, a syslog date, a JSON object) starts an
//!   entry;
//! * otherwise, when the open entry's first line had a header, the line continues it (logs with
//!   headers print continuation lines without one);
//! * otherwise (logs without headers) the line continues the entry only if it looks like part of
//!   a trace: indented, `Caused by:`, `Traceback`, `goroutine 1 [running]:`, a Go function line
//!   inside a goroutine dump, the exception line that ends a Python traceback.
//!
//! A gap of more than [`EntryAssembler::max_gap`] between two lines of one source, or more than
//! [`EntryAssembler::max_lines`] lines, closes the entry.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use regex::Regex;
use rollback_core::LogLine;

/// One log entry: a line and the continuation lines that belong to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// When its first line was written, when known.
    pub at: Option<DateTime<Utc>>,
    /// The instance that wrote it.
    pub source: String,
    /// Its lines, the first one first.
    pub lines: Vec<String>,
}

impl LogEntry {
    /// The first line.
    pub fn head(&self) -> &str {
        self.lines.first().map_or("", String::as_str)
    }

    /// All lines joined with newlines, cut to `max_lines` lines (a `…` line marks the cut).
    pub fn excerpt(&self, max_lines: usize) -> String {
        let mut out: Vec<&str> = self
            .lines
            .iter()
            .take(max_lines)
            .map(String::as_str)
            .collect();
        if self.lines.len() > max_lines {
            out.push("…");
        }
        out.join("\n")
    }
}

/// Whether a line starts with a header: an ISO-8601 or similar date, a time of day, a syslog
/// date (`Jan 15 14:30:00`), a bracketed timestamp, or a JSON object.
pub(crate) fn default_header() -> Regex {
    Regex::new(
        r"^(?:\[?\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}|\[?\d{2}:\d{2}:\d{2}|[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2}|\{|\d{6} \d{6} |\[?\d{4}/\d{2}/\d{2} \d{2}:\d{2}|I\d{4} \d{2}:\d{2}|[EWF]\d{4} \d{2}:\d{2})",
    )
    .unwrap_or_else(|_| Regex::new("^$").unwrap_or_else(|_| unreachable!()))
}

struct Open {
    entry: LogEntry,
    last: Option<DateTime<Utc>>,
    headered: bool,
    /// Inside a Python traceback, waiting for its exception line.
    python: bool,
    /// Inside a Go goroutine dump.
    goroutine: bool,
}

/// Assembles [`LogEntry`]s from lines, one source at a time (see the module docs).
///
/// ```
/// use rollback_core::LogLine;
/// use rollback_rca::entries::EntryAssembler;
///
/// let line = |s: &str| LogLine { at: None, source: "pod-1".into(), line: s.into() };
/// let mut entries = Vec::new();
/// let mut asm = EntryAssembler::new();
/// for l in ["2024-01-15T14:30:00Z ERROR boom", "    at f (src/a.ts:1:2)", "2024-01-15T14:30:01Z INFO ok"] {
///     asm.push(&line(l), |e| entries.push(e));
/// }
/// asm.finish(|e| entries.push(e));
/// assert_eq!(entries.len(), 2);
/// assert_eq!(entries[0].lines.len(), 2);
/// ```
pub struct EntryAssembler {
    header: Regex,
    continuation: Regex,
    go_function: Regex,
    python_exception: Regex,
    open: VecDeque<(String, Open)>,
    max_gap: chrono::Duration,
    max_lines: usize,
    max_open: usize,
}

impl std::fmt::Debug for EntryAssembler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntryAssembler")
            .field("header", &self.header.as_str())
            .field("open", &self.open.len())
            .finish_non_exhaustive()
    }
}

impl Default for EntryAssembler {
    fn default() -> Self {
        Self::new()
    }
}

impl EntryAssembler {
    /// An assembler with the default header recognition, a 2 s gap, 400 lines per entry and at
    /// most 4,096 sources open at once.
    pub fn new() -> Self {
        let re = |s: &str| Regex::new(s).unwrap_or_else(|_| unreachable!("constant regex"));
        EntryAssembler {
            header: default_header(),
            continuation: re(
                r"^(?:\s+\S|Caused by:|Traceback \(most recent call last\)|goroutine \d+ \[|created by |\[signal |<--- |During handling of the above exception|The above exception was the direct cause|Suppressed:|\.\.\. \d+ more|--- End of )",
            ),
            go_function: re(r"^[\w./*()\[\]-]+\(.*\)$"),
            python_exception: re(r"^[A-Za-z_][\w.]*(?::.*)?$"),
            open: VecDeque::new(),
            max_gap: chrono::Duration::seconds(2),
            max_lines: 400,
            max_open: 4096,
        }
    }

    /// Uses `header` (a regular expression matched at the start of a line) to recognise lines
    /// that start an entry.
    pub fn header(mut self, header: Regex) -> Self {
        self.header = header;
        self
    }

    /// The longest pause between two lines of one entry.
    pub fn max_gap(&self) -> chrono::Duration {
        self.max_gap
    }

    /// The most lines one entry takes; further lines start a new entry.
    pub fn max_lines(&self) -> usize {
        self.max_lines
    }

    fn continues(&self, open: &Open, line: &str, at: Option<DateTime<Utc>>) -> bool {
        if open.entry.lines.len() >= self.max_lines {
            return false;
        }
        if let (Some(a), Some(b)) = (open.last, at) {
            if b - a > self.max_gap || a - b > self.max_gap {
                return false;
            }
        }
        if self.header.is_match(line)
            || line.starts_with("panic: ")
            || line.starts_with("fatal error: ")
        {
            return false;
        }
        if open.headered || self.continuation.is_match(line) {
            return true;
        }
        let t = line.trim();
        if open.goroutine && (t.is_empty() || self.go_function.is_match(t)) {
            return true;
        }
        open.python && self.python_exception.is_match(t)
    }

    /// Takes one line; calls `emit` with every entry this line closes.
    pub fn push(&mut self, line: &LogLine, mut emit: impl FnMut(LogEntry)) {
        let text = line.line.trim_end_matches(['\r', '\n']);
        let pos = self.open.iter().position(|(s, _)| *s == line.source);
        if let Some(i) = pos {
            let cont = self
                .open
                .get(i)
                .is_some_and(|(_, o)| self.continues(o, text, line.at));
            if cont {
                if let Some((_, o)) = self.open.get_mut(i) {
                    let t = text.trim();
                    if t.starts_with("Traceback (most recent call last)") {
                        o.python = true;
                    } else if o.python && !text.starts_with(char::is_whitespace) && !t.is_empty() {
                        // The exception line ends a Python traceback.
                        o.python = false;
                    }
                    if t.starts_with("goroutine ") {
                        o.goroutine = true;
                    }
                    o.entry.lines.push(text.to_string());
                    if line.at.is_some() {
                        o.last = line.at;
                    }
                }
                return;
            }
            if let Some((_, o)) = self.open.remove(i) {
                emit(o.entry);
            }
        }
        let t = text.trim();
        let open = Open {
            entry: LogEntry {
                at: line.at,
                source: line.source.clone(),
                lines: vec![text.to_string()],
            },
            last: line.at,
            headered: self.header.is_match(text),
            python: t.contains("Traceback (most recent call last)"),
            goroutine: t.starts_with("goroutine ") || t.starts_with("panic:"),
        };
        self.open.push_back((line.source.clone(), open));
        while self.open.len() > self.max_open {
            if let Some((_, o)) = self.open.pop_front() {
                emit(o.entry);
            }
        }
    }

    /// Closes every open entry.
    pub fn finish(&mut self, mut emit: impl FnMut(LogEntry)) {
        for (_, o) in self.open.drain(..) {
            emit(o.entry);
        }
    }
}

/// Runs `f` over the entries of `logs`, in one pass.
pub fn for_each_entry(logs: &[LogLine], mut f: impl FnMut(LogEntry)) {
    let mut asm = EntryAssembler::new();
    for l in logs {
        asm.push(l, &mut f);
    }
    asm.finish(&mut f);
}

/// The request (or trace, correlation) id a line carries, if any.
pub(crate) fn request_id<'a>(re: &Regex, line: &'a str) -> Option<&'a str> {
    re.captures(line).and_then(|c| c.get(1)).map(|m| m.as_str())
}

/// The regex [`request_id`] uses.
pub(crate) fn request_id_regex() -> Regex {
    Regex::new(
        r#"(?i)\b(?:req(?:uest)?[_.-]?id|x-request-id|trace[_.-]?id|correlation[_.-]?id|rid)["']?\s*[=:]\s*["']?([A-Za-z0-9_\-.:]{4,})"#,
    )
    .unwrap_or_else(|_| unreachable!("constant regex"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(src: &str, text: &str) -> Vec<LogLine> {
        text.lines()
            .map(|l| LogLine {
                at: None,
                source: src.into(),
                line: l.into(),
            })
            .collect()
    }

    fn collect(logs: &[LogLine]) -> Vec<LogEntry> {
        let mut out = Vec::new();
        for_each_entry(logs, |e| out.push(e));
        out
    }

    #[test]
    fn headerless_python_traceback_keeps_its_exception_line() {
        let logs = lines(
            "p",
            "Traceback (most recent call last):\n  File \"app/x.py\", line 3, in f\n    d['k']\nKeyError: 'k'\nnext message",
        );
        let e = collect(&logs);
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].lines.last().map(String::as_str), Some("KeyError: 'k'"));
    }

    #[test]
    fn interleaved_sources_keep_separate_entries() {
        let mut logs = lines("a", "2024-01-01T00:00:00Z ERROR x");
        logs.extend(lines("b", "2024-01-01T00:00:00Z INFO y"));
        logs.extend(lines("a", "    at f (src/a.ts:1:2)"));
        let e = collect(&logs);
        let a: Vec<_> = e.iter().filter(|e| e.source == "a").collect();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].lines.len(), 2);
    }

    #[test]
    fn go_dump_without_headers_stays_one_entry() {
        let logs = lines(
            "g",
            "panic: runtime error: invalid memory address or nil pointer dereference\n[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4a1b2c]\n\ngoroutine 1 [running]:\nmain.(*Server).handle(0x0)\n\t/app/internal/server/handler.go:42 +0x1d\nmain.main()\n\t/app/main.go:10 +0x25",
        );
        let e = collect(&logs);
        assert_eq!(e.len(), 1, "{e:#?}");
    }

    #[test]
    fn request_ids_are_found_in_common_spellings() {
        let re = request_id_regex();
        assert_eq!(
            request_id(&re, "GET / req_id=req_abc123"),
            Some("req_abc123")
        );
        assert_eq!(
            request_id(&re, r#"{"requestId": "42ab-77"}"#),
            Some("42ab-77")
        );
        assert_eq!(request_id(&re, "no id here"), None);
    }
}
