//! The bounded accumulator that builds the [`SimulationReport`] while the
//! log streams by: the decision matrices (overall, per policy, per agent),
//! the held counts and the kept examples.

use std::collections::BTreeMap;

use al_types::{Digest, Timestamp};

use super::report::*;

/// Counts per (old, new) decision.
pub(crate) type Matrix = [[u64; 4]; 4];

fn changed_cells(m: &Matrix) -> (u64, Vec<Cell>) {
    let mut total = 0;
    let mut cells = Vec::new();
    for (i, row) in m.iter().enumerate() {
        for (j, &count) in row.iter().enumerate() {
            if i != j && count > 0 {
                total += count;
                cells.extend(cell(i, j, count));
            }
        }
    }
    (total, cells)
}

fn cell(i: usize, j: usize, count: u64) -> Option<Cell> {
    Some(Cell {
        from: *STATUSES.get(i)?,
        to: *STATUSES.get(j)?,
        count,
    })
}

/// Matrices keyed by policy name, plus one for "no policy". Keys are
/// bounded by the policies of the manifests and of the log.
#[derive(Debug, Default)]
pub(crate) struct ByPolicy {
    named: BTreeMap<String, Matrix>,
    none: Matrix,
}

impl ByPolicy {
    pub(crate) fn add(&mut self, policy: Option<&str>, i: usize, j: usize) {
        let m = match policy {
            None => &mut self.none,
            Some(p) => {
                if !self.named.contains_key(p) {
                    self.named.insert(p.to_owned(), Matrix::default());
                }
                match self.named.get_mut(p) {
                    Some(m) => m,
                    None => return,
                }
            }
        };
        if let Some(c) = m.get_mut(i).and_then(|r| r.get_mut(j)) {
            *c += 1;
        }
    }

    fn finish(self) -> Vec<PolicyChanges> {
        let none = changed_cells(&self.none);
        let mut out: Vec<PolicyChanges> = (none.0 > 0)
            .then_some(PolicyChanges {
                policy: None,
                changed: none.0,
                transitions: none.1,
            })
            .into_iter()
            .chain(self.named.into_iter().filter_map(|(name, m)| {
                let (changed, transitions) = changed_cells(&m);
                (changed > 0).then_some(PolicyChanges {
                    policy: Some(name),
                    changed,
                    transitions,
                })
            }))
            .collect();
        // Most changes first; ties by name (`null` first), so the order is total.
        out.sort_by(|a, b| b.changed.cmp(&a.changed).then(a.policy.cmp(&b.policy)));
        out
    }
}

/// Everything the report needs, kept in memory bounded by the number of
/// agents and policies and by `examples_per_cell`, never by the log length.
#[derive(Debug, Default)]
pub(crate) struct Acc {
    pub matrix: Matrix,
    pub examples: [[Vec<Example>; 4]; 4],
    pub fates: [[ApprovalFates; 4]; 4],
    pub by_old: ByPolicy,
    pub by_new: ByPolicy,
    pub held: [(u64, Vec<HeldExample>); 4],
    pub totals: Totals,
    /// Changed decisions per agent, by the agent's `tally` index.
    pub by_agent: Vec<Matrix>,
    pub first_action_at: Option<Timestamp>,
    pub last_action_at: Option<Timestamp>,
}

impl Acc {
    /// A row for a newly registered agent; its index.
    pub(crate) fn new_agent(&mut self) -> usize {
        self.by_agent.push(Matrix::default());
        self.by_agent.len() - 1
    }

    /// Count a changed decision of the agent whose row is `agent`.
    pub(crate) fn add_agent(&mut self, agent: usize, i: usize, j: usize) {
        if let Some(c) = self
            .by_agent
            .get_mut(agent)
            .and_then(|m| m.get_mut(i))
            .and_then(|r| r.get_mut(j))
        {
            *c += 1;
        }
    }

    /// Count a held entry; `example` builds its example only when one is kept.
    pub(crate) fn hold(
        &mut self,
        reason: HeldReason,
        keep: usize,
        example: impl FnOnce() -> HeldExample,
    ) {
        self.totals.held += 1;
        if let Some((n, ex)) = self.held.get_mut(reason.idx()) {
            *n += 1;
            if ex.len() < keep {
                ex.push(example());
            }
        }
    }

    /// The report; `by_agent` is each agent's changes matrix (kept with
    /// the agent, which the simulator looks up anyway).
    pub(crate) fn finish(
        self,
        head: ReportHead,
        by_agent: Vec<(&str, Matrix)>,
    ) -> SimulationReport {
        let mut matrix = Vec::new();
        let mut changes = Vec::new();
        for (i, (row, (ex_row, fate_row))) in self
            .matrix
            .iter()
            .zip(self.examples.into_iter().zip(self.fates))
            .enumerate()
        {
            for (j, ((&count, examples), fates)) in row.iter().zip(ex_row).zip(fate_row).enumerate()
            {
                if count == 0 {
                    continue;
                }
                let Some(c) = cell(i, j, count) else { continue };
                matrix.push(c);
                if i != j {
                    changes.push(Change {
                        from: c.from,
                        to: c.to,
                        count,
                        approvals: (fates.total() > 0).then_some(fates),
                        examples,
                    });
                }
            }
        }
        let mut by_agent: Vec<AgentChanges> = by_agent
            .into_iter()
            .filter_map(|(agent_id, m)| {
                let (changed, transitions) = changed_cells(&m);
                (changed > 0).then(|| AgentChanges {
                    agent_id: agent_id.to_owned(),
                    changed,
                    transitions,
                })
            })
            .collect();
        by_agent.sort_by(|a, b| b.changed.cmp(&a.changed).then(a.agent_id.cmp(&b.agent_id)));
        let held = HeldReason::ALL
            .into_iter()
            .zip(self.held)
            .filter(|(_, (n, _))| *n > 0)
            .map(|(reason, (count, examples))| Held {
                reason,
                count,
                examples,
            })
            .collect();
        SimulationReport {
            report_version: REPORT_VERSION,
            org_id: head.org_id,
            compared_with: head.compared_with,
            new_set_digest: head.new_set_digest,
            baseline_set_digest: head.baseline_set_digest,
            window: Window {
                since: head.since,
                until: head.until,
                agent_id: head.agent_id,
                first_action_at: self.first_action_at,
                last_action_at: self.last_action_at,
            },
            log: head.log,
            totals: self.totals,
            matrix,
            changes,
            by_old_policy: self.by_old.finish(),
            by_new_policy: self.by_new.finish(),
            by_agent,
            held,
            throttled: head.throttled,
        }
    }
}

/// The parts of the report that do not come from the accumulator.
pub(crate) struct ReportHead {
    pub org_id: Option<String>,
    pub compared_with: Comparison,
    pub new_set_digest: Digest,
    pub baseline_set_digest: Option<Digest>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub agent_id: Option<String>,
    pub log: LogSummary,
    pub throttled: Vec<ThrottledAgent>,
}
