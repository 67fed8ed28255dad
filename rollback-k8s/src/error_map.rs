//! The one table that maps Kubernetes API errors to the library's error kinds and retryability.
//!
//! | API answer | kind | temporary |
//! |---|---|---|
//! | 409 Conflict / AlreadyExists | `Conflict` | yes: re-read and retry |
//! | 404 | `NotFound` | no |
//! | 401, 403 | `PermissionDenied` (names the verb and resource) | no |
//! | 400, 422 | `InvalidInput` | no |
//! | 429, 5xx | `Unavailable` | yes |
//! | timeout (client deadline, 504) | `TimedOut` | yes |
//! | transport (connection refused, TLS, HTTP) | `Unavailable` | yes |
//! | bad kubeconfig | `InvalidInput` | no |
//! | anything else | `Backend` | no |

use rollback_core::{Error, ErrorKind};

/// The backend name in errors and reports.
pub const BACKEND: &str = "kubernetes";

/// What was being done when an API call failed: the RBAC verb and resource, and the object.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Call<'a> {
    /// The RBAC verb (`get`, `list`, `patch`, `create`, …).
    pub verb: &'static str,
    /// The resource as RBAC names it (`deployments`, `pods/log`, `httproutes`, …).
    pub resource: &'static str,
    /// Namespace of the object.
    pub namespace: &'a str,
    /// Object name, when the call names one.
    pub name: Option<&'a str>,
}

impl Call<'_> {
    fn object(&self) -> String {
        match self.name {
            Some(n) => format!("{} {}/{}", self.resource, self.namespace, n),
            None => format!("{} in namespace {}", self.resource, self.namespace),
        }
    }
}

/// Maps one failed API call to an [`Error`]. Every API call of the crate goes through here.
pub(crate) fn map_kube_error(err: kube::Error, call: Call<'_>) -> Error {
    let object = call.object();
    let (kind, temporary, message) = match &err {
        kube::Error::Api(status) => {
            let detail = if status.message.is_empty() {
                status.reason.clone()
            } else {
                status.message.clone()
            };
            match status.code {
                409 => (
                    ErrorKind::Conflict,
                    true,
                    format!(
                        "{} of {object} conflicted with a concurrent change ({detail}): re-read and retry",
                        call.verb
                    ),
                ),
                404 => (ErrorKind::NotFound, false, format!("{object} not found ({detail})")),
                401 => (
                    ErrorKind::PermissionDenied,
                    false,
                    format!(
                        "the API server did not accept the credentials for `{}` on {object}: check the kubeconfig",
                        call.verb
                    ),
                ),
                403 => (
                    ErrorKind::PermissionDenied,
                    false,
                    format!(
                        "permission denied: verb `{}` on resource `{}` in namespace {} ({detail}); grant it with the Role in rollback-k8s/rbac.yaml",
                        call.verb, call.resource, call.namespace
                    ),
                ),
                400 | 422 => (
                    ErrorKind::InvalidInput,
                    false,
                    format!("the API server rejected `{}` on {object}: {detail}", call.verb),
                ),
                429 => (
                    ErrorKind::Unavailable,
                    true,
                    format!("the API server is throttling requests (429) for `{}` on {object}", call.verb),
                ),
                504 => (
                    ErrorKind::TimedOut,
                    true,
                    format!("the API server timed out (504) on `{}` of {object}", call.verb),
                ),
                c if c >= 500 => (
                    ErrorKind::Unavailable,
                    true,
                    format!("the API server failed ({c}) on `{}` of {object}: {detail}", call.verb),
                ),
                c => (
                    ErrorKind::Backend,
                    false,
                    format!("`{}` on {object} failed with HTTP {c}: {detail}", call.verb),
                ),
            }
        }
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::HttpError(_) => (
            ErrorKind::Unavailable,
            true,
            format!(
                "could not reach the API server for `{}` on {object}",
                call.verb
            ),
        ),
        kube::Error::Auth(_) => {
            // The source may quote an exec plugin's output: never attach it.
            return Error::new(
                ErrorKind::PermissionDenied,
                format!(
                    "authentication to the API server failed for `{}` on {object}: check the kubeconfig credentials",
                    call.verb
                ),
            )
            .with_backend(BACKEND);
        }
        kube::Error::InferConfig(_) | kube::Error::InferKubeconfig(_) => (
            ErrorKind::InvalidInput,
            false,
            "no usable kubeconfig or in-cluster configuration".to_string(),
        ),
        kube::Error::SerdeError(_) => (
            ErrorKind::Backend,
            false,
            format!(
                "could not decode the API server's answer to `{}` on {object}",
                call.verb
            ),
        ),
        _ => (
            ErrorKind::Backend,
            false,
            format!("`{}` on {object} failed", call.verb),
        ),
    };
    Error::new(kind, message)
        .set_temporary(temporary)
        .with_backend(BACKEND)
        .with_source(err)
}

/// The error of an API call that passed its deadline.
pub(crate) fn timed_out(call: Call<'_>, after: std::time::Duration) -> Error {
    Error::new(
        ErrorKind::TimedOut,
        format!(
            "`{}` on {} got no answer within {}",
            call.verb,
            call.object(),
            humantime::format_duration(after)
        ),
    )
    .temporary()
    .with_backend(BACKEND)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;

    fn api(code: u16, reason: &str) -> kube::Error {
        kube::Error::Api(Box::new(Status {
            status: None,
            code,
            message: format!("simulated {code}"),
            metadata: None,
            reason: reason.into(),
            details: None,
        }))
    }

    fn call() -> Call<'static> {
        Call {
            verb: "patch",
            resource: "deployments",
            namespace: "prod",
            name: Some("web"),
        }
    }

    #[test]
    fn conflict_is_temporary_and_says_to_retry() {
        let e = map_kube_error(api(409, "Conflict"), call());
        assert_eq!(e.kind(), ErrorKind::Conflict);
        assert!(e.is_temporary());
        assert!(e.to_string().contains("re-read and retry"), "{e}");
    }

    #[test]
    fn forbidden_names_the_verb_and_resource() {
        let e = map_kube_error(api(403, "Forbidden"), call());
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        assert!(!e.is_temporary());
        let s = e.to_string();
        assert!(s.contains("`patch`") && s.contains("`deployments`"), "{s}");
    }

    #[test]
    fn each_status_maps_to_its_kind() {
        let cases = [
            (404, ErrorKind::NotFound, false),
            (422, ErrorKind::InvalidInput, false),
            (400, ErrorKind::InvalidInput, false),
            (429, ErrorKind::Unavailable, true),
            (500, ErrorKind::Unavailable, true),
            (503, ErrorKind::Unavailable, true),
            (504, ErrorKind::TimedOut, true),
            (418, ErrorKind::Backend, false),
        ];
        for (code, kind, temporary) in cases {
            let e = map_kube_error(api(code, "x"), call());
            assert_eq!((e.kind(), e.is_temporary()), (kind, temporary), "{code}");
            assert_eq!(e.backend(), Some(BACKEND));
        }
    }
}
