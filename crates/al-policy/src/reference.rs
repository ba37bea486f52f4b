//! A deliberately naive reference evaluator, for differential testing
//! (behind the `testing` feature).
//!
//! It scans every policy, recomputes every digest, re-reads every field as
//! an owned JSON value and compiles every regex on each call. It shares no
//! evaluation code with [`PolicySet`](crate::PolicySet): the property tests
//! and the `evaluate` fuzz target check that both always agree. Never use it
//! in production: it is slow on purpose.

use std::cmp::Ordering;

use serde_json::Value;

use crate::canonical::policy_digest;
use crate::manifest::{Manifest, compile_regex};
use crate::model::{Builtin, Condition, Effect, Field, Operator, PolicySpec, Sensitivity};
use crate::request::ActionRequest;
use crate::set::{Agent, DenialReason, Status};

/// The reference decision: status, denial reason, deciding policy name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefDecision {
    /// Outcome.
    pub status: Status,
    /// Denial reason, when denied.
    pub denial_reason: Option<DenialReason>,
    /// Deciding policy's name.
    pub policy: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum T {
    True,
    False,
    Unknown,
}

/// Evaluate by scanning every policy.
#[must_use]
pub fn evaluate(manifest: &Manifest, req: &ActionRequest, agent: &Agent<'_>) -> RefDecision {
    // (specificity, agent-limited, tampered, policy)
    let mut cands: Vec<(u32, bool, bool, &PolicySpec)> = Vec::new();
    for p in manifest.policies() {
        let tampered = p.digest.is_some_and(|d| d != policy_digest(p));
        if !p.enabled && !tampered {
            continue;
        }
        if !p.action_type.matches(req.action_type()) {
            continue;
        }
        let limited = p.agents.is_some() && !tampered;
        if limited
            && !p
                .agents
                .as_ref()
                .is_some_and(|a| a.iter().any(|x| x == agent.id))
        {
            continue;
        }
        cands.push((p.action_type.specificity(), limited, tampered, p));
    }
    let mut keys: Vec<(u32, bool)> = cands.iter().map(|c| (c.0, c.1)).collect();
    keys.sort();
    keys.dedup();
    keys.reverse();
    for key in keys {
        let mut group: Vec<(bool, &PolicySpec)> = cands
            .iter()
            .filter(|c| (c.0, c.1) == key)
            .map(|c| (c.2, c.3))
            .collect();
        group.sort_by(|a, b| a.1.name.as_bytes().cmp(b.1.name.as_bytes()));
        if let Some((_, p)) = group.iter().find(|(t, _)| *t) {
            return out(Status::Denied, Some(DenialReason::PolicyTampered), p);
        }
        for effect in [
            Effect::Deny,
            Effect::RequireApproval,
            Effect::Conditional,
            Effect::Allow,
        ] {
            let level: Vec<&PolicySpec> = group
                .iter()
                .filter(|(_, p)| p.effect == effect)
                .map(|(_, p)| *p)
                .collect();
            let truths: Vec<T> = level.iter().map(|p| truth(p, req, agent)).collect();
            let first_where = |f: &dyn Fn(T) -> bool| {
                level
                    .iter()
                    .zip(&truths)
                    .find(|(_, t)| f(**t))
                    .map(|(p, _)| *p)
            };
            match effect {
                Effect::Deny => {
                    if let Some(p) = first_where(&|t| t != T::False) {
                        return out(Status::Denied, Some(DenialReason::PolicyDenied), p);
                    }
                }
                Effect::RequireApproval => {
                    if let Some(p) = first_where(&|t| t != T::False) {
                        return out(Status::Requested, None, p);
                    }
                }
                Effect::Conditional | Effect::Allow => {
                    if let Some(p) = first_where(&|t| t != T::True) {
                        return if effect == Effect::Allow {
                            out(Status::Denied, Some(DenialReason::ConditionsDenied), p)
                        } else {
                            out(Status::Requested, None, p)
                        };
                    }
                    if let Some(p) = level.first() {
                        return out(Status::Executed, None, p);
                    }
                }
            }
        }
    }
    RefDecision {
        status: Status::PolicyNotFound,
        denial_reason: None,
        policy: None,
    }
}

fn out(status: Status, denial_reason: Option<DenialReason>, p: &PolicySpec) -> RefDecision {
    RefDecision {
        status,
        denial_reason,
        policy: Some(p.name.clone()),
    }
}

fn truth(p: &PolicySpec, req: &ActionRequest, agent: &Agent<'_>) -> T {
    let ts: Vec<T> = p.conditions.iter().map(|c| cond(c, req, agent)).collect();
    if ts.contains(&T::False) {
        T::False
    } else if ts.contains(&T::Unknown) {
        T::Unknown
    } else {
        T::True
    }
}

fn actual(field: &Field, req: &ActionRequest, agent: &Agent<'_>) -> Option<Value> {
    match field {
        Field::Builtin(Builtin::AgentId) => Some(Value::from(agent.id)),
        Field::Builtin(Builtin::AgentName) => Some(Value::from(agent.name)),
        Field::Builtin(Builtin::DataCount) => Some(Value::from(
            req.data_accessed()
                .iter()
                .fold(0u64, |a, d| a.saturating_add(d.count)),
        )),
        Field::Builtin(Builtin::DataMaxSensitivity) => req
            .data_accessed()
            .iter()
            .filter_map(|d| d.sensitivity)
            .max()
            .map(|s| Value::from(s.as_str())),
        Field::Builtin(Builtin::DataTypes) => {
            let mut t: Vec<String> = req
                .data_accessed()
                .iter()
                .map(|d| d.data_type.clone())
                .collect();
            t.sort();
            t.dedup();
            Some(Value::from(t))
        }
        Field::Builtin(Builtin::TimeHour) => Some(Value::from(req.timestamp().hour())),
        Field::Builtin(Builtin::TimeWeekday) => Some(Value::from(req.timestamp().weekday())),
        Field::Metadata(path) => {
            let mut cur = Value::Object(req.metadata().clone());
            for seg in path {
                cur = cur.as_object()?.get(seg)?.clone();
            }
            Some(cur)
        }
    }
}

fn num_cmp(a: &serde_json::Number, b: &serde_json::Number) -> Option<Ordering> {
    let int = |n: &serde_json::Number| {
        n.as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
    };
    match (int(a), int(b)) {
        (Some(x), Some(y)) => Some(x.cmp(&y)),
        (Some(x), None) => int_vs_float(x, b.as_f64()?),
        (None, Some(y)) => int_vs_float(y, a.as_f64()?).map(Ordering::reverse),
        (None, None) => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

/// Exact: the integer against the double's floor (saturating), then the
/// fraction decides.
fn int_vs_float(i: i128, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    #[allow(clippy::cast_possible_truncation)]
    let floor = f.floor() as i128;
    Some(match i.cmp(&floor) {
        Ordering::Equal if f.fract() != 0.0 => Ordering::Less,
        o => o,
    })
}

/// Equality of two JSON values: `None` (unknown) when a type differs
/// anywhere, even deep inside containers.
fn json_eq(a: &Value, e: &Value) -> Option<bool> {
    match (a, e) {
        (Value::String(x), Value::String(y)) => Some(x == y),
        (Value::Number(x), Value::Number(y)) => Some(num_cmp(x, y) == Some(Ordering::Equal)),
        (Value::Bool(x), Value::Bool(y)) => Some(x == y),
        (Value::Null, Value::Null) => Some(true),
        (Value::Array(x), Value::Array(y)) => {
            let rs: Vec<Option<bool>> = x.iter().zip(y).map(|(p, q)| json_eq(p, q)).collect();
            if rs.contains(&None) {
                None
            } else {
                Some(x.len() == y.len() && rs.iter().all(|r| *r == Some(true)))
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            let rs: Vec<Option<bool>> = x
                .iter()
                .filter_map(|(k, p)| y.get(k).map(|q| json_eq(p, q)))
                .collect();
            if rs.contains(&None) {
                None
            } else {
                let same_keys = x.len() == y.len() && x.keys().all(|k| y.contains_key(k));
                Some(same_keys && rs.iter().all(|r| *r == Some(true)))
            }
        }
        _ => None,
    }
}

/// Three-valued OR of equality results.
fn any(rs: &[Option<bool>]) -> Option<bool> {
    if rs.contains(&Some(true)) {
        Some(true)
    } else if rs.contains(&None) {
        None
    } else {
        Some(false)
    }
}

fn level(v: &Value) -> Option<Sensitivity> {
    v.as_str().and_then(Sensitivity::parse)
}

/// Equality; `None` when the types cannot be compared.
fn eq(field: &Field, a: &Value, e: &Value) -> Option<bool> {
    if *field == Field::Builtin(Builtin::DataMaxSensitivity) {
        return Some(level(a)? == level(e)?);
    }
    if *field == Field::Builtin(Builtin::DataTypes) {
        let list = a.as_array()?;
        let want = e.as_array()?;
        let all_in = want.iter().all(|x| x.is_string() && list.contains(x));
        let mut distinct: Vec<&Value> = Vec::new();
        for w in want {
            if !distinct.contains(&w) {
                distinct.push(w);
            }
        }
        return Some(all_in && distinct.len() == list.len());
    }
    json_eq(a, e)
}

fn t(b: bool) -> T {
    if b { T::True } else { T::False }
}

fn cond(c: &Condition, req: &ActionRequest, agent: &Agent<'_>) -> T {
    let a = actual(&c.field, req, agent);
    match c.operator {
        Operator::Exists => return t(a.is_some()),
        Operator::NotExists => return t(a.is_none()),
        _ => {}
    }
    let (Some(a), Some(e)) = (a, c.value.as_ref()) else {
        return T::Unknown;
    };
    let opt = |o: Option<bool>| o.map_or(T::Unknown, t);
    let sens = c.field == Field::Builtin(Builtin::DataMaxSensitivity);
    match c.operator {
        Operator::Eq => opt(eq(&c.field, &a, e)),
        Operator::Ne => opt(eq(&c.field, &a, e).map(|b| !b)),
        Operator::Lt | Operator::Lte | Operator::Gt | Operator::Gte => {
            let ord = if sens {
                level(&a).zip(level(e)).map(|(x, y)| x.cmp(&y))
            } else {
                match (&a, e) {
                    (Value::Number(x), Value::Number(y)) => num_cmp(x, y),
                    _ => None,
                }
            };
            opt(ord.map(|o| match c.operator {
                Operator::Lt => o.is_lt(),
                Operator::Lte => o.is_le(),
                Operator::Gt => o.is_gt(),
                _ => o.is_ge(),
            }))
        }
        Operator::In | Operator::NotIn => {
            let Some(list) = e.as_array() else {
                return T::Unknown;
            };
            if c.field == Field::Builtin(Builtin::DataTypes) {
                let items = a.as_array().cloned().unwrap_or_default();
                let listed = |x: &Value| list.iter().any(|y| y.is_string() && y == x);
                return t(if c.operator == Operator::In {
                    items.iter().all(listed)
                } else {
                    !items.iter().any(listed)
                });
            }
            let results: Vec<Option<bool>> = list.iter().map(|x| eq(&c.field, &a, x)).collect();
            opt(any(&results).map(|b| if c.operator == Operator::In { b } else { !b }))
        }
        Operator::Contains => match (&a, e) {
            _ if sens => T::Unknown,
            (Value::String(x), Value::String(y)) => t(x.contains(y.as_str())),
            (Value::String(_), _) => T::Unknown,
            (Value::Array(items), _) if c.field == Field::Builtin(Builtin::DataTypes) => {
                if e.is_string() {
                    t(items.contains(e))
                } else {
                    T::Unknown
                }
            }
            (Value::Array(items), _) => {
                let rs: Vec<Option<bool>> = items.iter().map(|x| eq(&c.field, x, e)).collect();
                opt(any(&rs))
            }
            _ => T::Unknown,
        },
        Operator::StartsWith | Operator::EndsWith => match (&a, e) {
            (Value::String(x), Value::String(y)) if !sens => {
                t(if c.operator == Operator::StartsWith {
                    x.starts_with(y.as_str())
                } else {
                    x.ends_with(y.as_str())
                })
            }
            _ => T::Unknown,
        },
        Operator::Matches => match (&a, e) {
            (Value::String(x), Value::String(p)) if !sens => {
                match compile_regex(p, usize::MAX >> 8) {
                    Ok(r) => t(r.is_match(x)),
                    Err(_) => T::Unknown,
                }
            }
            _ => T::Unknown,
        },
        Operator::Exists | Operator::NotExists => T::Unknown,
    }
}
