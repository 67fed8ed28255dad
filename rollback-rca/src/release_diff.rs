//! [`ReleaseDiffAnalyzer`]: what changed between the stable and the failed release — image,
//! environment variable names (never values), resources and other configuration.

use async_trait::async_trait;
use rollback_core::{Analyzer, Finding, FindingKind, Incident, Result, Severity};

const NAME: &str = "release-diff";

/// Compares [`Release::attributes`](rollback_core::Release) of the failed and the stable release
/// and reports each group of differences as a [`FindingKind::Change`]:
///
/// * `image` (and `image.*`): old → new;
/// * `env.NAME`: names added or removed, and names whose (platform-redacted) marker changed —
///   values are never shown, even if a platform put one there;
/// * `resources.*`: old → new, a lowered limit is [`Severity::Medium`];
/// * everything else: old → new.
#[derive(Debug, Clone, Default)]
pub struct ReleaseDiffAnalyzer {
    _private: (),
}

#[derive(Default)]
struct Group {
    lines: Vec<String>,
    severity: Option<Severity>,
}

impl Group {
    fn add(&mut self, line: String, severity: Severity) {
        self.lines.push(line);
        self.severity = self.severity.max(Some(severity));
    }
}

/// Parses `925Mi`, `1Gi`, `512M`, `1000m`, `2` into a comparable number.
fn quantity(s: &str) -> Option<f64> {
    let s = s.trim();
    let units: [(&str, f64); 10] = [
        ("Ki", 1024.0),
        ("Mi", 1024.0 * 1024.0),
        ("Gi", 1024.0 * 1024.0 * 1024.0),
        ("Ti", 1024.0_f64.powi(4)),
        ("k", 1e3),
        ("K", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("m", 1e-3),
    ];
    for (u, f) in units {
        if let Some(n) = s.strip_suffix(u) {
            return n.trim().parse::<f64>().ok().map(|v| v * f);
        }
    }
    s.parse().ok()
}

#[async_trait]
impl Analyzer for ReleaseDiffAnalyzer {
    fn name(&self) -> &str {
        NAME
    }

    async fn analyze(&self, incident: &Incident) -> Result<Vec<Finding>> {
        let Some(stable) = &incident.stable else {
            return Ok(Vec::new());
        };
        let (old, new) = (&stable.attributes, &incident.failed.attributes);
        let (from, to) = (
            stable.version.to_string(),
            incident.failed.version.to_string(),
        );
        let mut image = Group::default();
        let mut env = Group::default();
        let mut resources = Group::default();
        let mut other = Group::default();
        let keys: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
        for k in keys {
            let (a, b) = (old.get(k), new.get(k));
            if a == b {
                continue;
            }
            if let Some(name) = k.strip_prefix("env.") {
                match (a, b) {
                    (Some(_), None) => env.add(
                        format!("env.{name}: set in {from}, not set in {to}"),
                        Severity::Medium,
                    ),
                    (None, Some(_)) => env.add(format!("env.{name}: new in {to}"), Severity::Low),
                    _ => env.add(
                        format!("env.{name}: value changed (not shown)"),
                        Severity::Low,
                    ),
                }
            } else if k == "image" || k.starts_with("image.") {
                image.add(
                    format!(
                        "{k}: {} → {}",
                        a.map_or("(none)", |s| s),
                        b.map_or("(none)", |s| s)
                    ),
                    Severity::Info,
                );
            } else if k.starts_with("resources.") {
                let lowered = matches!((a.and_then(|s| quantity(s)), b.and_then(|s| quantity(s))), (Some(x), Some(y)) if y < x);
                resources.add(
                    format!(
                        "{k}: {} → {}{}",
                        a.map_or("(none)", |s| s),
                        b.map_or("(none)", |s| s),
                        if lowered { " (lowered)" } else { "" }
                    ),
                    if lowered {
                        Severity::Medium
                    } else {
                        Severity::Low
                    },
                );
            } else {
                other.add(
                    format!(
                        "{k}: {} → {}",
                        a.map_or("(none)", |s| s),
                        b.map_or("(none)", |s| s)
                    ),
                    Severity::Low,
                );
            }
        }
        let mut out = Vec::new();
        for (group, title, what) in [
            (
                env,
                "Environment variables changed",
                "environment variable names",
            ),
            (resources, "Resource settings changed", "resource settings"),
            (other, "Configuration changed", "configuration attributes"),
            (image, "Image changed", "image"),
        ] {
            let Some(severity) = group.severity else {
                continue;
            };
            let mut f = Finding::new(
                NAME,
                FindingKind::Change,
                severity,
                title,
                format!(
                    "{} {what} differ between {from} and {to}: {}",
                    group.lines.len(),
                    group.lines.join("; ")
                ),
            );
            f.confidence = 0.9;
            f.evidence = group.lines;
            out.push(f);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::quantity;

    #[test]
    fn kubernetes_quantities_compare() {
        assert!(quantity("512Mi") < quantity("1Gi"));
        assert_eq!(quantity("1000m"), Some(1.0));
        assert_eq!(quantity("lots"), None);
    }
}
