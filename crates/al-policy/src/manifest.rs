//! Reading, validating and exporting manifests.
//!
//! ```text
//! version: 1
//! policies:
//!   - name: production-safety
//!     action_type: deploy.*
//!     effect: require_approval
//!     conditions:
//!       - { field: env, operator: eq, value: production }
//!     approval: { timeout: 8h, escalate_after: 2h }
//! ```
//!
//! Unknown keys are errors (a typo such as `efect:` must never silently
//! weaken a policy). Validation collects every error with its location; a
//! manifest with any error is rejected whole.

use rustc_hash::FxHashMap;

use serde::Serialize;

use crate::canonical::{Digest, policy_digest};
use crate::error::{Code, Diagnostic, Location, ManifestError};
use crate::limits::Limits;
use crate::model::{
    Approval, Builtin, Condition, Effect, FactKind, Field, Operator, Pattern, PolicySpec,
    Sensitivity,
};
use crate::node::{self, Format, Key, Node, Val};

/// A validated manifest: `version: 1` and a list of policies with unique names.
///
/// Equality compares the policies only, not where they were read from.
#[derive(Clone, Debug)]
pub struct Manifest {
    /// The policies, in source order.
    pub policies: Vec<PolicySpec>,
    /// Source locations, parallel to `policies` when read from text.
    pub(crate) spans: Vec<PolicySpan>,
}

impl PartialEq for Manifest {
    fn eq(&self, other: &Self) -> bool {
        self.policies == other.policies
    }
}

/// Where a policy and its parts stood in the source.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PolicySpan {
    pub policy: Option<Location>,
    pub action_type: Option<Location>,
    pub effect: Option<Location>,
    pub conditions: Vec<Option<Location>>,
}

/// The only manifest version this library reads and writes.
pub const MANIFEST_VERSION: u64 = 1;

impl Manifest {
    /// A manifest from policies built in code. Names must be unique for
    /// the result to be meaningful; use [`Manifest::validate`] to check.
    #[must_use]
    pub fn new(policies: Vec<PolicySpec>) -> Manifest {
        Manifest {
            policies,
            spans: Vec::new(),
        }
    }

    /// Re-validate a manifest built in code by round-tripping it through
    /// its JSON export, so it obeys every rule a parsed one does.
    ///
    /// # Errors
    /// [`ManifestError`] as for parsing.
    pub fn validate(&self, limits: &Limits) -> Result<Manifest, ManifestError> {
        let doc = serde_json::to_value(self.export_doc(ExportOptions {
            include_server_fields: true,
        }))
        .map_err(|e| ManifestError::one(Diagnostic::new(Code::Parse, "", e.to_string())))?;
        let mut m = Manifest::from_json_value(&doc, limits)?;
        // Keep the recorded digests as given, not recomputed (the export
        // reorders by name, so match by name, in one pass).
        let recorded: FxHashMap<&str, Option<Digest>> = self
            .policies
            .iter()
            .map(|p| (p.name.as_str(), p.digest))
            .collect();
        for p in &mut m.policies {
            p.digest = recorded.get(p.name.as_str()).copied().flatten();
        }
        Ok(m)
    }

    pub(crate) fn span(&self, i: usize) -> PolicySpan {
        self.spans.get(i).cloned().unwrap_or_default()
    }

    /// Read a manifest in the given format with the default [`Limits`].
    ///
    /// # Errors
    /// [`ManifestError`] with every error found, each with its location.
    pub fn parse(text: &str, format: Format) -> Result<Manifest, ManifestError> {
        Manifest::parse_with(text, format, &Limits::default())
    }

    /// Read a manifest, guessing the format from its content ([`Format::sniff`]).
    ///
    /// # Errors
    /// As [`Manifest::parse`].
    pub fn parse_auto(text: &str) -> Result<Manifest, ManifestError> {
        Manifest::parse(text, Format::sniff(text))
    }

    /// Read a manifest with explicit limits.
    ///
    /// # Errors
    /// As [`Manifest::parse`].
    pub fn parse_with(
        text: &str,
        format: Format,
        limits: &Limits,
    ) -> Result<Manifest, ManifestError> {
        let root = node::parse(text, format, limits)?;
        Manifest::from_node(&root, limits)
    }

    /// Build a manifest from an already-parsed JSON value (no locations).
    ///
    /// # Errors
    /// As [`Manifest::parse`], without line and column.
    pub fn from_json_value(
        value: &serde_json::Value,
        limits: &Limits,
    ) -> Result<Manifest, ManifestError> {
        Manifest::from_node(&Node::from_json(value), limits)
    }

    pub(crate) fn from_node(root: &Node, limits: &Limits) -> Result<Manifest, ManifestError> {
        let mut r = Reader {
            limits,
            errors: Vec::new(),
        };
        let (policies, spans) = r.manifest(root);
        if r.errors.is_empty() {
            Ok(Manifest { policies, spans })
        } else {
            r.errors.sort_by_key(|d| d.location);
            Err(ManifestError { errors: r.errors })
        }
    }

    /// A policy by name.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&PolicySpec> {
        self.policies.iter().find(|p| p.name == name)
    }

    /// The deterministic export document: policies sorted by name, fields in
    /// a fixed order, defaults omitted.
    #[must_use]
    pub fn export_doc(&self, opts: ExportOptions) -> ExportDoc<'_> {
        let mut policies: Vec<&PolicySpec> = self.policies.iter().collect();
        policies.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        ExportDoc {
            version: MANIFEST_VERSION,
            policies: policies
                .into_iter()
                .map(|p| ExportPolicy::new(p, opts))
                .collect(),
        }
    }

    /// Export as YAML (deterministic; see [`Manifest::export_doc`]).
    ///
    /// # Errors
    /// Only if the YAML writer fails, which it does not for this model.
    pub fn to_yaml(&self, opts: ExportOptions) -> Result<String, ExportError> {
        serde_saphyr::to_string(&self.export_doc(opts)).map_err(|e| ExportError(e.to_string()))
    }

    /// Export as pretty JSON with a trailing newline (deterministic).
    ///
    /// # Errors
    /// Only if the JSON writer fails, which it does not for this model.
    pub fn to_json(&self, opts: ExportOptions) -> Result<String, ExportError> {
        let mut s = serde_json::to_string_pretty(&self.export_doc(opts))
            .map_err(|e| ExportError(e.to_string()))?;
        s.push('\n');
        Ok(s)
    }

    /// Export in the given format.
    ///
    /// # Errors
    /// As [`Manifest::to_yaml`].
    pub fn export(&self, format: Format, opts: ExportOptions) -> Result<String, ExportError> {
        match format {
            Format::Yaml => self.to_yaml(opts),
            Format::Json => self.to_json(opts),
        }
    }
}

/// The export writer failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("export failed: {0}")]
pub struct ExportError(String);

/// What an export includes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExportOptions {
    /// Also write `id`, `version`, `created_at` and `digest` (the
    /// server-side record). Off by default, so exports diff cleanly between
    /// environments; the digest written is the recomputed one.
    pub include_server_fields: bool,
}

/// The serialised shape of an export. Field order is the wire order.
#[derive(Debug, Serialize)]
pub struct ExportDoc<'a> {
    /// Always 1.
    pub version: u64,
    /// Sorted by name.
    pub policies: Vec<ExportPolicy<'a>>,
}

/// One exported policy.
#[derive(Debug, Serialize)]
#[allow(missing_docs)]
pub struct ExportPolicy<'a> {
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
    pub action_type: &'a Pattern,
    pub effect: Effect,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agents: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<ExportCondition<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<ExportApproval>,
    #[serde(skip_serializing_if = "is_true")]
    pub enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_true(b: &bool) -> bool {
    *b
}

impl<'a> ExportPolicy<'a> {
    fn new(p: &'a PolicySpec, opts: ExportOptions) -> Self {
        let server = opts.include_server_fields;
        ExportPolicy {
            name: &p.name,
            description: p.description.as_deref(),
            action_type: &p.action_type,
            effect: p.effect,
            agents: p.agents.as_deref(),
            conditions: p
                .conditions
                .iter()
                .map(|c| ExportCondition {
                    field: &c.field,
                    operator: c.operator,
                    value: c.value.as_ref(),
                })
                .collect(),
            approval: p.approval.as_ref().map(|a| ExportApproval {
                timeout: format_duration(a.timeout_secs),
                escalate_after: a.escalate_after_secs.map(format_duration),
            }),
            enabled: p.enabled,
            id: p.id.as_deref().filter(|_| server),
            version: p.version.filter(|_| server),
            created_at: p.created_at.as_deref().filter(|_| server),
            digest: server.then(|| policy_digest(p).to_string()),
        }
    }
}

/// One exported condition.
#[derive(Debug, Serialize)]
#[allow(missing_docs)]
pub struct ExportCondition<'a> {
    pub field: &'a Field,
    pub operator: Operator,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<&'a serde_json::Value>,
}

/// Exported approval settings (durations in normal form, e.g. `8h`).
#[derive(Debug, Serialize)]
#[allow(missing_docs)]
pub struct ExportApproval {
    pub timeout: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalate_after: Option<String>,
}

/// Longest approval timeout accepted: 30 days.
pub const MAX_APPROVAL_SECS: u64 = 30 * 86_400;

/// Normal form of a duration: the largest unit that divides it exactly
/// (`28800` → `8h`, `90` → `90s`, `0` → `0s`).
#[must_use]
pub fn format_duration(secs: u64) -> String {
    for (unit, n) in [("d", 86_400), ("h", 3600), ("m", 60)] {
        if secs != 0 && secs.is_multiple_of(n) {
            return format!("{}{unit}", secs / n);
        }
    }
    format!("{secs}s")
}

/// Parse `90`, `"90s"`, `"15m"`, `"8h"`, `"2d"` or a sum such as `"1h30m"`.
///
/// # Errors
/// A message naming what is wrong.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    if s.is_empty() {
        return Err("empty duration".into());
    }
    let mut total: u64 = 0;
    let mut num: Option<u64> = None;
    for ch in s.chars() {
        if let Some(d) = ch.to_digit(10) {
            let n = num
                .unwrap_or(0)
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(d)))
                .ok_or("duration is too large")?;
            num = Some(n);
        } else {
            let mult = match ch {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86_400,
                _ => return Err(format!("unknown unit `{ch}`; use s, m, h or d")),
            };
            let n = num.take().ok_or("a unit must follow a number")?;
            total = n
                .checked_mul(mult)
                .and_then(|v| total.checked_add(v))
                .ok_or("duration is too large")?;
        }
    }
    if let Some(n) = num {
        // A bare number is seconds, but only on its own (`90`), not after units (`1h30`).
        if total != 0 {
            return Err("a number without a unit must stand alone".into());
        }
        total = n;
    }
    Ok(total)
}

// ------------------------------------------------------------------ reader

struct Reader<'l> {
    limits: &'l Limits,
    errors: Vec<Diagnostic>,
}

/// A mapping's fields, looked up by name after unknown-key checks.
struct Fields<'n> {
    pairs: &'n [(Key, Node)],
}

impl<'n> Fields<'n> {
    fn get(&self, name: &str) -> Option<&'n Node> {
        self.pairs
            .iter()
            .find(|(k, _)| k.name == name)
            .map(|(_, v)| v)
    }
}

const TOP_KEYS: &[&str] = &["version", "policies"];
const POLICY_KEYS: &[&str] = &[
    "name",
    "description",
    "action_type",
    "effect",
    "agents",
    "conditions",
    "approval",
    "enabled",
    "id",
    "version",
    "created_at",
    "digest",
];
const CONDITION_KEYS: &[&str] = &["field", "operator", "value"];
const APPROVAL_KEYS: &[&str] = &["timeout", "escalate_after"];

fn field_path(base: &str, key: &str) -> String {
    if base.is_empty() {
        key.to_owned()
    } else {
        format!("{base}.{key}")
    }
}

impl Reader<'_> {
    fn err(
        &mut self,
        code: Code,
        path: &str,
        loc: Option<Location>,
        policy: Option<&str>,
        msg: String,
    ) {
        self.errors
            .push(Diagnostic::new(code, path, msg).at(loc).policy(policy));
    }

    fn map<'n>(
        &mut self,
        n: &'n Node,
        path: &str,
        allowed: &[&str],
        policy: Option<&str>,
    ) -> Option<Fields<'n>> {
        let Val::Map(pairs) = &n.val else {
            self.err(
                Code::ValueType,
                path,
                n.loc,
                policy,
                format!("expected a mapping, found a {}", n.val.type_name()),
            );
            return None;
        };
        // Mappings are small: a linear scan beats hashing.
        let mut seen: Vec<&str> = Vec::with_capacity(pairs.len());
        for (k, _) in pairs {
            if !allowed.contains(&k.name.as_str()) {
                let hint = allowed
                    .iter()
                    .find(|a| edit_distance(a, &k.name) <= 2)
                    .map(|a| format!("; did you mean `{a}`?"))
                    .unwrap_or_default();
                self.err(
                    Code::UnknownKey,
                    &field_path(path, &k.name),
                    k.loc,
                    policy,
                    format!("unknown key `{}`{hint}", k.name),
                );
            } else if seen.contains(&k.name.as_str()) {
                self.err(
                    Code::DuplicateKey,
                    &field_path(path, &k.name),
                    k.loc,
                    policy,
                    format!("key `{}` appears more than once", k.name),
                );
            } else {
                seen.push(&k.name);
            }
        }
        Some(Fields { pairs })
    }

    fn required<'n>(
        &mut self,
        f: &Fields<'n>,
        parent: &Node,
        path: &str,
        key: &str,
        policy: Option<&str>,
    ) -> Option<&'n Node> {
        let v = f.get(key);
        if v.is_none() {
            self.err(
                Code::MissingField,
                &field_path(path, key),
                parent.loc,
                policy,
                format!("missing required key `{key}`"),
            );
        }
        v
    }

    /// A required string key, parsed by `parse`; a parse failure is
    /// reported with `code` at the value's location.
    #[allow(clippy::too_many_arguments)]
    fn required_parsed<T>(
        &mut self,
        f: &Fields<'_>,
        parent: &Node,
        path: &str,
        key: &str,
        pol: Option<&str>,
        code: Code,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let v = self.required(f, parent, path, key, pol)?;
        let p = field_path(path, key);
        let s = self.string(v, &p, pol)?;
        match parse(s) {
            Ok(t) => Some(t),
            Err(msg) => {
                self.err(code, &p, v.loc, pol, msg);
                None
            }
        }
    }

    fn string<'n>(&mut self, n: &'n Node, path: &str, policy: Option<&str>) -> Option<&'n str> {
        match &n.val {
            Val::Str(s) if s.len() > self.limits.max_string_len => {
                self.err(
                    Code::LimitExceeded,
                    path,
                    n.loc,
                    policy,
                    format!(
                        "string is {} bytes, over the limit of {} (`max_string_len`)",
                        s.len(),
                        self.limits.max_string_len
                    ),
                );
                None
            }
            Val::Str(s) => Some(s),
            other => {
                self.err(
                    Code::ValueType,
                    path,
                    n.loc,
                    policy,
                    format!("expected a string, found a {}", other.type_name()),
                );
                None
            }
        }
    }

    fn manifest(&mut self, root: &Node) -> (Vec<PolicySpec>, Vec<PolicySpan>) {
        let Some(top) = self.map(root, "", TOP_KEYS, None) else {
            return (Vec::new(), Vec::new());
        };
        if let Some(v) = self.required(&top, root, "", "version", None) {
            match &v.val {
                Val::Num(n) if n.as_u64() == Some(MANIFEST_VERSION) => {}
                other => {
                    let shown = match other {
                        Val::Num(n) => n.to_string(),
                        Val::Str(s) => format!("\"{s}\""),
                        o => o.type_name().to_owned(),
                    };
                    self.err(
                        Code::UnsupportedVersion,
                        "version",
                        v.loc,
                        None,
                        format!(
                            "unsupported manifest version `{shown}`; this library reads version 1"
                        ),
                    );
                }
            }
        }
        let Some(list) = self.required(&top, root, "", "policies", None) else {
            return (Vec::new(), Vec::new());
        };
        let items: &[Node] = match &list.val {
            Val::Seq(items) => items,
            Val::Null => &[],
            other => {
                self.err(
                    Code::ValueType,
                    "policies",
                    list.loc,
                    None,
                    format!(
                        "expected a sequence of policies, found a {}",
                        other.type_name()
                    ),
                );
                return (Vec::new(), Vec::new());
            }
        };
        if items.len() > self.limits.max_policies {
            self.err(
                Code::LimitExceeded,
                "policies",
                list.loc,
                None,
                format!(
                    "{} policies, over the limit of {} (`max_policies`)",
                    items.len(),
                    self.limits.max_policies
                ),
            );
            return (Vec::new(), Vec::new());
        }
        let mut out = Vec::with_capacity(items.len());
        let mut spans = Vec::with_capacity(items.len());
        // A fixed-seed hasher: std's RandomState would read OS randomness.
        let mut names: FxHashMap<String, usize> = FxHashMap::default();
        names.reserve(items.len());
        for (i, item) in items.iter().enumerate() {
            let path = format!("policies[{i}]");
            if let Some(p) = self.policy(item, &path) {
                if let Some(first) = names.get(&p.name) {
                    let name_loc = policy_name_loc(item);
                    self.err(
                        Code::DuplicateName,
                        &format!("{path}.name"),
                        name_loc,
                        Some(&p.name),
                        format!(
                            "policy name `{}` is already used by policies[{first}]",
                            p.name
                        ),
                    );
                } else {
                    names.insert(p.name.clone(), i);
                }
                spans.push(span_of(item));
                out.push(p);
            }
        }
        (out, spans)
    }

    fn policy(&mut self, n: &Node, path: &str) -> Option<PolicySpec> {
        // Read the name first so every other error can name the policy.
        let name_node = match &n.val {
            Val::Map(pairs) => pairs.iter().find(|(k, _)| k.name == "name").map(|(_, v)| v),
            _ => None,
        };
        let name_str = match name_node.map(|v| &v.val) {
            Some(Val::Str(s)) => Some(s.clone()),
            _ => None,
        };
        let pol = name_str.as_deref();
        let f = self.map(n, path, POLICY_KEYS, pol)?;
        let before = self.errors.len();

        let name = self.required(&f, n, path, "name", pol).and_then(|v| {
            self.string(v, &field_path(path, "name"), pol)
                .map(|s| (s, v.loc))
        });
        if let Some((s, loc)) = name {
            self.check_name(s, &field_path(path, "name"), loc, pol);
        }

        let description = f
            .get("description")
            .and_then(|v| self.string(v, &field_path(path, "description"), pol))
            .map(str::to_owned);

        let max_pattern = self.limits.max_pattern_len;
        let pattern =
            self.required_parsed(&f, n, path, "action_type", pol, Code::InvalidPattern, |s| {
                parse_pattern(s, max_pattern)
            });

        let effect = self.required(&f, n, path, "effect", pol).and_then(|v| {
            let p = field_path(path, "effect");
            let s = self.string(v, &p, pol)?;
            let e = Effect::parse(s);
            if e.is_none() {
                self.err(
                    Code::InvalidEffect,
                    &p,
                    v.loc,
                    pol,
                    format!(
                        "unknown effect `{s}`; expected one of `allow`, `deny`, `require_approval`, `conditional`"
                    ),
                );
            }
            e
        });

        let agents = f
            .get("agents")
            .and_then(|v| self.agents(v, &field_path(path, "agents"), pol));

        let conditions = match f.get("conditions") {
            None => Vec::new(),
            Some(v) => self.conditions(v, &field_path(path, "conditions"), pol),
        };

        let approval = f
            .get("approval")
            .and_then(|v| self.approval(v, &field_path(path, "approval"), pol));

        let enabled = match f.get("enabled") {
            None => true,
            Some(Node {
                val: Val::Bool(b), ..
            }) => *b,
            Some(v) => {
                self.err(
                    Code::ValueType,
                    &field_path(path, "enabled"),
                    v.loc,
                    pol,
                    format!("expected a boolean, found a {}", v.val.type_name()),
                );
                true
            }
        };

        let id = f
            .get("id")
            .and_then(|v| self.string(v, &field_path(path, "id"), pol))
            .map(str::to_owned);
        let version = f.get("version").and_then(|v| match &v.val {
            Val::Num(num) if num.as_u64().is_some_and(|x| x >= 1) => num.as_u64(),
            _ => {
                self.err(
                    Code::ValueType,
                    &field_path(path, "version"),
                    v.loc,
                    pol,
                    "policy `version` must be a whole number of at least 1".into(),
                );
                None
            }
        });
        let created_at = f
            .get("created_at")
            .and_then(|v| self.string(v, &field_path(path, "created_at"), pol))
            .map(str::to_owned);
        let digest = f.get("digest").and_then(|v| {
            let p = field_path(path, "digest");
            let s = self.string(v, &p, pol)?;
            let d = Digest::from_hex(s);
            if d.is_none() {
                self.err(
                    Code::InvalidDigest,
                    &p,
                    v.loc,
                    pol,
                    "digest must be 64 lowercase hex digits".into(),
                );
            }
            d
        });

        if self.errors.len() != before {
            return None;
        }
        let (name, _) = name?;
        let approval = approval.filter(|a| *a != Approval::default());
        Some(PolicySpec {
            name: name.to_owned(),
            description,
            action_type: pattern?,
            effect: effect?,
            agents,
            conditions,
            approval,
            enabled,
            id,
            version,
            created_at,
            digest,
        })
    }

    fn check_name(&mut self, s: &str, path: &str, loc: Option<Location>, pol: Option<&str>) {
        let msg = if s.is_empty() {
            Some("policy name must not be empty".to_owned())
        } else if s.len() > self.limits.max_name_len {
            Some(format!(
                "policy name is {} bytes, over the limit of {} (`max_name_len`)",
                s.len(),
                self.limits.max_name_len
            ))
        } else if s.trim() != s
            || !s
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.: /".contains(c))
        {
            Some(format!(
                "policy name `{s}` may use only letters, digits, spaces and `-_.:/`, with no leading or trailing space"
            ))
        } else {
            None
        };
        if let Some(m) = msg {
            self.err(Code::InvalidName, path, loc, pol, m);
        }
    }

    fn agents(&mut self, n: &Node, path: &str, pol: Option<&str>) -> Option<Vec<String>> {
        let Val::Seq(items) = &n.val else {
            self.err(
                Code::ValueType,
                path,
                n.loc,
                pol,
                format!(
                    "expected a sequence of agent ids, found a {}",
                    n.val.type_name()
                ),
            );
            return None;
        };
        if items.is_empty() {
            self.err(
                Code::InvalidAgent,
                path,
                n.loc,
                pol,
                "`agents` must not be empty; omit it to cover the whole org".into(),
            );
            return None;
        }
        if items.len() > self.limits.max_agents {
            self.err(
                Code::LimitExceeded,
                path,
                n.loc,
                pol,
                format!(
                    "{} agents, over the limit of {} (`max_agents`)",
                    items.len(),
                    self.limits.max_agents
                ),
            );
            return None;
        }
        let mut out = Vec::with_capacity(items.len());
        for (i, it) in items.iter().enumerate() {
            let p = format!("{path}[{i}]");
            if let Some(s) = self.string(it, &p, pol) {
                if let Err(m) = check_agent_id(s, self.limits.max_name_len) {
                    self.err(Code::InvalidAgent, &p, it.loc, pol, m);
                } else {
                    out.push(s.to_owned());
                }
            }
        }
        out.sort();
        out.dedup();
        Some(out)
    }

    fn conditions(&mut self, n: &Node, path: &str, pol: Option<&str>) -> Vec<Condition> {
        let items: &[Node] = match &n.val {
            Val::Seq(items) => items,
            Val::Null => &[],
            other => {
                self.err(
                    Code::ValueType,
                    path,
                    n.loc,
                    pol,
                    format!(
                        "expected a sequence of conditions, found a {}",
                        other.type_name()
                    ),
                );
                return Vec::new();
            }
        };
        if items.len() > self.limits.max_conditions {
            self.err(
                Code::LimitExceeded,
                path,
                n.loc,
                pol,
                format!(
                    "{} conditions, over the limit of {} (`max_conditions`)",
                    items.len(),
                    self.limits.max_conditions
                ),
            );
            return Vec::new();
        }
        items
            .iter()
            .enumerate()
            .filter_map(|(i, it)| self.condition(it, &format!("{path}[{i}]"), pol))
            .collect()
    }

    fn condition(&mut self, n: &Node, path: &str, pol: Option<&str>) -> Option<Condition> {
        let f = self.map(n, path, CONDITION_KEYS, pol)?;
        let before = self.errors.len();
        let max_field_depth = self.limits.max_field_depth;
        let field = self.required_parsed(&f, n, path, "field", pol, Code::InvalidField, |s| {
            parse_field(s, max_field_depth)
        });
        let operator = self.required(&f, n, path, "operator", pol).and_then(|v| {
            let p = field_path(path, "operator");
            let s = self.string(v, &p, pol)?;
            let op = Operator::parse(s);
            if op.is_none() {
                let hint = Operator::ALL
                    .iter()
                    .find(|o| edit_distance(o.as_str(), s) <= 2)
                    .map(|o| format!("; did you mean `{o}`?"))
                    .unwrap_or_default();
                self.err(
                    Code::UnknownOperator,
                    &p,
                    v.loc,
                    pol,
                    format!("unknown operator `{s}`{hint}"),
                );
            }
            op
        });
        let value_node = f.get("value");
        let (field, operator) = (field?, operator?);
        let vpath = field_path(path, "value");
        let value = match (operator.takes_value(), value_node) {
            (false, None) => None,
            (false, Some(Node { val: Val::Null, .. })) => None,
            (false, Some(v)) => {
                self.err(
                    Code::ValueType,
                    &vpath,
                    v.loc,
                    pol,
                    format!("operator `{operator}` takes no `value`"),
                );
                None
            }
            (true, None) => {
                self.err(
                    Code::MissingField,
                    &vpath,
                    n.loc,
                    pol,
                    format!("operator `{operator}` needs a `value`"),
                );
                None
            }
            (true, Some(v)) => {
                self.check_value(&field, operator, v, &vpath, pol);
                Some(v.to_json())
            }
        };
        if self.errors.len() != before {
            return None;
        }
        Some(Condition {
            field,
            operator,
            value,
        })
    }

    /// Structural value checks. Comparisons that are well-formed but can
    /// never hold (e.g. `lt` against a string) are left to the linter.
    fn check_value(
        &mut self,
        field: &Field,
        op: Operator,
        v: &Node,
        path: &str,
        pol: Option<&str>,
    ) {
        if let Err(m) = self.check_json_size(v, 0) {
            self.err(Code::LimitExceeded, path, v.loc, pol, m);
            return;
        }
        let bad = |want: &str| {
            format!(
                "operator `{op}` needs {want}, found a {}",
                v.val.type_name()
            )
        };
        match op {
            Operator::In | Operator::NotIn => match &v.val {
                Val::Seq(items) => {
                    if items.len() > self.limits.max_list_len {
                        self.err(
                            Code::LimitExceeded,
                            path,
                            v.loc,
                            pol,
                            format!(
                                "{} items, over the limit of {} (`max_list_len`)",
                                items.len(),
                                self.limits.max_list_len
                            ),
                        );
                    }
                    for (i, it) in items.iter().enumerate() {
                        if matches!(it.val, Val::Seq(_) | Val::Map(_)) {
                            self.err(
                                Code::ValueType,
                                &format!("{path}[{i}]"),
                                it.loc,
                                pol,
                                format!(
                                    "items of `{op}` must be scalars, found a {}",
                                    it.val.type_name()
                                ),
                            );
                        } else if is_sensitivity(field) {
                            self.sensitivity_value(it, &format!("{path}[{i}]"), pol);
                        }
                    }
                }
                _ => self.err(Code::ValueType, path, v.loc, pol, bad("a sequence")),
            },
            Operator::StartsWith | Operator::EndsWith => {
                if !matches!(v.val, Val::Str(_)) {
                    self.err(Code::ValueType, path, v.loc, pol, bad("a string"));
                }
            }
            Operator::Matches => match &v.val {
                Val::Str(s) => {
                    if let Err(m) = compile_regex(s, self.limits.max_regex_bytes) {
                        self.err(Code::InvalidRegex, path, v.loc, pol, m);
                    }
                }
                _ => self.err(Code::ValueType, path, v.loc, pol, bad("a regex string")),
            },
            Operator::Contains => {
                if matches!(v.val, Val::Seq(_) | Val::Map(_)) {
                    self.err(Code::ValueType, path, v.loc, pol, bad("a scalar"));
                }
            }
            Operator::Lt | Operator::Lte | Operator::Gt | Operator::Gte => match &v.val {
                Val::Num(_) | Val::Str(_) => {
                    if is_sensitivity(field) {
                        self.sensitivity_value(v, path, pol);
                    }
                }
                _ => self.err(
                    Code::ValueType,
                    path,
                    v.loc,
                    pol,
                    bad("a number or a string"),
                ),
            },
            Operator::Eq | Operator::Ne => {
                if is_sensitivity(field) {
                    self.sensitivity_value(v, path, pol);
                }
            }
            Operator::Exists | Operator::NotExists => {}
        }
    }

    fn sensitivity_value(&mut self, v: &Node, path: &str, pol: Option<&str>) {
        let ok = matches!(&v.val, Val::Str(s) if Sensitivity::parse(s).is_some());
        if !ok {
            self.err(
                Code::ValueType,
                path,
                v.loc,
                pol,
                "`@data.max_sensitivity` compares with one of `public`, `low`, `medium`, `high`, `critical`".into(),
            );
        }
    }

    fn check_json_size(&self, v: &Node, depth: usize) -> Result<(), String> {
        if depth > self.limits.max_depth {
            return Err(format!(
                "value nested deeper than {} levels (`max_depth`)",
                self.limits.max_depth
            ));
        }
        match &v.val {
            Val::Str(s) if s.len() > self.limits.max_string_len => Err(format!(
                "string is {} bytes, over the limit of {} (`max_string_len`)",
                s.len(),
                self.limits.max_string_len
            )),
            Val::Seq(items) => items
                .iter()
                .try_for_each(|i| self.check_json_size(i, depth + 1)),
            Val::Map(pairs) => pairs
                .iter()
                .try_for_each(|(_, i)| self.check_json_size(i, depth + 1)),
            _ => Ok(()),
        }
    }

    fn approval(&mut self, n: &Node, path: &str, pol: Option<&str>) -> Option<Approval> {
        let f = self.map(n, path, APPROVAL_KEYS, pol)?;
        let mut dur = |key: &str| -> Result<Option<u64>, ()> {
            let Some(v) = f.get(key) else { return Ok(None) };
            let p = field_path(path, key);
            let parsed = match &v.val {
                Val::Num(num) => num
                    .as_u64()
                    .ok_or_else(|| "duration must be a whole number of seconds".to_owned()),
                Val::Str(s) => parse_duration(s),
                other => Err(format!(
                    "expected a duration such as `8h`, found a {}",
                    other.type_name()
                )),
            };
            match parsed {
                Ok(0) => {
                    self.err(
                        Code::InvalidDuration,
                        &p,
                        v.loc,
                        pol,
                        "duration must be positive".into(),
                    );
                    Err(())
                }
                Ok(s) if s > MAX_APPROVAL_SECS => {
                    self.err(
                        Code::InvalidDuration,
                        &p,
                        v.loc,
                        pol,
                        "duration must be at most 30d".into(),
                    );
                    Err(())
                }
                Ok(s) => Ok(Some(s)),
                Err(m) => {
                    self.err(Code::InvalidDuration, &p, v.loc, pol, m);
                    Err(())
                }
            }
        };
        let timeout = dur("timeout");
        let escalate = dur("escalate_after");
        let (Ok(timeout), Ok(escalate)) = (timeout, escalate) else {
            return None;
        };
        let timeout = timeout.unwrap_or(crate::model::DEFAULT_APPROVAL_TIMEOUT_SECS);
        if let Some(e) = escalate
            && e >= timeout
        {
            let loc = f.get("escalate_after").and_then(|v| v.loc);
            self.err(
                Code::InvalidDuration,
                &field_path(path, "escalate_after"),
                loc,
                pol,
                format!(
                    "`escalate_after` ({}) must be shorter than `timeout` ({})",
                    format_duration(e),
                    format_duration(timeout)
                ),
            );
            return None;
        }
        Some(Approval {
            timeout_secs: timeout,
            escalate_after_secs: escalate,
        })
    }
}

fn span_of(n: &Node) -> PolicySpan {
    let Val::Map(pairs) = &n.val else {
        return PolicySpan::default();
    };
    let get = |k: &str| pairs.iter().find(|(key, _)| key.name == k).map(|(_, v)| v);
    PolicySpan {
        policy: policy_name_loc(n),
        action_type: get("action_type").and_then(|v| v.loc),
        effect: get("effect").and_then(|v| v.loc),
        conditions: match get("conditions").map(|v| &v.val) {
            Some(Val::Seq(items)) => items.iter().map(|c| c.loc).collect(),
            _ => Vec::new(),
        },
    }
}

fn policy_name_loc(n: &Node) -> Option<Location> {
    match &n.val {
        Val::Map(pairs) => pairs
            .iter()
            .find(|(k, _)| k.name == "name")
            .and_then(|(_, v)| v.loc),
        _ => n.loc,
    }
    .or(n.loc)
}

fn is_sensitivity(f: &Field) -> bool {
    *f == Field::Builtin(Builtin::DataMaxSensitivity)
}

fn is_segment(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Validate an action type as submitted (no wildcards; SPEC §2).
///
/// # Errors
/// A message naming what is wrong.
pub fn check_action_type(s: &str, max_len: usize) -> Result<(), String> {
    if s.is_empty() || s.len() > max_len {
        return Err(format!("action type must be 1 to {max_len} bytes long"));
    }
    if !s.split('.').all(is_segment) {
        return Err(format!(
            "action type `{}` must be dot-separated segments of letters, digits, `_` and `-`",
            truncate(s)
        ));
    }
    Ok(())
}

/// Parse an action-type pattern: `*`, `prefix.*` or an exact type.
///
/// # Errors
/// A message naming what is wrong.
pub fn parse_pattern(s: &str, max_len: usize) -> Result<Pattern, String> {
    if s == "*" {
        return Ok(Pattern::Any);
    }
    if s.len() > max_len {
        return Err(format!(
            "pattern is {} bytes, over the limit of {max_len} (`max_pattern_len`)",
            s.len()
        ));
    }
    let (body, prefix) = match s.strip_suffix(".*") {
        Some(b) => (b, true),
        None => (s, false),
    };
    if body.is_empty() || !body.split('.').all(is_segment) {
        return Err(format!(
            "invalid pattern `{}`: use an exact type (`db.migrate`), a segment prefix (`db.*`) or `*`",
            truncate(s)
        ));
    }
    Ok(if prefix {
        Pattern::Prefix(body.to_owned())
    } else {
        Pattern::Exact(body.to_owned())
    })
}

fn check_agent_id(s: &str, max: usize) -> Result<(), String> {
    if s.is_empty() || s.len() > max {
        return Err(format!("agent id must be 1 to {max} bytes long"));
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "agent id `{}` must not contain spaces or control characters",
            truncate(s)
        ));
    }
    Ok(())
}

/// Parse a condition field: a built-in `@…` fact or a metadata dot path.
///
/// # Errors
/// A message naming what is wrong.
pub fn parse_field(s: &str, max_depth: usize) -> Result<Field, String> {
    if s.starts_with('@') {
        return Builtin::ALL
            .into_iter()
            .find(|b| b.as_str() == s)
            .map(Field::Builtin)
            .ok_or_else(|| {
                format!(
                    "unknown built-in fact `{}`; known facts are {}",
                    truncate(s),
                    Builtin::ALL
                        .iter()
                        .map(|b| format!("`{}`", b.as_str()))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            });
    }
    let segs: Vec<&str> = s.split('.').collect();
    if segs.len() > max_depth {
        return Err(format!(
            "field path has {} segments, over the limit of {max_depth} (`max_field_depth`)",
            segs.len()
        ));
    }
    if !segs.iter().all(|seg| is_segment(seg)) {
        return Err(format!(
            "invalid field `{}`: use a metadata path such as `repo.owner` or a built-in fact such as `@data.count`",
            truncate(s)
        ));
    }
    Ok(Field::Metadata(
        segs.into_iter().map(str::to_owned).collect(),
    ))
}

pub(crate) fn compile_regex(s: &str, max_bytes: usize) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(s)
        .size_limit(max_bytes)
        .dfa_size_limit(max_bytes)
        .nest_limit(64)
        .build()
        .map_err(|e| {
            let msg = e.to_string();
            let last = msg.lines().last().unwrap_or(&msg).trim().to_owned();
            let last = last.strip_prefix("error: ").unwrap_or(&last).to_owned();
            format!("regex `{}` does not compile: {last}", truncate(s))
        })
}

pub(crate) fn truncate(s: &str) -> String {
    if s.chars().count() <= 64 {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(61).collect();
        t.push_str("...");
        t
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().abs_diff(b.len()) > 2 || b.len() > 64 {
        return usize::MAX;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev.get(j).copied().unwrap_or(0) + usize::from(ca != cb);
            let del = prev.get(j + 1).copied().unwrap_or(0) + 1;
            let ins = cur.get(j).copied().unwrap_or(0) + 1;
            cur.push(sub.min(del).min(ins));
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(usize::MAX)
}

pub(crate) fn fact_kind(f: &Field) -> Option<FactKind> {
    match f {
        Field::Builtin(b) => Some(b.kind()),
        Field::Metadata(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(text: &str) -> Vec<(Code, Option<Location>)> {
        match Manifest::parse_auto(text) {
            Ok(_) => vec![],
            Err(e) => e.errors.iter().map(|d| (d.code, d.location)).collect(),
        }
    }

    #[test]
    fn typo_in_key_is_an_error_with_location_and_hint() {
        let y = "version: 1\npolicies:\n  - name: p\n    action_type: db.*\n    efect: deny\n";
        let e = Manifest::parse_auto(y).unwrap_err();
        assert_eq!(e.errors.len(), 2, "{e:?}");
        // Sorted by location: the missing `effect` is reported at the policy (line 3).
        assert_eq!(e.errors[0].code, Code::MissingField);
        let unknown = &e.errors[1];
        assert_eq!(unknown.code, Code::UnknownKey);
        assert_eq!(unknown.location, Some(Location { line: 5, column: 5 }));
        assert!(
            unknown.message.contains("did you mean `effect`"),
            "{}",
            unknown.message
        );
        assert_eq!(unknown.policy.as_deref(), Some("p"));
    }

    #[test]
    fn all_errors_are_collected() {
        let y = r#"
version: 1
policies:
  - name: a
    action_type: "db.*.x"
    effect: allow
  - name: a
    action_type: db
    effect: maybe
  - name: c
    action_type: x
    effect: deny
    conditions:
      - {field: "@nope", operator: eq, value: 1}
      - {field: x, operator: equals, value: 1}
      - {field: x, operator: matches, value: "("}
      - {field: x, operator: in, value: 3}
"#;
        let got: Vec<Code> = codes(y).into_iter().map(|(c, _)| c).collect();
        assert_eq!(
            got,
            vec![
                Code::InvalidPattern,
                Code::InvalidEffect,
                Code::InvalidField,
                Code::UnknownOperator,
                Code::InvalidRegex,
                Code::ValueType
            ]
        );
    }

    #[test]
    fn duplicate_name_is_reported_at_second_use() {
        let y = "version: 1\npolicies:\n- {name: a, action_type: x, effect: allow}\n- {name: a, action_type: y, effect: deny}\n";
        assert_eq!(
            codes(y),
            vec![(
                Code::DuplicateName,
                Some(Location {
                    line: 4,
                    column: 10
                })
            )]
        );
    }

    #[test]
    fn version_must_be_one() {
        assert_eq!(
            codes("version: 2\npolicies: []\n")[0].0,
            Code::UnsupportedVersion
        );
        assert_eq!(codes("{\"policies\": []}")[0].0, Code::MissingField);
        assert!(codes("version: 1\npolicies: []\n").is_empty());
    }

    #[test]
    fn durations_round_trip() {
        for (s, v) in [
            ("8h", 28_800),
            ("90", 90),
            ("1h30m", 5400),
            ("2d", 172_800),
            ("45s", 45),
        ] {
            assert_eq!(parse_duration(s).unwrap(), v, "{s}");
        }
        assert!(parse_duration("1h30").is_err());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("5w").is_err());
        assert!(parse_duration("99999999999999999999s").is_err());
        assert_eq!(format_duration(28_800), "8h");
        assert_eq!(format_duration(5400), "90m");
        assert_eq!(format_duration(61), "61s");
    }

    #[test]
    fn patterns() {
        assert_eq!(parse_pattern("*", 128).unwrap(), Pattern::Any);
        assert_eq!(
            parse_pattern("db.*", 128).unwrap(),
            Pattern::Prefix("db".into())
        );
        assert_eq!(
            parse_pattern("db.migrate", 128).unwrap(),
            Pattern::Exact("db.migrate".into())
        );
        for bad in [
            "", ".*", "db.", "db..x", "*.x", "db.*.x", "d b", "db*", "a.**",
        ] {
            assert!(parse_pattern(bad, 128).is_err(), "{bad:?}");
        }
        let p = Pattern::Prefix("db".into());
        assert!(p.matches("db.migrate") && p.matches("db.schema.drop"));
        assert!(!p.matches("db") && !p.matches("dbx.migrate") && !p.matches("db."));
    }

    #[test]
    fn approval_defaults_normalise_away() {
        let y = "version: 1\npolicies:\n- name: a\n  action_type: x\n  effect: require_approval\n  approval: {timeout: 8h}\n";
        let m = Manifest::parse_auto(y).unwrap();
        assert_eq!(m.policies[0].approval, None);
        let y = "version: 1\npolicies:\n- name: a\n  action_type: x\n  effect: require_approval\n  approval: {timeout: 1h, escalate_after: 2h}\n";
        assert_eq!(codes(y)[0].0, Code::InvalidDuration);
    }
}
