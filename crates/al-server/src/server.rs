//! Start, serve, stop: recovery and restore, bootstrap, the HTTP server
//! with its layers, the timer task, graceful shutdown.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use al_engine::{Engine, EngineConfig, RestoreCode};
use al_store::{FileStore, FileStoreConfig, MemoryStore, Record, RecoveredOrg, Store, SyncMode};
use al_types::ErrorCode as _;
use axum::http::{Request, Response};
use tokio::sync::watch;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::app::{App, BodyLimits, OsEntropy, now};
use crate::error::{ApiError, Error};
use crate::webhook::{DeliveryConfig, RetryPolicy, Webhooks};

/// Where the server keeps its data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataDir {
    /// A directory (the segment store; created when missing).
    Files(PathBuf),
    /// Memory only: nothing survives the process (tests).
    Memory,
}

/// The server's configuration.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Where data lives.
    pub data: DataDir,
    /// The address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// The org created on first start.
    pub org_id: String,
    /// Write the bootstrap service key to this new file (mode 0600)
    /// instead of printing it.
    pub bootstrap_key_file: Option<PathBuf>,
    /// Snapshot an org every this many entries (0: only at shutdown).
    pub snapshot_every: u64,
    /// How segment writes are made durable.
    pub sync: SyncMode,
    /// Webhook retries.
    pub webhook_retry: RetryPolicy,
    /// The engine's configuration (`None`: defaults, with a random hash seed).
    pub engine: Option<EngineConfig>,
    /// Largest policy manifest accepted, in bytes.
    pub max_manifest_bytes: usize,
}

impl ServerConfig {
    /// Defaults: `127.0.0.1:8080`, org `default`, a snapshot every 100 000
    /// entries, `fdatasync` before every answer.
    #[must_use]
    pub fn new(data: DataDir) -> ServerConfig {
        ServerConfig {
            data,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            org_id: "default".into(),
            bootstrap_key_file: None,
            snapshot_every: 100_000,
            sync: SyncMode::Data,
            webhook_retry: RetryPolicy::default(),
            engine: None,
            max_manifest_bytes: 16 << 20,
        }
    }
}

/// What recovery found, per org.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovered {
    /// The org.
    pub org_id: String,
    /// Entries in its chain.
    pub rows: u64,
    /// Restored from a snapshot at this row (`None`: full replay).
    pub from_snapshot: Option<u64>,
    /// A torn tail cut off: `(row, bytes)`.
    pub torn: Option<(u64, u64)>,
}

/// A running server.
#[derive(Debug)]
pub struct Running {
    /// The bound address.
    pub addr: SocketAddr,
    /// The org and service key created on first start (`None` when the
    /// data directory already held orgs). When a key file was given, the
    /// key was written there too.
    pub bootstrap: Option<(String, String)>,
    /// What recovery found.
    pub recovered: Vec<Recovered>,
    /// How long recovery and restore took.
    pub restore_time: Duration,
    app: Arc<App>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<(), Error>>,
}

impl Running {
    /// The shared state (tests and benches).
    #[must_use]
    pub fn app(&self) -> &Arc<App> {
        &self.app
    }

    /// Stop gracefully: stop accepting, finish in-flight requests,
    /// snapshot, flush and close storage.
    ///
    /// # Errors
    /// [`Error::Stopped`] when storage failed or could not be flushed.
    pub async fn stop(self) -> Result<(), Error> {
        let _ = self.stop.send(true);
        self.task.await.map_err(joined)?
    }

    /// Wait until the server stops by itself (a signal, or a storage failure).
    ///
    /// # Errors
    /// [`Error::Stopped`] when storage failed or could not be flushed.
    pub async fn wait(self) -> Result<(), Error> {
        self.task.await.map_err(joined)?
    }
}

fn joined(e: tokio::task::JoinError) -> Error {
    Error::Stopped {
        code: "INTERNAL",
        message: format!("the serving task ended: {e}"),
    }
}

fn restore(engine: &mut Engine, org: &RecoveredOrg) -> Result<Option<u64>, Error> {
    let fail = |e: &al_engine::RestoreError| {
        Error::start(
            "RESTORE_FAILED",
            format!(
                "org `{}`: refusing to start: {} at row {}: {}",
                org.org_id,
                e.code(),
                e.row,
                e.message
            ),
        )
    };
    let entries = || org.records().map(|r| r.entry);
    if let Some(s) = &org.snapshot {
        match al_engine::Snapshot::from_bytes(s.state.clone()) {
            Ok(snap) => match engine.restore_org_from_snapshot(&snap, entries()) {
                Ok(_) => return Ok(Some(s.row)),
                Err(e) if e.code == RestoreCode::InvalidSnapshot => {
                    tracing::warn!(org = %org.org_id, row = s.row, error = %e, "snapshot not usable; replaying the whole chain");
                }
                Err(e) => return Err(fail(&e)),
            },
            Err(e) => {
                tracing::warn!(org = %org.org_id, row = s.row, error = %e, "snapshot not readable; replaying the whole chain");
            }
        }
    }
    engine
        .restore_org(&org.org_id, entries())
        .map_err(|e| fail(&e))?;
    Ok(None)
}

/// Recover storage, restore every org, bootstrap an empty one, bind, and
/// serve in the background. Must be called inside a multi-thread tokio
/// runtime.
///
/// # Errors
/// [`Error`]: corrupt storage (naming org and row), a chain that does
/// not restore, a held lock, an address in use.
pub async fn start(config: ServerConfig) -> Result<Running, Error> {
    let t0 = std::time::Instant::now();
    let (store, recovered): (Arc<dyn Store>, Vec<RecoveredOrg>) = match &config.data {
        DataDir::Files(dir) => {
            let dir = dir.clone();
            let sync = config.sync;
            let (s, r) = tokio::task::spawn_blocking(move || {
                FileStore::open(&dir, FileStoreConfig::new().sync(sync))
            })
            .await
            .map_err(|e| Error::start("INTERNAL", e.to_string()))?
            .map_err(|e| Error::start(e.code(), format!("refusing to start: {e}")))?;
            (Arc::new(s), r)
        }
        DataDir::Memory => (Arc::new(MemoryStore::new()), Vec::new()),
    };
    let engine_cfg = match config.engine.clone() {
        Some(c) => c,
        None => {
            let mut seed = [0u8; 16];
            al_engine::Entropy::fill(&mut OsEntropy, &mut seed);
            EngineConfig::builder(seed)
                .build()
                .map_err(|e| Error::start("INVALID_CONFIG", e.to_string()))?
        }
    };
    let limits = BodyLimits {
        json: engine_cfg.max_body_bytes(),
        manifest: config.max_manifest_bytes,
    };
    let mut engine = Engine::new(engine_cfg);
    let mut notes = Vec::new();
    for org in &recovered {
        if let Some(t) = &org.torn {
            tracing::warn!(org = %org.org_id, row = t.row, offset = t.offset, bytes = t.len, "cut off a torn tail (an interrupted write that was never acknowledged)");
        }
        for (p, why) in &org.ignored_snapshots {
            tracing::warn!(org = %org.org_id, snapshot = %p.display(), reason = %why, "snapshot ignored");
        }
        let from = restore(&mut engine, org)?;
        tracing::info!(org = %org.org_id, rows = org.rows(), from_snapshot = ?from, "org restored");
        notes.push(Recovered {
            org_id: org.org_id.clone(),
            rows: org.rows(),
            from_snapshot: from,
            torn: org.torn.as_ref().map(|t| (t.row, t.len)),
        });
    }
    drop(recovered);
    let restore_time = t0.elapsed();
    let bootstrap = if engine.org_ids().next().is_none() {
        Some(bootstrap(&mut engine, store.as_ref(), &config).await?)
    } else {
        None
    };
    let webhooks_path = match &config.data {
        DataDir::Files(d) => Some(d.join("webhooks.json")),
        DataDir::Memory => None,
    };
    let webhooks = Webhooks::start(
        webhooks_path,
        DeliveryConfig {
            retry: config.webhook_retry,
            queue: 10_000,
            concurrency: 16,
            signer: al_engine::sign_payload,
        },
    )?;
    let app = App::new(engine, store, webhooks, limits, config.snapshot_every);
    let router = crate::routes::router(Arc::clone(&app))?;
    let router = router
        .layer(CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send>| {
            axum::response::IntoResponse::into_response(ApiError::internal(
                "the server failed while answering",
            ))
        }))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<_>| {
                    tracing::info_span!("request", method = %req.method(), path = %req.uri().path())
                })
                .on_request(())
                .on_response(|res: &Response<_>, latency: Duration, _span: &tracing::Span| {
                    tracing::info!(status = res.status().as_u16(), micros = latency.as_micros() as u64, "answered");
                })
                .on_failure(()),
        );
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| {
            Error::start(
                "BIND_FAILED",
                format!("cannot listen on {}: {e}", config.listen),
            )
        })?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::start("BIND_FAILED", e.to_string()))?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let timer = tokio::spawn(timer_loop(Arc::clone(&app), stop_rx.clone()));
    let app2 = Arc::clone(&app);
    let task = tokio::spawn(async move {
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let mut stop_rx2 = stop_rx.clone();
        let app3 = Arc::clone(&app2);
        let shutdown = async move {
            tokio::select! {
                _ = stop_rx2.wait_for(|s| *s) => {}
                () = app3.shutdown.notified() => {}
            }
        };
        let served = axum::serve(listener, router.into_make_service())
            .with_graceful_shutdown(shutdown)
            .await;
        timer.abort();
        let failed = app2.is_failed();
        let closed = tokio::task::spawn_blocking(move || app2.close())
            .await
            .map_err(|e| Error::Stopped {
                code: "INTERNAL",
                message: format!("closing storage: {e}"),
            })?;
        served.map_err(|e| Error::Stopped {
            code: "INTERNAL",
            message: format!("serving: {e}"),
        })?;
        closed.map_err(|e| Error::Stopped {
            code: e.code(),
            message: format!("closing storage: {e}"),
        })?;
        if failed {
            return Err(Error::Stopped {
                code: "STORAGE_FAILED",
                message: "storage failed; stopped".into(),
            });
        }
        tracing::info!("stopped; storage flushed");
        Ok(())
    });
    Ok(Running {
        addr,
        bootstrap,
        recovered: notes,
        restore_time,
        app,
        stop: stop_tx,
        task,
    })
}

async fn bootstrap(
    engine: &mut Engine,
    store: &dyn Store,
    config: &ServerConfig,
) -> Result<(String, String), Error> {
    if let Some(p) = &config.bootstrap_key_file
        && p.exists()
    {
        return Err(Error::start(
            "INVALID_CONFIG",
            format!(
                "`{}` exists; the bootstrap service key goes to a new file",
                p.display()
            ),
        ));
    }
    let (created, fx) = engine
        .create_org(now(), &config.org_id, &mut OsEntropy)
        .map_err(|e| {
            Error::start(
                e.code(),
                format!("cannot create org `{}`: {e}", config.org_id),
            )
        })?;
    let io = |e: al_store::StoreError| Error::start(e.code(), e.to_string());
    store.create_org(&config.org_id).map_err(io)?;
    let recs: Vec<Record<'_>> = fx
        .entries
        .iter()
        .map(|e| Record {
            row: e.row,
            entry: &e.bytes,
            hash: &e.hash.0,
        })
        .collect();
    let seq = store.append(&config.org_id, &recs).map_err(io)?;
    store.wait_durable(seq).map_err(io)?;
    let key = created.service_key.expose().to_owned();
    if let Some(p) = &config.bootstrap_key_file {
        write_new_secret(p, format!("{key}\n").as_bytes()).map_err(|e| {
            Error::start(
                "INVALID_CONFIG",
                format!("cannot write `{}`: {e}", p.display()),
            )
        })?;
        tracing::info!(org = %config.org_id, file = %p.display(), "org created; service key written to the file");
    } else {
        tracing::info!(org = %config.org_id, "org created; service key printed on stdout, once");
    }
    Ok((config.org_id.clone(), key))
}

fn write_new_secret(p: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(p)?;
    f.write_all(bytes)?;
    f.sync_all()
}

async fn timer_loop(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    loop {
        let next = match app.next_deadline() {
            Ok(n) => n,
            Err(_) => return,
        };
        let at = next.map_or(i64::MAX, al_types::Timestamp::unix_millis);
        app.timer_deadline.store(at, Ordering::Release);
        let wait_ms = if at == i64::MAX {
            60_000
        } else {
            at.saturating_sub(now().unix_millis()).clamp(0, 60_000)
        };
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(u64::try_from(wait_ms).unwrap_or(0))) => {}
            () = app.timer_kick.notified() => continue,
            _ = stop.wait_for(|s| *s) => return,
        }
        if next.is_some_and(|t| now() >= t) {
            match app.fire_timers().await {
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "timers not handled");
                    if app.is_failed() {
                        return;
                    }
                }
            }
        }
    }
}
