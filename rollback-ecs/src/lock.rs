//! The cross-process rollback lock: one DynamoDB item per target, taken with a conditional write
//! and expiring through a TTL attribute.
//!
//! The table (name from `lock_table`) has the partition key `target` (string). Enable DynamoDB
//! TTL on the attribute `expires_at` (epoch seconds) so that abandoned items are removed; the
//! lock never relies on that removal, because every write compares `expires_at` with the
//! current time itself:
//!
//! ```text
//! aws dynamodb create-table --table-name rollback-locks \
//!   --attribute-definitions AttributeName=target,AttributeType=S \
//!   --key-schema AttributeName=target,KeyType=HASH --billing-mode PAY_PER_REQUEST
//! aws dynamodb update-time-to-live --table-name rollback-locks \
//!   --time-to-live-specification Enabled=true,AttributeName=expires_at
//! ```
//!
//! | item attribute | meaning |
//! |---|---|
//! | `target` | `cluster/deployment` (key) |
//! | `holder` | who holds the lock |
//! | `token` | random per acquisition; the unlock condition |
//! | `expires_at` | epoch seconds (the TTL attribute) |
//! | `expires_at_ms` | epoch milliseconds, for the comparison |
//!
//! A write succeeds when there is no item, the item is the caller's own (renewal), or it has
//! expired; otherwise the caller gets a `Conflict` naming the holder and when its lease ends.
//! Unlock deletes the item only if it still carries the caller's holder and token.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, Utc};
use rollback_core::{Error, ErrorKind, Lease, Result, Target};

use crate::error_map::{map_sdk_error, BACKEND};
use crate::platform::EcsPlatform;

fn table(p: &EcsPlatform) -> Result<&str> {
    p.config
        .lock_table
        .as_deref()
        .ok_or_else(|| Error::unsupported("lock").with_backend(BACKEND))
}

fn key(p: &EcsPlatform, target: &Target) -> Result<String> {
    let mode = p.mode(target)?;
    Ok(format!("{}/{}", mode.cluster(), target.deployment))
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn token(holder: &str) -> String {
    let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default();
    let h = holder.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |a, b| {
        (a ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    format!(
        "{:016x}{:016x}",
        h,
        nanos as u64 ^ u64::from(std::process::id())
    )
}

pub(crate) async fn lock(
    p: &EcsPlatform,
    target: &Target,
    holder: &str,
    ttl: Duration,
) -> Result<Lease> {
    let table = table(p)?;
    if holder.is_empty() || holder.len() > 256 {
        return Err(Error::invalid_input(format!(
            "lock holder {holder:?} is not valid: expected 1-256 characters"
        )));
    }
    let key = key(p, target)?;
    let now = Utc::now();
    let ttl = chrono::Duration::from_std(ttl)
        .map_err(|_| Error::invalid_input("lock ttl is too long: expected at most a few days"))?;
    let expires: DateTime<Utc> = now + ttl;
    let tok = token(holder);
    let item: HashMap<String, AttributeValue> = [
        ("target".to_string(), s(&key)),
        ("holder".to_string(), s(holder)),
        ("token".to_string(), s(&tok)),
        ("expires_at".to_string(), n(expires.timestamp() + 1)),
        ("expires_at_ms".to_string(), n(expires.timestamp_millis())),
    ]
    .into_iter()
    .collect();
    let r = p
        .clients
        .dynamodb
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(#t) OR #h = :holder OR #e < :now")
        .expression_attribute_names("#t", "target")
        .expression_attribute_names("#h", "holder")
        .expression_attribute_names("#e", "expires_at_ms")
        .expression_attribute_values(":holder", s(holder))
        .expression_attribute_values(":now", n(now.timestamp_millis()))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await;
    match r {
        Ok(_) => Ok(Lease {
            holder: holder.to_string(),
            expires_at: expires,
            token: tok,
        }),
        Err(e) => {
            let current: Option<HashMap<String, AttributeValue>> = match e.as_service_error() {
                Some(aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c)) => c.item().cloned(),
                _ => None,
            };
            let mapped = map_sdk_error(e, "dynamodb:PutItem");
            if mapped.kind() != ErrorKind::Conflict {
                return Err(mapped);
            }
            let other = current
                .as_ref()
                .and_then(|i| i.get("holder"))
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_else(|| "another holder".into());
            let until = current
                .as_ref()
                .and_then(|i| i.get("expires_at_ms"))
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse::<i64>().ok())
                .and_then(DateTime::from_timestamp_millis)
                .map(|t| t.to_rfc3339())
                .unwrap_or_else(|| "unknown".into());
            Err(Error::new(
                ErrorKind::Conflict,
                format!("{target} is locked by {other} until {until}: wait for it to finish or for the lease to expire"),
            )
            .with_backend(BACKEND)
            .with_operation("lock")
            .with_context("holder", other))
        }
    }
}

pub(crate) async fn unlock(p: &EcsPlatform, target: &Target, lease: &Lease) -> Result<()> {
    let table = table(p)?;
    let key = key(p, target)?;
    let r = p
        .clients
        .dynamodb
        .delete_item()
        .table_name(table)
        .key("target", s(&key))
        .condition_expression("#h = :holder AND #k = :token")
        .expression_attribute_names("#h", "holder")
        .expression_attribute_names("#k", "token")
        .expression_attribute_values(":holder", s(&lease.holder))
        .expression_attribute_values(":token", s(&lease.token))
        .send()
        .await;
    match r {
        Ok(_) => Ok(()),
        Err(e) => {
            let mapped = map_sdk_error(e, "dynamodb:DeleteItem");
            if mapped.kind() == ErrorKind::Conflict {
                // Expired and taken over, or already released: the lease is not ours any more.
                tracing::debug!(%target, holder = %lease.holder, "unlock: the lease was no longer held");
                Ok(())
            } else {
                Err(mapped)
            }
        }
    }
}
