//! Explanations: the deciding policy's conditions with actual values, every
//! other matching policy with why it lost, and one sentence for people.

use serde::Serialize;

use super::{Agent, CompiledPolicy, Decision, DenialReason, PolicyRef, PolicySet, Status};
use crate::cond::{Truth, Unknown, resolve};
use crate::model::Effect;
use crate::request::ActionRequest;

/// Where a matching policy stands relative to the decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchRole {
    /// It decided.
    Decided,
    /// A more specific pattern decided.
    LessSpecific,
    /// Equally specific, but an agent-limited policy for this agent decided.
    AgentLimitedWins,
    /// Equally specific, but a more restrictive effect decided.
    LessRestrictive,
    /// Same specificity and effect; another policy's outcome was at least as
    /// restrictive and its name sorts first.
    TieBroken,
    /// A `deny` or `require_approval` policy whose conditions did not hold,
    /// so it did not apply.
    NotApplicable,
}

/// A policy that matched the action type, and what became of it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MatchedPolicy {
    /// Name.
    pub name: String,
    /// Pattern as written.
    pub action_type: String,
    /// Effect.
    pub effect: Effect,
    /// Limited to certain agents.
    pub agent_limited: bool,
    /// Role in the decision.
    pub role: MatchRole,
}

/// One entry of `conditions_evaluated`, exactly as the SDK parses it.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct ConditionEvaluated {
    /// Field as written.
    pub field: String,
    /// Operator wire name.
    pub operator: String,
    /// Expected value as written (`null` for `exists`/`not_exists`).
    pub expected: serde_json::Value,
    /// `true` only when the condition holds.
    pub result: bool,
}

/// Diagnostics for one condition, beyond the SDK's four fields.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConditionTrace {
    /// Field as written.
    pub field: String,
    /// Operator.
    pub operator: String,
    /// The request's value, if present.
    pub actual: Option<serde_json::Value>,
    /// Why it could not be decided, if so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown: Option<Unknown>,
}

/// A decision with everything that explains it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Explanation {
    /// Outcome.
    pub status: Status,
    /// Set when denied.
    pub denial_reason: Option<DenialReason>,
    /// The deciding policy.
    pub policy: Option<PolicyRef>,
    /// The deciding policy's conditions, in order.
    pub conditions_evaluated: Vec<ConditionEvaluated>,
    /// Per-condition diagnostics (actual values, missing fields, type mismatches).
    pub condition_traces: Vec<ConditionTrace>,
    /// Every enabled policy whose pattern matched, most specific first.
    pub matched: Vec<MatchedPolicy>,
    /// One sentence for people.
    pub reason: String,
}

impl PolicySet {
    /// Decide and explain: the deciding policy, its conditions with actual
    /// values, and every other matching policy with why it lost. Allocates.
    pub fn explain(&self, req: &ActionRequest, agent: &Agent<'_>) -> Explanation {
        let d = self.evaluate(req, agent);
        // Every group that can match, in decision order: (bucket number, agent-limited, members).
        let mut groups: Vec<(usize, bool, &[u32])> = Vec::new();
        for (b, bucket) in self.buckets(req.action_type()).enumerate() {
            if let Some(g) = bucket.limited.get(agent.id) {
                groups.push((b, true, g));
            }
            groups.push((b, false, &bucket.org));
        }
        let decider = d.policy.map(CompiledPolicy::name);
        let position = groups.iter().position(|(_, _, g)| {
            g.iter()
                .any(|&i| self.policy(i).map(CompiledPolicy::name) == decider && decider.is_some())
        });
        let mut matched = Vec::new();
        for (gi, &(b, limited, group)) in groups.iter().enumerate() {
            for &i in group {
                let Some(p) = self.policy(i) else { continue };
                let role = match position {
                    _ if decider == Some(p.name()) => MatchRole::Decided,
                    Some(pos) if gi == pos => {
                        let applies = p.spec.effect.always_applies(!p.conditions.is_empty())
                            || self.truth(p, req, agent) != Truth::False;
                        let decider_rank = d.policy.map_or(0, |q| q.spec.effect.rank());
                        if !applies {
                            MatchRole::NotApplicable
                        } else if p.spec.effect.rank() < decider_rank {
                            MatchRole::LessRestrictive
                        } else {
                            MatchRole::TieBroken
                        }
                    }
                    Some(pos) if gi > pos => {
                        let same_bucket = groups.get(pos).is_some_and(|g| g.0 == b);
                        if same_bucket {
                            MatchRole::AgentLimitedWins
                        } else {
                            MatchRole::LessSpecific
                        }
                    }
                    _ => MatchRole::NotApplicable,
                };
                matched.push(MatchedPolicy {
                    name: p.name().to_owned(),
                    action_type: p.pattern().to_string(),
                    effect: p.effect(),
                    agent_limited: limited,
                    role,
                });
            }
        }
        let (conditions_evaluated, condition_traces) = match d.policy {
            Some(p) => self.trace_conditions(p, req, agent),
            None => (Vec::new(), Vec::new()),
        };
        let reason = reason_text(
            &d,
            req.action_type(),
            &condition_traces,
            &conditions_evaluated,
        );
        Explanation {
            status: d.status,
            denial_reason: d.denial_reason,
            policy: d.policy.map(CompiledPolicy::reference),
            conditions_evaluated,
            condition_traces,
            matched,
            reason,
        }
    }

    fn trace_conditions(
        &self,
        p: &CompiledPolicy,
        req: &ActionRequest,
        agent: &Agent<'_>,
    ) -> (Vec<ConditionEvaluated>, Vec<ConditionTrace>) {
        p.conditions
            .iter()
            .map(|c| {
                let t = c.eval(req, agent);
                let actual = resolve(&c.source.field, req, agent);
                (
                    ConditionEvaluated {
                        field: c.source.field.to_string(),
                        operator: c.source.operator.as_str().to_owned(),
                        expected: c.source.value.clone().unwrap_or(serde_json::Value::Null),
                        result: t == Truth::True,
                    },
                    ConditionTrace {
                        field: c.source.field.to_string(),
                        operator: c.source.operator.as_str().to_owned(),
                        actual: actual.to_json(),
                        unknown: match t {
                            Truth::Unknown(u) => Some(u),
                            _ => None,
                        },
                    },
                )
            })
            .unzip()
    }
}

fn reason_text(
    d: &Decision<'_>,
    action_type: &str,
    traces: &[ConditionTrace],
    evals: &[ConditionEvaluated],
) -> String {
    let Some(p) = d.policy else {
        return format!("no policy matches `{action_type}`: denied by default (fail closed)");
    };
    let failing: Vec<String> = evals
        .iter()
        .zip(traces)
        .filter(|(e, _)| !e.result)
        .map(|(e, t)| match t.unknown {
            Some(Unknown::MissingField) => format!("`{}` is missing", e.field),
            Some(Unknown::TypeMismatch) => {
                format!("`{}` has a type `{}` cannot compare", e.field, e.operator)
            }
            None if e.operator == "exists" => format!("`{}` is missing", e.field),
            None if e.operator == "not_exists" => format!("`{}` is present", e.field),
            None => format!("`{} {} {}` does not hold", e.field, e.operator, e.expected),
        })
        .collect();
    let name = p.name();
    match (d.status, d.denial_reason) {
        (Status::Denied, Some(DenialReason::PolicyTampered)) => {
            format!("policy `{name}` does not match its recorded digest: denied (fail closed)")
        }
        (Status::Denied, Some(DenialReason::ConditionsDenied)) => {
            format!(
                "policy `{name}` allows only when its conditions hold: {}",
                failing.join("; ")
            )
        }
        (Status::Denied, _) if failing.is_empty() => format!("denied by policy `{name}`"),
        (Status::Denied, _) => format!(
            "denied by policy `{name}`: its conditions could not be ruled out ({})",
            failing.join("; ")
        ),
        (Status::Requested, _) if p.effect() == Effect::Conditional => format!(
            "policy `{name}` needs approval because a condition failed: {}",
            failing.join("; ")
        ),
        (Status::Requested, _) => format!("policy `{name}` requires approval"),
        (Status::Executed, _) => format!("allowed by policy `{name}`"),
        (Status::PolicyNotFound, _) => format!("no policy matches `{action_type}`"),
    }
}
