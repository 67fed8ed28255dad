//! The analyzers on the simulation's spec incident: the three causes its logs carry are named,
//! at their code locations, at the top of the ranking — and follow the evidence when it changes.

use std::sync::Arc;

use rollback_core::sim::{Scenario, Simulation};
use rollback_core::{
    Analyzer, Finding, FindingKind, Incident, IncidentMetric, MetricKind, MetricQuery,
    MetricsSource, Orchestrator, Platform, Quantile, RollbackRequest, TimeRange,
};
use rollback_rca::{
    default_analyzers, rank_and_merge, render_html, render_markdown, RootCauseAnalyzer,
};

const KINDS: [MetricKind; 6] = [
    MetricKind::ErrorRate,
    MetricKind::Latency(Quantile::P95),
    MetricKind::CpuUtilization,
    MetricKind::MemoryUtilization,
    MetricKind::MemoryBytes,
    MetricKind::RequestRate,
];

/// Gathers the incident the way the RCA stage does: both releases, from two minutes before the
/// deploy to now.
async fn incident_of(sim: &Simulation) -> Incident {
    let platform = sim.platform();
    let target = sim.target();
    let releases = platform.releases(&target).await.expect("releases");
    let failed = releases[0].clone();
    let stable = releases[1].clone();
    let now = sim.scenario().now();
    let deployed = failed.deployed_at.expect("deployed_at");
    let window = TimeRange {
        start: deployed - chrono::Duration::seconds(120),
        end: now,
    };
    let mut incident = Incident::new(target.clone(), failed.clone(), window);
    incident.stable = Some(stable.clone());
    incident.rollback_at = Some(now);
    for r in [&failed, &stable] {
        for k in KINDS {
            let q = MetricQuery::new(
                k.clone(),
                target.clone(),
                window,
                std::time::Duration::from_secs(10),
            )
            .for_release(r.reference());
            let series = sim.metrics().query(&q).await.unwrap_or_default();
            incident.metrics.push(IncidentMetric {
                kind: k,
                release: r.reference(),
                series,
            });
        }
    }
    incident.failed_evidence = platform
        .evidence(&target, &failed, &window)
        .await
        .expect("evidence");
    incident.baseline_evidence = platform
        .evidence(&target, &stable, &window)
        .await
        .expect("evidence");
    incident
}

async fn analyze(incident: &Incident) -> Vec<Finding> {
    let mut all = Vec::new();
    all.extend(
        rollback_core::timeline::MetricTimelineAnalyzer::default()
            .analyze(incident)
            .await
            .expect("timeline"),
    );
    for a in default_analyzers() {
        all.extend(a.analyze(incident).await.expect("analyzer"));
    }
    rank_and_merge(all)
}

fn top_cause_locations(findings: &[Finding], n: usize) -> Vec<String> {
    findings
        .iter()
        .filter(|f| f.kind == FindingKind::Cause)
        .take(n)
        .map(|f| {
            f.location
                .as_ref()
                .map(|l| l.to_string())
                .unwrap_or_default()
        })
        .collect()
}

fn dump(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|f| {
            format!(
                "{:?} {} {:.2} [{}] {} @ {}",
                f.kind,
                f.severity,
                f.confidence,
                f.analyzer,
                f.title,
                f.location
                    .as_ref()
                    .map(|l| l.to_string())
                    .unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(start_paused = true)]
async fn spec_incident_names_leak_n_plus_one_and_unhandled_rejection_at_the_top() {
    let sim = Simulation::builtin("spec-incident").expect("scenario");
    let incident = incident_of(&sim).await;
    let findings = analyze(&incident).await;
    if std::env::var_os("RCA_DUMP").is_some() {
        println!("{}", dump(&findings));
        println!("{}", render_markdown(&incident, &findings));
        std::fs::write("/tmp/rca-spec.html", render_html(&incident, &findings)).expect("write");
    }
    let mut top = top_cause_locations(&findings, 3);
    top.sort();
    assert_eq!(
        top,
        [
            "src/api/users/get-users.controller.ts:42",
            "src/middleware/auth.middleware.ts:67",
            "src/services/cache.service.ts:156",
        ],
        "\n{}",
        dump(&findings)
    );
    // The three are ranked above every other finding.
    assert!(findings[..3].iter().all(|f| f.kind == FindingKind::Cause));
    let leak = findings
        .iter()
        .find(|f| {
            f.location
                .as_ref()
                .is_some_and(|l| l.file.ends_with("cache.service.ts"))
        })
        .expect("leak");
    assert!(leak.title.contains("Memory leak"), "{}", leak.title);
    assert!(leak.recommendation.is_some() && !leak.evidence.is_empty());
    let n1 = findings
        .iter()
        .find(|f| {
            f.location
                .as_ref()
                .is_some_and(|l| l.file.ends_with("get-users.controller.ts"))
        })
        .expect("n+1");
    assert!(n1.title.contains("N+1"), "{}", n1.title);
    let rej = findings
        .iter()
        .find(|f| {
            f.location
                .as_ref()
                .is_some_and(|l| l.file.ends_with("auth.middleware.ts"))
        })
        .expect("rejection");
    assert!(
        rej.title.to_lowercase().contains("unhandled"),
        "{}",
        rej.title
    );
    // The release diff names the removed variable, never a value.
    let diff = findings
        .iter()
        .find(|f| f.kind == FindingKind::Change && f.title.contains("Environment"))
        .expect("env diff");
    assert!(diff
        .evidence
        .iter()
        .any(|e| e.contains("env.CACHE_MAX_ENTRIES")));
}

#[tokio::test(start_paused = true)]
async fn findings_follow_the_evidence_when_files_and_lines_change() {
    let text = include_str!("../../rollback-core/scenarios/spec-incident.toml");
    let text = text
        .replace(
            "src/services/cache.service.ts:156:12",
            "src/store/memo-store.ts:311:7",
        )
        .replace(
            "src/api/users/get-users.controller.ts:42:18",
            "src/routes/accounts.route.ts:88:3",
        )
        .replace(
            "src/middleware/auth.middleware.ts:67:9",
            "src/security/jwt-guard.ts:19:5",
        );
    let scenario = Scenario::from_toml(&text).expect("scenario");
    let clock = scenario.clock();
    let sim = Simulation::new(scenario, clock);
    let incident = incident_of(&sim).await;
    let findings = analyze(&incident).await;
    let mut top = top_cause_locations(&findings, 3);
    top.sort();
    assert_eq!(
        top,
        [
            "src/routes/accounts.route.ts:88",
            "src/security/jwt-guard.ts:19",
            "src/store/memo-store.ts:311",
        ],
        "\n{}",
        dump(&findings)
    );
}

#[tokio::test(start_paused = true)]
async fn orchestrator_report_carries_the_merged_root_causes() {
    let sim = Simulation::builtin("spec-incident").expect("scenario");
    let orchestrator = Orchestrator::builder(sim.platform(), sim.metrics())
        .clock(sim.clock())
        .analyzer(Arc::new(RootCauseAnalyzer::default()))
        .build()
        .expect("orchestrator");
    let report = orchestrator
        .run(RollbackRequest::new(sim.target()).reason("High error rate"))
        .await;
    let rc = report
        .root_cause
        .as_ref()
        .unwrap_or_else(|| panic!("no RCA: {}", report.summary));
    let causes: Vec<String> = rc
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::Cause)
        .take(3)
        .filter_map(|f| f.location.as_ref().map(|l| l.to_string()))
        .collect();
    for want in [
        "src/services/cache.service.ts:156",
        "src/api/users/get-users.controller.ts:42",
        "src/middleware/auth.middleware.ts:67",
    ] {
        assert!(
            causes.iter().any(|c| c == want),
            "{want} not in {causes:?}\n{}",
            dump(&rc.findings)
        );
    }
    assert!(rc.markdown.contains("src/services/cache.service.ts:156"));
}

#[tokio::test(start_paused = true)]
async fn every_rendering_of_the_report_says_what_tripped_the_rollback() {
    let sim = Simulation::builtin("spec-incident").expect("scenario");
    let dir = std::env::temp_dir().join(format!("rca-trigger-{}", std::process::id()));
    let orchestrator = Orchestrator::builder(sim.platform(), sim.metrics())
        .clock(sim.clock())
        .analyzer(Arc::new(RootCauseAnalyzer::default()))
        .rca_reporter(Arc::new(rollback_rca::RcaReport::default()))
        .report_dir(&dir)
        .build()
        .expect("orchestrator");
    let report = orchestrator
        .run(RollbackRequest::new(sim.target()).reason("High error rate"))
        .await;
    let trigger = report.trigger.clone().expect("a trigger");
    assert!(trigger.decision.contains("SLA breach"), "{trigger:?}");
    assert!(!trigger.signals.is_empty(), "{trigger:?}");
    let rc = report.root_cause.as_ref().expect("an RCA");
    let read = |ext: &str| {
        let path = rc
            .files
            .iter()
            .find(|f| f.ends_with(ext))
            .unwrap_or_else(|| panic!("no {ext} in {:?}", rc.files));
        std::fs::read_to_string(path).expect("report file")
    };
    let md = read("rca.md");
    assert!(
        md.contains(&format!("**Decision:** {}", trigger.decision)),
        "{md}"
    );
    for s in &trigger.signals {
        assert!(md.contains(&format!("- {s}")), "{s}\n{md}");
    }
    assert!(md.contains("Rollback decided: "), "{md}");
    let html = read("rca.html");
    assert!(html.contains("<h2>Why It Was Rolled Back</h2>"), "{html}");
    assert!(html.contains("<ul class=\"signals\">"), "{html}");
    let json: serde_json::Value = serde_json::from_str(&read("rca.json")).expect("json");
    assert_eq!(json["trigger"]["decision"], trigger.decision.as_str());
    let _ = std::fs::remove_dir_all(&dir);
}
