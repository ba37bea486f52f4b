//! Workload scenarios and the quality table (feature `testing`, not part of
//! the stable API).
//!
//! A scenario (`testdata/breaker/*.yaml`, format in that directory's
//! README) describes an agent's workload as phases of generated actions: a
//! deterministic generator (SplitMix64, and only `+ − × ÷` so every
//! platform generates the same actions) drives a breaker with the default
//! configuration through each seed. The runs are summarised per scenario
//! into the quality table printed in the crate README and in `perf-report`:
//! the highest state after calibration, the share of attempts throttled or
//! denied, the transitions per day, and, for attacks, how soon WARN,
//! THROTTLE and HALT came.
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

mod generate;
mod table;

use serde::Deserialize;

use crate::State;
pub use generate::{Run, run};
pub use table::{Row, evaluate, table};

/// A scenario file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Its name (the table's row).
    pub name: String,
    /// What the scenario is; sets the targets it is held to.
    pub class: Class,
    /// One run per seed.
    pub seeds: Vec<u64>,
    /// The agent's normal daytime rate, actions per minute.
    pub rate_per_min: f64,
    /// The agent's rhythm in every phase.
    #[serde(default)]
    pub workload: Workload,
    /// Run in order; the first should cover calibration (7 days).
    pub phases: Vec<Phase>,
    /// Extra per-phase expectations.
    #[serde(default)]
    pub expect: Vec<Expect>,
}

/// What a scenario is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Legitimate work: never THROTTLE, nothing throttled or denied.
    Legitimate,
    /// An attack from its first attack phase: WARN within a day.
    Attack,
    /// A slow legitimate-looking drift: reported (WARN) and explained.
    Drift,
}

/// The agent's daily and weekly rhythm (UTC).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Workload {
    /// Every day: 08–18 at the full rate, 06–08 and 18–23 at a third, nights
    /// at a tenth.
    #[default]
    Daily,
    /// Weekdays 08–18 at the full rate and a trickle (2 %) at night;
    /// weekends silent.
    OfficeHours,
    /// A trickle all day (a fifth of the rate, at most 1 a minute) and a
    /// 20-minute burst of 15 a minute at 02:00 every night, whose actions
    /// touch ten times the records.
    NightlyBatch,
}

/// A phase: a kind of behaviour for a number of actions or days.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    /// The behaviour; an unknown kind is an error, never silently calm.
    pub kind: Kind,
    /// Length in attempts.
    #[serde(default)]
    pub actions: Option<u64>,
    /// Length in simulated days.
    #[serde(default)]
    pub days: Option<f64>,
    /// Rate multiplier (`runaway`, `lull`), or growth factor over the phase
    /// (`growth`).
    #[serde(default)]
    pub multiplier: Option<f64>,
    /// Data per action multiplies by this every day (`data_drift`).
    #[serde(default)]
    pub per_day: Option<f64>,
    /// A new action type every this many days (`new_types`).
    #[serde(default)]
    pub every_days: Option<f64>,
}

/// Behaviours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The workload as it is.
    Calm,
    /// The rate grows linearly to `multiplier` times by the phase's end.
    Growth,
    /// New (allowed) action types appear every `every_days` and are used
    /// like the others.
    NewTypes,
    /// The rate drops to `multiplier` (a holiday).
    Lull,
    /// Data per action grows by `per_day` every day.
    DataDrift,
    /// The workload at `multiplier` times the rate, ignoring `429`s.
    Runaway,
    /// Half the actions of unseen types, denials climbing from 2 % to 95 %.
    Prober,
    /// The usual rate and types, but one action in five is an unseen type
    /// that is denied.
    LowSlowProber,
    /// Off-hours (03:00) bulk reads of 20 000–25 000 records.
    Exfiltration,
    /// Nine actions in ten create a delegation.
    DelegationStorm,
}

impl Kind {
    fn is_attack(self) -> bool {
        matches!(
            self,
            Kind::Runaway
                | Kind::Prober
                | Kind::LowSlowProber
                | Kind::Exfiltration
                | Kind::DelegationStorm
        )
    }
}

/// A per-phase expectation.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Phase index.
    pub phase: usize,
    /// The highest state allowed during the phase.
    #[serde(default)]
    pub never_above: Option<State>,
    /// A state (or higher) the phase must reach…
    #[serde(default)]
    pub reaches: Option<State>,
    /// …within this many attempts of its start.
    #[serde(default)]
    pub within: Option<u64>,
}
