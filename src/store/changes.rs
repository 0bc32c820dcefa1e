//! The change feed: one counter row that database triggers bump in the same transaction as any
//! change that can affect a token (migration `2026-12-02-000002_change_feed`). A node that caches
//! what validation computes trusts its cache only while it knows the counter is unchanged:
//!
//! - after each of its own write transactions it reads the counter on the same connection
//!   (`Store::tx`), so that its own changes are seen before the response leaves;
//! - a watcher thread with a dedicated connection (outside the pool) `LISTEN`s on PostgreSQL for
//!   the `NOTIFY` the trigger sends at commit, and re-reads the counter on every notification,
//!   on every (re)connect and every `POLL_EVERY`, so that a lost notification cannot leave a
//!   stale cache;
//! - a node whose last successful read is older than `TRUST_FOR` stops trusting its cache
//!   (`ChangeFeed::is_current`) until a read succeeds again.
//!
//! The watcher uses diesel's own `PgConnection` (LISTEN is a plain statement and
//! `notifications_iter` polls libpq without blocking): no second PostgreSQL driver to build and
//! keep in step with `pq-sys`.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, Weak};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use super::schema::change_counter;
use super::{Backend, DbConnection};
use crate::error::Result;

/// The channel the trigger notifies on.
pub const CHANNEL: &str = "ironstone_changes";
/// How often the watcher re-reads the counter even without a notification.
pub const POLL_EVERY: Duration = Duration::from_millis(250);
/// How often the watcher looks for notifications that arrived (a non-blocking read of the socket).
const LISTEN_EVERY: Duration = Duration::from_millis(10);
/// How long a successful read of the counter vouches for the cache.
pub const TRUST_FOR: Duration = Duration::from_secs(1);
/// How long the watcher waits before connecting again after a failure.
const RECONNECT_AFTER: Duration = Duration::from_millis(200);

pub const CACHE_INVALIDATIONS: &str = "ironstone_cache_invalidations_total";
pub const NOTIFICATION_LAG: &str = "ironstone_cache_notification_lag_seconds";
pub const FEED_READS_FAILED: &str = "ironstone_cache_change_feed_failures_total";

/// The counter as it is now.
pub fn read_change_counter(conn: &mut DbConnection) -> Result<i64> {
    Ok(change_counter::table
        .find(1)
        .select(change_counter::value)
        .first(conn)?)
}

/// What this node knows of the change counter. `epoch` moves (by one) each time the counter is
/// seen with a new value: cached entries carry the epoch they were computed in and count only
/// while it is still the current one.
pub struct ChangeFeed {
    base: Instant,
    epoch: AtomicU64,
    /// Nanoseconds after `base` at which the last successful read started; 0: never.
    confirmed_at: AtomicU64,
    /// The last counter value seen (under the lock, so that the epoch moves once per new value).
    counter: Mutex<Option<i64>>,
    /// For tests: a copy of the last counter value seen (`i64::MIN` before any).
    last_seen: AtomicI64,
}

impl Default for ChangeFeed {
    fn default() -> Self {
        ChangeFeed {
            base: Instant::now(),
            epoch: AtomicU64::new(1),
            confirmed_at: AtomicU64::new(0),
            counter: Mutex::new(None),
            last_seen: AtomicI64::new(i64::MIN),
        }
    }
}

impl ChangeFeed {
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// True while a read of the counter that started less than `TRUST_FOR` ago succeeded.
    pub fn is_current(&self) -> bool {
        let at = self.confirmed_at.load(Ordering::Acquire);
        at != 0 && self.base.elapsed().saturating_sub(Duration::from_nanos(at)) < TRUST_FOR
    }

    /// The counter read `value` in a read that started at `started`. A value other than the last
    /// one seen moves the epoch (what was cached is dropped); only then is the read's start taken
    /// as the moment the cache is known to be current.
    pub fn observe(&self, value: i64, started: Instant) {
        {
            let mut counter = self.counter.lock().unwrap_or_else(|p| p.into_inner());
            if *counter != Some(value) {
                if counter.is_some() {
                    metrics::counter!(CACHE_INVALIDATIONS).increment(1);
                }
                *counter = Some(value);
                self.last_seen.store(value, Ordering::Release);
                self.epoch.fetch_add(1, Ordering::AcqRel);
            }
        }
        let at = started.saturating_duration_since(self.base).as_nanos() as u64;
        self.confirmed_at.fetch_max(at.max(1), Ordering::AcqRel);
    }

    /// Something may have changed and the counter could not be read: nothing cached is trusted
    /// until a read succeeds.
    pub fn distrust(&self) {
        self.confirmed_at.store(0, Ordering::Release);
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// Reads the counter on `conn` and observes it; a failed read distrusts the cache.
    pub fn refresh(&self, conn: &mut DbConnection) {
        let started = Instant::now();
        match read_change_counter(conn) {
            Ok(v) => self.observe(v, started),
            Err(e) => {
                metrics::counter!(FEED_READS_FAILED).increment(1);
                tracing::debug!(error = %e, "cannot read the change counter; the cache is bypassed");
                self.distrust();
            }
        }
    }

    pub fn last_counter(&self) -> Option<i64> {
        Some(self.last_seen.load(Ordering::Acquire)).filter(|v| *v != i64::MIN)
    }
}

/// Starts the watcher thread of `feed` on the database at `url`. It stops by itself once the
/// feed is dropped (the server's state went away).
pub(super) fn spawn_watcher(
    backend: Backend,
    address: String,
    feed: Weak<ChangeFeed>,
) -> Result<()> {
    std::thread::Builder::new()
        .name("ironstone-change-feed".into())
        .spawn(move || watch(backend, &address, feed))
        .map_err(crate::error::Error::internal)?;
    Ok(())
}

fn watch(backend: Backend, address: &str, feed: Weak<ChangeFeed>) {
    while feed.strong_count() > 0 {
        match connect(backend, address) {
            Ok(mut conn) => {
                let reason = follow(&mut conn, &feed);
                if let Some(reason) = reason {
                    metrics::counter!(FEED_READS_FAILED).increment(1);
                    tracing::warn!(%reason, "change feed connection lost; reconnecting");
                }
            }
            Err(reason) => {
                metrics::counter!(FEED_READS_FAILED).increment(1);
                tracing::debug!(%reason, "change feed cannot connect; the cache is bypassed until it does");
            }
        }
        std::thread::sleep(RECONNECT_AFTER);
    }
}

fn connect(backend: Backend, address: &str) -> std::result::Result<DbConnection, String> {
    match backend {
        Backend::Postgres => {
            let mut pg = diesel::PgConnection::establish(address).map_err(|e| e.to_string())?;
            pg.batch_execute(&format!("LISTEN {CHANNEL}"))
                .map_err(|e| e.to_string())?;
            Ok(DbConnection::Postgresql(pg))
        }
        Backend::Sqlite => {
            let mut lite =
                diesel::SqliteConnection::establish(address).map_err(|e| e.to_string())?;
            lite.batch_execute("PRAGMA busy_timeout = 1000;")
                .map_err(|e| e.to_string())?;
            Ok(DbConnection::Sqlite(lite))
        }
    }
}

/// Follows the feed on `conn` until the connection fails (the reason) or the feed is gone (None).
fn follow(conn: &mut DbConnection, feed: &Weak<ChangeFeed>) -> Option<String> {
    let mut last_read: Option<Instant> = None;
    loop {
        let f = feed.upgrade()?;
        let mut notified = false;
        if let DbConnection::Postgresql(pg) = conn {
            for n in pg.notifications_iter() {
                match n {
                    Ok(n) => {
                        notified = true;
                        if let Some(lag) = lag_of(&n.payload) {
                            metrics::histogram!(NOTIFICATION_LAG).record(lag);
                        }
                    }
                    Err(e) => {
                        f.distrust();
                        return Some(e.to_string());
                    }
                }
            }
        }
        if notified || last_read.is_none_or(|t| t.elapsed() >= POLL_EVERY) {
            let started = Instant::now();
            match read_change_counter(conn) {
                Ok(v) => f.observe(v, started),
                Err(e) => {
                    f.distrust();
                    return Some(e.to_string());
                }
            }
            last_read = Some(started);
        }
        drop(f);
        std::thread::sleep(LISTEN_EVERY);
    }
}

/// Seconds between the commit a notification reports (`<counter> <unix microseconds>`) and now.
fn lag_of(payload: &str) -> Option<f64> {
    let micros: i64 = payload.split_whitespace().nth(1)?.parse().ok()?;
    let now = chrono::Utc::now().timestamp_micros();
    Some((now - micros).max(0) as f64 / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_value_moves_the_epoch_and_an_old_one_does_not() {
        let feed = ChangeFeed::default();
        assert!(!feed.is_current(), "nothing read yet");
        let e0 = feed.epoch();
        feed.observe(5, Instant::now());
        let e1 = feed.epoch();
        assert_ne!(e0, e1);
        assert!(feed.is_current());
        feed.observe(5, Instant::now());
        assert_eq!(feed.epoch(), e1, "same value, same epoch");
        feed.observe(6, Instant::now());
        assert_ne!(feed.epoch(), e1);
        assert_eq!(feed.last_counter(), Some(6));
    }

    #[test]
    fn trust_ends_after_a_failed_read() {
        let feed = ChangeFeed::default();
        feed.observe(1, Instant::now());
        let e = feed.epoch();
        feed.distrust();
        assert!(!feed.is_current());
        assert_ne!(feed.epoch(), e);
    }

    #[test]
    fn lag_is_read_from_the_payload() {
        let now = chrono::Utc::now().timestamp_micros();
        let lag = lag_of(&format!("7 {}", now - 250_000)).unwrap();
        assert!((0.2..1.0).contains(&lag), "{lag}");
        assert!(lag_of("7").is_none());
        assert!(lag_of("garbage here").is_none());
    }
}
