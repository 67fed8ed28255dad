//! Pod templates and what they say about a release: the `pod-template-hash`-free comparison
//! of `kubectl rollout undo`, the version, and descriptive attributes (never env values).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::PodTemplateSpec;

/// The label the Deployment controller adds to a ReplicaSet's template and pods.
pub const POD_TEMPLATE_HASH: &str = "pod-template-hash";

/// `template` without the `pod-template-hash` label, as `kubectl rollout undo` copies it.
pub fn without_hash(template: &PodTemplateSpec) -> PodTemplateSpec {
    let mut t = template.clone();
    if let Some(meta) = t.metadata.as_mut() {
        if let Some(labels) = meta.labels.as_mut() {
            labels.remove(POD_TEMPLATE_HASH);
            if labels.is_empty() {
                meta.labels = None;
            }
        }
    }
    t
}

/// Whether two templates are equal once the `pod-template-hash` label is ignored.
pub fn equal_ignoring_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    let (a, b) = (without_hash(a), without_hash(b));
    // Compare as JSON so that `None` and empty collections written by different clients agree.
    normalise(serde_json::to_value(a).unwrap_or_default())
        == normalise(serde_json::to_value(b).unwrap_or_default())
}

fn normalise(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, normalise(v)))
                .filter(|(_, v)| match v {
                    Value::Null => false,
                    Value::Object(m) => !m.is_empty(),
                    Value::Array(a) => !a.is_empty(),
                    _ => true,
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(normalise).collect()),
        other => other,
    }
}

/// The image tag (or short digest) of an image reference, if it has one.
///
/// ```
/// use rollback_k8s::template::image_tag;
/// assert_eq!(image_tag("registry:5000/api:v1.2.9").as_deref(), Some("v1.2.9"));
/// assert_eq!(image_tag("registry:5000/api").as_deref(), None);
/// assert_eq!(image_tag("api@sha256:0123456789abcdef0123").as_deref(), Some("sha256-0123456789ab"));
/// ```
pub fn image_tag(image: &str) -> Option<String> {
    if let Some((_, digest)) = image.split_once('@') {
        let short: String = digest.replace(':', "-").chars().take(19).collect();
        return Some(short);
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    last.split_once(':')
        .map(|(_, tag)| tag.to_string())
        .filter(|t| !t.is_empty())
}

/// The version of a release: the label `key` of the object or its template, then the
/// annotation `key`, then the first container's image tag.
pub(crate) fn version_of(
    object_labels: Option<&BTreeMap<String, String>>,
    object_annotations: Option<&BTreeMap<String, String>>,
    template: Option<&PodTemplateSpec>,
    key: &str,
) -> Option<String> {
    let tmeta = template.and_then(|t| t.metadata.as_ref());
    let found = object_labels
        .and_then(|l| l.get(key))
        .or_else(|| {
            tmeta
                .and_then(|m| m.labels.as_ref())
                .and_then(|l| l.get(key))
        })
        .or_else(|| object_annotations.and_then(|a| a.get(key)))
        .or_else(|| {
            tmeta
                .and_then(|m| m.annotations.as_ref())
                .and_then(|a| a.get(key))
        })
        .cloned();
    found.filter(|v| !v.trim().is_empty()).or_else(|| {
        template
            .and_then(|t| t.spec.as_ref())
            .and_then(|s| s.containers.first())
            .and_then(|c| c.image.as_deref())
            .and_then(image_tag)
    })
}

/// Descriptive attributes of a template for diffs: images, env var *names* (never values),
/// resource limits and requests.
pub(crate) fn attributes(template: &PodTemplateSpec) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(spec) = template.spec.as_ref() else {
        return out;
    };
    for (i, c) in spec.containers.iter().enumerate() {
        let prefix = if i == 0 {
            String::new()
        } else {
            format!("{}.", c.name)
        };
        if let Some(image) = &c.image {
            out.insert(format!("{prefix}image"), image.clone());
        }
        for e in c.env.iter().flatten() {
            // Names only: values may be secrets.
            out.insert(format!("{prefix}env.{}", e.name), String::new());
        }
        if let Some(r) = &c.resources {
            for (what, map) in [("limits", &r.limits), ("requests", &r.requests)] {
                for (k, q) in map.iter().flatten() {
                    let key = if what == "limits" {
                        format!("{prefix}resources.{k}")
                    } else {
                        format!("{prefix}resources.requests.{k}")
                    };
                    out.insert(key, q.0.clone());
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, EnvVar, PodSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn template(image: &str, hash: Option<&str>) -> PodTemplateSpec {
        let mut labels = BTreeMap::from([("app".to_string(), "web".to_string())]);
        if let Some(h) = hash {
            labels.insert(POD_TEMPLATE_HASH.into(), h.into());
        }
        PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(labels),
                ..Default::default()
            }),
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "web".into(),
                    image: Some(image.into()),
                    env: Some(vec![EnvVar {
                        name: "DB_PASSWORD".into(),
                        value: Some("hunter2".into()),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }],
                ..Default::default()
            }),
        }
    }

    #[test]
    fn templates_differing_only_in_hash_are_equal() {
        assert!(equal_ignoring_hash(
            &template("web:v1", Some("abc")),
            &template("web:v1", None)
        ));
        assert!(!equal_ignoring_hash(
            &template("web:v1", Some("abc")),
            &template("web:v2", Some("abc"))
        ));
    }

    #[test]
    fn without_hash_removes_only_the_hash_label() {
        let t = without_hash(&template("web:v1", Some("abc")));
        let labels = t.metadata.and_then(|m| m.labels).unwrap_or_default();
        assert_eq!(labels.len(), 1);
        assert!(labels.contains_key("app"));
    }

    #[test]
    fn attributes_name_env_vars_but_never_their_values() {
        let a = attributes(&template("web:v1", None));
        assert_eq!(a.get("image").map(String::as_str), Some("web:v1"));
        assert!(a.contains_key("env.DB_PASSWORD"));
        assert!(!a.values().any(|v| v.contains("hunter2")));
    }

    #[test]
    fn version_falls_back_to_the_image_tag() {
        let t = template("web:v1.2.9", None);
        assert_eq!(
            version_of(None, None, Some(&t), "app.kubernetes.io/version").as_deref(),
            Some("v1.2.9")
        );
        let labels =
            BTreeMap::from([("app.kubernetes.io/version".to_string(), "1.3.0".to_string())]);
        assert_eq!(
            version_of(Some(&labels), None, Some(&t), "app.kubernetes.io/version").as_deref(),
            Some("1.3.0")
        );
    }
}
