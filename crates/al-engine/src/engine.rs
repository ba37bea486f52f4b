//! The engine: orgs, the key index, and the plumbing every operation shares
//! (authenticate, commit records, settle, timers).
//!
//! Why one file (about 600 lines): the `Engine` type and the plumbing every
//! operation shares (authenticate, commit, settle, timers, bootstrap); the
//! operations themselves live in one file per family (`action/`,
//! `agents.rs`, `approvals.rs`, `delegations.rs`, `policies.rs`, …).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use al_types::{Digest, EntryId, SeededMap, SeededState, Timestamp};

use crate::config::EngineConfig;
use crate::error::EngineError;
use crate::events::GovernanceEvent;
use crate::keys::{ApiKey, Entropy, KeyKind};
use crate::records::{KeyEvent, KeyRecord, Record};
use crate::state::{Admitted, KeyChange, Meta, Org, Who};
use crate::wire::{OrgCreated, ServiceKeyIssued};

/// One sealed audit entry the host must persist, in order, before it
/// answers: the canonical bytes alone rebuild the org (see
/// [`Engine::restore_org`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedEntry {
    /// The org whose chain it extends.
    pub org_id: Arc<str>,
    /// 1-based row.
    pub row: u64,
    /// `evt_…`.
    pub id: EntryId,
    /// The previous entry's hash (zero for row 1).
    pub prev_hash: Digest,
    /// This entry's hash.
    pub hash: Digest,
    /// The canonical bytes.
    pub bytes: Vec<u8>,
}

/// What an operation asks the host to do: persist `entries` (in order,
/// before answering) and deliver `events`.
#[derive(Clone, Debug, Default, PartialEq)]
#[must_use]
pub struct Effects {
    /// Sealed entries, in append order.
    pub entries: Vec<SealedEntry>,
    /// Governance events, in the order their entries were appended.
    pub events: Vec<GovernanceEvent>,
}

impl Effects {
    /// Nothing to do.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.events.is_empty()
    }

    /// Move `other`'s effects after these.
    pub fn extend(&mut self, other: Effects) {
        self.entries.extend(other.entries);
        self.events.extend(other.events);
    }
}

/// The governance engine a host embeds. See the crate docs for the
/// operations, the action pipeline and the durability contract.
///
/// Sans-I/O: every operation takes `now`; randomness comes from the
/// caller's [`Entropy`]; effects come back as data. `Engine` is `Send`;
/// orgs are independent, so a host may also run one engine per shard.
#[derive(Clone, Debug)]
pub struct Engine {
    pub(crate) cfg: EngineConfig,
    pub(crate) orgs: Vec<Org>,
    pub(crate) org_by_id: BTreeMap<String, u32>,
    /// SHA-256 of every live key → its org and whom it authenticates
    /// there: one lookup authenticates a call. Kept equal to the union of
    /// the orgs' own indexes (`Org::ix.keys`, the source of truth a
    /// snapshot and a restore rebuild) by [`Engine::settle`]; checked by
    /// [`Engine::check_key_index`].
    pub(crate) keys: SeededMap<Digest, (u32, Who)>,
    /// Each org's earliest timer, ordered: `poll_timeout` in O(log n).
    pub(crate) deadlines: BTreeSet<(Timestamp, u32)>,
    pub(crate) org_deadline: Vec<Option<Timestamp>>,
}

/// An authenticated caller.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Caller {
    pub org: u32,
    pub who: Who,
    pub key_hash: Digest,
}

/// Longest bearer token looked up (longer ones are unknown keys).
const MAX_KEY_BYTES: usize = 256;

impl Engine {
    /// An engine with no orgs.
    #[must_use]
    pub fn new(config: EngineConfig) -> Engine {
        let seed = SeededState::new(config.hash_seed);
        Engine {
            cfg: config,
            orgs: Vec::new(),
            org_by_id: BTreeMap::new(),
            keys: seed.map(),
            deadlines: BTreeSet::new(),
            org_deadline: Vec::new(),
        }
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// Org ids, sorted.
    pub fn org_ids(&self) -> impl Iterator<Item = &str> {
        self.org_by_id.keys().map(String::as_str)
    }

    pub(crate) fn org(&self, i: u32) -> Result<&Org, EngineError> {
        let o = self
            .orgs
            .get(i as usize)
            .ok_or_else(|| EngineError::Internal("unknown org index".into()))?;
        match &o.poisoned {
            Some(m) => Err(EngineError::Internal(m.clone())),
            None => Ok(o),
        }
    }

    pub(crate) fn org_index(&self, org_id: &str) -> Result<u32, EngineError> {
        self.org_by_id
            .get(org_id)
            .copied()
            .ok_or_else(|| EngineError::not_found("org", org_id))
    }

    /// Find the principal of a bearer token. Killed agents are returned
    /// as such; callers decide when that is `403 AGENT_KILLED`.
    pub(crate) fn authenticate(&self, api_key: &str) -> Result<Caller, EngineError> {
        if api_key.is_empty() || api_key.len() > MAX_KEY_BYTES {
            return Err(EngineError::Unauthorized);
        }
        let key_hash = Digest::of(api_key.as_bytes());
        let &(org, who) = self.keys.get(&key_hash).ok_or(EngineError::Unauthorized)?;
        Ok(Caller { org, who, key_hash })
    }

    /// The engine-wide key index equals the union of the orgs' indexes
    /// (what [`Engine::authenticate`]'s single lookup relies on). For tests
    /// and the model harness.
    ///
    /// # Errors
    /// The first disagreement, described.
    pub(crate) fn check_key_index(&self) -> Result<(), String> {
        let mut n = 0usize;
        for (i, o) in self.orgs.iter().enumerate() {
            let i = u32::try_from(i).map_err(|_| "too many orgs".to_owned())?;
            for (h, who) in &o.ix.keys {
                n += 1;
                if self.keys.get(h) != Some(&(i, *who)) {
                    return Err(format!(
                        "key {} of org `{}` is {:?} in the engine index, {who:?} in the org's",
                        crate::keys::fingerprint(h),
                        o.id,
                        self.keys.get(h)
                    ));
                }
            }
        }
        if n != self.keys.len() {
            return Err(format!(
                "the engine index holds {} keys, the orgs {n}",
                self.keys.len()
            ));
        }
        Ok(())
    }

    /// An agent key whose agent is alive.
    pub(crate) fn agent_caller(&self, api_key: &str) -> Result<(Caller, u32), EngineError> {
        let c = self.authenticate(api_key)?;
        let Who::Agent(a) = c.who else {
            return Err(EngineError::AgentKeyRequired);
        };
        self.check_alive(c.org, a)?;
        Ok((c, a))
    }

    /// A service key.
    pub(crate) fn service_caller(&self, api_key: &str) -> Result<Caller, EngineError> {
        let c = self.authenticate(api_key)?;
        match c.who {
            Who::Service => Ok(c),
            Who::Agent(a) => {
                self.check_alive(c.org, a)?;
                Err(EngineError::ServiceKeyRequired)
            }
        }
    }

    /// Any live key: a service key, or an agent that is not killed.
    pub(crate) fn any_caller(&self, api_key: &str) -> Result<Caller, EngineError> {
        let c = self.authenticate(api_key)?;
        if let Who::Agent(a) = c.who {
            self.check_alive(c.org, a)?;
        }
        Ok(c)
    }

    pub(crate) fn check_alive(&self, org: u32, agent: u32) -> Result<(), EngineError> {
        let a = self
            .org(org)?
            .agent(agent)
            .ok_or_else(|| EngineError::Internal("unknown agent index".into()))?;
        if a.breaker.state() == al_breaker::State::Killed {
            return Err(EngineError::AgentKilled {
                agent_id: a.id.clone(),
            });
        }
        Ok(())
    }

    /// A fresh key that no org uses.
    pub(crate) fn mint(
        &self,
        kind: KeyKind,
        entropy: &mut dyn Entropy,
    ) -> Result<ApiKey, EngineError> {
        let k = ApiKey::generate(kind, entropy);
        if self.keys.contains_key(&k.hash()) {
            return Err(EngineError::WeakEntropy);
        }
        Ok(k)
    }

    /// The time an operation on `org` runs at: `now`, or the org's last
    /// entry's time if `now` is earlier (entries never go back in time).
    pub(crate) fn clock(&self, org: u32, now: Timestamp) -> Result<Timestamp, EngineError> {
        Ok(self.org(org)?.st.clock.max(now))
    }

    /// Append `rec` to `org`'s chain and apply it. All records of one
    /// operation go through here, after every check has passed.
    pub(crate) fn commit(
        &mut self,
        org: u32,
        rec: &Record<'_>,
        agent_id: Option<&str>,
        at: Timestamp,
        fx: &mut Effects,
    ) -> Result<u64, EngineError> {
        self.commit_admitted(org, rec, agent_id, at, fx, None)
    }

    /// [`Engine::commit`] of an action record whose breaker admission the
    /// pipeline has already made (see [`Admitted`]).
    pub(crate) fn commit_admitted(
        &mut self,
        org: u32,
        rec: &Record<'_>,
        agent_id: Option<&str>,
        at: Timestamp,
        fx: &mut Effects,
        admitted: Option<Admitted>,
    ) -> Result<u64, EngineError> {
        let cfg = &self.cfg;
        let first = fx.entries.is_empty();
        let o = self
            .orgs
            .get_mut(org as usize)
            .ok_or_else(|| EngineError::Internal("unknown org index".into()))?;
        // The typed path: the record is encoded straight to canonical bytes.
        let sealed = match rec
            .append_to(&mut o.log, agent_id, at)
            .map_err(|e| e.to_string())
            .and_then(|s| sealed_entry(&o.id, &s).ok_or_else(|| "row 0".to_owned()))
        {
            Ok(s) => s,
            Err(e) if first => {
                return Err(EngineError::invalid(
                    "body",
                    format!("cannot be recorded: {e}"),
                ));
            }
            Err(e) => {
                let m = format!("audit append refused mid-operation: {e}");
                o.poisoned = Some(m.clone());
                return Err(EngineError::Internal(m));
            }
        };
        let row = sealed.row;
        let meta = Meta { row, at, agent_id };
        if let Err(d) = o.apply(cfg, &meta, rec, Some(&mut fx.events), admitted) {
            let m = format!("row {row}: a live record did not apply: {}", d.0);
            o.poisoned = Some(m.clone());
            return Err(EngineError::Internal(m));
        }
        fx.entries.push(sealed);
        Ok(row)
    }

    /// After an operation on `org`: publish key changes, recompile
    /// policies if they changed, and keep the timer index in step.
    pub(crate) fn settle(&mut self, org: u32) {
        let Some(o) = self.orgs.get_mut(org as usize) else {
            return;
        };
        for c in o.key_changes.drain(..) {
            match c {
                KeyChange::Add(h, who) => {
                    self.keys.insert(h, (org, who));
                }
                KeyChange::Remove(h) => {
                    self.keys.remove(&h);
                }
            }
        }
        o.refresh_policies(&self.cfg);
        let next = o.next_deadline();
        let slot = self.org_deadline.get_mut(org as usize);
        if let Some(slot) = slot
            && *slot != next
        {
            if let Some(t) = *slot {
                self.deadlines.remove(&(t, org));
            }
            if let Some(t) = next {
                self.deadlines.insert((t, org));
            }
            *slot = next;
        }
    }

    pub(crate) fn add_org(&mut self, org: Org) -> u32 {
        let idx = u32::try_from(self.orgs.len()).unwrap_or(u32::MAX);
        self.org_by_id.insert(org.id.to_string(), idx);
        self.orgs.push(org);
        self.org_deadline.push(None);
        idx
    }

    // ---------------------------------------------------------------- bootstrap

    /// Host bootstrap (no route): create an org with its first service key.
    /// Org ids are 1–64 characters of `[A-Za-z0-9_-]`.
    ///
    /// # Errors
    /// `400 INVALID_REQUEST` for a bad id, `409 ORG_EXISTS`.
    pub fn create_org(
        &mut self,
        now: Timestamp,
        org_id: &str,
        entropy: &mut dyn Entropy,
    ) -> Result<(OrgCreated, Effects), EngineError> {
        check_org_id(org_id)?;
        if self.org_by_id.contains_key(org_id) {
            return Err(EngineError::OrgExists(org_id.to_owned()));
        }
        let key = self.mint(KeyKind::Service, entropy)?;
        let idx = self.add_org(Org::new(org_id, now, &self.cfg).map_err(EngineError::Internal)?);
        let rec = Record::Key(KeyRecord {
            event: KeyEvent::OrgCreated,
            key_kind: KeyKind::Service,
            key_hash: Some(key.hash()),
            revoked_key_hash: None,
            org_id: Some(org_id.into()),
            name: Some("bootstrap".into()),
            description: None,
        });
        let mut fx = Effects::default();
        if let Err(e) = self.commit(idx, &rec, None, now, &mut fx) {
            // Nothing was created: forget the empty org again.
            self.orgs.pop();
            self.org_deadline.pop();
            self.org_by_id.remove(org_id);
            return Err(e);
        }
        self.settle(idx);
        Ok((
            OrgCreated {
                org_id: org_id.to_owned(),
                service_key: key,
                created_at: now,
            },
            fx,
        ))
    }

    /// Host bootstrap: issue another service key for `org_id`.
    ///
    /// # Errors
    /// `404 NOT_FOUND` for an unknown org; `400` for a bad name.
    pub fn issue_service_key(
        &mut self,
        now: Timestamp,
        org_id: &str,
        name: Option<&str>,
        entropy: &mut dyn Entropy,
    ) -> Result<(ServiceKeyIssued, Effects), EngineError> {
        let org = self.org_index(org_id)?;
        if let Some(n) = name {
            crate::body::check_name("name", n, self.cfg.max_name_bytes)?;
        }
        let at = self.clock(org, now)?;
        let key = self.mint(KeyKind::Service, entropy)?;
        let rec = Record::Key(KeyRecord {
            event: KeyEvent::ServiceKeyIssued,
            key_kind: KeyKind::Service,
            key_hash: Some(key.hash()),
            revoked_key_hash: None,
            org_id: None,
            name: name.map(Into::into),
            description: None,
        });
        let mut fx = Effects::default();
        self.commit(org, &rec, None, at, &mut fx)?;
        self.settle(org);
        Ok((
            ServiceKeyIssued {
                org_id: org_id.to_owned(),
                fingerprint: key.fingerprint(),
                service_key: key,
                revoked_fingerprint: None,
                created_at: at,
            },
            fx,
        ))
    }

    /// Rotate a service key: a new key is issued and `service_key` stops
    /// working, in one entry.
    ///
    /// # Errors
    /// `401`, `403 SERVICE_KEY_REQUIRED`.
    pub fn rotate_service_key(
        &mut self,
        now: Timestamp,
        service_key: &str,
        entropy: &mut dyn Entropy,
    ) -> Result<(ServiceKeyIssued, Effects), EngineError> {
        let c = self.service_caller(service_key)?;
        let at = self.clock(c.org, now)?;
        let key = self.mint(KeyKind::Service, entropy)?;
        let rec = Record::Key(KeyRecord {
            event: KeyEvent::ServiceKeyRotated,
            key_kind: KeyKind::Service,
            key_hash: Some(key.hash()),
            revoked_key_hash: Some(c.key_hash),
            org_id: None,
            name: None,
            description: None,
        });
        let mut fx = Effects::default();
        self.commit(c.org, &rec, None, at, &mut fx)?;
        self.settle(c.org);
        let org_id = self.org(c.org)?.id.to_string();
        Ok((
            ServiceKeyIssued {
                org_id,
                fingerprint: key.fingerprint(),
                service_key: key,
                revoked_fingerprint: Some(crate::keys::fingerprint(&c.key_hash)),
                created_at: at,
            },
            fx,
        ))
    }

    /// Revoke the service key with fingerprint `fingerprint` (another
    /// service key of the same org calls; an org keeps at least one).
    ///
    /// # Errors
    /// `401`, `403 SERVICE_KEY_REQUIRED`, `404` for no such key, `409
    /// LIMIT_REACHED` for the org's last service key.
    pub fn revoke_service_key(
        &mut self,
        now: Timestamp,
        service_key: &str,
        fingerprint: &str,
    ) -> Result<Effects, EngineError> {
        let c = self.service_caller(service_key)?;
        let o = self.org(c.org)?;
        let target =
            o.st.service_keys
                .keys()
                .find(|h| crate::keys::fingerprint(h) == fingerprint)
                .copied()
                .ok_or_else(|| EngineError::not_found("service key", fingerprint))?;
        if o.st.service_keys.len() <= 1 {
            return Err(EngineError::LimitReached(
                "an org keeps at least one service key".into(),
            ));
        }
        let at = self.clock(c.org, now)?;
        let rec = Record::Key(KeyRecord {
            event: KeyEvent::ServiceKeyRevoked,
            key_kind: KeyKind::Service,
            key_hash: None,
            revoked_key_hash: Some(target),
            org_id: None,
            name: None,
            description: None,
        });
        let mut fx = Effects::default();
        self.commit(c.org, &rec, None, at, &mut fx)?;
        self.settle(c.org);
        Ok(fx)
    }

    // ---------------------------------------------------------------- timers

    /// The next instant something happens by itself (an approval escalates
    /// or times out, a delegation expires, a breaker's quiet period ends),
    /// across all orgs; `None` when nothing is scheduled. O(1).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.deadlines.first().map(|(t, _)| *t)
    }

    /// Make everything due at `now` happen, in deadline order, and return
    /// what to persist and deliver. Each timer's entry is written at its
    /// deadline (or at the org's last entry time, if that is later), so the
    /// chain says when things happened, not when the host got around to it.
    pub fn handle_timeout(&mut self, now: Timestamp) -> Effects {
        let mut fx = Effects::default();
        while let Some(&(t, org)) = self.deadlines.first() {
            if t > now {
                break;
            }
            // A timer that cannot be handled (a poisoned org) must not spin.
            if self.fire_timers(org, now, &mut fx).is_err() {
                self.deadlines.remove(&(t, org));
                if let Some(s) = self.org_deadline.get_mut(org as usize) {
                    *s = None;
                }
            }
        }
        fx
    }

    /// Test and host support: every sealed entry of an org, oldest first.
    ///
    /// # Errors
    /// `404 NOT_FOUND` for an unknown org.
    pub fn entries(&self, org_id: &str) -> Result<Vec<SealedEntry>, EngineError> {
        let o = self.org(self.org_index(org_id)?)?;
        Ok(o.log
            .records()
            .filter_map(|s| sealed_entry(&o.id, &s))
            .collect())
    }

    /// The time of an org's last entry: operations with an earlier `now`
    /// run at this time.
    ///
    /// # Errors
    /// `404 NOT_FOUND` for an unknown org.
    pub fn org_clock(&self, org_id: &str) -> Result<Timestamp, EngineError> {
        Ok(self.org(self.org_index(org_id)?)?.st.clock)
    }

    /// Host support: the org a service key belongs to, for what a host
    /// keeps outside the chain (al-server's webhook subscriptions).
    ///
    /// # Errors
    /// `401 UNAUTHORIZED`, `403 SERVICE_KEY_REQUIRED`, `403 AGENT_KILLED`.
    pub fn service_org(&self, service_key: &str) -> Result<String, EngineError> {
        let c = self.service_caller(service_key)?;
        Ok(self.org(c.org)?.id.to_string())
    }

    /// The number of entries of an org's chain, and its head hash.
    ///
    /// # Errors
    /// `404 NOT_FOUND` for an unknown org.
    pub fn head(&self, org_id: &str) -> Result<(u64, Digest), EngineError> {
        let o = self.org(self.org_index(org_id)?)?;
        Ok((o.log.len(), o.log.head_hash()))
    }
}

fn sealed_entry(org: &Arc<str>, s: &al_audit_chain::Sealed<'_>) -> Option<SealedEntry> {
    Some(SealedEntry {
        org_id: Arc::clone(org),
        row: s.row,
        id: s.id,
        prev_hash: s.prev_hash,
        hash: s.hash,
        bytes: s.bytes.to_vec(),
    })
}

fn check_org_id(id: &str) -> Result<(), EngineError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(EngineError::invalid(
            "org_id",
            "must be 1 to 64 characters of `A-Z a-z 0-9 _ -`",
        ))
    }
}

/// A stable id derived from the org and a row: `prefix` and 16 hex digits
/// of `SHA-256("agentlattice.id.v1\0" || prefix || 0x00 || org || 0x00 ||
/// row as u64 big-endian)`. Reproducible on restore, distinct across orgs.
pub(crate) fn derive_id(prefix: &str, org: &str, row: u64) -> String {
    let d = Digest::of_parts(&[
        b"agentlattice.id.v1\0",
        prefix.as_bytes(),
        b"\0",
        org.as_bytes(),
        b"\0",
        &row.to_be_bytes(),
    ]);
    let mut s = String::with_capacity(prefix.len() + 16);
    s.push_str(prefix);
    s.push_str(&hex::encode(d.0.get(..8).unwrap_or_default()));
    s
}
