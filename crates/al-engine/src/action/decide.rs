//! The policy step of the action pipeline: evaluate as the agent and, for
//! a delegated child, as each delegator up the chain.

use al_policy::{ActionRequest, Agent, ConditionEvaluated};

use crate::records::{ActionStatus, DenialReason};
use crate::state::Org;

/// The decision before anything is written.
pub(crate) struct Decided {
    pub status: ActionStatus,
    pub denial_reason: Option<DenialReason>,
    /// Index of the deciding policy in the org's set.
    pub policy: Option<usize>,
    pub decided_as: Option<u32>,
    pub conditions: Vec<ConditionEvaluated>,
}

impl Decided {
    pub(crate) fn refused(r: DenialReason) -> Decided {
        Decided {
            status: ActionStatus::Denied,
            denial_reason: Some(r),
            policy: None,
            decided_as: None,
            conditions: Vec::new(),
        }
    }
}

fn rank(s: ActionStatus) -> u8 {
    match s {
        ActionStatus::Executed => 0,
        ActionStatus::Requested => 1,
        ActionStatus::Denied | ActionStatus::PolicyNotFound => 2,
    }
}

/// Evaluate as the agent and, for a delegated child, as each delegator up
/// the chain: a child never gets more than its parent would, so the first
/// more restrictive answer decides. `conditions_evaluated` comes from the
/// deciding evaluation itself (`PolicySet::evaluate_with_conditions`: no
/// second pass, no allocation when the deciding policy has no conditions).
pub(crate) fn evaluate(org: &Org, agent: u32, req: &ActionRequest) -> Decided {
    let one = |who: u32,
               conditions: &mut Vec<ConditionEvaluated>|
     -> Option<(ActionStatus, Option<DenialReason>, Option<usize>)> {
        let a = org.agent(who)?;
        let d = org.set.evaluate_with_conditions(
            req,
            &Agent {
                id: &a.id,
                name: &a.name,
            },
            conditions,
        );
        let idx = d.policy.and_then(|p| {
            org.set
                .policies()
                .binary_search_by(|q| q.name().cmp(p.name()))
                .ok()
        });
        Some((
            ActionStatus::from_policy(d.status),
            d.denial_reason.map(DenialReason::from_policy),
            idx,
        ))
    };
    let mut conditions = Vec::new();
    let Some((mut status, mut reason, mut policy)) = one(agent, &mut conditions) else {
        return Decided::refused(DenialReason::PolicyDenied);
    };
    let mut decided_as = None;
    let mut cur = org.agent(agent).and_then(|a| a.delegation);
    while let Some(di) = cur {
        let Some(d) = org.delegation(di) else { break };
        if rank(status) == 2 {
            break;
        }
        let mut theirs = Vec::new();
        if let Some((s, r, p)) = one(d.parent, &mut theirs)
            && rank(s) > rank(status)
        {
            (status, reason, policy, decided_as) = (s, r, p, Some(d.parent));
            conditions = theirs;
        }
        cur = d.parent_delegation;
    }
    Decided {
        status,
        denial_reason: reason,
        policy,
        decided_as,
        conditions,
    }
}
