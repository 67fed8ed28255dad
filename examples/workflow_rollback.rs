//! The reference command: roll back a failing deployment, stage by stage.
//!
//! On the embedded simulation (the default platform) it replays the product spec's incident:
//!
//! ```text
//! cargo run --example workflow_rollback -- --environment production --reason "High error rate"
//! ```
//!
//! Flags follow the spec: `--environment dev|staging|production` (required), `--to`,
//! `--reason` (required in production), `--immediate`, `--analyze-failure`, `--notify`,
//! `--preserve-data` (booleans take `true`/`false` or stand alone), `--deployment`; plus
//! `--scenario FILE|NAME`, `--config FILE`, `--dry-run`, `--strategy`, `--force`,
//! `--output text|json`, `--report-dir DIR`, `--plain`.
//!
//! Exit codes: 0 rolled back (or dry run), 1 rollback failed or aborted, 2 bad input,
//! 3 nothing to do, 4 inconclusive (no data), 130 cancelled (Ctrl-C).
//!
//! The simulation runs on virtual time: a 60 s health watch takes milliseconds, and the report
//! shows the virtual durations.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use clap::{builder::BoolishValueParser, Parser, ValueEnum};
use rollback::config::Config;
use rollback::report::{Line, Mark, StageReport};
use rollback::sim::{Scenario, Simulation};
use rollback::{
    Check, CheckContext, CheckOutcome, Environment, Event, MetricsSource, Notifier, Orchestrator,
    OrchestratorBuilder, Outcome, Platform, Progress, RollbackReport, RollbackRequest,
    StrategyChoice, Target, Version,
};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Output {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum PlatformKind {
    /// The embedded simulation.
    Sim,
    /// Kubernetes (current kubeconfig or in-cluster), with Prometheus metrics; needs the
    /// `kube` and `prometheus` features.
    K8s,
    /// Amazon ECS (standard AWS credential chain and region), with CloudWatch metrics; needs
    /// the `ecs` feature.
    Ecs,
}

/// Roll back a failing deployment: detect, pick a verified-stable target, validate, switch back,
/// verify, explain, clean up, notify.
#[derive(Debug, Parser)]
#[command(name = "workflow_rollback", version, about)]
struct Args {
    /// Environment: dev, staging or production.
    #[arg(long, value_parser = parse_env)]
    environment: Environment,
    /// Deployment (service) to roll back (default: the scenario's).
    #[arg(long)]
    deployment: Option<String>,
    /// Roll back to this version instead of choosing the newest verified-healthy one.
    #[arg(long, value_parser = parse_version)]
    to: Option<Version>,
    /// Why (required in production).
    #[arg(long)]
    reason: Option<String>,
    /// Skip the validation gates (recorded in the report; the lock is still taken).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", default_value = "false", value_parser = BoolishValueParser::new())]
    immediate: bool,
    /// Run the root-cause analysis.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", default_value = "true", value_parser = BoolishValueParser::new())]
    analyze_failure: bool,
    /// Send notifications through the configured channels.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", default_value = "true", value_parser = BoolishValueParser::new())]
    notify: bool,
    /// Never restore data (turn off only for the database strategy).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", default_value = "true", value_parser = BoolishValueParser::new())]
    preserve_data: bool,
    /// Strategy: auto, instant, gradual, full, database.
    #[arg(long, default_value = "auto", value_parser = parse_strategy)]
    strategy: StrategyChoice,
    /// Roll back even if no SLA violation is detected.
    #[arg(long)]
    force: bool,
    /// Plan only: no mutating call.
    #[arg(long)]
    dry_run: bool,
    /// Platform.
    #[arg(long, value_enum, default_value = "sim")]
    platform: PlatformKind,
    /// Namespace of the deployment (Kubernetes; default: the config's or the kubeconfig's).
    #[arg(long)]
    namespace: Option<String>,
    /// Kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Kubeconfig context.
    #[arg(long)]
    context: Option<String>,
    /// ECS cluster (with --platform ecs).
    #[arg(long)]
    cluster: Option<String>,
    /// ECS service (with --platform ecs; default: --deployment).
    #[arg(long)]
    service: Option<String>,
    /// Simulation scenario: a builtin name or a TOML file (default: by environment —
    /// production: spec-incident, staging: staging-canary, dev: dev-no-bluegreen).
    #[arg(long)]
    scenario: Option<String>,
    /// Configuration file (policy, gates, smoke tests, notification channels).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    output: Output,
    /// Where RCA reports and exported logs go.
    #[arg(long, default_value = "rollback-reports")]
    report_dir: PathBuf,
    /// Plain ASCII output (also when NO_COLOR is set).
    #[arg(long)]
    plain: bool,
}

fn parse_env(s: &str) -> Result<Environment, String> {
    s.parse()
        .map_err(|e: rollback::Error| e.message().to_string())
}
fn parse_version(s: &str) -> Result<Version, String> {
    s.parse()
        .map_err(|e: rollback::Error| e.message().to_string())
}
fn parse_strategy(s: &str) -> Result<StrategyChoice, String> {
    s.parse()
        .map_err(|e: rollback::Error| e.message().to_string())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let plain = args.plain || std::env::var_os("NO_COLOR").is_some();
    let ui = Ui { plain };
    match run(args, &ui) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("{} {e}", ui.mark(Mark::Fail));
            // Bad input is 2; a backend that could not be reached before anything started is 1.
            match e.kind() {
                rollback::ErrorKind::InvalidInput | rollback::ErrorKind::NotFound => {
                    ExitCode::from(2)
                }
                _ => ExitCode::from(1),
            }
        }
    }
}

fn load_scenario(args: &Args) -> rollback::Result<Scenario> {
    let name = args.scenario.clone().unwrap_or_else(|| {
        match args.environment {
            Environment::Staging => "staging-canary",
            Environment::Dev => "dev-no-bluegreen",
            _ => "spec-incident",
        }
        .to_string()
    });
    let scenario = if Scenario::builtin_names().contains(&name.as_str()) {
        Scenario::builtin(&name)?
    } else {
        let text = std::fs::read_to_string(&name).map_err(|e| {
            rollback::Error::invalid_input(format!(
                "--scenario {name}: not a builtin ({}) and not a readable file: {e}",
                Scenario::builtin_names().join(", ")
            ))
        })?;
        Scenario::from_toml(&text).map_err(|e| {
            rollback::Error::invalid_input(format!("scenario file {name}: {}", e.message()))
        })?
    };
    if scenario.target().environment != args.environment {
        return Err(rollback::Error::invalid_input(format!(
            "scenario {} describes {}, but --environment is {}: pass a matching --environment or --scenario",
            scenario.name(),
            scenario.target().environment,
            args.environment
        )));
    }
    Ok(scenario)
}

fn runtime_error(e: std::io::Error) -> rollback::Error {
    rollback::Error::new(rollback::ErrorKind::Backend, "cannot start the runtime").with_source(e)
}

fn run(args: Args, ui: &Ui) -> rollback::Result<u8> {
    let config = match &args.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    let report = match args.platform {
        PlatformKind::Sim => run_sim(&args, &config, ui)?,
        PlatformKind::K8s => run_k8s(&args, &config, ui)?,
        PlatformKind::Ecs => run_ecs(&args, &config, ui)?,
    };
    match args.output {
        Output::Json => {
            let json = serde_json::to_string_pretty(&report).map_err(|e| {
                rollback::Error::new(rollback::ErrorKind::Backend, "cannot encode the report")
                    .with_source(e)
            })?;
            println!("{json}");
        }
        Output::Text => ui.summary(&report),
    }
    Ok(report.outcome.exit_code() as u8)
}

fn request(args: &Args, target: Target) -> RollbackRequest {
    let mut request = RollbackRequest::new(target)
        .immediate(args.immediate)
        .analyze_failure(args.analyze_failure)
        .notify(args.notify)
        .preserve_data(args.preserve_data)
        .strategy(args.strategy)
        .dry_run(args.dry_run)
        .force(args.force);
    request.reason = args.reason.clone();
    request.to = args.to.clone();
    request
}

/// Adds what every platform shares (policy, gates, smoke tests, channels, report directory),
/// runs the rollback, streams its progress and handles Ctrl-C.
async fn drive<P: Platform + 'static, M: MetricsSource + 'static>(
    builder: OrchestratorBuilder<P, M>,
    args: &Args,
    config: &Config,
    ui: &Ui,
    request: RollbackRequest,
    wrap: &dyn Fn(Arc<dyn Check>) -> Arc<dyn Check>,
    wrap_notifier: &dyn Fn(Arc<dyn Notifier>) -> Arc<dyn Notifier>,
) -> rollback::Result<RollbackReport> {
    let mut builder = builder
        .policy(config.policy.clone())
        .report_dir(&args.report_dir)
        .analyzer(Arc::new(rollback::rca::RootCauseAnalyzer::default()))
        .rca_reporter(Arc::new(rollback::rca::RcaReport::default()));
    for c in config.build_gates()? {
        builder = builder.gate(wrap(c));
    }
    for c in config.build_smoke_tests()? {
        builder = builder.smoke_test(wrap(c));
    }
    // Every event also goes to a JSON-lines audit file next to the reports.
    builder = builder.notifier(Arc::new(rollback::JsonLinesNotifier::to_file(
        args.report_dir.join("events.jsonl"),
    )));
    for n in config.build_notifiers()? {
        builder = builder.notifier(wrap_notifier(n));
    }
    let orchestrator = builder.build()?;
    let mut handle = orchestrator.start(request);
    let mut cancelled = false;
    loop {
        tokio::select! {
            p = handle.next_progress() => match p {
                Some(p) => if let Output::Text = args.output { ui.progress(&p) },
                None => break,
            },
            _ = tokio::signal::ctrl_c(), if !cancelled => {
                cancelled = true;
                handle.cancel();
            }
        }
    }
    handle.report().await
}

fn run_sim(args: &Args, config: &Config, ui: &Ui) -> rollback::Result<RollbackReport> {
    let scenario = load_scenario(args)?;
    // Virtual time: the simulation's waits (health watch, clean-up delay) take no real time.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .map_err(runtime_error)?;
    // Checks and notifiers talk to real servers: they run on a real-time runtime of their own.
    let real = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(runtime_error)?,
    );
    rt.block_on(async {
        let sim = Simulation::new(scenario.clone(), scenario.clock());
        let mut target = sim.target();
        if let Some(d) = &args.deployment {
            target = Target {
                deployment: d.clone(),
                ..target
            };
        }
        if let Some(ns) = &args.namespace {
            target.namespace = Some(ns.clone());
        }
        let builder = Orchestrator::builder(sim.platform(), sim.metrics())
            .clock(sim.clock())
            .data_guard(Arc::new(sim.data_guard()));
        let request = request(args, target);
        if let Output::Text = args.output {
            ui.header(
                &request,
                &format!(
                    "simulation ({}: {})",
                    scenario.name(),
                    scenario.description()
                ),
            );
        }
        let r1 = real.clone();
        let r2 = real.clone();
        drive(
            builder,
            args,
            config,
            ui,
            request,
            &move |c| Arc::new(RealTime::new(c, r1.clone())),
            &move |n| {
                Arc::new(RealTimeNotifier {
                    inner: n,
                    rt: r2.clone(),
                })
            },
        )
        .await
    })
}

#[cfg(all(feature = "kube", feature = "prometheus"))]
fn run_k8s(args: &Args, config: &Config, ui: &Ui) -> rollback::Result<RollbackReport> {
    let Some(deployment) = args.deployment.clone() else {
        return Err(rollback::Error::invalid_input(
            "--platform k8s needs --deployment NAME",
        ));
    };
    let Some(prom) = config.prometheus.clone() else {
        return Err(rollback::Error::invalid_input(
            "--platform k8s needs a metrics source: add a [prometheus] section (url = \"http://…\") to --config",
        ));
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(runtime_error)?;
    rt.block_on(async {
        let kcfg = config.kubernetes.clone();
        let platform = match &args.kubeconfig {
            Some(path) => {
                rollback::k8s::KubePlatform::from_kubeconfig(path, args.context.as_deref(), kcfg)
                    .await?
            }
            None => rollback::k8s::KubePlatform::try_default(kcfg).await?,
        };
        let metrics = rollback::prometheus::PrometheusSource::new(prom)?;
        let mut target = Target::new(args.environment, deployment);
        if let Some(ns) = args
            .namespace
            .clone()
            .or_else(|| config.kubernetes.namespace.clone())
        {
            target = target.with_namespace(ns);
        }
        // A configuration whose queries return nothing is reported before any rollback.
        let kinds = [
            rollback::MetricKind::ErrorRate,
            rollback::MetricKind::Latency(rollback::Quantile::P95),
            rollback::MetricKind::CpuUtilization,
            rollback::MetricKind::MemoryUtilization,
            rollback::MetricKind::StatusCodes,
        ];
        let check = metrics.validate(&kinds, &target).await?;
        if !check.is_ok() {
            eprintln!("{check}");
            return Err(rollback::Error::invalid_input(format!(
                "the Prometheus configuration returns no data for {target}: fix the queries in [prometheus] before rolling back"
            )));
        }
        let request = request(args, target);
        if let Output::Text = args.output {
            ui.header(&request, "kubernetes");
        }
        drive(
            Orchestrator::builder(platform, metrics),
            args,
            config,
            ui,
            request,
            &|c| c,
            &|n| n,
        )
        .await
    })
}

#[cfg(feature = "ecs")]
fn run_ecs(args: &Args, config: &Config, ui: &Ui) -> rollback::Result<RollbackReport> {
    let Some(cluster) = args.cluster.clone() else {
        return Err(rollback::Error::invalid_input(
            "--platform ecs needs --cluster NAME",
        ));
    };
    let Some(service) = args.service.clone().or_else(|| args.deployment.clone()) else {
        return Err(rollback::Error::invalid_input(
            "--platform ecs needs --service NAME (or --deployment)",
        ));
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(runtime_error)?;
    rt.block_on(async {
        let platform = rollback::ecs::EcsPlatform::for_service(cluster, service).await?;
        let metrics = rollback::ecs::CloudWatchMetrics::for_platform(&platform);
        let target = platform.default_target(args.environment)?;
        let request = request(args, target);
        if let Output::Text = args.output {
            ui.header(&request, "amazon ecs");
        }
        drive(
            Orchestrator::builder(platform, metrics),
            args,
            config,
            ui,
            request,
            &|c| c,
            &|n| n,
        )
        .await
    })
}

#[cfg(not(feature = "ecs"))]
fn run_ecs(_: &Args, _: &Config, _: &Ui) -> rollback::Result<RollbackReport> {
    Err(rollback::Error::invalid_input(
        "--platform ecs needs the `ecs` feature: cargo run --example workflow_rollback --features ecs -- …",
    ))
}

#[cfg(not(all(feature = "kube", feature = "prometheus")))]
fn run_k8s(_: &Args, _: &Config, _: &Ui) -> rollback::Result<RollbackReport> {
    Err(rollback::Error::invalid_input(
        "--platform k8s needs the `kube` and `prometheus` features: cargo run --example workflow_rollback --features kube,prometheus -- …",
    ))
}

/// Runs a check on the real-time runtime and keeps the virtual-time runtime busy meanwhile, so
/// virtual time does not jump ahead while a real server answers.
struct RealTime {
    inner: Arc<dyn Check>,
    rt: Arc<tokio::runtime::Runtime>,
}

impl RealTime {
    fn new(inner: Arc<dyn Check>, rt: Arc<tokio::runtime::Runtime>) -> Self {
        RealTime { inner, rt }
    }
}

async fn on_real_time<T: Send + 'static>(
    rt: &tokio::runtime::Runtime,
    f: impl std::future::Future<Output = T> + Send + 'static,
) -> Option<T> {
    let mut task = rt.spawn(f);
    loop {
        if task.is_finished() {
            return (&mut task).await.ok();
        }
        std::thread::sleep(Duration::from_millis(1));
        tokio::task::yield_now().await;
    }
}

#[async_trait]
impl Check for RealTime {
    fn name(&self) -> &str {
        self.inner.name()
    }
    async fn run(&self, ctx: &CheckContext) -> CheckOutcome {
        let (inner, ctx2) = (self.inner.clone(), ctx.clone());
        on_real_time(&self.rt, async move { inner.run(&ctx2).await })
            .await
            .unwrap_or_else(|| {
                CheckOutcome::new(
                    self.inner.name(),
                    rollback::CheckStatus::Fail,
                    "the check panicked",
                )
            })
    }
}

struct RealTimeNotifier {
    inner: Arc<dyn Notifier>,
    rt: Arc<tokio::runtime::Runtime>,
}

#[async_trait]
impl Notifier for RealTimeNotifier {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn wants(&self, e: &Event) -> bool {
        self.inner.wants(e)
    }
    async fn notify(&self, e: &Event) -> rollback::Result<()> {
        let (inner, e) = (self.inner.clone(), e.clone());
        on_real_time(&self.rt, async move { inner.notify(&e).await })
            .await
            .unwrap_or_else(|| {
                Err(rollback::Error::new(
                    rollback::ErrorKind::Backend,
                    "the notifier panicked",
                ))
            })
    }
}

/// Terminal rendering: emoji marks by default, ASCII with `--plain` / `NO_COLOR`.
struct Ui {
    plain: bool,
}

impl Ui {
    fn mark(&self, m: Mark) -> &'static str {
        match (self.plain, m) {
            (false, Mark::Ok) => "✅",
            (false, Mark::Fail) => "❌",
            (false, Mark::Warn) => "⚠️ ",
            (false, Mark::Info) => "  ",
            (true, Mark::Ok) => "[OK]  ",
            (true, Mark::Fail) => "[FAIL]",
            (true, Mark::Warn) => "[WARN]",
            (true, Mark::Info) => "      ",
        }
    }

    fn rule(&self) -> &'static str {
        if self.plain {
            "=============================================================="
        } else {
            "━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━"
        }
    }

    fn header(&self, req: &RollbackRequest, platform: &str) {
        println!("{}", self.rule());
        let icon = if self.plain { "" } else { "🔄 " };
        println!(
            "{icon}ROLLBACK: {} ({})",
            req.target.deployment, req.target.environment
        );
        if let Some(r) = &req.reason {
            println!("   Reason: {r}");
        }
        println!("   Platform: {platform}");
        if req.dry_run {
            println!("   Mode: DRY RUN (no changes will be made)");
        }
        println!("{}", self.rule());
    }

    fn progress(&self, p: &Progress) {
        match p {
            Progress::StageStarted(stage) => {
                println!();
                println!("[{}/10] {}", stage.number(), stage.title().to_uppercase());
            }
            Progress::Line(_, line) => self.line(line),
            Progress::StageFinished(s) => self.stage_end(s),
            _ => {}
        }
    }

    fn line(&self, l: &Line) {
        println!("  {} {}", self.mark(l.mark), l.text);
    }

    fn stage_end(&self, s: &StageReport) {
        let clock = if self.plain { "time:" } else { "⏱ " };
        println!("  {clock} {}", fmt_duration(s.duration));
    }

    fn summary(&self, r: &RollbackReport) {
        println!();
        println!("{}", self.rule());
        let (mark, title) = match r.outcome {
            Outcome::RolledBack => (Mark::Ok, "ROLLBACK COMPLETED SUCCESSFULLY"),
            Outcome::NothingToDo => (Mark::Ok, "NOTHING TO ROLL BACK"),
            Outcome::AlreadyDone => (Mark::Ok, "ALREADY ROLLED BACK"),
            Outcome::DryRun => (Mark::Ok, "DRY RUN COMPLETE (NO CHANGES MADE)"),
            Outcome::Inconclusive => (Mark::Warn, "INCONCLUSIVE: NOT ENOUGH DATA"),
            Outcome::Rejected => (Mark::Fail, "REQUEST REJECTED"),
            Outcome::Aborted => (Mark::Fail, "ROLLBACK ABORTED (NOTHING CHANGED)"),
            Outcome::Cancelled => (Mark::Warn, "ROLLBACK CANCELLED"),
            Outcome::Failed => (Mark::Fail, "ROLLBACK FAILED"),
        };
        println!("{} {title}", self.mark(mark));
        println!("{}", self.rule());
        println!("  {}", r.summary);
        if let (Some(from), Some(to)) = (&r.from, &r.to) {
            println!("  Version:   {} → {}", from.version, to.version);
        }
        if let Some(s) = r.strategy {
            println!("  Strategy:  {}", s.describe());
        }
        if !r.executions.is_empty() {
            let downtime: Duration = r.executions.iter().map(|e| e.downtime).sum();
            println!("  Downtime:  {} seconds", downtime.as_secs());
        }
        println!("  Duration:  {}", fmt_duration(r.duration));
        if let Some(fs) = &r.final_state {
            println!("  State:     {}", fs.summary);
        }
        if let Some(rc) = &r.root_cause {
            if let Some(p) = &rc.markdown_path {
                println!("  RCA:       {p}");
            }
        }
        println!("  Run id:    {}", r.run_id);
        let steps = next_steps(r);
        if !steps.is_empty() {
            println!();
            println!("Next steps:");
            for (i, s) in steps.iter().enumerate() {
                println!("  {}. {s}", i + 1);
            }
        }
    }
}

fn next_steps(r: &RollbackReport) -> Vec<String> {
    let mut out = Vec::new();
    match r.outcome {
        Outcome::RolledBack => {
            if let Some(rc) = &r.root_cause {
                if let Some(p) = &rc.markdown_path {
                    out.push(format!("Review the root-cause report: {p}"));
                }
                for f in rc
                    .findings
                    .iter()
                    .filter(|f| f.recommendation.is_some())
                    .take(3)
                {
                    let loc = f
                        .location
                        .as_ref()
                        .map(|l| format!(" ({l})"))
                        .unwrap_or_default();
                    out.push(format!(
                        "{}{loc}: {}",
                        f.title,
                        f.recommendation.as_deref().unwrap_or("")
                    ));
                }
            }
            if let Some(from) = &r.from {
                out.push(format!(
                    "Fix {} and re-deploy through staging before production",
                    from.version
                ));
            }
            out.push("Keep watching the dashboards for the next hour".into());
        }
        Outcome::Failed | Outcome::Cancelled => {
            out.push("Check the state above: traffic is where it says, and nothing else was changed after the failure".into());
            out.push("Fix the cause of the failure, then re-run the same command: it resumes where it stopped".into());
        }
        Outcome::Aborted => out.push(
            "Resolve the failed gate, or re-run with --immediate true to skip the gates".into(),
        ),
        Outcome::Inconclusive => {
            out.push("Check the metrics source, or pass --to VERSION to roll back anyway".into())
        }
        Outcome::DryRun => out.push("Re-run without --dry-run to execute this plan".into()),
        _ => {}
    }
    out
}

fn fmt_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else if d < Duration::from_secs(60) {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{}m {}s", d.as_secs() / 60, d.as_secs() % 60)
    }
}
