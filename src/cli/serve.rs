use chrono::Utc;

use crate::app::Application;
use crate::bootstrap::Report;
use crate::config::{redact_url, Config};
use crate::error::Result;
use crate::token::KeyRepository;

/// Serves; applies pending migrations first, and on a store that was never bootstrapped creates
/// keys and bootstraps.
pub async fn run(config: Config) -> Result<()> {
    let url = config.database_url();
    let app = prepare(config, true).await?;
    tracing::info!(url = %app.state().public_url(), database = %redact_url(&url), "Ironstone is serving");
    app.run_until_stopped()
        .await
        .map_err(|e| crate::error::Error::internal(format!("server: {e}")))
}

/// Everything `serve` does before it serves: migrations, and on a store that was never
/// bootstrapped the keys and bootstrap (reported on standard output when `print` is set).
pub async fn prepare(config: Config, print: bool) -> Result<Application> {
    let url = config.database_url();
    let store = super::open_store(&config)?;
    if store.has_pending_migrations()? {
        let ran = store.migrate()?;
        tracing::info!(database = %redact_url(&url), migrations = ran, "schema migrated");
    }
    // Bootstrap runs by itself on a store that never had it, never again: an upgrade that brings
    // a migration must not create a second admin or print a password to the logs.
    let first_run = !store.is_bootstrapped()?;
    let repo = KeyRepository::new(config.key_repository(), config.fernet.max_active_keys);
    if first_run && repo.setup()? {
        tracing::info!(repository = %repo.dir().display(), "fernet keys created");
    }
    let app = Application::build(config, store)?;
    if first_run {
        let state = app.state();
        let opts = super::bootstrap::options_from_env(None)?;
        let (user, project) = (opts.username.clone(), opts.project_name.clone());
        let report: Report = crate::bootstrap::run(&state, opts, Utc::now()).await?;
        if print {
            super::bootstrap::print_report(&state, &report, &user, &project);
        }
    }
    Ok(app)
}
