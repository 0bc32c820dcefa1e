//! The only module that knows SQL. One query code for PostgreSQL and SQLite through diesel's
//! `MultiConnection`; the backend is chosen by the URL scheme, never guessed.

pub mod schema;

mod accounts;
mod assignment;
mod catalog;
pub mod changes;
mod credential;
mod facts;
pub mod filter;
mod identity;
mod models;
mod resource;
mod revoke;

pub use accounts::*;
pub use assignment::*;
pub use catalog::*;
pub use credential::*;
pub use facts::*;
pub use identity::*;
pub use models::*;
pub use resource::*;
pub use revoke::*;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::error::{Error, Result};

#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgresql(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    /// The backend and the address its driver takes, from `postgres://...` or `sqlite://PATH`.
    pub fn from_url(url: &str) -> Result<(Backend, String)> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok((Backend::Postgres, url.to_string()))
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(Error::validation("database URL sqlite:// needs a file path, e.g. sqlite:///var/lib/ironstone/ironstone.db"));
            }
            Ok((Backend::Sqlite, path.to_string()))
        } else {
            let scheme = url
                .split("://")
                .next()
                .filter(|s| *s != url)
                .unwrap_or("(none)");
            Err(Error::validation(format!(
                "unsupported database URL scheme {scheme:?}: use postgres://USER@HOST/DB or sqlite://PATH"
            )))
        }
    }
}

/// r2d2 manager that opens the backend the URL names and prepares each SQLite connection.
#[derive(Debug)]
pub struct Manager {
    backend: Backend,
    address: String,
    /// Whether the last attempt to connect succeeded: tells a database that is down from a
    /// pool that is only busy.
    reachable: Arc<AtomicBool>,
}

/// A pooled connection plus what this process learned about it: a connection that failed with a
/// connection-class error is `broken` and leaves the pool on check-in instead of failing the next
/// request too. This replaces a test query on every checkout.
pub struct PoolConn {
    pub conn: DbConnection,
    pub broken: bool,
}

impl Manager {
    fn open(&self) -> Result<PoolConn, r2d2::Error> {
        let conn = match self.backend {
            Backend::Postgres => diesel::PgConnection::establish(&self.address)
                .map(DbConnection::Postgresql)
                .map_err(r2d2::Error::ConnectionError)?,
            Backend::Sqlite => {
                let mut conn = diesel::SqliteConnection::establish(&self.address)
                    .map_err(r2d2::Error::ConnectionError)?;
                // Foreign keys are off by default in SQLite; LIKE must be case-sensitive to match
                // PostgreSQL (the case-insensitive filters use lower()).
                conn.batch_execute(
                    "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                     PRAGMA foreign_keys = ON; PRAGMA case_sensitive_like = ON;",
                )
                .map_err(r2d2::Error::QueryError)?;
                DbConnection::Sqlite(conn)
            }
        };
        Ok(PoolConn {
            conn,
            broken: false,
        })
    }
}

impl ManageConnection for Manager {
    type Connection = PoolConn;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<PoolConn, r2d2::Error> {
        let conn = self.open();
        self.reachable.store(conn.is_ok(), Ordering::Relaxed);
        conn
    }

    /// Only called if `test_on_check_out` is set, which it is not: see `has_broken`.
    fn is_valid(&self, conn: &mut PoolConn) -> Result<(), r2d2::Error> {
        conn.conn
            .batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut PoolConn) -> bool {
        use diesel::r2d2::R2D2Connection;
        conn.broken || std::thread::panicking() || conn.conn.is_broken()
    }
}

pub type Pool = r2d2::Pool<Manager>;
pub type Conn = r2d2::PooledConnection<Manager>;

/// How long a request waits for a connection when the database is down (the pool's last attempt
/// to connect failed): a 503 must come fast, not after a long hang.
const CHECKOUT_WHEN_DOWN: Duration = Duration::from_millis(250);
/// How long a request waits for a busy pool whose connections work.
const CHECKOUT_WHEN_BUSY: Duration = Duration::from_secs(5);
/// r2d2 retries a failed connect with a back-off capped at half of this: it bounds how long the
/// service stays down after the database answers again.
const POOL_CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// The key of the PostgreSQL advisory lock that serializes start-up across nodes ("IRNS" in
/// ASCII, so that it does not collide with an application's small integers).
pub const STARTUP_LOCK_KEY: i64 = 0x4952_4e53;

/// Held while a node migrates, sets up keys and bootstraps; released when dropped (explicitly,
/// and in any case when its dedicated session closes).
pub struct StartupLock {
    conn: Option<diesel::PgConnection>,
}

impl Drop for StartupLock {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.as_mut() {
            if let Err(e) =
                conn.batch_execute(&format!("SELECT pg_advisory_unlock({STARTUP_LOCK_KEY})"))
            {
                // Closing the session below releases it anyway.
                tracing::warn!(error = %e, "cannot release the start-up lock; closing its session");
            }
        }
    }
}

/// A handle on the database: a connection pool plus the backend it talks to.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    backend: Backend,
    /// SQLite has one writer. A deferred transaction that reads and then writes while another
    /// holds the write lock fails at once with "database is locked" (waiting could deadlock), so
    /// this process runs its SQLite write transactions one at a time. PostgreSQL needs no such thing.
    /// Writers take their turn (an async lock) before a turn at the pool (`gate`) and a pooled
    /// connection, so that writers waiting in line hold none of what readers need, nor a thread.
    sqlite_writer: Arc<tokio::sync::Mutex<()>>,
    /// Shared with the pool's manager: did its last attempt to connect succeed?
    reachable: Arc<AtomicBool>,
    /// What this node knows of the change counter (`changes`), once `follow_changes` ran.
    feed: Arc<changes::ChangeFeed>,
    following: Arc<AtomicBool>,
    address: Arc<str>,
    /// One permit per pooled connection, taken before a blocking thread is: requests beyond the
    /// pool wait here, as futures, in order, instead of each parking a blocking thread on the
    /// pool's lock (64 waiting clients meant 64 threads, their wake-ups and their allocator
    /// arenas, for 10 connections).
    gate: Arc<tokio::sync::Semaphore>,
}

impl Store {
    /// Opens the pool and checks one connection, so that a bad URL fails start-up at once.
    pub fn connect(url: &str, pool_size: u32) -> Result<Store> {
        Store::connect_with(url, pool_size, None)
    }

    /// A store for a command that runs and exits: connections are opened when used, never in
    /// the background. (A pool filling itself while the process exits races libpq's TLS
    /// library against its own clean-up at exit, and the process crashes.)
    pub fn connect_for_command(url: &str) -> Result<Store> {
        Store::connect_with(url, 2, Some(0))
    }

    fn connect_with(url: &str, pool_size: u32, min_idle: Option<u32>) -> Result<Store> {
        let (backend, address) = Backend::from_url(url)?;
        if backend == Backend::Sqlite {
            if let Some(dir) = std::path::Path::new(&address)
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir).map_err(|e| {
                    Error::validation(format!(
                        "cannot create the database directory {}: {e}",
                        dir.display()
                    ))
                })?;
            }
        }
        let manager = Manager {
            backend,
            address,
            reachable: Arc::new(AtomicBool::new(true)),
        };
        // Check one connection by hand first: r2d2 retries silently until its timeout.
        manager.connect().map_err(|e| {
            Error::Unavailable(format!(
                "cannot open the database {}: {e}",
                crate::config::redact_url(url)
            ))
        })?;
        Ok(Store::with_manager(manager, pool_size, min_idle))
    }

    /// A store whose database may not answer yet (nothing is checked): requests answer 503
    /// until it does.
    pub fn connect_lazily(url: &str, pool_size: u32) -> Result<Store> {
        let (backend, address) = Backend::from_url(url)?;
        let manager = Manager {
            backend,
            address,
            reachable: Arc::new(AtomicBool::new(true)),
        };
        Ok(Store::with_manager(manager, pool_size, None))
    }

    fn with_manager(manager: Manager, pool_size: u32, min_idle: Option<u32>) -> Store {
        let backend = manager.backend;
        let reachable = manager.reachable.clone();
        let address: Arc<str> = manager.address.as_str().into();
        let pool = r2d2::Pool::builder()
            .max_size(if backend == Backend::Sqlite {
                pool_size.min(4)
            } else {
                pool_size
            })
            .connection_timeout(POOL_CONNECT_TIMEOUT)
            // No `SELECT 1` per checkout: a connection that fails is marked broken instead.
            .test_on_check_out(false)
            .min_idle(min_idle)
            .build_unchecked(manager);
        let gate = Arc::new(tokio::sync::Semaphore::new(pool.max_size() as usize));
        Store {
            gate,
            pool,
            backend,
            sqlite_writer: Arc::new(tokio::sync::Mutex::new(())),
            reachable,
            feed: Arc::default(),
            following: Arc::default(),
            address,
        }
    }

    /// The change feed this node follows (see `changes`).
    pub fn change_feed(&self) -> &Arc<changes::ChangeFeed> {
        &self.feed
    }

    /// Starts following the change feed: a watcher thread with its own connection, and a read of
    /// the counter after each write transaction of this process. For a serving node only (a
    /// command that runs and exits must not leave a connection open in a thread at exit).
    pub fn follow_changes(&self) -> Result<()> {
        if self.following.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        changes::spawn_watcher(
            self.backend,
            self.address.to_string(),
            Arc::downgrade(&self.feed),
        )
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Pooled connections now: (checked out, open and idle).
    pub fn pool_usage(&self) -> (u32, u32) {
        let s = self.pool.state();
        (
            s.connections.saturating_sub(s.idle_connections),
            s.idle_connections,
        )
    }

    /// A pooled connection. Fast when the database is unreachable (the last attempt to
    /// connect failed): 503 after `CHECKOUT_WHEN_DOWN`. A pool that is merely busy, or still
    /// connecting, is waited for longer.
    pub fn conn(&self) -> Result<Conn> {
        match self.pool.get_timeout(CHECKOUT_WHEN_DOWN) {
            Ok(c) => Ok(c),
            Err(e) if !self.reachable.load(Ordering::Relaxed) => Err(e.into()),
            Err(_) => Ok(self.pool.get_timeout(CHECKOUT_WHEN_BUSY)?),
        }
    }

    /// A turn at the pool (see `gate`), held until the blocking work ends. While the database
    /// looks unreachable a turn is waited for as a connection would be (`CHECKOUT_WHEN_DOWN`),
    /// then 503: a request must not queue behind others that each wait that long.
    async fn turn(&self) -> Result<tokio::sync::OwnedSemaphorePermit> {
        let gate = self.gate.clone();
        let closed = |e: tokio::sync::AcquireError| Error::internal(format!("database gate: {e}"));
        if self.reachable.load(Ordering::Relaxed) {
            return gate.acquire_owned().await.map_err(closed);
        }
        match tokio::time::timeout(CHECKOUT_WHEN_DOWN, gate.acquire_owned()).await {
            Ok(turn) => turn.map_err(closed),
            Err(_) => Err(Error::Unavailable(
                "The identity store is not reachable right now; try again shortly.".into(),
            )),
        }
    }

    /// Runs `f` with a connection on the blocking pool, so that async handlers never block.
    /// For reads: when the connection turns out to be broken (the database closed it, e.g. a
    /// restart or a killed backend), `f` runs again on another connection. Broken connections
    /// fail at once and leave the pool, so this tries at most once per pooled connection plus
    /// one fresh connection: after a restart every idle connection is dead, not just one.
    pub async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T> + Clone + Send + 'static,
    {
        let store = self.clone();
        let turn = self.turn().await?;
        tokio::task::spawn_blocking(move || {
            let _turn = turn;
            let attempts = store.pool.max_size() + 1;
            let mut attempt = 1;
            loop {
                let mut pc = store.conn()?;
                match f.clone()(&mut pc.conn) {
                    // Only a connection-class failure becomes `Unavailable` inside `f`: this
                    // connection must not serve another request, and another one may work.
                    Err(Error::Unavailable(reason)) => {
                        pc.broken = true;
                        if attempt >= attempts {
                            return Err(Error::Unavailable(reason));
                        }
                        tracing::debug!(%reason, attempt, "database connection lost; retrying");
                        attempt += 1;
                    }
                    other => return other,
                }
            }
        })
        .await
        .map_err(|e| Error::internal(format!("blocking task failed: {e}")))?
    }

    /// Runs `f` in one transaction: all of it is written or none. A connection found broken
    /// when the transaction begins (nothing done yet) is replaced; a failure after that is not
    /// retried (`f` is consumed and a failed COMMIT may have landed) and answers 503.
    pub async fn tx<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T> + Send + 'static,
    {
        use diesel::connection::TransactionManager;
        type Tm = <DbConnection as Connection>::TransactionManager;
        let store = self.clone();
        let writer = match self.backend {
            Backend::Sqlite => Some(self.sqlite_writer.clone().lock_owned().await),
            Backend::Postgres => None,
        };
        let turn = self.turn().await?;
        tokio::task::spawn_blocking(move || {
            let _turn = (writer, turn);
            // As in `run`: nothing has been done when BEGIN fails, so another connection is safe.
            let attempts = store.pool.max_size() + 1;
            let mut attempt = 1;
            let mut pc = loop {
                let mut pc = store.conn()?;
                match Tm::begin_transaction(&mut pc.conn).map_err(Error::from) {
                    Ok(()) => break pc,
                    Err(Error::Unavailable(reason)) if attempt < attempts => {
                        tracing::debug!(%reason, attempt, "database connection lost; retrying");
                        pc.broken = true;
                        attempt += 1;
                    }
                    Err(e) => {
                        pc.broken = matches!(e, Error::Unavailable(_));
                        return Err(e);
                    }
                }
            };
            let out = match f(&mut pc.conn) {
                Ok(v) => Tm::commit_transaction(&mut pc.conn)
                    .map(|()| v)
                    .map_err(Error::from),
                Err(e) => match Tm::rollback_transaction(&mut pc.conn) {
                    Ok(()) => Err(e),
                    Err(rollback) => {
                        tracing::debug!(error = %rollback, "rollback failed");
                        pc.broken = true;
                        Err(e)
                    }
                },
            };
            if matches!(out, Err(Error::Unavailable(_))) {
                pc.broken = true;
            }
            // What this transaction changed is seen by this node's cache before its response
            // leaves (the watcher would see it too, a few milliseconds later).
            if out.is_ok() && store.following.load(Ordering::Acquire) {
                store.feed.refresh(&mut pc.conn);
            }
            out
        })
        .await
        .map_err(|e| Error::internal(format!("blocking task failed: {e}")))?
    }

    /// Serializes start-up (migrations, key set-up, bootstrap) across the nodes that share this
    /// database: on PostgreSQL, waits for a session advisory lock on a dedicated connection (not
    /// a pooled one) and holds it until the guard is dropped. SQLite has one node: no lock.
    pub fn startup_lock(&self, url: &str) -> Result<StartupLock> {
        if self.backend != Backend::Postgres {
            return Ok(StartupLock { conn: None });
        }
        let shown = crate::config::redact_url(url);
        let (_, address) = Backend::from_url(url)?;
        let mut conn = diesel::PgConnection::establish(&address).map_err(|e| {
            Error::Unavailable(format!(
                "cannot open the database {shown} to lock start-up: {e}"
            ))
        })?;
        conn.batch_execute(&format!("SELECT pg_advisory_lock({STARTUP_LOCK_KEY})"))
            .map_err(|e| {
                Error::Unavailable(format!(
                    "cannot take the start-up lock on the database {shown}: {e}"
                ))
            })?;
        Ok(StartupLock { conn: Some(conn) })
    }

    /// Applies pending migrations; returns how many ran.
    pub fn migrate(&self) -> Result<usize> {
        let mut conn = self.conn()?;
        let ran = match &mut conn.conn {
            DbConnection::Postgresql(c) => c
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|v| v.len()),
            DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
        };
        ran.map_err(|e| Error::internal(format!("migration failed: {e}")))
    }

    /// Reverts the newest applied migration (an operator's rollback; upgrade tests use it to
    /// recreate a store from before a migration).
    pub fn revert_last_migration(&self) -> Result<()> {
        let mut conn = self.conn()?;
        match &mut conn.conn {
            DbConnection::Postgresql(c) => c.revert_last_migration(POSTGRES_MIGRATIONS).map(|_| ()),
            DbConnection::Sqlite(c) => c.revert_last_migration(SQLITE_MIGRATIONS).map(|_| ()),
        }
        .map_err(|e| Error::internal(format!("migration revert failed: {e}")))
    }

    /// True when migrations are waiting to be applied.
    pub fn has_pending_migrations(&self) -> Result<bool> {
        let mut conn = self.conn()?;
        match &mut conn.conn {
            DbConnection::Postgresql(c) => c.has_pending_migration(POSTGRES_MIGRATIONS),
            DbConnection::Sqlite(c) => c.has_pending_migration(SQLITE_MIGRATIONS),
        }
        .map_err(|e| Error::internal(format!("cannot read migration state: {e}")))
    }

    /// True once bootstrap has run on this store (recorded by bootstrap, or by the migration that
    /// introduced the record for stores bootstrapped before it). Call on a migrated schema.
    pub fn is_bootstrapped(&self) -> Result<bool> {
        Ok(get_fact(&mut self.conn()?.conn, FACT_BOOTSTRAPPED_AT)?.is_some())
    }

    pub async fn ping(&self) -> Result<()> {
        self.run(|conn| conn.batch_execute("SELECT 1").map_err(Error::from))
            .await
    }
}

/// Maps a unique-constraint violation to 409 with `conflict`'s message; anything else as usual.
pub(crate) fn on_conflict(
    conflict: impl FnOnce() -> String,
) -> impl FnOnce(diesel::result::Error) -> Error {
    move |e| match e {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ) => Error::Conflict(conflict()),
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::ForeignKeyViolation,
            info,
        ) => {
            tracing::debug!(detail = info.message(), "foreign key violation");
            Error::Validation("A referenced resource does not exist.".into())
        }
        other => Error::from(other),
    }
}

/// Locks the row `id` of `table` until the transaction ends, so that a read-modify-write inside
/// it cannot lose a concurrent change. PostgreSQL: `SELECT ... FOR UPDATE`. SQLite: nothing to
/// do, this process runs its write transactions one at a time (`Store::tx`) and a transaction
/// reads what the previous one committed.
pub(crate) fn lock_row(conn: &mut DbConnection, table: &'static str, id: &str) -> Result<()> {
    if let DbConnection::Postgresql(pg) = conn {
        // `table` is one of this module's own table names, never input.
        diesel::sql_query(format!("SELECT 1 FROM {table} WHERE id = $1 FOR UPDATE"))
            .bind::<diesel::sql_types::Text, _>(id)
            .execute(pg)?;
    }
    Ok(())
}

/// Applies the change a request made (`$base` as it read the row, `$new` as it wants it) to the
/// row as it is now (`$current`, read with the row locked): only the attributes the request
/// changed are written, so a concurrent change of others is kept. `extra` (a JSON object) is
/// merged key by key.
macro_rules! merge_changes {
    ($current:expr, $base:expr, $new:expr; $($field:ident),+) => {{
        let mut merged = $current;
        $(
            if $new.$field != $base.$field {
                merged.$field = $new.$field.clone();
            }
        )+
        merged.extra = $crate::store::merge_extra_change(&merged.extra, &$base.extra, &$new.extra);
        merged
    }};
}
pub(crate) use merge_changes;

/// Three-way merge of a JSON object kept as text: the keys `new` changed relative to `base` are
/// set (or removed) on `current`; everything else of `current` stays.
pub(crate) fn merge_extra_change(current: &str, base: &str, new: &str) -> String {
    use serde_json::{Map, Value};
    if base == new {
        return current.to_string();
    }
    let parse = |s: &str| serde_json::from_str::<Map<String, Value>>(s).ok();
    let (Some(mut cur), Some(base), Some(new)) = (parse(current), parse(base), parse(new)) else {
        return new.to_string();
    };
    for (k, v) in &new {
        if base.get(k) != Some(v) {
            cur.insert(k.clone(), v.clone());
        }
    }
    for k in base.keys() {
        if !new.contains_key(k) {
            cur.remove(k);
        }
    }
    Value::Object(cur).to_string()
}

/// Runs one insert in a savepoint: inserting a row that exists already (a concurrent identical
/// request got there first) is not an error. True when this call inserted it.
pub(crate) fn insert_once(
    conn: &mut DbConnection,
    insert: impl FnOnce(&mut DbConnection) -> diesel::QueryResult<usize>,
) -> Result<bool> {
    match conn.transaction(insert) {
        Ok(n) => Ok(n > 0),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Largest number of values bound in one `IN (...)` list; well under SQLite's 32,766 and
/// PostgreSQL's 65,535 bind parameters, leaving room for the rest of the query.
pub(crate) const MAX_IN_LIST: usize = 10_000;

/// Lists by an id list too long for one `IN (...)`: `list` runs once per chunk of distinct ids
/// (with the filter's other conditions, its order and its limit), and the rows are merged in the
/// list's order (`key`) and cut at `limit`. `None` when `ids` fits one query: list as usual.
pub(crate) fn list_in_chunks<T, K: Ord>(
    ids: Option<&Vec<String>>,
    limit: Option<i64>,
    mut list: impl FnMut(Vec<String>) -> Result<Vec<T>>,
    key: impl Fn(&T) -> K,
) -> Option<Result<Vec<T>>> {
    let ids = ids.filter(|ids| ids.len() > MAX_IN_LIST)?;
    let mut ids = ids.clone();
    ids.sort_unstable();
    ids.dedup();
    let mut rows = Vec::new();
    for chunk in ids.chunks(MAX_IN_LIST) {
        match list(chunk.to_vec()) {
            Ok(r) => rows.extend(r),
            Err(e) => return Some(Err(e)),
        }
    }
    rows.sort_by_key(|r| key(r));
    if let Some(limit) = limit {
        rows.truncate(usize::try_from(limit).unwrap_or(0));
    }
    Some(Ok(rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_selects_backend() {
        assert_eq!(
            Backend::from_url("postgres://u@h/db").unwrap().0,
            Backend::Postgres
        );
        assert_eq!(
            Backend::from_url("postgresql://u@h/db").unwrap().0,
            Backend::Postgres
        );
        assert_eq!(
            Backend::from_url("sqlite:///tmp/x.db").unwrap(),
            (Backend::Sqlite, "/tmp/x.db".into())
        );
    }

    #[tokio::test]
    async fn a_pool_that_cannot_connect_answers_unavailable_fast() {
        // Nothing listens on port 1: every connect is refused.
        let store = Store::connect_lazily("postgres://postgres@127.0.0.1:1/none", 4).unwrap();
        for _ in 0..3 {
            let started = std::time::Instant::now();
            let read = store.run(|_| Ok(())).await;
            let write = store.tx(|_| Ok(())).await;
            let took = started.elapsed();
            assert!(matches!(read, Err(Error::Unavailable(_))), "{read:?}");
            assert!(matches!(write, Err(Error::Unavailable(_))), "{write:?}");
            assert!(took < std::time::Duration::from_secs(1), "took {took:?}");
        }
    }

    #[test]
    fn list_in_chunks_merges_in_order_and_limit() {
        let ids: Vec<String> = (0..25_000).rev().map(|i| format!("{i:06}")).collect();
        let mut calls = 0;
        let rows = list_in_chunks(
            Some(&ids),
            Some(3),
            |chunk| {
                calls += 1;
                assert!(chunk.len() <= MAX_IN_LIST);
                Ok(chunk.into_iter().take(3).collect::<Vec<_>>())
            },
            |r| r.clone(),
        )
        .unwrap()
        .unwrap();
        assert_eq!(calls, 3);
        assert_eq!(rows, vec!["000000", "000001", "000002"]);
        assert!(list_in_chunks(Some(&vec!["a".into()]), None, |_| Ok(vec![()]), |_| 0).is_none());
    }

    #[test]
    fn extra_attributes_merge_key_by_key() {
        let merged = merge_extra_change(
            r#"{"a":1,"b":2,"c":3}"#,
            r#"{"a":1,"b":1}"#,
            r#"{"b":5,"d":4}"#,
        );
        let v: serde_json::Value = serde_json::from_str(&merged).unwrap();
        assert_eq!(v, serde_json::json!({"b": 5, "c": 3, "d": 4}));
    }

    #[test]
    fn unknown_scheme_is_refused_not_turned_into_a_file() {
        let err = Backend::from_url("mysql://u@h/db").unwrap_err().to_string();
        assert!(err.contains("\"mysql\""), "{err}");
        assert!(Backend::from_url("/tmp/plain-path.db").is_err());
        assert!(Backend::from_url("sqlite://").is_err());
    }
}
