//! The simulation passes the whole conformance suite, for each router kind.

use rollback_core::sim::{Scenario, Simulation};
use rollback_core::testkit::{run_all, Fixture};

/// A healthy two-release workload without a traffic router (the suite's fixture must be healthy;
/// the builtin `dev-no-bluegreen` serves a crash-looping release on purpose).
const NO_ROUTER: &str = r#"
name = "conformance-no-router"
seed = 1
now = "2024-02-20T16:45:00Z"
environment = "dev"
deployment = "worker"
router = "none"
request_rate = 8.0
traffic = { "v2" = 100 }

[[releases]]
version = "v2"
state = "serving"
replicas = 2
deployed_at = "-1h"

[[releases]]
version = "v1"
state = "inactive"
replicas = 0
deployed_at = "-2d"
"#;

#[tokio::test(start_paused = true)]
async fn simulation_passes_the_conformance_suite_for_every_router() {
    let scenarios = [
        (Scenario::builtin("healthy").unwrap(), 1),
        (Scenario::builtin("staging-canary").unwrap(), 0),
        (Scenario::from_toml(NO_ROUTER).unwrap(), 3),
    ];
    for (scenario, expect_skipped) in scenarios {
        let name = scenario.name().to_string();
        let sim = Simulation::new(scenario.clone(), scenario.clock());
        let report = run_all(&sim.platform(), &Fixture::new(sim.target()))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(report.skipped.len(), expect_skipped, "{name}: {report:?}");
        assert!(report.passed.len() >= 7, "{name}: {report:?}");
    }
}
