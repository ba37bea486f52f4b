//! The policy model: what a manifest says, independent of its format.

use std::fmt;

use serde::Serialize;

/// The effect of a policy when it decides an action (see `docs/policy-manifest.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Effect {
    /// The action runs (if every condition holds; otherwise it is denied
    /// with `CONDITIONS_DENIED`).
    Allow,
    /// The action runs if every condition holds; otherwise it needs approval.
    Conditional,
    /// The action needs an operator's approval (when its conditions hold).
    RequireApproval,
    /// The action is denied (when its conditions hold).
    Deny,
}

impl Effect {
    /// Restrictiveness rank: `deny` > `require_approval` > `conditional` > `allow`.
    #[must_use]
    pub const fn rank(self) -> u8 {
        match self {
            Effect::Allow => 0,
            Effect::Conditional => 1,
            Effect::RequireApproval => 2,
            Effect::Deny => 3,
        }
    }

    /// Wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "allow",
            Effect::Conditional => "conditional",
            Effect::RequireApproval => "require_approval",
            Effect::Deny => "deny",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Effect> {
        Some(match s {
            "allow" => Effect::Allow,
            "conditional" => Effect::Conditional,
            "require_approval" => Effect::RequireApproval,
            "deny" => Effect::Deny,
            _ => return None,
        })
    }

    /// Whether the policy decides every action it matches, whatever its
    /// conditions say (`allow` and `conditional` always produce an outcome;
    /// `deny` and `require_approval` only when their conditions hold).
    #[must_use]
    pub(crate) fn always_applies(self, has_conditions: bool) -> bool {
        matches!(self, Effect::Allow | Effect::Conditional) || !has_conditions
    }
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Effect {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// An action-type pattern (see `docs/policy-manifest.md`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Pattern {
    /// Matches exactly one action type, e.g. `db.migrate`.
    Exact(String),
    /// `prefix.*`: matches every action type with at least one more segment
    /// after `prefix` (`db.*` matches `db.migrate`, `db.schema.drop`, not `db`).
    /// Holds the prefix without the trailing `.*`.
    Prefix(String),
    /// `*`: matches every action type.
    Any,
}

impl Pattern {
    /// Specificity, higher is more specific: `*` is 0, a prefix of `k`
    /// segments is `k`, an exact type ranks above every prefix.
    #[must_use]
    pub fn specificity(&self) -> u32 {
        match self {
            Pattern::Any => 0,
            Pattern::Prefix(p) => segments(p),
            Pattern::Exact(_) => u32::MAX,
        }
    }

    /// Whether this pattern matches `action_type`.
    #[must_use]
    pub fn matches(&self, action_type: &str) -> bool {
        match self {
            Pattern::Any => true,
            Pattern::Exact(e) => e == action_type,
            Pattern::Prefix(p) => action_type
                .strip_prefix(p.as_str())
                .is_some_and(|rest| rest.len() > 1 && rest.starts_with('.')),
        }
    }
}

fn segments(s: &str) -> u32 {
    u32::try_from(s.split('.').count()).unwrap_or(u32::MAX - 1)
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pattern::Exact(e) => f.write_str(e),
            Pattern::Prefix(p) => write!(f, "{p}.*"),
            Pattern::Any => f.write_str("*"),
        }
    }
}

impl Serialize for Pattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Condition operators (see `docs/policy-manifest.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[allow(missing_docs)]
pub enum Operator {
    Eq,
    Ne,
    Lt,
    Lte,
    Gt,
    Gte,
    In,
    NotIn,
    Contains,
    StartsWith,
    EndsWith,
    Matches,
    Exists,
    NotExists,
}

impl Operator {
    /// Every operator.
    pub const ALL: [Operator; 14] = [
        Operator::Eq,
        Operator::Ne,
        Operator::Lt,
        Operator::Lte,
        Operator::Gt,
        Operator::Gte,
        Operator::In,
        Operator::NotIn,
        Operator::Contains,
        Operator::StartsWith,
        Operator::EndsWith,
        Operator::Matches,
        Operator::Exists,
        Operator::NotExists,
    ];

    /// Wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Operator::Eq => "eq",
            Operator::Ne => "ne",
            Operator::Lt => "lt",
            Operator::Lte => "lte",
            Operator::Gt => "gt",
            Operator::Gte => "gte",
            Operator::In => "in",
            Operator::NotIn => "not_in",
            Operator::Contains => "contains",
            Operator::StartsWith => "starts_with",
            Operator::EndsWith => "ends_with",
            Operator::Matches => "matches",
            Operator::Exists => "exists",
            Operator::NotExists => "not_exists",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Operator> {
        Operator::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// `exists` and `not_exists` take no value.
    #[must_use]
    pub const fn takes_value(self) -> bool {
        !matches!(self, Operator::Exists | Operator::NotExists)
    }

    /// Ordering comparisons.
    #[must_use]
    pub const fn is_ordering(self) -> bool {
        matches!(
            self,
            Operator::Lt | Operator::Lte | Operator::Gt | Operator::Gte
        )
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Operator {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Facts the engine supplies about every action (see `docs/policy-manifest.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Builtin {
    /// `@agent.id`: the acting agent's id (string).
    AgentId,
    /// `@agent.name`: the acting agent's name (string).
    AgentName,
    /// `@data.count`: the sum of `data_accessed[].count` (integer).
    DataCount,
    /// `@data.max_sensitivity`: the highest `sensitivity` declared
    /// (`public < low < medium < high < critical`). Missing when no item
    /// declares one.
    DataMaxSensitivity,
    /// `@data.types`: the distinct `data_accessed[].type` values (sequence).
    DataTypes,
    /// `@time.hour`: hour of the request timestamp, UTC, `0..=23`.
    TimeHour,
    /// `@time.weekday`: ISO 8601 weekday of the request timestamp, UTC,
    /// Monday = 1 … Sunday = 7.
    TimeWeekday,
}

impl Builtin {
    /// Every built-in fact.
    pub const ALL: [Builtin; 7] = [
        Builtin::AgentId,
        Builtin::AgentName,
        Builtin::DataCount,
        Builtin::DataMaxSensitivity,
        Builtin::DataTypes,
        Builtin::TimeHour,
        Builtin::TimeWeekday,
    ];

    /// Source spelling, e.g. `@data.count`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Builtin::AgentId => "@agent.id",
            Builtin::AgentName => "@agent.name",
            Builtin::DataCount => "@data.count",
            Builtin::DataMaxSensitivity => "@data.max_sensitivity",
            Builtin::DataTypes => "@data.types",
            Builtin::TimeHour => "@time.hour",
            Builtin::TimeWeekday => "@time.weekday",
        }
    }

    /// The JSON type the fact has.
    pub(crate) const fn kind(self) -> FactKind {
        match self {
            Builtin::AgentId | Builtin::AgentName => FactKind::String,
            Builtin::DataCount | Builtin::TimeHour | Builtin::TimeWeekday => FactKind::Integer,
            Builtin::DataMaxSensitivity => FactKind::Sensitivity,
            Builtin::DataTypes => FactKind::StringList,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FactKind {
    String,
    Integer,
    Sensitivity,
    StringList,
}

/// What a condition looks at.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    /// A built-in fact.
    Builtin(Builtin),
    /// A dot path into the request's `metadata` (`repo.owner`).
    Metadata(Vec<String>),
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::Builtin(b) => f.write_str(b.as_str()),
            Field::Metadata(path) => {
                for (i, seg) in path.iter().enumerate() {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(seg)?;
                }
                Ok(())
            }
        }
    }
}

impl Serialize for Field {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Data sensitivity, ordered `public < low < medium < high < critical`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[allow(missing_docs)]
pub enum Sensitivity {
    Public,
    Low,
    Medium,
    High,
    Critical,
}

impl Sensitivity {
    /// Wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Sensitivity::Public => "public",
            Sensitivity::Low => "low",
            Sensitivity::Medium => "medium",
            Sensitivity::High => "high",
            Sensitivity::Critical => "critical",
        }
    }

    /// Parse a wire name.
    #[must_use]
    pub fn parse(s: &str) -> Option<Sensitivity> {
        Some(match s {
            "public" => Sensitivity::Public,
            "low" => Sensitivity::Low,
            "medium" => Sensitivity::Medium,
            "high" => Sensitivity::High,
            "critical" => Sensitivity::Critical,
            _ => return None,
        })
    }
}

impl Serialize for Sensitivity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One condition: `{field, operator, value}`.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    /// What is tested.
    pub field: Field,
    /// How.
    pub operator: Operator,
    /// Against what; `None` for `exists` / `not_exists`.
    pub value: Option<serde_json::Value>,
}

/// Approval settings for `require_approval` and `conditional` policies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Approval {
    /// Seconds until a pending approval times out. Default 8 hours.
    pub timeout_secs: u64,
    /// Seconds after which a pending approval escalates, if set.
    pub escalate_after_secs: Option<u64>,
}

/// Default approval timeout: 8 hours (see `docs/policy-manifest.md`).
pub const DEFAULT_APPROVAL_TIMEOUT_SECS: u64 = 8 * 3600;

impl Default for Approval {
    fn default() -> Self {
        Approval {
            timeout_secs: DEFAULT_APPROVAL_TIMEOUT_SECS,
            escalate_after_secs: None,
        }
    }
}

/// A policy as written in a manifest.
///
/// The `id`, `version`, `created_at` and `digest` fields are the
/// server-side record a host keeps beside the authored content; they are
/// optional in a manifest, are not part of the digest, and are written by
/// [`export`](crate::Manifest::to_yaml) only when asked for.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicySpec {
    /// Unique key.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Which action types it governs.
    pub action_type: Pattern,
    /// What it does.
    pub effect: Effect,
    /// Agent ids it is limited to (sorted, without duplicates); `None` = the whole org.
    pub agents: Option<Vec<String>>,
    /// All must hold.
    pub conditions: Vec<Condition>,
    /// Approval settings; `None` means the defaults.
    pub approval: Option<Approval>,
    /// Disabled policies take no part in evaluation.
    pub enabled: bool,
    /// Server-side id.
    pub id: Option<String>,
    /// Server-side version (starts at 1, +1 on every change).
    pub version: Option<u64>,
    /// Server-side creation time (RFC 3339).
    pub created_at: Option<String>,
    /// Recorded digest of the content; checked at compile time.
    pub digest: Option<al_types::Digest>,
}

impl PolicySpec {
    /// Approval settings in force (the defaults when none are given).
    #[must_use]
    pub fn approval_or_default(&self) -> Approval {
        self.approval.clone().unwrap_or_default()
    }
}
