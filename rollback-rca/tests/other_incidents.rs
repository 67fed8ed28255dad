//! The analyzers on hand-made incidents they were not written against: a Java service, a Python
//! service, a Go service and a Node service whose cache dependency times out.

use chrono::{DateTime, Duration, TimeZone, Utc};
use rollback_core::{
    Analyzer, Environment, EventLevel, Evidence, Finding, FindingKind, Incident, LogLine,
    PlatformEvent, Release, Target, TimeRange, Version,
};
use rollback_rca::{default_analyzers, rank_and_merge};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, 10, 0, 0)
        .single()
        .expect("valid time")
}

/// Lines of `text` on `source`, `step_ms` apart from `start`.
fn lines(source: &str, start: DateTime<Utc>, step_ms: i64, text: &str) -> Vec<LogLine> {
    text.lines()
        .enumerate()
        .map(|(i, l)| LogLine {
            at: Some(start + Duration::milliseconds(step_ms * i as i64)),
            source: source.into(),
            line: l.into(),
        })
        .collect()
}

fn release(version: &str, env: &[&str]) -> Release {
    let mut r = Release::new(
        Version::parse(version).expect("version"),
        format!("svc-{version}"),
    );
    r.deployed_at = Some(t0());
    for e in env {
        r.attributes.insert(format!("env.{e}"), "set".into());
    }
    r.attributes.insert(
        "image".into(),
        format!("registry.example.com/svc:{version}"),
    );
    r
}

fn incident(
    failed: Evidence,
    baseline: Evidence,
    failed_env: &[&str],
    stable_env: &[&str],
) -> Incident {
    let window = TimeRange {
        start: t0() - Duration::minutes(2),
        end: t0() + Duration::minutes(10),
    };
    let mut i = Incident::new(
        Target::new(Environment::Production, "svc"),
        release("v2.0.0", failed_env),
        window,
    );
    let mut stable = release("v1.9.0", stable_env);
    stable.deployed_at = Some(t0() - Duration::days(2));
    i.stable = Some(stable);
    i.failed_evidence = failed;
    i.baseline_evidence = baseline;
    i
}

fn healthy_baseline(n: usize, line: &str) -> Evidence {
    let mut logs = Vec::new();
    for k in 0..n {
        logs.extend(lines(
            &format!("pod-old-{}", k % 3),
            t0() + Duration::seconds(k as i64),
            1,
            &line.replace("{k}", &k.to_string()),
        ));
    }
    Evidence::new(logs, Vec::new())
}

async fn analyze(incident: &Incident) -> Vec<Finding> {
    let mut all = Vec::new();
    for a in default_analyzers() {
        all.extend(a.analyze(incident).await.expect("analyzer"));
    }
    rank_and_merge(all)
}

fn at<'a>(findings: &'a [Finding], file_suffix: &str, line: u32) -> Option<&'a Finding> {
    findings.iter().find(|f| {
        f.location
            .as_ref()
            .is_some_and(|l| l.file.ends_with(file_suffix) && l.line == line)
    })
}

fn dump(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|f| {
            format!(
                "{:?} {} [{}] {} @ {:?}",
                f.kind,
                f.severity,
                f.analyzer,
                f.title,
                f.location.as_ref().map(|l| l.to_string())
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn java_service_names_the_null_pointer_and_the_exhausted_hikari_pool() {
    let mut logs = Vec::new();
    for k in 0..25i64 {
        let start = t0() + Duration::seconds(20 + k * 7);
        logs.extend(lines(
            &format!("orders-{}", k % 3),
            start,
            1,
            &format!(
                "2024-03-01 10:00:{:02}.123 ERROR 1 --- [nio-8080-exec-{k}] c.e.users.UserController : Request processing failed for user {k}\n\
                 java.lang.NullPointerException: Cannot invoke \"com.example.users.Address.getCity()\" because \"user.address\" is null\n\
                 \tat com.example.users.UserService.formatAddress(UserService.java:42)\n\
                 \tat com.example.users.UserController.get(UserController.java:88)\n\
                 \tat org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:897)\n\
                 \tat java.base/java.lang.Thread.run(Thread.java:833)",
                k % 60
            ),
        ));
        logs.extend(lines(
            &format!("orders-{}", (k + 1) % 3),
            start + Duration::seconds(3),
            1,
            &format!(
                "2024-03-01 10:01:{:02}.001 WARN 1 --- [nio-8080-exec-9] o.h.engine.jdbc.spi.SqlExceptionHelper : SQL Error: 0, SQLState: 08001\n\
                 java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, request timed out after {}ms.\n\
                 \tat com.zaxxer.hikari.pool.HikariPool.createTimeoutException(HikariPool.java:696)\n\
                 \tat com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:197)\n\
                 \tat com.example.orders.OrderRepository.findByCustomer(OrderRepository.java:57)\n\
                 \tat com.example.orders.OrderService.list(OrderService.java:31)",
                k % 60,
                30000 + k
            ),
        ));
    }
    let baseline = healthy_baseline(
        60,
        "2024-03-01 10:00:00.000 INFO 1 --- [nio-8080-exec-1] c.e.orders.OrderController : GET /orders/{k} 200 12ms",
    );
    let i = incident(Evidence::new(logs, Vec::new()), baseline, &[], &[]);
    let f = analyze(&i).await;
    let npe =
        at(&f, "com/example/users/UserService.java", 42).unwrap_or_else(|| panic!("{}", dump(&f)));
    assert!(npe.title.contains("NullPointerException"), "{}", npe.title);
    assert_eq!(npe.kind, FindingKind::Cause);
    let pool = at(&f, "com/example/orders/OrderRepository.java", 57)
        .unwrap_or_else(|| panic!("{}", dump(&f)));
    assert!(
        pool.title.contains("pool") || pool.summary.contains("pool"),
        "{}\n{}",
        pool.title,
        dump(&f)
    );
    assert!(f
        .iter()
        .any(|x| x.title == "Database connection pool exhausted"));
}

#[tokio::test]
async fn python_service_names_the_key_error_and_the_missing_setting_at_start_up() {
    let mut logs = lines(
        "worker-0",
        t0() + Duration::seconds(5),
        10,
        "2024-03-01 10:00:05,001 INFO [main] Starting worker v2.0.0\n\
         2024-03-01 10:00:05,050 CRITICAL [app.config] Configuration error: environment variable PAYMENTS_API_KEY is not set\n\
         2024-03-01 10:00:05,051 INFO [main] Process exited with code 1",
    );
    for k in 0..12i64 {
        logs.extend(lines(
            &format!("web-{}", k % 2),
            t0() + Duration::seconds(30 + k * 11),
            1,
            &format!(
                "2024-03-01 10:00:{:02},101 ERROR [app.handlers] Exception on /users/{k} [GET]\n\
                 Traceback (most recent call last):\n  \
                   File \"/usr/local/lib/python3.11/site-packages/flask/app.py\", line 1484, in full_dispatch_request\n    \
                     rv = self.dispatch_request()\n  \
                   File \"/app/app/handlers/users.py\", line 27, in get_user\n    \
                     return jsonify(profile['user_id'])\n\
                 KeyError: 'user_id'",
                k % 60
            ),
        ));
    }
    let baseline = healthy_baseline(
        40,
        "2024-03-01 10:00:00,000 INFO [app.handlers] GET /users/{k} 200",
    );
    let i = incident(
        Evidence::new(logs, Vec::new()),
        baseline,
        &["DATABASE_URL"],
        &["DATABASE_URL", "PAYMENTS_API_KEY"],
    );
    let f = analyze(&i).await;
    let key = at(&f, "app/handlers/users.py", 27).unwrap_or_else(|| panic!("{}", dump(&f)));
    assert!(key.title.contains("KeyError"), "{}", key.title);
    let config = f
        .iter()
        .find(|x| x.title.starts_with("Configuration error at start-up"))
        .unwrap_or_else(|| panic!("{}", dump(&f)));
    assert!(
        config.title.contains("PAYMENTS_API_KEY"),
        "{}",
        config.title
    );
    assert!(config
        .recommendation
        .as_deref()
        .is_some_and(|r| r.contains("env.PAYMENTS_API_KEY")));
}

#[tokio::test]
async fn go_service_names_the_nil_pointer_panic_location() {
    let mut logs = Vec::new();
    let mut events = Vec::new();
    for k in 0..5i64 {
        let start = t0() + Duration::seconds(10 + k * 40);
        logs.extend(lines(
            &format!("orders-{}", k % 2),
            start,
            1,
            "2024-03-01T10:00:10Z INFO starting orders-api v2.0.0\n\
             panic: runtime error: invalid memory address or nil pointer dereference\n\
             [signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x6b3c2e]\n\
             \n\
             goroutine 42 [running]:\n\
             main.(*OrderHandler).ServeHTTP(0x0, {0x7f0, 0xc000}, 0xc0001)\n\
             \t/app/internal/orders/handler.go:57 +0x1d\n\
             net/http.serverHandler.ServeHTTP({0xc00})\n\
             \t/usr/local/go/src/net/http/server.go:2938 +0x8e\n\
             created by net/http.(*Server).Serve in goroutine 1\n\
             \t/usr/local/go/src/net/http/server.go:3086 +0x5cb",
        ));
    }
    events.push(PlatformEvent {
        at: t0() + Duration::seconds(200),
        level: EventLevel::Warning,
        reason: "BackOff".into(),
        object: "pod/orders-1".into(),
        message: "Back-off restarting failed container orders in pod orders-1".into(),
        count: 5,
    });
    let baseline = healthy_baseline(30, "2024-03-01T10:00:00Z INFO GET /orders/{k} 200 3ms");
    let i = incident(Evidence::new(logs, events), baseline, &[], &[]);
    let f = analyze(&i).await;
    let p = at(&f, "internal/orders/handler.go", 57).unwrap_or_else(|| panic!("{}", dump(&f)));
    assert_eq!(p.kind, FindingKind::Cause);
    assert!(
        p.title.contains("panic") || p.summary.contains("nil pointer"),
        "{}\n{}",
        p.title,
        dump(&f)
    );
    assert!(p
        .evidence
        .iter()
        .any(|e| e.contains("nil pointer dereference")));
    assert!(f.iter().any(|x| x.title.starts_with("Crash loop")));
}

#[tokio::test]
async fn repeated_timeouts_to_one_host_are_a_dependency_failure() {
    let mut logs = Vec::new();
    for k in 0..30i64 {
        logs.extend(lines(
            &format!("api-{}", k % 4),
            t0() + Duration::seconds(15 + k * 9),
            1,
            "2024-03-01T10:00:15.000Z ERROR [cache] Error: connect ETIMEDOUT 10.0.3.7:6379\n    \
             at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16)",
        ));
        logs.extend(lines(
            &format!("api-{}", k % 4),
            t0() + Duration::seconds(16 + k * 9),
            1,
            "2024-03-01T10:00:16.000Z INFO [http] GET /api/v1/products 200 25ms",
        ));
    }
    logs.extend(lines(
        "api-0",
        t0() + Duration::seconds(100),
        1,
        "2024-03-01T10:01:40.000Z WARN [http] upstream payments-api timed out after 2000ms",
    ));
    let baseline = healthy_baseline(
        40,
        "2024-03-01T10:00:00.000Z INFO [http] GET /api/v1/products 200 21ms",
    );
    let i = incident(Evidence::new(logs, Vec::new()), baseline, &[], &[]);
    let f = analyze(&i).await;
    let dep = f
        .iter()
        .find(|x| x.title.starts_with("Dependency failure"))
        .unwrap_or_else(|| panic!("{}", dump(&f)));
    assert!(dep.title.contains("10.0.3.7:6379"), "{}", dep.title);
    assert_eq!(dep.kind, FindingKind::Cause);
    assert!(dep.evidence.iter().any(|e| e.contains("ETIMEDOUT")));
}

#[tokio::test]
async fn release_diff_shows_environment_names_never_values() {
    let mut i = incident(
        Evidence::default(),
        Evidence::default(),
        &["A_TOKEN"],
        &["B_URL"],
    );
    i.failed
        .attributes
        .insert("env.A_TOKEN".into(), "s3cr3t-value".into());
    let f = rollback_rca::ReleaseDiffAnalyzer::default()
        .analyze(&i)
        .await
        .expect("diff");
    let text = format!("{f:?}");
    assert!(text.contains("env.A_TOKEN") && text.contains("env.B_URL"));
    assert!(!text.contains("s3cr3t-value"), "{text}");
}
