//! The one table from AWS failures (error code, HTTP status, transport errors) to
//! [`ErrorKind`] and the `temporary` flag.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use rollback_core::{Error, ErrorKind};

/// The backend name in every error of this crate.
pub(crate) const BACKEND: &str = "ecs";

/// Classifies an AWS error code and HTTP status: the single place that decides kind and
/// retryability.
///
/// | AWS error code (any service) | HTTP | kind | temporary |
/// |---|---|---|---|
/// | `ThrottlingException`, `Throttling`, `TooManyRequestsException`, `RequestLimitExceeded`, `ProvisionedThroughputExceededException`, `RequestThrottled`, `SlowDown` | 429 | `Unavailable` | yes |
/// | `ServerException`, `InternalFailure`, `InternalError`, `InternalServerError`, `ServiceUnavailable`, `ServiceUnavailableException` | 5xx | `Unavailable` | yes |
/// | `RequestTimeout`, `RequestTimeoutException` | 408, 504 | `TimedOut` | yes |
/// | `AccessDeniedException`, `AccessDenied`, `UnauthorizedOperation`, `UnrecognizedClientException`, `InvalidClientTokenId`, `ExpiredTokenException`, `ExpiredToken`, `MissingAuthenticationToken` | 401, 403 | `PermissionDenied` (names the IAM action) | no |
/// | `ClientException`, `InvalidParameterException`, `ValidationException`, `ValidationError`, `InvalidParameterValue`, `InvalidParameterCombination`, `MissingParameter`, `InvalidConfigurationRequest`, `InvalidTarget`, `InvalidLoadBalancerAction`, `InvalidParameterValueException` | 400 | `InvalidInput` (AWS's message) | no |
/// | `ClusterNotFoundException`, `ServiceNotFoundException`, `ServiceNotActiveException`, `ServiceDeploymentNotFoundException`, `ListenerNotFound`, `RuleNotFound`, `TargetGroupNotFound`, `LoadBalancerNotFound`, `ResourceNotFoundException` | 404 | `NotFound` | no |
/// | `ConditionalCheckFailedException`, `ConflictException`, `TransactionConflictException`, `ResourceInUse`, `ResourceInUseException` | 409 | `Conflict` | no |
/// | `UnsupportedFeatureException`, `UnknownOperationException`, `UnsupportedOperation`, `PlatformUnknownException` | 501 | `Unsupported` | no |
/// | anything else | | `Backend` | no |
///
/// The code decides first; the HTTP status only when the code is unknown or absent. Transport
/// failures (connect, DNS, reset) are `Unavailable` and SDK timeouts `TimedOut`, both temporary;
/// a request that could not be built is `InvalidInput`.
pub fn classify(code: Option<&str>, status: Option<u16>) -> (ErrorKind, bool) {
    let by_code = code.and_then(|c| {
        Some(match c {
            "ThrottlingException"
            | "Throttling"
            | "TooManyRequestsException"
            | "RequestLimitExceeded"
            | "ProvisionedThroughputExceededException"
            | "RequestThrottled"
            | "RequestThrottledException"
            | "SlowDown"
            | "ServerException"
            | "InternalFailure"
            | "InternalError"
            | "InternalServerError"
            | "InternalServerErrorException"
            | "ServiceUnavailable"
            | "ServiceUnavailableException" => (ErrorKind::Unavailable, true),
            "RequestTimeout" | "RequestTimeoutException" => (ErrorKind::TimedOut, true),
            "AccessDeniedException"
            | "AccessDenied"
            | "UnauthorizedOperation"
            | "UnrecognizedClientException"
            | "InvalidClientTokenId"
            | "ExpiredTokenException"
            | "ExpiredToken"
            | "MissingAuthenticationToken" => (ErrorKind::PermissionDenied, false),
            "ClientException"
            | "InvalidParameterException"
            | "ValidationException"
            | "ValidationError"
            | "InvalidParameterValue"
            | "InvalidParameterValueException"
            | "InvalidParameterCombination"
            | "MissingParameter"
            | "InvalidConfigurationRequest"
            | "InvalidTarget"
            | "InvalidLoadBalancerAction" => (ErrorKind::InvalidInput, false),
            "ClusterNotFoundException"
            | "ServiceNotFoundException"
            | "ServiceNotActiveException"
            | "ServiceDeploymentNotFoundException"
            | "ListenerNotFound"
            | "RuleNotFound"
            | "TargetGroupNotFound"
            | "LoadBalancerNotFound"
            | "ResourceNotFoundException" => (ErrorKind::NotFound, false),
            "ConditionalCheckFailedException"
            | "ConflictException"
            | "TransactionConflictException"
            | "ResourceInUse"
            | "ResourceInUseException" => (ErrorKind::Conflict, false),
            "UnsupportedFeatureException"
            | "UnknownOperationException"
            | "UnsupportedOperation"
            | "PlatformUnknownException" => (ErrorKind::Unsupported, false),
            _ => return None,
        })
    });
    if let Some(k) = by_code {
        return k;
    }
    match status {
        Some(429) => (ErrorKind::Unavailable, true),
        Some(408 | 504) => (ErrorKind::TimedOut, true),
        Some(501) => (ErrorKind::Unsupported, false),
        Some(s) if s >= 500 => (ErrorKind::Unavailable, true),
        Some(401 | 403) => (ErrorKind::PermissionDenied, false),
        Some(404) => (ErrorKind::NotFound, false),
        Some(409) => (ErrorKind::Conflict, false),
        Some(400) => (ErrorKind::InvalidInput, false),
        _ => (ErrorKind::Backend, false),
    }
}

/// Maps an SDK error of the call `action` (an IAM action name such as `ecs:UpdateService`) to
/// the library's error, through [`classify`].
pub(crate) fn map_sdk_error<E>(err: SdkError<E, HttpResponse>, action: &'static str) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let op = operation_of(action);
    match err {
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            let e = ctx.into_err();
            let code = e.code().map(str::to_owned);
            let aws_message = e.message().map(str::to_owned);
            let (kind, temporary) = classify(code.as_deref(), Some(status));
            let detail = match (&code, &aws_message) {
                (Some(c), Some(m)) => format!("{c}: {m}"),
                (Some(c), None) => c.clone(),
                (None, Some(m)) => m.clone(),
                (None, None) => format!("HTTP {status} without an AWS error code"),
            };
            let message = match kind {
                ErrorKind::PermissionDenied => format!(
                    "permission denied for {action}: grant `{action}` to the caller's IAM role ({detail})"
                ),
                ErrorKind::InvalidInput => format!("AWS rejected {action}: {detail}"),
                ErrorKind::Unavailable if temporary => {
                    format!("{action} failed on the AWS side, retrying may succeed: {detail}")
                }
                _ => format!("{action} failed: {detail}"),
            };
            Error::new(kind, message)
                .set_temporary(temporary)
                .with_backend(BACKEND)
                .with_operation(op)
                .with_context("http_status", status)
        }
        SdkError::TimeoutError(_) => Error::new(
            ErrorKind::TimedOut,
            format!("{action} did not answer within the SDK's timeout"),
        )
        .temporary()
        .with_backend(BACKEND)
        .with_operation(op),
        SdkError::DispatchFailure(d) => {
            let (kind, what) = if d.is_timeout() {
                (ErrorKind::TimedOut, "timed out")
            } else if d.is_io() {
                (ErrorKind::Unavailable, "could not reach the endpoint")
            } else {
                (ErrorKind::Unavailable, "could not be sent")
            };
            Error::new(kind, format!("{action} {what}: {d:?}"))
                .temporary()
                .with_backend(BACKEND)
                .with_operation(op)
        }
        SdkError::ResponseError(r) => {
            let status = r.raw().status().as_u16();
            let (kind, temporary) = classify(None, Some(status));
            let kind = if kind == ErrorKind::Backend || kind == ErrorKind::InvalidInput {
                ErrorKind::Backend
            } else {
                kind
            };
            Error::new(
                kind,
                format!("{action} answered HTTP {status} with a body that is not an AWS answer"),
            )
            .set_temporary(temporary)
            .with_backend(BACKEND)
            .with_operation(op)
        }
        SdkError::ConstructionFailure(c) => Error::new(
            ErrorKind::InvalidInput,
            format!("{action} could not be built from the given input: {c:?}"),
        )
        .with_backend(BACKEND)
        .with_operation(op),
        other => Error::new(ErrorKind::Backend, format!("{action} failed: {other}"))
            .with_backend(BACKEND)
            .with_operation(op),
    }
}

/// The `'static` operation name of an IAM action (`ecs:UpdateService` → `UpdateService`).
fn operation_of(action: &'static str) -> &'static str {
    match action.split_once(':') {
        Some((_, op)) => op,
        None => action,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_and_server_errors_are_temporary() {
        for code in [
            "ThrottlingException",
            "ServerException",
            "ProvisionedThroughputExceededException",
        ] {
            let (kind, temporary) = classify(Some(code), Some(400));
            assert_eq!(kind, ErrorKind::Unavailable, "{code}");
            assert!(temporary, "{code}");
        }
        assert_eq!(classify(None, Some(503)), (ErrorKind::Unavailable, true));
        assert_eq!(classify(None, Some(429)), (ErrorKind::Unavailable, true));
    }

    #[test]
    fn client_and_parameter_errors_are_invalid_input() {
        assert_eq!(
            classify(Some("ClientException"), Some(400)),
            (ErrorKind::InvalidInput, false)
        );
        assert_eq!(
            classify(Some("InvalidParameterException"), Some(400)),
            (ErrorKind::InvalidInput, false)
        );
    }

    #[test]
    fn access_denied_is_permission_denied_and_permanent() {
        assert_eq!(
            classify(Some("AccessDeniedException"), Some(400)),
            (ErrorKind::PermissionDenied, false)
        );
        assert_eq!(
            classify(None, Some(403)),
            (ErrorKind::PermissionDenied, false)
        );
    }

    #[test]
    fn the_code_wins_over_the_status() {
        assert_eq!(
            classify(Some("ServiceNotFoundException"), Some(400)),
            (ErrorKind::NotFound, false)
        );
        assert_eq!(
            classify(Some("SomethingNew"), Some(500)),
            (ErrorKind::Unavailable, true)
        );
        assert_eq!(
            classify(Some("SomethingNew"), Some(400)),
            (ErrorKind::InvalidInput, false)
        );
        assert_eq!(classify(None, None), (ErrorKind::Backend, false));
    }

    #[test]
    fn conditional_check_failure_is_a_conflict() {
        assert_eq!(
            classify(Some("ConditionalCheckFailedException"), Some(400)),
            (ErrorKind::Conflict, false)
        );
    }
}
