use chrono::Utc;

use crate::app::Application;
use crate::bootstrap::Report;
use crate::config::{redact_url, Config};
use crate::error::{Error, Result};
use crate::store::{Backend, Store};
use crate::token::KeyRepository;

/// Serves; applies pending migrations first, and on a store that was never bootstrapped creates
/// keys and bootstraps.
pub async fn run(config: Config) -> Result<()> {
    let url = config.database_url();
    let app = prepare(config, true).await?;
    tracing::info!(url = %app.state().public_url(), database = %redact_url(&url), "Ironstone is serving");
    if let Some(bind) = &app.state().config.metrics.bind {
        tracing::info!(%bind, port = app.metrics_port(), "serving /metrics (Prometheus) there only");
    }
    app.run_until_stopped()
        .await
        .map_err(|e| Error::internal(format!("server: {e}")))
}

/// Everything `serve` does before it serves: migrations, and on a store that was never
/// bootstrapped the keys and bootstrap (reported on standard output when `print` is set).
///
/// Several nodes may start at once on one PostgreSQL database: the whole sequence runs under
/// the store's start-up lock, so one node migrates and bootstraps while the others wait, then
/// find everything done.
pub async fn prepare(config: Config, print: bool) -> Result<Application> {
    let url = config.database_url();
    let shown = redact_url(&url);
    let store = super::open_store(&config)?;
    let lock = store.startup_lock(&url)?;
    let pending = store.has_pending_migrations().map_err(|e| {
        Error::validation(format!(
            "cannot read the migration state of the database {shown}: {}",
            detail(&e)
        ))
    })?;
    if pending {
        let ran = store.migrate().map_err(|e| {
            Error::validation(format!(
                "cannot migrate the database {shown}: {}",
                detail(&e)
            ))
        })?;
        tracing::info!(database = %shown, migrations = ran, "schema migrated");
    }
    // Bootstrap runs by itself on a store that never had it, never again: an upgrade that brings
    // a migration must not create a second admin or print a password to the logs.
    let first_run = !store.is_bootstrapped().map_err(|e| {
        Error::validation(format!(
            "cannot read whether the database {shown} is bootstrapped: {}",
            detail(&e)
        ))
    })?;
    key_repositories(&config, &store, first_run)?;
    let app = Application::build(config, store)?;
    if first_run {
        let state = app.state();
        let opts = super::bootstrap::options_from_env(None)?;
        let (user, project) = (opts.username.clone(), opts.project_name.clone());
        let report: Report = crate::bootstrap::run(&state, opts, Utc::now())
            .await
            .map_err(|e| {
                Error::validation(format!(
                    "cannot bootstrap the database {shown}: {}",
                    detail(&e)
                ))
            })?;
        if print {
            super::bootstrap::print_report(&state, &report, &user, &project);
        }
    }
    drop(lock);
    Ok(app)
}

/// The fernet and credential key repositories every node must share. Only the node that
/// bootstraps a never-bootstrapped store creates them (it holds the start-up lock); any other
/// node finds them or stops, since keys of its own would make the other nodes' tokens and
/// stored credentials unreadable here and its own unreadable there. The embedded SQLite store
/// has one node and creates a missing credential repository, as it always has.
pub fn key_repositories(config: &Config, store: &Store, bootstrapping: bool) -> Result<()> {
    let max = config.fernet.max_active_keys;
    let repos = [
        (
            KeyRepository::new(config.key_repository(), max),
            "fernet",
            "IRONSTONE_KEY_REPOSITORY",
            false,
        ),
        (
            KeyRepository::new(config.credential_key_repository(), max),
            "credential",
            "IRONSTONE_CREDENTIAL_KEY_REPOSITORY",
            store.backend() == Backend::Sqlite,
        ),
    ];
    for (repo, kind, variable, create_anyway) in repos {
        if bootstrapping || create_anyway {
            if repo.setup()? {
                tracing::info!(repository = %repo.dir().display(), "{kind} keys created");
            }
        } else if !has_keys(&repo) {
            return Err(Error::validation(format!(
                "{kind} key repository {} is missing on a node whose store is already \
                 bootstrapped: copy it from the first node, or share one directory between the \
                 nodes ({variable}; see README, \"Several nodes\")",
                repo.dir().display()
            )));
        }
    }
    Ok(())
}

fn has_keys(repo: &KeyRepository) -> bool {
    repo.dir().is_dir() && repo.key_files().is_ok_and(|f| !f.is_empty())
}

/// What went wrong, in full: an internal error's detail is logged-only text for a client, but the
/// operator starting the server must read it.
fn detail(e: &Error) -> String {
    match e {
        Error::Internal(d) => d.clone(),
        other => other.to_string(),
    }
}
