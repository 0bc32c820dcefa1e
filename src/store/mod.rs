//! The only module that knows SQL. One query code for PostgreSQL and SQLite through diesel's
//! `MultiConnection`; the backend is chosen by the URL scheme, never guessed.

pub mod schema;

mod assignment;
mod catalog;
mod credential;
mod facts;
pub mod filter;
mod identity;
mod models;
mod resource;
mod revoke;

pub use assignment::*;
pub use catalog::*;
pub use credential::*;
pub use facts::*;
pub use identity::*;
pub use models::*;
pub use resource::*;
pub use revoke::*;

use std::sync::{Arc, Mutex};
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
}

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        match self.backend {
            Backend::Postgres => diesel::PgConnection::establish(&self.address)
                .map(DbConnection::Postgresql)
                .map_err(r2d2::Error::ConnectionError),
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
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, _conn: &mut DbConnection) -> bool {
        false
    }
}

pub type Pool = r2d2::Pool<Manager>;
pub type Conn = r2d2::PooledConnection<Manager>;

/// A handle on the database: a connection pool plus the backend it talks to.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    backend: Backend,
    /// SQLite has one writer. A deferred transaction that reads and then writes while another
    /// holds the write lock fails at once with "database is locked" (waiting could deadlock), so
    /// this process runs its SQLite write transactions one at a time. PostgreSQL needs no such thing.
    sqlite_writer: Arc<Mutex<()>>,
}

impl Store {
    /// Opens the pool and checks one connection, so that a bad URL fails start-up at once.
    pub fn connect(url: &str, pool_size: u32) -> Result<Store> {
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
        let manager = Manager { backend, address };
        // Check one connection by hand first: r2d2 retries silently until its timeout.
        manager.connect().map_err(|e| {
            Error::Unavailable(format!(
                "cannot open the database {}: {e}",
                crate::config::redact_url(url)
            ))
        })?;
        let pool = r2d2::Pool::builder()
            .max_size(if backend == Backend::Sqlite {
                pool_size.min(4)
            } else {
                pool_size
            })
            .connection_timeout(Duration::from_secs(10))
            .build_unchecked(manager);
        Ok(Store {
            pool,
            backend,
            sqlite_writer: Arc::new(Mutex::new(())),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn conn(&self) -> Result<Conn> {
        Ok(self.pool.get()?)
    }

    /// Runs `f` with a connection on the blocking pool, so that async handlers never block.
    pub async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = store.conn()?;
            f(&mut conn)
        })
        .await
        .map_err(|e| Error::internal(format!("blocking task failed: {e}")))?
    }

    /// Runs `f` in one transaction: all of it is written or none.
    pub async fn tx<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T> + Send + 'static,
    {
        let writer = (self.backend == Backend::Sqlite).then(|| self.sqlite_writer.clone());
        self.run(move |conn| {
            // A poisoned lock only means another writer panicked; the database rolled it back.
            let _turn = writer
                .as_ref()
                .map(|w| w.lock().unwrap_or_else(|p| p.into_inner()));
            conn.transaction(f)
        })
        .await
    }

    /// Applies pending migrations; returns how many ran.
    pub fn migrate(&self) -> Result<usize> {
        let mut conn = self.conn()?;
        let ran = match &mut *conn {
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
        match &mut *conn {
            DbConnection::Postgresql(c) => c.revert_last_migration(POSTGRES_MIGRATIONS).map(|_| ()),
            DbConnection::Sqlite(c) => c.revert_last_migration(SQLITE_MIGRATIONS).map(|_| ()),
        }
        .map_err(|e| Error::internal(format!("migration revert failed: {e}")))
    }

    /// True when migrations are waiting to be applied.
    pub fn has_pending_migrations(&self) -> Result<bool> {
        let mut conn = self.conn()?;
        match &mut *conn {
            DbConnection::Postgresql(c) => c.has_pending_migration(POSTGRES_MIGRATIONS),
            DbConnection::Sqlite(c) => c.has_pending_migration(SQLITE_MIGRATIONS),
        }
        .map_err(|e| Error::internal(format!("cannot read migration state: {e}")))
    }

    /// True once bootstrap has run on this store (recorded by bootstrap, or by the migration that
    /// introduced the record for stores bootstrapped before it). Call on a migrated schema.
    pub fn is_bootstrapped(&self) -> Result<bool> {
        Ok(get_fact(&mut *self.conn()?, FACT_BOOTSTRAPPED_AT)?.is_some())
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

    #[test]
    fn unknown_scheme_is_refused_not_turned_into_a_file() {
        let err = Backend::from_url("mysql://u@h/db").unwrap_err().to_string();
        assert!(err.contains("\"mysql\""), "{err}");
        assert!(Backend::from_url("/tmp/plain-path.db").is_err());
        assert!(Backend::from_url("sqlite://").is_err());
    }
}
