//! Checking a document and its policies (conditions: `condition.rs`).
//!
//! Why one file (644 lines): one job, turning a parsed document into
//! policies with one diagnostic per field and location; its functions are
//! short checks sharing the walker's location bookkeeping (conditions are
//! in `condition.rs`, syntax rules in `syntax.rs`).

use std::collections::BTreeMap;

use al_types::{Digest, Location};

use super::duration::{MAX_APPROVAL_SECS, format_duration, parse_duration};
use super::syntax::{check_agent_id, parse_pattern, suggest};
use super::{MANIFEST_VERSION, PolicySpan};
use crate::error::{Code, Diagnostic, Error};
use crate::limits::Limits;
use crate::model::{Approval, Effect, PolicySpec};
use crate::node::{Key, Node, Val};

pub(super) struct Reader<'l> {
    pub(super) limits: &'l Limits,
    pub(super) errors: Vec<Diagnostic>,
}

/// Check a whole document: the policies, their source spans, and every
/// error found (empty when the manifest is valid).
pub(super) fn manifest(
    root: &Node,
    limits: &Limits,
) -> (Vec<PolicySpec>, Vec<PolicySpan>, Vec<Diagnostic>) {
    let mut r = Reader {
        limits,
        errors: Vec::new(),
    };
    let (policies, spans) = r.manifest(root);
    (policies, spans, r.errors)
}

/// A mapping's fields, looked up by name after unknown-key checks.
pub(super) struct Fields<'n> {
    pairs: &'n [(Key, Node)],
}

impl<'n> Fields<'n> {
    pub(super) fn get(&self, name: &str) -> Option<&'n Node> {
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
pub(super) const CONDITION_KEYS: &[&str] = &["field", "operator", "value"];
const APPROVAL_KEYS: &[&str] = &["timeout", "escalate_after"];

pub(super) fn field_path(base: &str, key: &str) -> String {
    if base.is_empty() {
        key.to_owned()
    } else {
        format!("{base}.{key}")
    }
}

impl Reader<'_> {
    pub(super) fn err(
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

    pub(super) fn map<'n>(
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
                let hint = suggest(&k.name, allowed.iter().copied())
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

    pub(super) fn required<'n>(
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
    pub(super) fn required_parsed<T>(
        &mut self,
        f: &Fields<'_>,
        parent: &Node,
        path: &str,
        key: &str,
        pol: Option<&str>,
        code: Code,
        parse: impl FnOnce(&str) -> Result<T, Error>,
    ) -> Option<T> {
        let v = self.required(f, parent, path, key, pol)?;
        let p = field_path(path, key);
        let s = self.string(v, &p, pol)?;
        match parse(s) {
            Ok(t) => Some(t),
            Err(e) => {
                self.err(code, &p, v.loc, pol, e.to_string());
                None
            }
        }
    }

    pub(super) fn string<'n>(
        &mut self,
        n: &'n Node,
        path: &str,
        policy: Option<&str>,
    ) -> Option<&'n str> {
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
        // Ordered: names are chosen by whoever writes the manifest, so no hashing to flood.
        let mut names: BTreeMap<String, usize> = BTreeMap::new();
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

        let effect = self.effect(&f, n, path, pol);

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

        let enabled = self.enabled(&f, path, pol);

        let (id, version, created_at, digest) = self.server_record(&f, path, pol);

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

    fn effect(
        &mut self,
        f: &Fields<'_>,
        n: &Node,
        path: &str,
        pol: Option<&str>,
    ) -> Option<Effect> {
        self.required(f, n, path, "effect", pol).and_then(|v| {
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
        })
    }

    fn enabled(&mut self, f: &Fields<'_>, path: &str, pol: Option<&str>) -> bool {
        match f.get("enabled") {
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
        }
    }

    /// The server-side record: `id`, `version`, `created_at`, `digest`.
    fn server_record(
        &mut self,
        f: &Fields<'_>,
        path: &str,
        pol: Option<&str>,
    ) -> (Option<String>, Option<u64>, Option<String>, Option<Digest>) {
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

        (id, version, created_at, digest)
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
                if let Err(m) = check_agent_id(s, self.limits.max_name_len()) {
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

    fn approval(&mut self, n: &Node, path: &str, pol: Option<&str>) -> Option<Approval> {
        let f = self.map(n, path, APPROVAL_KEYS, pol)?;
        let mut dur = |key: &str| -> Result<Option<u64>, ()> {
            let Some(v) = f.get(key) else { return Ok(None) };
            let p = field_path(path, key);
            let parsed = match &v.val {
                Val::Num(num) => num
                    .as_u64()
                    .ok_or_else(|| "duration must be a whole number of seconds".to_owned()),
                Val::Str(s) => parse_duration(s).map_err(|e| e.to_string()),
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
