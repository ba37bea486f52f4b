//! What a call caused, as plain data.

use al_types::Timestamp;

use crate::types::{Anomaly, Confidence, Drift, SIGNALS, Transition};

/// What a call caused: the state changes (at most two) and one anomaly per
/// signal at or above `report_severity`. Fixed size and compact (anomalies
/// are kept as one severity per signal and built on iteration), so
/// producing it never allocates and copies little.
#[derive(Clone, Copy, Debug, PartialEq)]
#[must_use]
pub struct Effects {
    transitions: [Option<Transition>; 2],
    pub(crate) severities: [u8; SIGNALS.len()],
    pub(crate) low_confidence: bool,
    pub(crate) drift: Option<Drift>,
    at: Timestamp,
    /// The combined score of what was scored (0–100; 0 when nothing was).
    pub score: u8,
    /// `now` was earlier than the latest time the breaker had seen; it was
    /// treated as that time.
    pub clock_regressed: bool,
}

impl Effects {
    pub(crate) fn new(at: Timestamp, clock_regressed: bool) -> Effects {
        Effects {
            transitions: [None; 2],
            severities: [0; SIGNALS.len()],
            low_confidence: false,
            drift: None,
            at,
            score: 0,
            clock_regressed,
        }
    }

    /// State changes, in order. Every one belongs in the audit chain.
    pub fn transitions(&self) -> impl Iterator<Item = &Transition> {
        self.transitions.iter().flatten()
    }

    /// `anomaly.detected` events, one per signal at or above the report
    /// severity, in signal order.
    pub fn anomalies(&self) -> impl Iterator<Item = Anomaly> + '_ {
        let confidence = if self.low_confidence {
            Confidence::Low
        } else {
            Confidence::High
        };
        self.severities
            .iter()
            .zip(SIGNALS)
            .filter(|(s, _)| **s > 0)
            .map(move |(s, signal)| Anomaly {
                signal,
                severity: *s,
                confidence,
                at: self.at,
            })
    }

    /// The explanation of the `baseline_drift` signal, when it was scored
    /// (a transition whose reason is `Anomaly(BaselineDrift)` always has
    /// one): `data per action ×8.2 since calibration on 2025-12-05`.
    #[must_use]
    pub fn drift(&self) -> Option<Drift> {
        self.drift
    }

    /// When the call took effect: its `now`, or the latest time the breaker
    /// had seen if `now` ran backwards.
    #[must_use]
    pub fn at(&self) -> Timestamp {
        self.at
    }

    /// Nothing happened: no transition and no anomaly.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.transitions().next().is_none() && self.severities.iter().all(|s| *s == 0)
    }

    pub(crate) fn push_transition(&mut self, t: Transition) {
        if let Some(slot) = self.transitions.iter_mut().find(|s| s.is_none()) {
            *slot = Some(t);
        }
    }
}
