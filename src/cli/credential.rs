use crate::config::Config;
use crate::error::Result;
use crate::token::KeyRepository;

/// `ironstone credential rotate`.
pub async fn rotate(config: &Config) -> Result<()> {
    let store = super::open_store_for_command(config)?;
    let repo = KeyRepository::new(
        config.credential_key_repository(),
        config.fernet.max_active_keys,
    );
    let done = crate::credential::rotate::rotate(&store, &repo).await?;
    let keys: Vec<String> = done.keys.iter().map(u64::to_string).collect();
    println!(
        "credential keys rotated in {}: {}; {} stored credential(s) re-encrypted with the new primary key",
        repo.dir().display(),
        keys.join(", "),
        done.reencrypted
    );
    if done.changed_meanwhile > 0 {
        println!(
            "{} credential(s) changed while rotating (a running server wrote them), so no old key was removed; the next rotation re-encrypts them and trims",
            done.changed_meanwhile
        );
    }
    Ok(())
}
