use crate::config::{redact_url, Config};
use crate::error::Result;

pub fn sync(config: &Config) -> Result<()> {
    let store = super::open_store_for_command(config)?;
    let ran = store.migrate()?;
    println!(
        "database {}: {ran} migration(s) applied",
        redact_url(&config.database_url())
    );
    Ok(())
}
