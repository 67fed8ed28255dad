//! Sending one event to many channels at once, each bounded by a timeout.

use std::sync::Arc;
use std::time::Duration;

use rollback_core::{Error, ErrorKind, Event, Notifier};

/// What happened to one channel in [`notify_all`].
#[non_exhaustive]
#[derive(Debug)]
pub enum DeliveryOutcome {
    /// The channel's filter did not want the event; nothing was sent.
    Skipped,
    /// Delivered.
    Delivered,
    /// The channel failed (its error names the channel, never a secret).
    Failed(Error),
}

impl DeliveryOutcome {
    /// Whether the event was delivered.
    pub fn is_delivered(&self) -> bool {
        matches!(self, DeliveryOutcome::Delivered)
    }
}

/// One channel's result in [`notify_all`].
#[derive(Debug)]
pub struct Delivery {
    /// The channel's name.
    pub channel: String,
    /// What happened.
    pub outcome: DeliveryOutcome,
}

/// Sends `event` to every channel that wants it, concurrently, and waits at most `timeout`.
///
/// A channel that fails or hangs never holds up the others: a hanging one is cut at `timeout`
/// and reported as [`ErrorKind::TimedOut`]. The result lists the channels in the given order.
/// (The orchestrator has its own fan-out; this helper is for callers that use the channels
/// directly.)
///
/// ```no_run
/// # async fn run(channels: Vec<std::sync::Arc<dyn rollback_core::Notifier>>, event: rollback_core::Event) {
/// use std::time::Duration;
/// let results = rollback_notify::notify_all(&channels, &event, Duration::from_secs(30)).await;
/// for d in results {
///     println!("{}: {:?}", d.channel, d.outcome);
/// }
/// # }
/// ```
pub async fn notify_all(
    channels: &[Arc<dyn Notifier>],
    event: &Event,
    timeout: Duration,
) -> Vec<Delivery> {
    let sends = channels.iter().map(|ch| async move {
        let channel = ch.name().to_owned();
        if !ch.wants(event) {
            return Delivery {
                channel,
                outcome: DeliveryOutcome::Skipped,
            };
        }
        let outcome = match tokio::time::timeout(timeout, ch.notify(event)).await {
            Ok(Ok(())) => DeliveryOutcome::Delivered,
            Ok(Err(e)) => DeliveryOutcome::Failed(e),
            Err(_) => DeliveryOutcome::Failed(
                Error::new(
                    ErrorKind::TimedOut,
                    format!(
                        "not delivered within {}",
                        humantime::format_duration(timeout)
                    ),
                )
                .temporary()
                .with_backend(channel.clone())
                .with_operation("notify"),
            ),
        };
        if let DeliveryOutcome::Failed(e) = &outcome {
            tracing::warn!(channel = %channel, error = %e, "notification failed");
        }
        Delivery { channel, outcome }
    });
    futures::future::join_all(sends).await
}
