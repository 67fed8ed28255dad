//! The conformance suite every [`Platform`] must pass, selected by its [`Capabilities`].
//!
//! Each check is a plain async function. [`run_all`] runs those that apply and returns which
//! ran; a backend's own tests call it against a fresh fixture:
//!
//! ```no_run
//! # async fn demo(platform: impl rollback_core::Platform) {
//! use rollback_core::testkit::{run_all, Fixture};
//! use rollback_core::{Environment, Target};
//! let fixture = Fixture::new(Target::new(Environment::Staging, "web"));
//! let report = run_all(&platform, &fixture).await.expect("platform conforms");
//! println!("{report:?}");
//! # }
//! ```
//!
//! The fixture's target must exist with at least two releases: one serving all traffic and an
//! older one that can be reverted to (for blue-green platforms: warm, with ready capacity). The
//! suite changes the platform's state; give it a target of its own.

use std::time::Duration;

use crate::error::{Error, ErrorKind, Result};
use crate::model::metric::TimeRange;
use crate::model::release::{Release, ReleaseMark, ReleaseState};
use crate::model::target::Target;
use crate::model::traffic::TrafficSplit;
use crate::platform::{Capabilities, Platform};

/// What the suite runs against.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct Fixture {
    /// A target with at least two releases.
    pub target: Target,
    /// How long a revert or scale may take to become ready (default 10 min of tokio time).
    pub settle_timeout: Duration,
    /// Poll interval while waiting (default 1 s).
    pub poll: Duration,
}

impl Fixture {
    /// A fixture for `target` with default timeouts.
    pub fn new(target: Target) -> Self {
        Fixture {
            target,
            settle_timeout: Duration::from_secs(600),
            poll: Duration::from_secs(1),
        }
    }
}

/// Which checks ran and which were skipped (capability not declared).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConformanceReport {
    /// Checks that ran and passed.
    pub passed: Vec<&'static str>,
    /// Checks skipped, with the capability that was missing.
    pub skipped: Vec<(&'static str, &'static str)>,
}

fn fail(check: &'static str, msg: impl Into<String>) -> Error {
    Error::new(
        ErrorKind::Backend,
        format!("conformance check `{check}` failed: {}", msg.into()),
    )
}

async fn two_releases<P: Platform + ?Sized>(
    p: &P,
    f: &Fixture,
    check: &'static str,
) -> Result<(Release, Release)> {
    let rs = p.releases(&f.target).await?;
    let t = p.traffic(&f.target).await?;
    let current = rs
        .iter()
        .find(|r| t.percent_for(&r.revision) > 0)
        .cloned()
        .ok_or_else(|| fail(check, "no listed release receives traffic"))?;
    let older = rs
        .iter()
        .skip_while(|r| r.revision != current.revision)
        .nth(1)
        .cloned()
        .ok_or_else(|| {
            fail(
                check,
                "the fixture needs a release older than the serving one",
            )
        })?;
    Ok((current, older))
}

/// `releases` lists the target's releases newest first, with unique revisions.
pub async fn releases_are_listed_newest_first<P: Platform + ?Sized>(
    p: &P,
    f: &Fixture,
) -> Result<()> {
    const C: &str = "releases_are_listed_newest_first";
    let rs = p.releases(&f.target).await?;
    if rs.len() < 2 {
        return Err(fail(
            C,
            format!("expected at least 2 releases, got {}", rs.len()),
        ));
    }
    for (i, r) in rs.iter().enumerate() {
        if rs[..i].iter().any(|o| o.revision == r.revision) {
            return Err(fail(C, format!("revision {} listed twice", r.revision)));
        }
    }
    for w in rs.windows(2) {
        if let (Some(a), Some(b)) = (w[0].deployed_at, w[1].deployed_at) {
            if a < b {
                return Err(fail(
                    C,
                    format!(
                        "{} (deployed {a}) listed before newer {} ({b})",
                        w[0].version, w[1].version
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// An unknown target is `NotFound`, for reads.
pub async fn unknown_target_is_not_found<P: Platform + ?Sized>(p: &P, f: &Fixture) -> Result<()> {
    const C: &str = "unknown_target_is_not_found";
    let mut unknown = f.target.clone();
    unknown.deployment = format!("{}-does-not-exist-7f3a", unknown.deployment);
    match p.releases(&unknown).await {
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(fail(
            C,
            format!("expected NotFound, got {:?}: {e}", e.kind()),
        )),
        Ok(rs) => Err(fail(
            C,
            format!("expected NotFound, got {} releases", rs.len()),
        )),
    }
}

/// `traffic` sums to 100 and names only listed releases; the serving release has capacity.
pub async fn traffic_names_listed_releases_with_capacity<P: Platform + ?Sized>(
    p: &P,
    f: &Fixture,
) -> Result<()> {
    const C: &str = "traffic_names_listed_releases_with_capacity";
    let rs = p.releases(&f.target).await?;
    let t = p.traffic(&f.target).await?;
    let sum: u32 = t.weights().iter().map(|w| u32::from(w.percent)).sum();
    if sum != 100 {
        return Err(fail(C, format!("weights sum to {sum}")));
    }
    for w in t.weights() {
        let r = rs
            .iter()
            .find(|r| r.revision == w.release.revision)
            .ok_or_else(|| {
                fail(
                    C,
                    format!("traffic names unlisted revision {}", w.release.revision),
                )
            })?;
        let h = p.health(&f.target, r).await?;
        if !h.has_ready_capacity() {
            return Err(fail(
                C,
                format!(
                    "{} receives {}% but has no ready capacity",
                    r.version, w.percent
                ),
            ));
        }
    }
    Ok(())
}

/// Every operation the platform does not declare answers `Unsupported` and changes nothing.
pub async fn undeclared_operations_are_unsupported<P: Platform + ?Sized>(
    p: &P,
    f: &Fixture,
) -> Result<()> {
    const C: &str = "undeclared_operations_are_unsupported";
    let caps = p.capabilities_for(&f.target);
    let (current, older) = two_releases(p, f, C).await?;
    let before = p.traffic(&f.target).await?;
    let expect = |name: &str, r: Result<()>| match r {
        Err(e) if e.kind() == ErrorKind::Unsupported => Ok(()),
        other => Err(fail(
            C,
            format!("{name} is not declared but answered {other:?}"),
        )),
    };
    if !caps.traffic_switch && !caps.weighted_traffic {
        expect(
            "set_traffic",
            p.set_traffic(&f.target, &TrafficSplit::all_to(&current))
                .await,
        )?;
    }
    if !caps.revert {
        expect("revert", p.revert(&f.target, &older).await)?;
    }
    if !caps.scale {
        expect("scale", p.scale(&f.target, &older, 1).await)?;
    }
    if !caps.mark {
        expect(
            "mark",
            p.mark(&f.target, &older, ReleaseMark::Verified, "conformance")
                .await,
        )?;
    }
    if !caps.lock {
        expect(
            "lock",
            p.lock(&f.target, "conformance", Duration::from_secs(30))
                .await
                .map(|_| ()),
        )?;
    }
    if p.traffic(&f.target).await? != before {
        return Err(fail(C, "an unsupported call changed traffic"));
    }
    Ok(())
}

/// A split naming an unknown revision is refused and changes nothing.
pub async fn invalid_split_is_refused<P: Platform + ?Sized>(p: &P, f: &Fixture) -> Result<()> {
    const C: &str = "invalid_split_is_refused";
    let (current, _) = two_releases(p, f, C).await?;
    let before = p.traffic(&f.target).await?;
    let mut ghost = current.clone();
    ghost.revision = format!("{}-ghost-7f3a", current.revision);
    match p
        .set_traffic(&f.target, &TrafficSplit::all_to(&ghost))
        .await
    {
        Ok(()) => return Err(fail(C, "a split naming an unknown revision was accepted")),
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::NotFound | ErrorKind::InvalidInput | ErrorKind::PreconditionFailed
            ) => {}
        Err(e) => {
            return Err(fail(
                C,
                format!(
                    "expected NotFound/InvalidInput/PreconditionFailed, got {:?}",
                    e.kind()
                ),
            ))
        }
    }
    if p.traffic(&f.target).await? != before {
        return Err(fail(C, "the refused split changed traffic"));
    }
    Ok(())
}

async fn wait_healthy<P: Platform + ?Sized>(
    p: &P,
    f: &Fixture,
    r: &Release,
    c: &'static str,
) -> Result<()> {
    let deadline = tokio::time::Instant::now() + f.settle_timeout;
    loop {
        let h = p.health(&f.target, r).await?;
        if h.is_healthy() {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(fail(
                c,
                format!(
                    "{} not healthy in time ({}/{} ready)",
                    r.version, h.ready, h.desired
                ),
            ));
        }
        tokio::time::sleep(f.poll).await;
    }
}

/// Gives `older` ready capacity (scaling it like `current` when the platform can).
async fn warm_up<P: Platform + ?Sized>(
    p: &P,
    f: &Fixture,
    current: &Release,
    older: &Release,
    c: &'static str,
) -> Result<()> {
    if p.health(&f.target, older).await?.has_ready_capacity() {
        return Ok(());
    }
    if !p.capabilities_for(&f.target).scale {
        return Err(fail(
            c,
            "the older release needs ready capacity for this check",
        ));
    }
    p.scale(&f.target, older, current.replicas.desired.max(1))
        .await?;
    wait_healthy(p, f, older, c).await
}

/// Switching all traffic to the older release and back reads back exactly, and is idempotent.
pub async fn traffic_switch_round_trips<P: Platform + ?Sized>(p: &P, f: &Fixture) -> Result<()> {
    const C: &str = "traffic_switch_round_trips";
    let (current, older) = two_releases(p, f, C).await?;
    warm_up(p, f, &current, &older, C).await?;
    for _ in 0..2 {
        p.set_traffic(&f.target, &TrafficSplit::all_to(&older))
            .await?;
    }
    let t = p.traffic(&f.target).await?;
    if !t.is_all_to(&older.revision) {
        return Err(fail(
            C,
            format!("after switching to {} traffic reads {t}", older.version),
        ));
    }
    p.set_traffic(&f.target, &TrafficSplit::all_to(&current))
        .await?;
    if !p.traffic(&f.target).await?.is_all_to(&current.revision) {
        return Err(fail(C, "switching back did not read back"));
    }
    Ok(())
}

/// A weighted split reads back with the same weights.
pub async fn weighted_split_round_trips<P: Platform + ?Sized>(p: &P, f: &Fixture) -> Result<()> {
    const C: &str = "weighted_split_round_trips";
    let (current, older) = two_releases(p, f, C).await?;
    warm_up(p, f, &current, &older, C).await?;
    let split = TrafficSplit::shift(&current, &older, 25)?;
    p.set_traffic(&f.target, &split).await?;
    let t = p.traffic(&f.target).await?;
    if t.percent_for(&older.revision) != 25 || t.percent_for(&current.revision) != 75 {
        return Err(fail(C, format!("set 75/25, read back {t}")));
    }
    p.set_traffic(&f.target, &TrafficSplit::all_to(&current))
        .await?;
    Ok(())
}

/// Reverting to the older release makes it the serving one; reverting again is a no-op.
pub async fn revert_makes_the_older_release_serve<P: Platform + ?Sized>(
    p: &P,
    f: &Fixture,
) -> Result<()> {
    const C: &str = "revert_makes_the_older_release_serve";
    let (_, older) = two_releases(p, f, C).await?;
    p.revert(&f.target, &older).await?;
    p.revert(&f.target, &older).await?;
    wait_healthy(p, f, &older, C).await?;
    let rs = p.releases(&f.target).await?;
    let now = rs
        .iter()
        .find(|r| r.revision == older.revision)
        .ok_or_else(|| fail(C, "the reverted-to release disappeared"))?;
    if now.state != ReleaseState::Serving {
        return Err(fail(
            C,
            format!(
                "after revert {} is {:?}, expected serving",
                older.version, now.state
            ),
        ));
    }
    Ok(())
}

/// Scaling changes the desired count and never removes the release.
pub async fn scale_changes_capacity_and_keeps_the_release<P: Platform + ?Sized>(
    p: &P,
    f: &Fixture,
) -> Result<()> {
    const C: &str = "scale_changes_capacity_and_keeps_the_release";
    let rs = p.releases(&f.target).await?;
    let t = p.traffic(&f.target).await?;
    let idle = rs
        .iter()
        .find(|r| t.percent_for(&r.revision) == 0)
        .cloned()
        .ok_or_else(|| fail(C, "needs a release without traffic"))?;
    p.scale(&f.target, &idle, 2).await?;
    if p.health(&f.target, &idle).await?.desired != 2 {
        return Err(fail(C, "desired count did not become 2"));
    }
    p.scale(&f.target, &idle, 0).await?;
    let h = p.health(&f.target, &idle).await?;
    if h.desired != 0 {
        return Err(fail(C, "desired count did not become 0"));
    }
    if !p
        .releases(&f.target)
        .await?
        .iter()
        .any(|r| r.revision == idle.revision)
    {
        return Err(fail(
            C,
            "scaling to 0 removed the release (it must only scale down)",
        ));
    }
    Ok(())
}

/// A second holder gets a conflict naming the first; the first can renew and release.
pub async fn lock_is_exclusive_and_names_the_holder<P: Platform + ?Sized>(
    p: &P,
    f: &Fixture,
) -> Result<()> {
    const C: &str = "lock_is_exclusive_and_names_the_holder";
    let ttl = Duration::from_secs(60);
    let a = p.lock(&f.target, "conformance-holder-a", ttl).await?;
    match p.lock(&f.target, "conformance-holder-b", ttl).await {
        Err(e)
            if e.kind() == ErrorKind::Conflict
                && e.to_string().contains("conformance-holder-a") => {}
        Err(e) => {
            return Err(fail(
                C,
                format!(
                    "expected a conflict naming holder a, got {:?}: {e}",
                    e.kind()
                ),
            ))
        }
        Ok(_) => return Err(fail(C, "a second holder took a held lock")),
    }
    let renewed = p
        .lock(&f.target, "conformance-holder-a", ttl)
        .await
        .map_err(|e| fail(C, format!("renewal by the holder failed: {e}")))?;
    if renewed.expires_at < a.expires_at {
        return Err(fail(C, "renewal shortened the lease"));
    }
    let a = renewed;
    p.unlock(&f.target, &a).await?;
    let b = p.lock(&f.target, "conformance-holder-b", ttl).await?;
    p.unlock(&f.target, &b).await?;
    Ok(())
}

/// A mark is read back on the release.
pub async fn marks_are_persisted<P: Platform + ?Sized>(p: &P, f: &Fixture) -> Result<()> {
    const C: &str = "marks_are_persisted";
    let (_, older) = two_releases(p, f, C).await?;
    p.mark(&f.target, &older, ReleaseMark::Verified, "conformance")
        .await?;
    let rs = p.releases(&f.target).await?;
    match rs.iter().find(|r| r.revision == older.revision) {
        Some(r) if r.mark == ReleaseMark::Verified => Ok(()),
        Some(r) => Err(fail(C, format!("mark reads {:?}", r.mark))),
        None => Err(fail(C, "release disappeared")),
    }
}

/// Evidence can be read for the serving release.
pub async fn evidence_is_readable<P: Platform + ?Sized>(p: &P, f: &Fixture) -> Result<()> {
    const C: &str = "evidence_is_readable";
    let (current, _) = two_releases(p, f, C).await?;
    let end = chrono::Utc::now().max(current.deployed_at.unwrap_or_default());
    let window = TimeRange::ending_at(end, Duration::from_secs(24 * 3600));
    p.evidence(&f.target, &current, &window)
        .await
        .map(|_| ())
        .map_err(|e| fail(C, e.to_string()))
}

/// Runs every check that the platform's capabilities select, in an order that keeps the
/// fixture usable (reads first, then traffic, revert last).
pub async fn run_all<P: Platform + ?Sized>(p: &P, f: &Fixture) -> Result<ConformanceReport> {
    let caps: Capabilities = p.capabilities_for(&f.target);
    let mut report = ConformanceReport::default();
    releases_are_listed_newest_first(p, f).await?;
    report.passed.push("releases_are_listed_newest_first");
    unknown_target_is_not_found(p, f).await?;
    report.passed.push("unknown_target_is_not_found");
    traffic_names_listed_releases_with_capacity(p, f).await?;
    report
        .passed
        .push("traffic_names_listed_releases_with_capacity");
    undeclared_operations_are_unsupported(p, f).await?;
    report.passed.push("undeclared_operations_are_unsupported");
    macro_rules! gated {
        ($cap:expr, $capname:literal, $f:ident) => {
            if $cap {
                $f(p, f).await?;
                report.passed.push(stringify!($f));
            } else {
                report.skipped.push((stringify!($f), $capname));
            }
        };
    }
    gated!(
        caps.traffic_switch || caps.weighted_traffic,
        "traffic_switch",
        invalid_split_is_refused
    );
    gated!(caps.evidence, "evidence", evidence_is_readable);
    gated!(caps.mark, "mark", marks_are_persisted);
    gated!(caps.lock, "lock", lock_is_exclusive_and_names_the_holder);
    gated!(
        caps.traffic_switch,
        "traffic_switch",
        traffic_switch_round_trips
    );
    gated!(
        caps.weighted_traffic,
        "weighted_traffic",
        weighted_split_round_trips
    );
    gated!(
        caps.scale,
        "scale",
        scale_changes_capacity_and_keeps_the_release
    );
    gated!(caps.revert, "revert", revert_makes_the_older_release_serve);
    Ok(report)
}
