//! Governance events for webhooks, and the HMAC-SHA256 signing helper.
//!
//! The engine returns events in [`Effects`](crate::Effects); the host
//! delivers them. Each is `{event_type, timestamp, org_id, agent_id?, data}`
//! on the wire, the shape the SDK's `GovernanceEvent` parses. Events are
//! produced by the same function that applies records to state, so every
//! event corresponds to a chained entry (`data.audit_event_id` names it);
//! restoring an org replays records without emitting events.

use std::sync::Arc;

use al_breaker::{Confidence, Signal, State};
use al_types::{EntryId, Timestamp};
use hmac::{KeyInit, Mac};
use serde::Serialize;

use crate::records::{ActionStatus, DenialReason, PolicyEvent, RevokeCause, TransitionReason};

/// The seven event types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum EventType {
    /// An action was allowed (also: an approval was approved).
    #[serde(rename = "action.executed")]
    ActionExecuted,
    /// An action was denied or fell through to fail-closed (also: an
    /// approval was denied or timed out).
    #[serde(rename = "action.denied")]
    ActionDenied,
    /// A delegation's lifetime ended (emitted once).
    #[serde(rename = "delegation.expired")]
    DelegationExpired,
    /// A delegation was revoked.
    #[serde(rename = "delegation.revoked")]
    DelegationRevoked,
    /// A policy was added, modified or removed.
    #[serde(rename = "policy.changed")]
    PolicyChanged,
    /// A breaker signal reached the reporting severity.
    #[serde(rename = "anomaly.detected")]
    AnomalyDetected,
    /// A breaker entered HALT or KILLED.
    #[serde(rename = "enforcement.triggered")]
    EnforcementTriggered,
}

impl EventType {
    /// Wire name, e.g. `action.denied`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            EventType::ActionExecuted => "action.executed",
            EventType::ActionDenied => "action.denied",
            EventType::DelegationExpired => "delegation.expired",
            EventType::DelegationRevoked => "delegation.revoked",
            EventType::PolicyChanged => "policy.changed",
            EventType::AnomalyDetected => "anomaly.detected",
            EventType::EnforcementTriggered => "enforcement.triggered",
        }
    }
}

/// The `data` object of an event, by type.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum EventData {
    /// `action.executed` / `action.denied`.
    Action {
        /// The action entry.
        audit_event_id: EntryId,
        /// The action type.
        action_type: String,
        /// The action's status (`requested` when an approval decided it).
        status: ActionStatus,
        /// Why it was denied: a [`DenialReason`] code, or
        /// `DENIED_BY_REVIEWER` / `APPROVAL_TIMED_OUT` for approvals.
        #[serde(skip_serializing_if = "Option::is_none")]
        denial_reason: Option<&'static str>,
        /// The deciding policy.
        #[serde(skip_serializing_if = "Option::is_none")]
        policy_name: Option<String>,
        /// The approval that decided it, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        approval_id: Option<String>,
        /// The approval entry, when an approval decided it.
        #[serde(skip_serializing_if = "Option::is_none")]
        decision_event_id: Option<EntryId>,
    },
    /// `delegation.expired` / `delegation.revoked`.
    Delegation {
        /// The delegation entry.
        audit_event_id: EntryId,
        /// `dlg_…`.
        delegation_id: String,
        /// The delegating agent.
        parent_agent_id: String,
        /// The delegated agent.
        child_agent_id: String,
        /// `revoked`: why.
        #[serde(skip_serializing_if = "Option::is_none")]
        cause: Option<RevokeCause>,
    },
    /// `policy.changed`.
    Policy {
        /// The policy-change entry.
        audit_event_id: EntryId,
        /// Policy name.
        name: String,
        /// Policy id.
        policy_id: String,
        /// `added`, `modified` or `removed`.
        change: PolicyEvent,
        /// Version after the change.
        version: u64,
    },
    /// `anomaly.detected`.
    Anomaly {
        /// The entry whose processing scored it (an action, delegation or outcome).
        audit_event_id: EntryId,
        /// Which signal.
        signal: Signal,
        /// 0–100.
        severity: u8,
        /// `low` while calibrating (reported, never enforced).
        confidence: Confidence,
    },
    /// `enforcement.triggered`.
    Enforcement {
        /// The breaker entry.
        audit_event_id: EntryId,
        /// State before.
        from: State,
        /// `HALT` or `KILLED`.
        to: State,
        /// Why.
        reason: TransitionReason,
        /// The strongest signal, for anomalies.
        #[serde(skip_serializing_if = "Option::is_none")]
        signal: Option<Signal>,
        /// The score that caused it.
        score: u8,
    },
}

/// One governance event.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GovernanceEvent {
    /// Which event.
    pub event_type: EventType,
    /// When (the entry's time).
    pub timestamp: Timestamp,
    /// The org.
    #[serde(serialize_with = "ser_arc_str")]
    pub org_id: Arc<str>,
    /// The agent concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// Details.
    pub data: EventData,
}

fn ser_arc_str<S: serde::Serializer>(s: &Arc<str>, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(s)
}

impl GovernanceEvent {
    /// The event as compact JSON, the body a host delivers and signs.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

pub(crate) fn denial_code(r: Option<DenialReason>) -> Option<&'static str> {
    r.map(DenialReason::code)
}

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Sign a webhook payload: `sha256=` and the lowercase hex of
/// HMAC-SHA256(`secret`, `payload`). Hosts send it in a header (e.g.
/// `X-AL-Signature`) next to the exact bytes signed.
#[must_use]
pub fn sign_payload(secret: &[u8], payload: &[u8]) -> String {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let Ok(mut mac) = <HmacSha256 as KeyInit>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(payload);
    let tag = mac.finalize().into_bytes();
    let mut s = String::with_capacity(71);
    s.push_str("sha256=");
    s.push_str(&hex::encode(tag));
    s
}

/// Check a signature made by [`sign_payload`], in constant time with
/// respect to the expected tag. Accepts the tag with or without the
/// `sha256=` prefix; anything malformed is `false`.
#[must_use]
pub fn verify_signature(secret: &[u8], payload: &[u8], signature: &str) -> bool {
    let hex_tag = signature.strip_prefix("sha256=").unwrap_or(signature);
    let mut tag = [0u8; 32];
    if hex_tag.len() != 64 || hex::decode_to_slice(hex_tag, &mut tag).is_err() {
        return false;
    }
    let Ok(mut mac) = <HmacSha256 as KeyInit>::new_from_slice(secret) else {
        return false;
    };
    mac.update(payload);
    // `verify_slice` compares in constant time (the `subtle` crate).
    mac.verify_slice(&tag).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        // RFC 4231 §4.3: key "Jefe", data "what do ya want for nothing?".
        let sig = sign_payload(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            sig,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(verify_signature(
            b"Jefe",
            b"what do ya want for nothing?",
            &sig
        ));
        assert!(verify_signature(
            b"Jefe",
            b"what do ya want for nothing?",
            &sig[7..]
        ));
        assert!(!verify_signature(
            b"Jefe",
            b"what do ya want for nothing!",
            &sig
        ));
        assert!(!verify_signature(
            b"Jeff",
            b"what do ya want for nothing?",
            &sig
        ));
        assert!(!verify_signature(b"Jefe", b"x", "sha256=zz"));
        let mut flipped = sig.clone();
        flipped.replace_range(70.., "2");
        assert!(!verify_signature(
            b"Jefe",
            b"what do ya want for nothing?",
            &flipped
        ));
    }
}
