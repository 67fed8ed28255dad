//! Fault injection: make chosen platform or metrics operations fail or slow down.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::error::{Error, ErrorKind};

/// An operation of the simulated platform, metrics source or data guard, as named in fault
/// specifications and call records.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    /// `Platform::releases`.
    Releases,
    /// `Platform::traffic`.
    Traffic,
    /// `Platform::health`.
    Health,
    /// `Platform::set_traffic` (mutating).
    SetTraffic,
    /// `Platform::revert` (mutating).
    Revert,
    /// `Platform::scale` (mutating).
    Scale,
    /// `Platform::evidence`.
    Evidence,
    /// `Platform::lock`.
    Lock,
    /// `Platform::unlock`.
    Unlock,
    /// `Platform::mark` (mutating).
    Mark,
    /// `MetricsSource::query`.
    Query,
    /// `DataGuard::restore` (mutating).
    Restore,
}

impl Operation {
    /// Every operation, in the order of the names accepted in scenario files.
    pub const ALL: [Operation; 12] = [
        Operation::Releases,
        Operation::Traffic,
        Operation::Health,
        Operation::SetTraffic,
        Operation::Revert,
        Operation::Scale,
        Operation::Evidence,
        Operation::Lock,
        Operation::Unlock,
        Operation::Mark,
        Operation::Query,
        Operation::Restore,
    ];

    /// The name used in scenario files and errors (`set_traffic`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Releases => "releases",
            Operation::Traffic => "traffic",
            Operation::Health => "health",
            Operation::SetTraffic => "set_traffic",
            Operation::Revert => "revert",
            Operation::Scale => "scale",
            Operation::Evidence => "evidence",
            Operation::Lock => "lock",
            Operation::Unlock => "unlock",
            Operation::Mark => "mark",
            Operation::Query => "query",
            Operation::Restore => "restore",
        }
    }

    /// Whether the operation changes the deployment: `set_traffic`, `revert`, `scale`, `mark`
    /// and `restore`. Taking and releasing the lock is coordination, not a change, and is not
    /// counted.
    pub fn is_mutating(self) -> bool {
        matches!(
            self,
            Operation::SetTraffic
                | Operation::Revert
                | Operation::Scale
                | Operation::Mark
                | Operation::Restore
        )
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Operation {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Operation::ALL
            .into_iter()
            .find(|op| op.as_str() == s)
            .ok_or_else(|| {
                Error::invalid_input(format!(
                    "{s:?} is not an operation, expected one of {}",
                    Operation::ALL.map(Operation::as_str).join(", ")
                ))
            })
    }
}

/// The error a fault produces.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// [`ErrorKind::Unavailable`].
    Unavailable,
    /// [`ErrorKind::TimedOut`].
    TimedOut,
    /// [`ErrorKind::Conflict`].
    Conflict,
    /// [`ErrorKind::PermissionDenied`].
    PermissionDenied,
    /// [`ErrorKind::Backend`].
    Backend,
    /// [`ErrorKind::NotFound`].
    NotFound,
}

impl FaultKind {
    /// Every kind, in the order of the names accepted in scenario files.
    pub const ALL: [FaultKind; 6] = [
        FaultKind::Unavailable,
        FaultKind::TimedOut,
        FaultKind::Conflict,
        FaultKind::PermissionDenied,
        FaultKind::Backend,
        FaultKind::NotFound,
    ];

    /// The name used in scenario files (`timed_out`, …).
    pub fn as_str(self) -> &'static str {
        self.error_kind().as_str()
    }

    /// The error kind it produces.
    pub fn error_kind(self) -> ErrorKind {
        match self {
            FaultKind::Unavailable => ErrorKind::Unavailable,
            FaultKind::TimedOut => ErrorKind::TimedOut,
            FaultKind::Conflict => ErrorKind::Conflict,
            FaultKind::PermissionDenied => ErrorKind::PermissionDenied,
            FaultKind::Backend => ErrorKind::Backend,
            FaultKind::NotFound => ErrorKind::NotFound,
        }
    }

    /// Whether errors of this kind are temporary unless the fault says otherwise
    /// (`unavailable` and `timed_out` are).
    pub fn temporary_by_default(self) -> bool {
        matches!(self, FaultKind::Unavailable | FaultKind::TimedOut)
    }
}

impl FromStr for FaultKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        FaultKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                Error::invalid_input(format!(
                    "{s:?} is not a fault kind, expected one of {}",
                    FaultKind::ALL.map(FaultKind::as_str).join(", ")
                ))
            })
    }
}

/// How many calls a fault affects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Times {
    /// This many calls, then the fault is spent.
    Count(u32),
    /// Every call from then on.
    Always,
}

/// A scheduled failure (or slowdown) of one operation.
///
/// The fault lets the first `after` calls of its operation through, then affects the next
/// `times` calls: each sleeps `latency` (virtual time) and then, when the fault has a kind,
/// fails with that kind. Calls are counted from the moment the fault is injected (for
/// scenario faults: from the start), over all targets.
///
/// ```
/// use std::time::Duration;
/// use rollback_core::sim::{Fault, FaultKind, Operation};
/// let fault = Fault::new(Operation::SetTraffic, FaultKind::Unavailable)
///     .after(1)
///     .times(2)
///     .with_latency(Duration::from_secs(2));
/// assert!(fault.temporary);
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// The operation it affects.
    pub operation: Operation,
    /// The error it produces; `None` for a slowdown that still succeeds.
    pub kind: Option<FaultKind>,
    /// Whether the produced error is temporary (retryable).
    pub temporary: bool,
    /// Calls let through before the fault fires.
    pub after: u32,
    /// Calls affected once it fires.
    pub times: Times,
    /// Extra virtual latency of each affected call.
    pub latency: Duration,
}

impl Fault {
    /// A fault that fails the next call of `operation` with `kind`; temporary when the kind is
    /// by default ([`FaultKind::temporary_by_default`]).
    pub fn new(operation: Operation, kind: FaultKind) -> Self {
        Fault {
            operation,
            kind: Some(kind),
            temporary: kind.temporary_by_default(),
            after: 0,
            times: Times::Count(1),
            latency: Duration::ZERO,
        }
    }

    /// A slowdown: the next call of `operation` takes `latency` longer and succeeds.
    pub fn slow(operation: Operation, latency: Duration) -> Self {
        Fault {
            operation,
            kind: None,
            temporary: false,
            after: 0,
            times: Times::Count(1),
            latency,
        }
    }

    /// Sets whether the error is temporary.
    pub fn temporary(mut self, temporary: bool) -> Self {
        self.temporary = temporary;
        self
    }

    /// Lets the first `n` calls through.
    pub fn after(mut self, n: u32) -> Self {
        self.after = n;
        self
    }

    /// Affects `n` calls.
    pub fn times(mut self, n: u32) -> Self {
        self.times = Times::Count(n);
        self
    }

    /// Affects every call from then on.
    pub fn always(mut self) -> Self {
        self.times = Times::Always;
        self
    }

    /// Adds virtual latency to each affected call.
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// The error this fault produces for one call, if it has a kind.
    pub(crate) fn error(&self, target: &str) -> Option<Error> {
        let kind = self.kind?;
        Some(
            Error::new(
                kind.error_kind(),
                format!(
                    "injected fault: {} failed with {} for {target}",
                    self.operation,
                    kind.as_str()
                ),
            )
            .set_temporary(self.temporary)
            .with_backend("sim")
            .with_operation(self.operation.as_str()),
        )
    }
}

/// A fault with its counters, as held by the simulation.
#[derive(Debug, Clone)]
pub(crate) struct ActiveFault {
    pub fault: Fault,
    pub seen: u32,
    pub fired: u32,
}

impl ActiveFault {
    pub fn new(fault: Fault) -> Self {
        ActiveFault {
            fault,
            seen: 0,
            fired: 0,
        }
    }

    /// Counts a call of `op`; returns whether the fault affects it.
    pub fn on_call(&mut self, op: Operation) -> bool {
        if self.fault.operation != op {
            return false;
        }
        self.seen = self.seen.saturating_add(1);
        if self.seen <= self.fault.after {
            return false;
        }
        let live = match self.fault.times {
            Times::Always => true,
            Times::Count(n) => self.fired < n,
        };
        if live {
            self.fired = self.fired.saturating_add(1);
        }
        live
    }
}
