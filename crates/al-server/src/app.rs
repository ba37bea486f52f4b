//! The server's state and the one path every request takes: lock the
//! engine, call one operation, queue its entries to the store, release the
//! lock, wait until everything the call produced or observed is durable,
//! deliver its events, answer.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use al_engine::{Effects, Engine, EngineError, Entropy, GovernanceEvent, SealedEntry};
use al_store::{Record, Seq, Store, StoreError};
use al_types::{ErrorCode as _, Timestamp};
use axum::http::StatusCode;
use tokio::sync::Notify;

use crate::durable::{Durable, HookGuard, Waited, Waiters};
use crate::error::ApiError;
use crate::webhook::Webhooks;

/// Limits the HTTP layer enforces before the engine sees a body.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimits {
    /// JSON bodies, in bytes (the engine's `max_body_bytes`).
    pub json: usize,
    /// Policy manifests, in bytes.
    pub manifest: usize,
}

/// Shared state of a running server.
pub struct App {
    engine: Mutex<Engine>,
    store: Arc<dyn Store>,
    durable: Arc<Waiters>,
    pub(crate) webhooks: Arc<Webhooks>,
    /// Wakes the timer task when an earlier deadline may exist.
    pub(crate) timer_kick: Notify,
    /// The deadline the timer task sleeps towards (ms; `i64::MAX`: none).
    pub(crate) timer_deadline: AtomicI64,
    /// Set once storage failed: every request is refused from then on.
    failed: AtomicBool,
    /// Asks the server to stop (storage failure, or a signal).
    pub(crate) shutdown: Notify,
    pub(crate) limits: BodyLimits,
    snapshots: Arc<Mutex<SnapshotState>>,
    snapshot_every: u64,
    known_orgs: Mutex<std::collections::BTreeSet<String>>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct SnapshotState {
    /// Per org: the row of the last snapshot written, and whether one is being written.
    orgs: BTreeMap<String, (u64, bool)>,
}

/// Random bytes from the operating system.
#[derive(Clone, Copy, Debug, Default)]
pub struct OsEntropy;

impl Entropy for OsEntropy {
    fn fill(&mut self, buf: &mut [u8]) {
        if let Err(e) = getrandom::fill(buf) {
            // Keys made from anything less than the OS's randomness would
            // be guessable: stop rather than mint them.
            tracing::error!(error = %e, "the operating system's random source failed");
            std::process::abort();
        }
    }
}

/// The wall clock, in milliseconds (the server is a host, and hosts own time).
#[must_use]
pub fn now() -> Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    Timestamp::from_unix_millis(ms).unwrap_or(Timestamp::MIN)
}

/// An engine error as the wire answer.
pub(crate) fn engine_error(e: &EngineError) -> ApiError {
    ApiError::from_wire(e.http_status(), e.to_wire())
}

pub(crate) fn store_failed(e: &StoreError) -> ApiError {
    ApiError::unavailable(
        "STORAGE_FAILED",
        format!("storage failed; the server is stopping: {e}"),
    )
}

impl App {
    /// A server state over `engine` (restored already) and `store`.
    pub fn new(
        engine: Engine,
        store: Arc<dyn Store>,
        webhooks: Arc<Webhooks>,
        limits: BodyLimits,
        snapshot_every: u64,
    ) -> Arc<App> {
        let durable_now = match store.durable() {
            Ok(s) => Durable::Up(s),
            Err(e) => Durable::Failed(e.to_string()),
        };
        let waiters = Waiters::new(durable_now);
        let guard = HookGuard(Arc::clone(&waiters));
        store.set_durable_hook(Box::new(move |r| {
            guard.publish(match r {
                Ok(s) => Durable::Up(s),
                Err(e) => Durable::Failed(e.to_string()),
            });
        }));
        let mut snaps = SnapshotState::default();
        let mut known = std::collections::BTreeSet::new();
        for org in engine.org_ids() {
            let rows = engine.head(org).map_or(0, |(r, _)| r);
            snaps.orgs.insert(org.to_owned(), (rows, false));
            known.insert(org.to_owned());
        }
        Arc::new(App {
            engine: Mutex::new(engine),
            store,
            durable: waiters,
            webhooks,
            timer_kick: Notify::new(),
            timer_deadline: AtomicI64::new(i64::MAX),
            failed: AtomicBool::new(false),
            shutdown: Notify::new(),
            limits,
            snapshots: Arc::new(Mutex::new(snaps)),
            snapshot_every,
            known_orgs: Mutex::new(known),
        })
    }

    fn lock(&self) -> Result<MutexGuard<'_, Engine>, ApiError> {
        // A panic while the engine was borrowed may have left it half
        // changed; fail closed and stop.
        self.engine.lock().map_err(|_| {
            self.fail("the engine lock was poisoned by a panic");
            ApiError::unavailable("STORAGE_FAILED", "internal failure; the server is stopping")
        })
    }

    fn up(&self) -> Result<(), ApiError> {
        if self.failed.load(Ordering::Acquire) {
            return Err(ApiError::unavailable(
                "STORAGE_FAILED",
                "storage failed earlier; the server is stopping",
            ));
        }
        Ok(())
    }

    /// Ask the server to stop gracefully (as a signal does).
    pub fn request_shutdown(&self) {
        self.shutdown.notify_one();
    }

    /// Whether storage has failed.
    #[must_use]
    pub fn is_failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    fn fail(&self, why: &str) {
        if !self.failed.swap(true, Ordering::AcqRel) {
            tracing::error!(reason = why, "refusing all requests and shutting down");
            self.shutdown.notify_one();
        }
    }

    /// Queue `entries` to the store, in order (creating orgs the store has
    /// not seen). Called under the engine lock, so the file order is the
    /// chain order. Returns the `Seq` to wait for.
    fn persist(&self, entries: &[SealedEntry]) -> Result<Seq, ApiError> {
        let mut seq = self.store.last_seq();
        let mut i = 0;
        while let Some(first) = entries.get(i) {
            let org = first.org_id.as_ref();
            let run = entries
                .get(i..)
                .unwrap_or_default()
                .iter()
                .take_while(|e| e.org_id.as_ref() == org)
                .count();
            let recs: Vec<Record<'_>> = entries
                .get(i..i + run)
                .unwrap_or_default()
                .iter()
                .map(|e| Record {
                    row: e.row,
                    entry: &e.bytes,
                    hash: &e.hash.0,
                })
                .collect();
            let new_org = self
                .known_orgs
                .lock()
                .map(|mut k| k.insert(org.to_owned()))
                .unwrap_or(false);
            let res = if new_org {
                self.store.create_org(org)
            } else {
                Ok(())
            }
            .and_then(|()| self.store.append(org, &recs));
            match res {
                Ok(s) => seq = s,
                Err(e) => {
                    self.fail(&e.to_string());
                    return Err(store_failed(&e));
                }
            }
            i += run;
        }
        Ok(seq)
    }

    async fn wait_durable(&self, seq: Seq) -> Result<(), ApiError> {
        match self.durable.wait(seq).await {
            Waited::Durable => Ok(()),
            Waited::Failed(m) => {
                self.fail(&m);
                Err(ApiError::unavailable(
                    "STORAGE_FAILED",
                    format!("storage failed; the server is stopping: {m}"),
                ))
            }
            Waited::Closed => Err(ApiError::unavailable(
                "SHUTTING_DOWN",
                "the server is stopping",
            )),
        }
    }

    fn after_change(&self, eng: &Engine, entries: &[SealedEntry]) {
        // The timer task sleeps towards its deadline; wake it if this
        // change scheduled something earlier.
        if let Some(t) = eng.poll_timeout()
            && t.unix_millis() < self.timer_deadline.load(Ordering::Acquire)
        {
            self.timer_kick.notify_one();
        }
        let Some(last) = entries.last() else {
            return;
        };
        if self.snapshot_every == 0 {
            return;
        }
        let due = self.snapshots.lock().is_ok_and(|mut s| {
            let e = s.orgs.entry(last.org_id.to_string()).or_insert((0, false));
            let due = !e.1 && last.row >= e.0.saturating_add(self.snapshot_every);
            if due {
                e.1 = true;
            }
            due
        });
        if due {
            self.spawn_snapshot(eng, last.org_id.as_ref());
        }
    }

    /// Serialise `org` now (under the caller's engine lock) and write it in
    /// the background.
    fn spawn_snapshot(&self, eng: &Engine, org: &str) {
        let snap = match eng.snapshot(org) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(org, error = %e, "snapshot failed");
                (self.snapshot_done_handle())(org, None);
                return;
            }
        };
        let state = SnapshotJob {
            store: Arc::clone(&self.store),
            org: org.to_owned(),
            row: snap.row(),
            head: snap.head_hash().0,
            bytes: snap.as_bytes().to_vec(),
        };
        let done = self.snapshot_done_handle();
        tokio::task::spawn_blocking(move || {
            let t = std::time::Instant::now();
            let res = state
                .store
                .save_snapshot(&state.org, state.row, &state.head, &state.bytes);
            match &res {
                Ok(()) => {
                    tracing::info!(org = %state.org, row = state.row, bytes = state.bytes.len(), ms = t.elapsed().as_millis() as u64, "snapshot written")
                }
                Err(e) => {
                    tracing::warn!(org = %state.org, row = state.row, error = %e, "snapshot not written")
                }
            }
            done(&state.org, res.ok().map(|()| state.row));
        });
    }

    fn snapshot_done_handle(&self) -> impl FnOnce(&str, Option<u64>) + Send + 'static {
        let flags = Arc::clone(&self.snapshots);
        move |org: &str, row: Option<u64>| {
            if let Ok(mut s) = flags.lock() {
                let e = s.orgs.entry(org.to_owned()).or_insert((0, false));
                e.1 = false;
                if let Some(r) = row {
                    e.0 = r;
                }
            }
        }
    }

    async fn deliver(&self, events: Vec<GovernanceEvent>) {
        if events.is_empty() {
            return;
        }
        self.webhooks.dispatch(&events).await;
    }

    /// Run a mutating operation. The answer waits until the entries it
    /// appended — and everything appended before it, which it may have
    /// observed — are durable; its events are delivered after that.
    ///
    /// # Errors
    /// The engine's error, or `503 STORAGE_FAILED`.
    pub async fn apply<T>(
        &self,
        op: impl FnOnce(&mut Engine, Timestamp) -> Result<(T, Effects), EngineError>,
    ) -> Result<T, ApiError> {
        self.up()?;
        let (res, seq, events) = {
            let mut eng = self.lock()?;
            match op(&mut eng, now()) {
                Ok((t, fx)) => {
                    let seq = self.persist(&fx.entries)?;
                    self.after_change(&eng, &fx.entries);
                    (Ok(t), seq, fx.events)
                }
                Err(e) => (Err(e), self.store.last_seq(), Vec::new()),
            }
        };
        self.wait_durable(seq).await?;
        self.deliver(events).await;
        res.map_err(|e| engine_error(&e))
    }

    /// Run a read-only operation; the answer waits until everything it may
    /// have observed is durable.
    ///
    /// # Errors
    /// The engine's error, or `503 STORAGE_FAILED`.
    pub async fn read<T>(
        &self,
        op: impl FnOnce(&Engine, Timestamp) -> Result<T, EngineError>,
    ) -> Result<T, ApiError> {
        self.up()?;
        let (res, seq) = {
            let eng = self.lock()?;
            (op(&eng, now()), self.store.last_seq())
        };
        self.wait_durable(seq).await?;
        res.map_err(|e| engine_error(&e))
    }

    /// The timer task's step: make everything due happen, persist it, wait
    /// for durability, deliver its events. Returns the next deadline.
    pub(crate) async fn fire_timers(&self) -> Result<Option<Timestamp>, ApiError> {
        self.up()?;
        let (seq, events, next) = {
            let mut eng = self.lock()?;
            let fx = eng.handle_timeout(now());
            let seq = self.persist(&fx.entries)?;
            self.after_change(&eng, &fx.entries);
            (seq, fx.events, eng.poll_timeout())
        };
        self.wait_durable(seq).await?;
        self.deliver(events).await;
        Ok(next)
    }

    /// The earliest deadline now.
    pub(crate) fn next_deadline(&self) -> Result<Option<Timestamp>, ApiError> {
        Ok(self.lock()?.poll_timeout())
    }

    /// The number of orgs served.
    #[must_use]
    pub fn org_count(&self) -> usize {
        self.engine.lock().map_or(0, |e| e.org_ids().count())
    }

    /// At shutdown: snapshot every org that changed since its last
    /// snapshot, then flush and close the store.
    ///
    /// # Errors
    /// The store's error while flushing.
    pub fn close(&self) -> Result<(), StoreError> {
        if !self.is_failed()
            && let Ok(eng) = self.engine.lock()
        {
            let orgs: Vec<String> = eng.org_ids().map(str::to_owned).collect();
            for org in orgs {
                let (rows, _) = eng.head(&org).unwrap_or((0, al_types::Digest::ZERO));
                let last = self
                    .snapshots
                    .lock()
                    .ok()
                    .and_then(|s| s.orgs.get(&org).map(|e| e.0))
                    .unwrap_or(0);
                if rows > last
                    && rows > 0
                    && let Ok(s) = eng.snapshot(&org)
                {
                    match self
                        .store
                        .save_snapshot(&org, s.row(), &s.head_hash().0, s.as_bytes())
                    {
                        Ok(()) => {
                            tracing::info!(org, row = s.row(), "snapshot written at shutdown")
                        }
                        Err(e) => tracing::warn!(org, error = %e, "no snapshot at shutdown"),
                    }
                }
            }
        }
        self.store.close()
    }

    /// The HTTP status of a health check.
    pub(crate) fn health(&self) -> (StatusCode, serde_json::Value) {
        if self.is_failed() {
            let e =
                ApiError::unavailable("STORAGE_FAILED", "storage failed; the server is stopping");
            (e.status, e.body())
        } else {
            (
                StatusCode::OK,
                serde_json::json!({"status": "ok", "orgs": self.org_count()}),
            )
        }
    }

    /// A store error code, for logs.
    #[must_use]
    pub fn store_code(e: &StoreError) -> &'static str {
        e.code()
    }
}

struct SnapshotJob {
    store: Arc<dyn Store>,
    org: String,
    row: u64,
    head: [u8; 32],
    bytes: Vec<u8>,
}
