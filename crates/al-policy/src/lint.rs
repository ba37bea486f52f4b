//! Warnings for manifests that are valid but probably wrong.
//!
//! | code | when |
//! |---|---|
//! | `SHADOWED` | an equally specific policy with the same or wider agent scope always applies and is more restrictive (or is an identical duplicate that sorts first), so this one never decides |
//! | `CONFLICT` | equally specific policies over overlapping agents have different effects; the most restrictive wins where both apply |
//! | `NEVER_HOLDS` | a condition can never be true (`lt` against a string, a number against `@agent.id`, `@time.hour` outside 0–23, an empty `in` list, a regex that matches nothing) |
//! | `ALLOW_ALL` | `allow` on `*` lets through every action no other policy catches |
//! | `DISABLED` | the policy is disabled |
//! | `TAMPERED` | the content does not match the recorded `digest` |
//!
//! Pairwise checks run within groups of policies that share a pattern; a
//! group of more than 2 000 policies is not checked pairwise (it would cost
//! quadratic time).

use rustc_hash::FxHashMap;
use serde_json::Value;

use crate::canonical::policy_digest;
use crate::error::{Code, Diagnostic};
use crate::manifest::Manifest;
use crate::manifest::fact_kind;
use crate::model::{Builtin, Condition, Effect, FactKind, Field, Operator, Pattern, PolicySpec};

/// Largest group of same-pattern policies checked pairwise.
const MAX_PAIRWISE_GROUP: usize = 2000;

/// Lint a manifest. Warnings come sorted by location, then policy.
#[must_use]
pub fn lint(manifest: &Manifest) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (i, p) in manifest.policies().iter().enumerate() {
        let span = manifest.span(i);
        let path = format!("policies[{i}]");
        let warn = |code, sub: &str, loc, msg: String| {
            let path = if sub.is_empty() {
                path.clone()
            } else {
                format!("{path}.{sub}")
            };
            Diagnostic::new(code, path, msg)
                .at(loc)
                .policy(Some(&p.name))
        };
        if p.digest.is_some_and(|d| d != policy_digest(p)) {
            out.push(warn(
                Code::Tampered,
                "digest",
                span.policy,
                format!("content of `{}` does not match its recorded digest; actions it governs are denied", p.name),
            ));
        }
        if !p.enabled {
            out.push(warn(
                Code::Disabled,
                "enabled",
                span.policy,
                format!("policy `{}` is disabled and never decides", p.name),
            ));
            continue;
        }
        if p.effect == Effect::Allow && p.action_type == Pattern::Any && p.agents.is_none() {
            out.push(warn(
                Code::AllowAll,
                "action_type",
                span.action_type,
                "`allow` on `*` lets through every action that no more specific policy catches"
                    .into(),
            ));
        }
        for (ci, c) in p.conditions.iter().enumerate() {
            if let Some(why) = never_holds(c) {
                out.push(warn(
                    Code::NeverHolds,
                    &format!("conditions[{ci}]"),
                    span.conditions.get(ci).copied().flatten(),
                    format!("condition on `{}` can never hold: {why}", c.field),
                ));
            }
        }
    }
    pairwise(manifest, &mut out);
    out.sort_by(|a, b| {
        a.location
            .cmp(&b.location)
            .then_with(|| a.policy.cmp(&b.policy))
    });
    out
}

fn never_holds(c: &Condition) -> Option<String> {
    let kind = fact_kind(&c.field);
    let v = c.value.as_ref();
    let op = c.operator;
    if op.is_ordering()
        && let Some(Value::String(_)) = v
        && kind != Some(FactKind::Sensitivity)
    {
        return Some(format!(
            "`{op}` compares numbers, and the value is a string"
        ));
    }
    match (kind, v) {
        (Some(FactKind::String), Some(Value::Number(_) | Value::Bool(_) | Value::Null))
            if matches!(
                op,
                Operator::Eq | Operator::Lt | Operator::Lte | Operator::Gt | Operator::Gte
            ) =>
        {
            return Some("the fact is a string".into());
        }
        (Some(FactKind::Integer), Some(Value::String(_) | Value::Bool(_) | Value::Null))
            if op == Operator::Eq =>
        {
            return Some("the fact is a number".into());
        }
        (Some(FactKind::Integer), _)
            if matches!(
                op,
                Operator::Contains | Operator::StartsWith | Operator::EndsWith | Operator::Matches
            ) =>
        {
            return Some(format!("the fact is a number, and `{op}` needs a string"));
        }
        _ => {}
    }
    let range = match c.field {
        Field::Builtin(Builtin::TimeHour) => Some((0i32, 23i32)),
        Field::Builtin(Builtin::TimeWeekday) => Some((1, 7)),
        _ => None,
    };
    if let (Some((lo, hi)), Some(Value::Number(n))) = (range, v) {
        let x = n.as_f64().unwrap_or(f64::NAN);
        let (lo_f, hi_f) = (f64::from(lo), f64::from(hi));
        let never = match op {
            Operator::Eq => n
                .as_i64()
                .is_none_or(|x| x < i64::from(lo) || x > i64::from(hi)),
            Operator::Gt => x >= hi_f,
            Operator::Gte => x > hi_f,
            Operator::Lt => x <= lo_f,
            Operator::Lte => x < lo_f,
            _ => false,
        };
        if never {
            return Some(format!("`{}` is between {lo} and {hi}", c.field));
        }
    }
    if op == Operator::In && matches!(v, Some(Value::Array(a)) if a.is_empty()) {
        return Some("the `in` list is empty".into());
    }
    if let (Operator::Matches, Some(Value::String(re))) = (op, v)
        && let Ok(hir) = regex_syntax::Parser::new().parse(re)
        && hir.properties().minimum_len().is_none()
    {
        return Some(format!(
            "regex `{}` matches nothing",
            crate::manifest::truncate(re)
        ));
    }
    None
}

fn covers(q: &PolicySpec, p: &PolicySpec) -> bool {
    match (&q.agents, &p.agents) {
        (None, None) => true,
        (Some(qa), Some(pa)) => pa.iter().all(|a| qa.binary_search(a).is_ok()),
        _ => false,
    }
}

fn overlaps(q: &PolicySpec, p: &PolicySpec) -> bool {
    match (&q.agents, &p.agents) {
        (None, None) => true,
        (Some(qa), Some(pa)) => pa.iter().any(|a| qa.binary_search(a).is_ok()),
        _ => false,
    }
}

fn pairwise(m: &Manifest, out: &mut Vec<Diagnostic>) {
    let mut groups: FxHashMap<&Pattern, Vec<usize>> = FxHashMap::default();
    for (i, p) in m.policies().iter().enumerate() {
        if p.enabled {
            groups.entry(&p.action_type).or_default().push(i);
        }
    }
    let mut groups: Vec<(&Pattern, Vec<usize>)> = groups.into_iter().collect();
    groups.sort_by(|a, b| a.0.cmp(b.0));
    for (_, idx) in groups {
        if idx.len() < 2 || idx.len() > MAX_PAIRWISE_GROUP {
            continue;
        }
        // One shadowing scan per policy, reused by the conflict check below.
        let shadows: Vec<(usize, Option<&PolicySpec>)> =
            idx.iter().map(|&pi| (pi, shadower(m, &idx, pi))).collect();
        let shadowed: Vec<usize> = shadows
            .iter()
            .filter(|(_, q)| q.is_some())
            .map(|(pi, _)| *pi)
            .collect();
        for &(pi, shadow) in &shadows {
            let Some(p) = m.policies().get(pi) else {
                continue;
            };
            let span = m.span(pi);
            if let Some(q) = shadow {
                out.push(
                    Diagnostic::new(
                        Code::Shadowed,
                        format!("policies[{pi}]"),
                        format!(
                            "policy `{}` never decides: `{}` ({}) matches the same actions and always applies",
                            p.name, q.name, q.effect
                        ),
                    )
                    .at(span.policy)
                    .policy(Some(&p.name)),
                );
                continue;
            }
            for &qi in &idx {
                let Some(q) = m.policies().get(qi) else {
                    continue;
                };
                let live = !shadowed.contains(&pi) && !shadowed.contains(&qi);
                if live && qi > pi && q.effect != p.effect && overlaps(q, p) {
                    let (hi, lo) = if q.effect.rank() > p.effect.rank() {
                        (q, p)
                    } else {
                        (p, q)
                    };
                    out.push(
                        Diagnostic::new(
                            Code::Conflict,
                            format!("policies[{pi}]"),
                            format!(
                                "policies `{}` ({}) and `{}` ({}) are equally specific for `{}`; `{}` wins where both apply",
                                p.name, p.effect, q.name, q.effect, p.action_type, hi.effect
                            ),
                        )
                        .at(span.policy)
                        .policy(Some(&lo.name)),
                    );
                }
            }
        }
    }
}

/// The policy that makes `pi` never decide, if any.
fn shadower<'m>(m: &'m Manifest, idx: &[usize], pi: usize) -> Option<&'m PolicySpec> {
    let p = m.policies().get(pi)?;
    idx.iter().filter(|&&qi| qi != pi).find_map(|&qi| {
        let q = m.policies().get(qi)?;
        let always = q.effect.always_applies(!q.conditions.is_empty());
        let stronger = q.effect.rank() > p.effect.rank()
            || (q.effect == p.effect && q.conditions == p.conditions && q.name < p.name);
        (covers(q, p) && always && stronger).then_some(q)
    })
}
