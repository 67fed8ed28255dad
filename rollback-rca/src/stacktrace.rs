//! Stack traces: frames of JavaScript/TypeScript, Java, Python, Go, Rust and .NET traces, the
//! exception they report, and the first frame in the application's own code.
//!
//! [`TraceParser::parse`] reads the lines of one [`LogEntry`](crate::entries::LogEntry) (a log
//! line and its continuation lines) and returns a [`StackTrace`] with its frames innermost first
//! (Python prints them the other way round; they are reversed). [`PathRules`] decide which
//! frames are library or runtime code (`node_modules`, `node:internal`, `java.*`, Go's
//! `runtime/`, `site-packages`, Rust's `std`/`core`) and turn container paths such as
//! `/app/src/x.ts` into repository-relative ones (`src/x.ts`).

use regex::Regex;
use rollback_core::SourceLocation;

/// The language a trace was printed by.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Language {
    /// Node.js: JavaScript or TypeScript.
    JavaScript,
    /// Java and other JVM languages.
    Java,
    /// Python.
    Python,
    /// Go.
    Go,
    /// Rust.
    Rust,
    /// .NET (C#, F#).
    DotNet,
}

/// One frame of a stack trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The function, when printed.
    pub function: Option<String>,
    /// The file, repository-relative when a [`PathRules`] prefix matched.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, when printed.
    pub column: Option<u32>,
    /// Whether the frame is in the application's own code (not a library or the runtime).
    pub application: bool,
}

impl Frame {
    /// The frame as a source location.
    pub fn location(&self) -> SourceLocation {
        SourceLocation {
            file: self.file.clone(),
            line: self.line,
            column: self.column,
            function: self.function.clone(),
        }
    }
}

/// A parsed stack trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackTrace {
    /// The language it was printed by.
    pub language: Language,
    /// The exception type (`TypeError`, `java.lang.NullPointerException`, `KeyError`, `panic`),
    /// when printed. For a Java chain it is the root cause (the last `Caused by:`).
    pub exception: Option<String>,
    /// The exception message or, when there is no exception line, the line the trace follows.
    pub message: Option<String>,
    /// Frames, innermost first.
    pub frames: Vec<Frame>,
    /// Where a Rust panic says it happened (`panicked at src/x.rs:10:5`), if it is a Rust panic.
    pub panic_location: Option<Frame>,
}

impl StackTrace {
    /// The first application frame (innermost first), or the location a Rust panic names.
    pub fn application_frame(&self) -> Option<&Frame> {
        self.panic_location
            .as_ref()
            .filter(|f| f.application)
            .or_else(|| self.frames.iter().find(|f| f.application))
    }

    /// `Type: message`, `Type`, or the message.
    pub fn headline(&self) -> String {
        match (&self.exception, &self.message) {
            (Some(t), Some(m)) if !m.is_empty() => format!("{t}: {m}"),
            (Some(t), _) => t.clone(),
            (None, Some(m)) => m.clone(),
            (None, None) => "stack trace".into(),
        }
    }
}

/// Which frames are library code, and how container paths map to repository paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathRules {
    strip_prefixes: Vec<String>,
    library_paths: Vec<String>,
    library_functions: Vec<String>,
}

impl Default for PathRules {
    fn default() -> Self {
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        PathRules {
            strip_prefixes: s(&[
                "file://",
                "/usr/src/app/",
                "/home/node/app/",
                "/opt/app/",
                "/srv/app/",
                "/app/",
                "/workspace/",
                "/build/",
                "/src/",
                "./",
            ]),
            library_paths: s(&[
                "node_modules/",
                "node:",
                "^internal/",
                "<anonymous>",
                "site-packages/",
                "dist-packages/",
                "/lib/python",
                "<frozen ",
                "/usr/local/go/",
                "/usr/lib/go",
                "/go/pkg/mod/",
                "^runtime/",
                "/rustc/",
                "/.cargo/registry/",
                "library/std/",
                "library/core/",
                "library/alloc/",
                "vendor/",
                "[native code]",
            ]),
            library_functions: s(&[
                "java.",
                "javax.",
                "jdk.",
                "sun.",
                "com.sun.",
                "kotlin.",
                "kotlinx.",
                "scala.",
                "org.springframework.",
                "org.apache.",
                "org.hibernate.",
                "org.eclipse.jetty.",
                "com.zaxxer.hikari.",
                "io.netty.",
                "reactor.",
                "System.",
                "Microsoft.",
                "std::",
                "core::",
                "alloc::",
                "tokio::",
                "runtime.",
                "rust_begin_unwind",
                "__rust",
            ]),
        }
    }
}

impl PathRules {
    /// The defaults: strip `/app/`, `/usr/src/app/`, `/src/`, `/build/`, `file://`, … and treat
    /// `node_modules`, `node:internal`, `site-packages`, Go's runtime and module cache, Rust's
    /// `std`/`core` and the `java.*`, `System.*`, `org.springframework.*`, … packages as library
    /// code.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the path prefixes stripped to make paths repository-relative (first match wins).
    pub fn strip_prefixes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, p: I) -> Self {
        self.strip_prefixes = p.into_iter().map(Into::into).collect();
        self
    }

    /// Adds a path fragment that marks a frame as library code (`^fragment`: only at the start
    /// of the path).
    pub fn library_path(mut self, fragment: impl Into<String>) -> Self {
        self.library_paths.push(fragment.into());
        self
    }

    /// Adds a function (package, namespace) prefix that marks a frame as library code.
    pub fn library_function(mut self, prefix: impl Into<String>) -> Self {
        self.library_functions.push(prefix.into());
        self
    }

    /// `path` relative to the repository: the first matching strip prefix removed.
    pub fn relative(&self, path: &str) -> String {
        let mut p = path.trim();
        for prefix in &self.strip_prefixes {
            if let Some(rest) = p.strip_prefix(prefix.as_str()) {
                p = rest;
                break;
            }
        }
        p.to_string()
    }

    /// Whether a frame with this raw path and function is library or runtime code.
    pub fn is_library(&self, raw_path: &str, function: Option<&str>) -> bool {
        self.library_paths
            .iter()
            .any(|m| match m.strip_prefix('^') {
                Some(prefix) => raw_path.starts_with(prefix),
                None => raw_path.contains(m.as_str()),
            })
            || function.is_some_and(|f| {
                let f = f.trim_start_matches("async ").trim_start_matches("new ");
                self.library_functions
                    .iter()
                    .any(|p| f.starts_with(p.as_str()) || f.contains(&format!("/{p}")))
            })
    }
}

/// Parses stack traces (see the module docs).
///
/// ```
/// use rollback_rca::stacktrace::TraceParser;
/// let p = TraceParser::new();
/// let t = p.parse(&[
///     "TypeError: Cannot read properties of undefined (reading 'id')",
///     "    at UsersService.get (/app/src/users.service.ts:42:18)",
///     "    at Layer.handle (/app/node_modules/express/lib/router/layer.js:95:5)",
/// ]).expect("a trace");
/// let f = t.application_frame().expect("an application frame");
/// assert_eq!((f.file.as_str(), f.line), ("src/users.service.ts", 42));
/// assert_eq!(t.exception.as_deref(), Some("TypeError"));
/// ```
#[derive(Debug, Clone)]
pub struct TraceParser {
    rules: PathRules,
    js: Regex,
    java: Regex,
    python: Regex,
    go_file: Regex,
    go_function: Regex,
    dotnet: Regex,
    rust_panic: Regex,
    rust_panic_old: Regex,
    exception: Regex,
    header: Regex,
}

impl Default for TraceParser {
    fn default() -> Self {
        Self::new()
    }
}

fn re(s: &str) -> Regex {
    Regex::new(s).unwrap_or_else(|e| unreachable!("constant regex {s}: {e}"))
}

impl TraceParser {
    /// A parser with the default [`PathRules`].
    pub fn new() -> Self {
        Self::with_rules(PathRules::default())
    }

    /// A parser with `rules`.
    pub fn with_rules(rules: PathRules) -> Self {
        TraceParser {
            rules,
            js: re(
                r"^\s*at (?:async )?(?:(?P<fn>[^()]+?|.+? \[as [^\]]+\]|new [^()]+) \()?(?P<file>[^()\s]+?):(?P<line>\d+)(?::(?P<col>\d+))?\)?\s*$",
            ),
            java: re(
                r"^\s*at (?P<fn>[\w$./<>-]+)\((?P<file>[^:()]+)(?::(?P<line>\d+))?\)\s*(?:~?\[.*\])?$",
            ),
            python: re(r#"^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)(?:, in (?P<fn>.+))?"#),
            go_file: re(r"^\s+(?P<file>\S+\.go):(?P<line>\d+)(?: \+0x[0-9a-fA-F]+)?\s*$"),
            go_function: re(r"^(?P<fn>[\w./\-]*(?:\(\*?[\w.]+\)\.)?[\w.\-]+)\(.*\)$"),
            dotnet: re(r"^\s*at (?P<fn>[^()]+)\([^)]*\) in (?P<file>.+?):line (?P<line>\d+)\s*$"),
            rust_panic: re(
                r"panicked at (?P<file>[^\s:']+\.rs):(?P<line>\d+):(?P<col>\d+):?\s*(?P<msg>.*)$",
            ),
            rust_panic_old: re(
                r"panicked at '(?P<msg>.*)', (?P<file>[^\s:]+\.rs):(?P<line>\d+):(?P<col>\d+)",
            ),
            exception: re(
                r"(?:^|[\s:\]])(?:Exception in thread .*?\s|Caused by:\s*|Unhandled exception\.\s*|Uncaught\s+)?(?P<type>(?:[A-Za-z_][\w$]*\.)*(?:[A-Z][\w$]*)?(?:Error|Exception|Throwable|Fault|Interrupt|Exit)|StopIteration)(?:\s*\[\w+\])?(?::\s*(?P<msg>.*))?$",
            ),
            header: re(
                r"^(?:\[?\d{4}-\d{2}-\d{2}[T ][\d:.,]+(?:Z|[+-]\d{2}:?\d{2})?\]?\s+|\[?\d{2}:\d{2}:\d{2}[\d.,]*\]?\s+)(?:\[?(?:FATAL|CRITICAL|ERROR|ERR|WARN|WARNING|INFO|DEBUG|TRACE)\]?\s+)?(?:\[[\w.\-/]+\]\s+|[\w.$]+\s+-\s+)?",
            ),
        }
    }

    /// The path rules.
    pub fn rules(&self) -> &PathRules {
        &self.rules
    }

    fn frame(&self, raw: &str, function: Option<&str>, line: &str, col: Option<&str>) -> Frame {
        let function = function
            .map(|f| f.trim().to_string())
            .filter(|f| !f.is_empty());
        Frame {
            application: !self.rules.is_library(raw, function.as_deref()),
            file: self.rules.relative(raw),
            line: line.parse().unwrap_or(0),
            column: col.and_then(|c| c.parse().ok()),
            function,
        }
    }

    /// Strips a leading timestamp/level/component header from a line.
    pub fn message_of<'a>(&self, line: &'a str) -> &'a str {
        let t = line.trim();
        match self.header.find(t) {
            Some(m) if m.end() < t.len() && m.end() > 0 => t[m.end()..].trim(),
            _ => t,
        }
    }

    /// Parses the lines of one entry. Returns `None` when they hold no frame (and no Rust panic
    /// location).
    pub fn parse<S: AsRef<str>>(&self, lines: &[S]) -> Option<StackTrace> {
        let mut frames = Vec::new();
        let mut language = None;
        let mut first_frame_at = None;
        let mut python_frames = Vec::new();
        let mut panic_location = None;
        let mut panic_message = None;
        let mut go_fn: Option<String> = None;
        let mut after_python_frames: Option<String> = None;
        let mut in_python = false;
        for (i, l) in lines.iter().enumerate() {
            let l = l.as_ref();
            if let Some(c) = self.python.captures(l) {
                in_python = true;
                language = Some(Language::Python);
                first_frame_at.get_or_insert(i);
                python_frames.push(self.frame(
                    &c["file"],
                    c.name("fn").map(|m| m.as_str()),
                    &c["line"],
                    None,
                ));
                continue;
            }
            if in_python {
                if !l.starts_with(char::is_whitespace) && !l.trim().is_empty() {
                    after_python_frames = Some(l.trim().to_string());
                    in_python = false;
                }
                continue;
            }
            if let Some(c) = self.dotnet.captures(l) {
                language.get_or_insert(Language::DotNet);
                first_frame_at.get_or_insert(i);
                frames.push(self.frame(&c["file"], Some(&c["fn"]), &c["line"], None));
                continue;
            }
            if let Some(c) = self.go_file.captures(l) {
                language.get_or_insert(Language::Go);
                first_frame_at.get_or_insert(i);
                // `main.(*Server).handle(0x0, …)` → `main.(*Server).handle`
                let f = go_fn
                    .take()
                    .and_then(|f| self.go_function.captures(&f).map(|c| c["fn"].to_string()));
                frames.push(self.frame(&c["file"], f.as_deref(), &c["line"], None));
                continue;
            }
            if let Some(c) = self
                .rust_panic
                .captures(l)
                .or_else(|| self.rust_panic_old.captures(l))
            {
                language = Some(Language::Rust);
                let mut f = self.frame(
                    &c["file"],
                    None,
                    &c["line"],
                    c.name("col").map(|m| m.as_str()),
                );
                if f.file.starts_with("library/") || f.file.starts_with("/rustc/") {
                    f.application = false;
                }
                panic_location = Some(f);
                let msg = c.name("msg").map_or("", |m| m.as_str()).trim();
                panic_message = if msg.is_empty() {
                    lines.get(i + 1).map(|m| m.as_ref().trim().to_string())
                } else {
                    Some(msg.to_string())
                };
                continue;
            }
            if let Some(c) = self.java.captures(l) {
                let file = &c["file"];
                if file.ends_with(".java")
                    || file.ends_with(".kt")
                    || file.ends_with(".scala")
                    || file == "Native Method"
                    || file == "Unknown Source"
                {
                    language.get_or_insert(Language::Java);
                    first_frame_at.get_or_insert(i);
                    let function = c["fn"].rsplit('/').next().unwrap_or(&c["fn"]).to_string();
                    let path = java_path(&function, file);
                    let mut f = self.frame(
                        &path,
                        Some(&function),
                        c.name("line").map_or("0", |m| m.as_str()),
                        None,
                    );
                    if c.name("line").is_none() {
                        f.application = false;
                    }
                    frames.push(f);
                    continue;
                }
            }
            if let Some(c) = self.js.captures(l) {
                let file = &c["file"];
                let lang = if file.ends_with(".rs") {
                    Language::Rust
                } else {
                    Language::JavaScript
                };
                language.get_or_insert(lang);
                first_frame_at.get_or_insert(i);
                frames.push(self.frame(
                    file,
                    c.name("fn").map(|m| m.as_str()),
                    &c["line"],
                    c.name("col").map(|m| m.as_str()),
                ));
                continue;
            }
            let t = l.trim();
            if language.is_none() || language == Some(Language::Go) {
                if t.starts_with("goroutine ") {
                    language = Some(Language::Go);
                } else if self.go_function.is_match(t) {
                    go_fn = Some(t.to_string());
                }
            }
        }
        if !python_frames.is_empty() {
            python_frames.reverse();
            frames = python_frames;
        }
        let language = language?;
        if frames.is_empty() && panic_location.is_none() {
            return None;
        }
        // The exception: the root cause of a Java chain, the line after a Python traceback, a
        // Go panic, a Rust panic message, else the exception-shaped line before the first frame,
        // else the line just before it.
        let mut exception = None;
        let mut message = None;
        let before = first_frame_at.unwrap_or(lines.len()).min(lines.len());
        let candidates: Vec<&str> = lines[..before].iter().map(|l| l.as_ref()).collect();
        if language == Language::Python {
            if let Some(l) = after_python_frames.as_deref() {
                let (t, m) = split_exception(l);
                exception = Some(t);
                message = m;
            }
        } else if let Some(msg) = panic_message {
            exception = Some("panic".into());
            message = Some(msg);
        } else if let Some(p) = lines
            .iter()
            .map(|l| l.as_ref().trim())
            .find_map(|l| l.strip_prefix("panic: "))
        {
            exception = Some("panic".into());
            message = Some(p.trim_end_matches(" [recovered]").to_string());
        }
        if exception.is_none() {
            // Java: the last `Caused by:` anywhere.
            let caused = lines
                .iter()
                .map(|l| l.as_ref().trim())
                .filter_map(|l| l.strip_prefix("Caused by:"))
                .last();
            let pick = caused.map(str::trim).map(str::to_string).or_else(|| {
                candidates
                    .iter()
                    .rev()
                    .map(|l| l.trim())
                    .find(|l| self.exception.is_match(l))
                    .map(str::to_string)
            });
            if let Some(l) = pick {
                if let Some(c) = self.exception.captures(&l) {
                    exception = Some(c["type"].to_string());
                    message = c.name("msg").map(|m| m.as_str().trim().to_string());
                }
            } else if let Some(l) = candidates
                .iter()
                .rev()
                .map(|l| self.message_of(l))
                .find(|l| !l.is_empty())
            {
                message = Some(l.to_string());
            }
        }
        // A Java root cause's frames (after its `Caused by:`) are the ones to locate.
        Some(StackTrace {
            language,
            exception,
            message,
            frames,
            panic_location,
        })
    }
}

fn split_exception(line: &str) -> (String, Option<String>) {
    match line.split_once(':') {
        Some((t, m)) if !t.contains(' ') => (t.trim().to_string(), Some(m.trim().to_string())),
        _ => (line.trim().to_string(), None),
    }
}

/// `com.x.orders.OrderRepository.find` + `OrderRepository.java` → `com/x/orders/OrderRepository.java`.
fn java_path(function: &str, file: &str) -> String {
    if !file.contains('.') {
        return file.to_string();
    }
    let parts: Vec<&str> = function.split('.').collect();
    // Package = the leading lower-case segments.
    let pkg: Vec<&str> = parts
        .iter()
        .take(parts.len().saturating_sub(2))
        .take_while(|p| p.chars().next().is_some_and(|c| c.is_ascii_lowercase()))
        .copied()
        .collect();
    if pkg.is_empty() {
        file.to_string()
    } else {
        format!("{}/{file}", pkg.join("/"))
    }
}

/// Replaces the variable parts of a message (numbers, hex, quoted strings, ids, addresses, URLs)
/// with `<*>`, so that messages of one kind compare equal.
pub fn message_template(message: &str) -> String {
    use std::sync::OnceLock;
    static MASK: OnceLock<Regex> = OnceLock::new();
    let mask = MASK.get_or_init(|| {
        re(r#"(?x)
            https?://[^\s"')]+ |
            "[^"]*" | '[^']*' |
            \b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b |
            \b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b |
            \b0x[0-9a-fA-F]+\b |
            \b[\w-]*\d[\w-]*\b
            "#)
    });
    let masked = mask.replace_all(message.trim(), "<*>");
    let mut out = String::with_capacity(masked.len());
    let mut last_wild = false;
    for tok in masked.split_whitespace() {
        let wild = tok == "<*>";
        if wild && last_wild {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(tok);
        last_wild = wild;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(t: &StackTrace) -> (String, u32) {
        let f = t.application_frame().expect("application frame");
        (f.file.clone(), f.line)
    }

    #[test]
    fn node_trace_skips_node_modules_and_internals() {
        let t = TraceParser::new()
            .parse(&[
                "2024-01-15T14:26:00.123Z ERROR [auth] Error: Token verification failed: timed out",
                "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)",
                "    at AuthMiddleware.verify (/app/src/middleware/auth.middleware.ts:67:9)",
                "    at async AuthMiddleware.handle (/app/src/middleware/auth.middleware.ts:31:7)",
            ])
            .expect("trace");
        assert_eq!(t.language, Language::JavaScript);
        assert_eq!(app(&t), ("src/middleware/auth.middleware.ts".into(), 67));
        assert_eq!(t.exception.as_deref(), Some("Error"));
        assert_eq!(
            t.message.as_deref(),
            Some("Token verification failed: timed out")
        );
    }

    #[test]
    fn node_anonymous_frames_parse() {
        let t = TraceParser::new()
            .parse(&["Error: x", "    at /app/src/x.ts:1:2"])
            .expect("trace");
        assert_eq!(app(&t), ("src/x.ts".into(), 1));
        assert_eq!(t.frames[0].column, Some(2));
    }

    #[test]
    fn java_trace_locates_the_root_cause_in_application_code() {
        let t = TraceParser::new()
            .parse(&[
                "java.lang.IllegalStateException: request failed",
                "\tat com.example.api.UserController.get(UserController.java:88)",
                "Caused by: java.lang.NullPointerException: Cannot invoke \"String.length()\" because \"name\" is null",
                "\tat java.base/java.lang.String.valueOf(String.java:4465)",
                "\tat com.example.users.UserService.findUser(UserService.java:42)",
                "\t... 12 more",
            ])
            .expect("trace");
        assert_eq!(t.language, Language::Java);
        assert_eq!(
            t.exception.as_deref(),
            Some("java.lang.NullPointerException")
        );
        // Innermost application frame of the printed order.
        let apps: Vec<_> = t
            .frames
            .iter()
            .filter(|f| f.application)
            .map(|f| f.file.clone())
            .collect();
        assert!(
            apps.contains(&"com/example/users/UserService.java".to_string()),
            "{apps:?}"
        );
    }

    #[test]
    fn python_traceback_reads_innermost_frame_and_exception_line() {
        let t = TraceParser::new()
            .parse(&[
                "Traceback (most recent call last):",
                "  File \"/usr/lib/python3.11/site-packages/flask/app.py\", line 1484, in full_dispatch_request",
                "    rv = self.dispatch_request()",
                "  File \"/app/app/handlers/users.py\", line 27, in get_user",
                "    return users[payload['user_id']]",
                "KeyError: 'user_id'",
            ])
            .expect("trace");
        assert_eq!(t.language, Language::Python);
        assert_eq!(app(&t), ("app/handlers/users.py".into(), 27));
        assert_eq!(t.exception.as_deref(), Some("KeyError"));
        assert_eq!(t.message.as_deref(), Some("'user_id'"));
    }

    #[test]
    fn go_panic_skips_runtime_frames() {
        let t = TraceParser::new()
            .parse(&[
                "panic: runtime error: invalid memory address or nil pointer dereference",
                "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x6b3c2e]",
                "",
                "goroutine 42 [running]:",
                "runtime.panicmem()",
                "\t/usr/local/go/src/runtime/panic.go:261 +0x48",
                "main.(*OrderHandler).ServeHTTP(0x0, {0x7f0, 0xc000}, 0xc0001)",
                "\t/app/internal/orders/handler.go:57 +0x1d",
                "net/http.serverHandler.ServeHTTP({0xc00})",
                "\t/usr/local/go/src/net/http/server.go:2938 +0x8e",
            ])
            .expect("trace");
        assert_eq!(t.language, Language::Go);
        assert_eq!(app(&t), ("internal/orders/handler.go".into(), 57));
        assert_eq!(t.exception.as_deref(), Some("panic"));
        assert_eq!(
            t.application_frame().and_then(|f| f.function.as_deref()),
            Some("main.(*OrderHandler).ServeHTTP")
        );
    }

    #[test]
    fn rust_panic_names_its_location() {
        let t = TraceParser::new()
            .parse(&[
                "thread 'tokio-runtime-worker' panicked at src/handlers/orders.rs:88:14:",
                "called `Option::unwrap()` on a `None` value",
            ])
            .expect("trace");
        assert_eq!(t.language, Language::Rust);
        assert_eq!(app(&t), ("src/handlers/orders.rs".into(), 88));
        assert_eq!(
            t.message.as_deref(),
            Some("called `Option::unwrap()` on a `None` value")
        );
    }

    #[test]
    fn dotnet_frames_parse() {
        let t = TraceParser::new()
            .parse(&[
                "Unhandled exception. System.NullReferenceException: Object reference not set to an instance of an object.",
                "   at Shop.Orders.OrderService.Total(Order o) in /src/Shop/Orders/OrderService.cs:line 42",
                "   at System.Threading.Tasks.Task.Run()",
            ])
            .expect("trace");
        assert_eq!(t.language, Language::DotNet);
        assert_eq!(app(&t), ("Shop/Orders/OrderService.cs".into(), 42));
        assert_eq!(
            t.exception.as_deref(),
            Some("System.NullReferenceException")
        );
    }

    #[test]
    fn message_templates_hide_ids_and_numbers() {
        assert_eq!(
            message_template("timed out after 5000ms to 10.0.3.7:6379 id=ab12"),
            "timed out after <*> to <*> id=<*>"
        );
    }
}
