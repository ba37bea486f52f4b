//! Comparing two manifests by policy name: the data behind `al import --dry-run`.

use serde::Serialize;

use crate::manifest::Manifest;
use crate::model::PolicySpec;

/// A policy present in both manifests whose content differs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Modified {
    /// Policy name.
    pub name: String,
    /// Which authored fields changed, in export order.
    pub fields: Vec<&'static str>,
}

/// The difference between two manifests. Each list is sorted by name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ManifestDiff {
    /// In the new manifest only.
    pub added: Vec<String>,
    /// In both, changed.
    pub modified: Vec<Modified>,
    /// In both, identical content.
    pub unchanged: Vec<String>,
    /// In the old manifest only. An import removes these only with `prune`.
    pub removed: Vec<String>,
}

impl ManifestDiff {
    /// Nothing would change (ignoring `removed`, which needs `prune`).
    #[must_use]
    pub fn is_noop(&self, prune: bool) -> bool {
        self.added.is_empty() && self.modified.is_empty() && (!prune || self.removed.is_empty())
    }
}

fn changed_fields(a: &PolicySpec, b: &PolicySpec) -> Vec<&'static str> {
    let mut f = Vec::new();
    if a.description != b.description {
        f.push("description");
    }
    if a.action_type != b.action_type {
        f.push("action_type");
    }
    if a.effect != b.effect {
        f.push("effect");
    }
    if a.agents != b.agents {
        f.push("agents");
    }
    if a.conditions != b.conditions {
        f.push("conditions");
    }
    if a.approval != b.approval {
        f.push("approval");
    }
    if a.enabled != b.enabled {
        f.push("enabled");
    }
    f
}

/// Compare `old` and `new` by policy name. Server-side fields (`id`,
/// `version`, `created_at`, `digest`) are not compared.
#[must_use]
pub fn diff(old: &Manifest, new: &Manifest) -> ManifestDiff {
    fn by_name(m: &Manifest) -> std::collections::BTreeMap<&str, usize> {
        m.policies()
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.as_str(), i))
            .collect()
    }
    let (old_names, new_names) = (by_name(old), by_name(new));
    let mut d = ManifestDiff::default();
    for p in new.policies() {
        match old_names
            .get(p.name.as_str())
            .and_then(|&i| old.policies().get(i))
        {
            None => d.added.push(p.name.clone()),
            Some(o) => {
                let fields = changed_fields(o, p);
                if fields.is_empty() {
                    d.unchanged.push(p.name.clone());
                } else {
                    d.modified.push(Modified {
                        name: p.name.clone(),
                        fields,
                    });
                }
            }
        }
    }
    for o in old.policies() {
        if !new_names.contains_key(o.name.as_str()) {
            d.removed.push(o.name.clone());
        }
    }
    d.added.sort();
    d.unchanged.sort();
    d.removed.sort();
    d.modified.sort_by(|a, b| a.name.cmp(&b.name));
    d
}
