//! Requests waiting for their entries to reach the disk.
//!
//! The store's writer reports after each group commit ("everything up to
//! `Seq` s is durable", or "storage failed"). A request that appended
//! entries waits for its own `Seq`. Waiters are kept in a map ordered by
//! `Seq`, so a report wakes exactly the requests it satisfies: with 64
//! requests in flight and a group commit every few of them, waking every
//! waiter on every report (a broadcast channel) would poll most of them
//! for nothing, and each poll runs through the whole HTTP stack.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use al_store::Seq;
use tokio::sync::oneshot;

/// What the durability hook publishes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Durable {
    /// Everything up to this `Seq` is on disk.
    Up(Seq),
    /// The store stopped.
    Failed(String),
}

/// How a wait ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Waited {
    /// The entries are on disk.
    Durable,
    /// Storage failed (the store's message).
    Failed(String),
    /// The store stopped reporting (shutdown) before the entries were on disk.
    Closed,
}

struct State {
    now: Durable,
    closed: bool,
    waiting: BTreeMap<Seq, Vec<oneshot::Sender<Durable>>>,
}

/// The registry: [`Waiters::wait`] for requests, [`Waiters::publish`] for
/// the store's hook, [`Waiters::close`] when the hook goes away.
pub(crate) struct Waiters {
    state: Mutex<State>,
}

impl Waiters {
    pub(crate) fn new(now: Durable) -> Arc<Waiters> {
        Arc::new(Waiters {
            state: Mutex::new(State {
                now,
                closed: false,
                waiting: BTreeMap::new(),
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Record what the store reported and wake the waiters it settles.
    pub(crate) fn publish(&self, d: Durable) {
        let ready = {
            let mut st = self.lock();
            st.now = d.clone();
            match &d {
                Durable::Up(s) => {
                    let rest = match s.checked_add(1) {
                        Some(next) => st.waiting.split_off(&next),
                        None => BTreeMap::new(),
                    };
                    std::mem::replace(&mut st.waiting, rest)
                }
                Durable::Failed(_) => std::mem::take(&mut st.waiting),
            }
        };
        // Wake outside the lock.
        for tx in ready.into_values().flatten() {
            let _ = tx.send(d.clone());
        }
    }

    /// The store stopped reporting: everyone still waiting learns it.
    pub(crate) fn close(&self) {
        let dropped = {
            let mut st = self.lock();
            st.closed = true;
            std::mem::take(&mut st.waiting)
        };
        drop(dropped);
    }

    /// Wait until everything up to `seq` is durable.
    pub(crate) async fn wait(&self, seq: Seq) -> Waited {
        let rx = {
            let mut st = self.lock();
            match &st.now {
                Durable::Up(s) if *s >= seq => return Waited::Durable,
                Durable::Failed(m) => return Waited::Failed(m.clone()),
                Durable::Up(_) if st.closed => return Waited::Closed,
                Durable::Up(_) => {}
            }
            let (tx, rx) = oneshot::channel();
            st.waiting.entry(seq).or_default().push(tx);
            rx
        };
        match rx.await {
            Ok(Durable::Up(_)) => Waited::Durable,
            Ok(Durable::Failed(m)) => Waited::Failed(m),
            Err(_) => Waited::Closed,
        }
    }
}

/// Held by the store's hook: when the store drops its hook (it stopped),
/// the waiters are closed.
pub(crate) struct HookGuard(pub(crate) Arc<Waiters>);

impl HookGuard {
    /// [`Waiters::publish`], through the guard, so that the hook closure
    /// owns the guard itself (and drops it with the hook).
    pub(crate) fn publish(&self, d: Durable) {
        self.0.publish(d);
    }
}

impl Drop for HookGuard {
    fn drop(&mut self) {
        self.0.close();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn a_report_wakes_exactly_the_waiters_it_settles() {
        rt().block_on(async {
            let w = Waiters::new(Durable::Up(0));
            let mut tasks = Vec::new();
            for seq in [3u64, 1, 2, 5, 4, 2] {
                let w = Arc::clone(&w);
                tasks.push((seq, tokio::spawn(async move { w.wait(seq).await })));
            }
            tokio::task::yield_now().await;
            w.publish(Durable::Up(2));
            tokio::task::yield_now().await;
            for (seq, t) in &tasks {
                assert_eq!(t.is_finished(), *seq <= 2, "seq {seq}");
            }
            w.publish(Durable::Up(4));
            tokio::task::yield_now().await;
            for (seq, t) in &tasks {
                assert_eq!(t.is_finished(), *seq <= 4, "seq {seq}");
            }
            w.publish(Durable::Up(9));
            for (_, t) in tasks {
                assert_eq!(t.await.unwrap(), Waited::Durable);
            }
            assert!(w.lock().waiting.is_empty());
        });
    }

    #[test]
    fn already_durable_returns_at_once_and_failure_reaches_everyone() {
        rt().block_on(async {
            let w = Waiters::new(Durable::Up(7));
            assert_eq!(w.wait(7).await, Waited::Durable);
            let w2 = Arc::clone(&w);
            let t = tokio::spawn(async move { w2.wait(8).await });
            tokio::task::yield_now().await;
            w.publish(Durable::Failed("disk full".into()));
            assert_eq!(t.await.unwrap(), Waited::Failed("disk full".into()));
            // Later waits learn the failure too, even for settled rows.
            assert_eq!(w.wait(1).await, Waited::Failed("disk full".into()));
        });
    }

    #[test]
    fn dropping_the_hook_closes_pending_waits_only() {
        rt().block_on(async {
            let w = Waiters::new(Durable::Up(1));
            let guard = HookGuard(Arc::clone(&w));
            let w2 = Arc::clone(&w);
            let t = tokio::spawn(async move { w2.wait(2).await });
            tokio::task::yield_now().await;
            drop(guard);
            assert_eq!(t.await.unwrap(), Waited::Closed);
            assert_eq!(w.wait(1).await, Waited::Durable);
            assert_eq!(w.wait(2).await, Waited::Closed);
        });
    }

    #[test]
    fn the_largest_seq_settles_everything() {
        rt().block_on(async {
            let w = Waiters::new(Durable::Up(0));
            let w2 = Arc::clone(&w);
            let t = tokio::spawn(async move { w2.wait(u64::MAX).await });
            tokio::task::yield_now().await;
            w.publish(Durable::Up(u64::MAX));
            assert_eq!(t.await.unwrap(), Waited::Durable);
        });
    }
}
