use crate::config::Config;
use crate::error::Result;
use crate::token::KeyRepository;

fn repo(config: &Config) -> KeyRepository {
    KeyRepository::new(config.key_repository(), config.fernet.max_active_keys)
}

pub fn setup(config: &Config) -> Result<()> {
    let repo = repo(config);
    if repo.setup()? {
        println!("fernet keys created in {}", repo.dir().display());
    } else {
        println!(
            "fernet keys already present in {}; nothing changed",
            repo.dir().display()
        );
    }
    Ok(())
}

pub fn rotate(config: &Config) -> Result<()> {
    let repo = repo(config);
    repo.rotate()?;
    let keys: Vec<String> = repo.key_files()?.keys().map(|k| k.to_string()).collect();
    println!(
        "fernet keys rotated in {}: {}",
        repo.dir().display(),
        keys.join(", ")
    );
    Ok(())
}
