//! What the benchmarks share: the admin password, numbers from the environment, and the real
//! server started in this process on a fresh store. Each benchmark uses a part of it.
#![allow(dead_code)]

use ironstone::app::Application;
use ironstone::bootstrap;
use ironstone::config::Config;
use ironstone::store::Store;
use secrecy::SecretString;

pub const PASSWORD: &str = "Bench-Pass-1";

pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Migrates the store, creates the keys, bootstraps (admin password `PASSWORD`) and serves in this
/// process; returns the base URL.
pub async fn serve_in_process(config: Config) -> String {
    let store = Store::connect(&config.database_url(), config.database_pool_size).expect("store");
    store.migrate().expect("migrate");
    ironstone::cli::serve::key_repositories(&config, &store, true).expect("keys");
    let app = Application::build(config, store).expect("app");
    let state = app.state();
    bootstrap::run(
        &state,
        bootstrap::Options {
            password: Some(SecretString::from(PASSWORD)),
            ..Default::default()
        },
        chrono::Utc::now(),
    )
    .await
    .expect("bootstrap");
    let base = format!("http://127.0.0.1:{}", app.port());
    actix_web::rt::spawn(app.run_until_stopped());
    base
}
