//! Webhook subscriptions (operator-managed) and signed deliveries with
//! retry and backoff that never block an action.
//!
//! Subscriptions live in `DATA/webhooks.json` (written atomically, mode
//! 0600: it holds the signing secrets). They are operator configuration,
//! not governance state, so they are not in the audit chain.
//!
//! Every governance event of a durable answer is queued for each matching
//! subscription of its org with `try_send` into a bounded queue: a full
//! queue drops the delivery (logged and counted), it never waits. A pool
//! of tasks delivers: `POST url` with the event's JSON, signed
//! (`X-AL-Signature: sha256=<hex HMAC-SHA256(secret, body)>`), retried on
//! network errors, `408`, `429` and `5xx` with exponential backoff.
//!
//! Why one file (584 lines): one job, webhooks: the subscriptions, their
//! file, and the delivery pool share one queue, one stats block and one
//! signing config; the last 30 lines are its unit tests.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::{StatusCode, Uri};
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::{RwLock, Semaphore, mpsc};

use al_engine::GovernanceEvent;

use crate::error::{ApiError, Error, cut};

/// The seven event types a subscription may filter on.
pub const EVENT_TYPES: [&str; 7] = [
    "action.denied",
    "action.executed",
    "delegation.expired",
    "delegation.revoked",
    "policy.changed",
    "anomaly.detected",
    "enforcement.triggered",
];

/// Signs a payload: `(secret, body) -> "sha256=<hex>"`.
pub type Signer = fn(&[u8], &[u8]) -> String;

/// How deliveries are retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all (the first one included).
    pub attempts: u32,
    /// Wait before the second attempt; doubled each time.
    pub first_backoff: Duration,
    /// The longest wait between attempts.
    pub max_backoff: Duration,
    /// Time allowed for one attempt.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            attempts: 6,
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt `n` (1-based).
    #[must_use]
    pub fn backoff(&self, n: u32) -> Duration {
        let factor = 1u32.checked_shl(n.saturating_sub(1)).unwrap_or(u32::MAX);
        self.first_backoff
            .checked_mul(factor)
            .unwrap_or(self.max_backoff)
            .min(self.max_backoff)
    }
}

/// One subscription as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    /// `whk_` and 16 hex digits.
    pub id: String,
    /// The org whose events it receives.
    pub org_id: String,
    /// Where deliveries go (`http://…`).
    pub url: String,
    /// The HMAC secret.
    pub secret: String,
    /// Event types delivered; empty means all.
    pub events: Vec<String>,
    /// A note for operators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// RFC 3339.
    pub created_at: String,
}

impl Subscription {
    /// The public view: everything but the secret, which is shown once at
    /// creation (`reveal`).
    #[must_use]
    pub fn view(&self, reveal: bool) -> Value {
        let mut v = json!({
            "id": self.id,
            "url": self.url,
            "events": self.events,
            "description": self.description,
            "created_at": self.created_at,
            "secret_fingerprint": fingerprint(&self.secret),
        });
        if reveal && let Some(o) = v.as_object_mut() {
            o.insert("secret".into(), Value::String(self.secret.clone()));
        }
        v
    }

    fn wants(&self, event_type: &str) -> bool {
        self.events.is_empty() || self.events.iter().any(|e| e == event_type)
    }
}

fn fingerprint(secret: &str) -> String {
    let d = al_types::Digest::of(secret.as_bytes());
    hex::encode(d.0.get(..8).unwrap_or_default())
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: u32,
    subscriptions: Vec<Subscription>,
}

/// One event to deliver to one subscription.
#[derive(Clone, Debug)]
struct Delivery {
    id: String,
    url: Uri,
    secret: Arc<str>,
    event_type: Arc<str>,
    body: Bytes,
}

/// Delivery counters, for logs and tests.
#[derive(Debug, Default)]
pub struct Stats {
    /// Deliveries acknowledged with a 2xx.
    pub delivered: AtomicU64,
    /// Deliveries given up after their last attempt or a permanent refusal.
    pub failed: AtomicU64,
    /// Deliveries dropped because the queue was full.
    pub dropped: AtomicU64,
    /// Attempts made.
    pub attempts: AtomicU64,
}

/// Subscriptions and the delivery queue.
pub struct Webhooks {
    path: Option<PathBuf>,
    subs: RwLock<Vec<Subscription>>,
    tx: mpsc::Sender<Delivery>,
    /// Counters.
    pub stats: Arc<Stats>,
}

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhooks")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// The options of webhook delivery.
#[derive(Clone, Copy, Debug)]
pub struct DeliveryConfig {
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Deliveries waiting at most; more are dropped.
    pub queue: usize,
    /// Deliveries in flight at most.
    pub concurrency: usize,
    /// The signing function.
    pub signer: Signer,
}

impl Webhooks {
    /// Load the subscriptions from `path` (none when it does not exist; a
    /// file that does not parse is an error) and start the delivery pool.
    /// Must be called inside a tokio runtime.
    ///
    /// # Errors
    /// [`Error::Start`] `INVALID_CONFIG` naming the file (and the line and
    /// column of a JSON error) when it cannot be read or parsed.
    pub fn start(path: Option<PathBuf>, config: DeliveryConfig) -> Result<Arc<Webhooks>, Error> {
        let subs = match &path {
            Some(p) if p.exists() => read_file(p).map_err(|m| Error::start("INVALID_CONFIG", m))?,
            _ => Vec::new(),
        };
        let (tx, rx) = mpsc::channel(config.queue.max(1));
        let stats = Arc::new(Stats::default());
        tokio::spawn(deliver_loop(rx, config, Arc::clone(&stats)));
        Ok(Arc::new(Webhooks {
            path,
            subs: RwLock::new(subs),
            tx,
            stats,
        }))
    }

    /// Queue each event for every matching subscription of its org, under
    /// one read of the subscriptions. An event is encoded (the exact bytes
    /// signed) only when some subscription wants it. Never waits: a full
    /// queue drops (and logs) the delivery.
    pub async fn dispatch(&self, events: &[GovernanceEvent]) {
        if events.is_empty() {
            return;
        }
        let subs = self.subs.read().await;
        if subs.is_empty() {
            return;
        }
        for ev in events {
            let event_type = ev.event_type.as_str();
            let mut matching = subs
                .iter()
                .filter(|s| *s.org_id == *ev.org_id && s.wants(event_type))
                .peekable();
            if matching.peek().is_none() {
                continue;
            }
            let body = Bytes::from(ev.to_json());
            let event_type: Arc<str> = Arc::from(event_type);
            for s in matching {
                let Ok(url) = s.url.parse::<Uri>() else {
                    continue;
                };
                let d = Delivery {
                    id: delivery_id(&s.id, &body),
                    url,
                    secret: Arc::from(s.secret.as_str()),
                    event_type: Arc::clone(&event_type),
                    body: body.clone(),
                };
                if self.tx.try_send(d).is_err() {
                    self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(subscription = %s.id, event_type = %event_type, "webhook queue full: delivery dropped");
                }
            }
        }
    }

    /// Create a subscription for `org_id` from a JSON body
    /// `{url, events?, secret?, description?}`; `secret` is generated when absent.
    ///
    /// # Errors
    /// `400 INVALID_REQUEST` naming the field; `500` when the file cannot be written.
    pub async fn create(
        &self,
        org_id: &str,
        body: &str,
        now: &str,
        random: [u8; 32],
    ) -> Result<Subscription, ApiError> {
        let v = al_types::json::parse(body, &al_types::json::Limits::default()).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                al_types::ErrorCode::code(&e),
                format!("body {e}"),
            )
        })?;
        let Value::Object(mut m) = v else {
            return Err(ApiError::invalid("body", "must be a JSON object"));
        };
        let url = match m.remove("url") {
            Some(Value::String(u)) => u,
            Some(_) => return Err(ApiError::invalid("url", "must be a string")),
            None => return Err(ApiError::invalid("url", "is required")),
        };
        check_url(&url)?;
        let events = match m.remove("events") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => {
                let mut out = Vec::new();
                for (i, e) in a.iter().enumerate() {
                    match e.as_str() {
                        Some(t) if EVENT_TYPES.contains(&t) => {
                            if !out.iter().any(|o: &String| o == t) {
                                out.push(t.to_owned());
                            }
                        }
                        _ => {
                            return Err(ApiError::invalid(
                                &format!("events[{i}]"),
                                format!("must be one of {}", EVENT_TYPES.join(", ")),
                            ));
                        }
                    }
                }
                out
            }
            Some(_) => {
                return Err(ApiError::invalid(
                    "events",
                    "must be an array of event types",
                ));
            }
        };
        let secret = match m.remove("secret") {
            None | Some(Value::Null) => format!("whsec_{}", hex::encode(random)),
            Some(Value::String(s)) if (16..=256).contains(&s.len()) => s,
            Some(_) => {
                return Err(ApiError::invalid(
                    "secret",
                    "must be a string of 16 to 256 bytes",
                ));
            }
        };
        let description = match m.remove("description") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.len() <= 256 => Some(s),
            Some(_) => {
                return Err(ApiError::invalid(
                    "description",
                    "must be a string of at most 256 bytes",
                ));
            }
        };
        if let Some(k) = m.keys().next() {
            return Err(ApiError::invalid(
                k,
                "unknown field; expected `url`, `events`, `secret`, `description`",
            ));
        }
        let id_hash = al_types::Digest::of_parts(&[b"whk", org_id.as_bytes(), &random]);
        let sub = Subscription {
            id: format!(
                "whk_{}",
                hex::encode(id_hash.0.get(..8).unwrap_or_default())
            ),
            org_id: org_id.to_owned(),
            url,
            secret,
            events,
            description,
            created_at: now.to_owned(),
        };
        let mut subs = self.subs.write().await;
        if subs.iter().filter(|s| s.org_id == org_id).count() >= 100 {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "LIMIT_REACHED",
                "an org has at most 100 webhook subscriptions",
            ));
        }
        let mut next = subs.clone();
        next.push(sub.clone());
        self.save(&next)?;
        *subs = next;
        Ok(sub)
    }

    /// The subscriptions of `org_id`.
    pub async fn list(&self, org_id: &str) -> Vec<Subscription> {
        self.subs
            .read()
            .await
            .iter()
            .filter(|s| s.org_id == org_id)
            .cloned()
            .collect()
    }

    /// Delete a subscription of `org_id`.
    ///
    /// # Errors
    /// `404 NOT_FOUND`; `500` when the file cannot be written.
    pub async fn delete(&self, org_id: &str, id: &str) -> Result<(), ApiError> {
        let mut subs = self.subs.write().await;
        let next: Vec<Subscription> = subs
            .iter()
            .filter(|s| !(s.org_id == org_id && s.id == id))
            .cloned()
            .collect();
        if next.len() == subs.len() {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                format!("no webhook subscription `{}`", cut(id)),
            ));
        }
        self.save(&next)?;
        *subs = next;
        Ok(())
    }

    fn save(&self, subs: &[Subscription]) -> Result<(), ApiError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let text = serde_json::to_string_pretty(&File {
            version: 1,
            subscriptions: subs.to_vec(),
        })
        .map_err(|e| ApiError::internal(e.to_string()))?;
        write_atomic(path, text.as_bytes())
            .map_err(|e| ApiError::internal(format!("cannot write `{}`: {e}", path.display())))
    }
}

fn check_url(url: &str) -> Result<(), ApiError> {
    let uri: Uri = url
        .parse()
        .map_err(|_| ApiError::invalid("url", format!("`{}` is not a URL", cut(url))))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return Err(ApiError::invalid(
                "url",
                "this build delivers over plain `http://` only; put a TLS-terminating proxy in front of an `https://` receiver",
            ));
        }
        _ => return Err(ApiError::invalid("url", "must start with `http://`")),
    }
    if uri.host().is_none_or(str::is_empty) || url.len() > 2048 {
        return Err(ApiError::invalid(
            "url",
            "must name a host (and be at most 2048 bytes)",
        ));
    }
    Ok(())
}

fn delivery_id(sub: &str, body: &[u8]) -> String {
    let d = al_types::Digest::of_parts(&[sub.as_bytes(), b"\0", body]);
    format!("dlv_{}", hex::encode(d.0.get(..12).unwrap_or_default()))
}

fn read_file(p: &Path) -> Result<Vec<Subscription>, String> {
    let text =
        std::fs::read_to_string(p).map_err(|e| format!("cannot read `{}`: {e}", p.display()))?;
    let v = al_types::json::parse(&text, &al_types::json::Limits::default())
        .map_err(|e| format!("`{}`: {e}", p.display()))?;
    let f: File = serde_json::from_value(v).map_err(|e| format!("`{}`: {e}", p.display()))?;
    if f.version != 1 {
        return Err(format!("`{}`: version must be 1", p.display()));
    }
    Ok(f.subscriptions)
}

/// Write `bytes` to `path` whole or not at all (temporary file, fsync,
/// rename, directory fsync), readable by the owner only.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

async fn deliver_loop(mut rx: mpsc::Receiver<Delivery>, config: DeliveryConfig, stats: Arc<Stats>) {
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .build_http();
    let gate = Arc::new(Semaphore::new(config.concurrency.max(1)));
    while let Some(d) = rx.recv().await {
        let Ok(permit) = Arc::clone(&gate).acquire_owned().await else {
            return;
        };
        let (client, stats) = (client.clone(), Arc::clone(&stats));
        tokio::spawn(async move {
            deliver(&client, &d, &config, &stats).await;
            drop(permit);
        });
    }
}

async fn deliver(
    client: &Client<HttpConnector, Full<Bytes>>,
    d: &Delivery,
    config: &DeliveryConfig,
    stats: &Stats,
) {
    let signature = (config.signer)(d.secret.as_bytes(), &d.body);
    for attempt in 1..=config.retry.attempts.max(1) {
        stats.attempts.fetch_add(1, Ordering::Relaxed);
        let req = hyper::Request::post(d.url.clone())
            .header("content-type", "application/json")
            .header(
                "user-agent",
                concat!("al-server/", env!("CARGO_PKG_VERSION")),
            )
            .header("x-al-signature", &signature)
            .header("x-al-event-type", d.event_type.as_ref())
            .header("x-al-delivery-id", &d.id)
            .header("x-al-delivery-attempt", attempt.to_string())
            .body(Full::new(d.body.clone()));
        let Ok(req) = req else {
            stats.failed.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let outcome = tokio::time::timeout(config.retry.timeout, client.request(req)).await;
        let retry = match outcome {
            Ok(Ok(resp)) if resp.status().is_success() => {
                stats.delivered.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(delivery = %d.id, attempt, "webhook delivered");
                return;
            }
            Ok(Ok(resp)) => {
                let s = resp.status();
                let again = s.is_server_error()
                    || s == StatusCode::REQUEST_TIMEOUT
                    || s == StatusCode::TOO_MANY_REQUESTS;
                tracing::warn!(delivery = %d.id, attempt, status = s.as_u16(), retry = again, "webhook refused");
                again
            }
            Ok(Err(e)) => {
                tracing::warn!(delivery = %d.id, attempt, error = %e, "webhook delivery failed");
                true
            }
            Err(_) => {
                tracing::warn!(delivery = %d.id, attempt, "webhook delivery timed out");
                true
            }
        };
        if !retry || attempt == config.retry.attempts {
            break;
        }
        tokio::time::sleep(config.retry.backoff(attempt)).await;
    }
    stats.failed.fetch_add(1, Ordering::Relaxed);
    tracing::warn!(delivery = %d.id, url = %d.url, "webhook delivery given up");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy {
            attempts: 10,
            first_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(500),
            timeout: Duration::from_secs(1),
        };
        let b: Vec<u128> = (1..=5).map(|n| p.backoff(n).as_millis()).collect();
        assert_eq!(b, vec![100, 200, 400, 500, 500]);
        assert_eq!(p.backoff(200).as_millis(), 500);
    }

    #[test]
    fn urls() {
        assert!(check_url("http://127.0.0.1:9/hook").is_ok());
        for bad in [
            "https://example.invalid/x",
            "ftp://x/y",
            "/relative",
            "http://",
            "not a url",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }
}
