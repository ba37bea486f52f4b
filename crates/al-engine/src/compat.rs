//! Conversions between the shared types and the cores' own, while the
//! cores move to `al-types`.

use al_types::Timestamp;

/// `al_types::Timestamp` → the policy crate's timestamp (same
/// milliseconds; both cover years 1–9999, so this is `Some` in practice).
pub(crate) fn policy_ts(t: Timestamp) -> Option<al_policy::Timestamp> {
    al_policy::Timestamp::from_unix_millis(t.unix_millis())
}
