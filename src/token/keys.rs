//! The fernet key repository, in Keystone's layout: files `0..N` each holding one url-safe base64
//! key; `0` is staged, the highest number is the primary (encrypts), every key decrypts.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::error::{Error, Result};

pub struct KeyRepository {
    dir: PathBuf,
    max_active_keys: usize,
}

impl KeyRepository {
    pub fn new(dir: impl Into<PathBuf>, max_active_keys: usize) -> Self {
        KeyRepository {
            dir: dir.into(),
            max_active_keys,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Key files by index. A file whose name is not a number is ignored, as Keystone does.
    pub fn key_files(&self) -> Result<BTreeMap<u64, PathBuf>> {
        let entries = fs::read_dir(&self.dir).map_err(|e| {
            Error::validation(format!(
                "cannot read the fernet key repository {}: {e}",
                self.dir.display()
            ))
        })?;
        let mut files = BTreeMap::new();
        for entry in entries.flatten() {
            if let Some(n) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u64>().ok())
            {
                files.insert(n, entry.path());
            }
        }
        Ok(files)
    }

    /// Keys, primary first, then the others from newest to oldest, the staged key last.
    pub fn load(&self) -> Result<Vec<fernet::Fernet>> {
        let files = self.key_files()?;
        if files.len() < 2 {
            return Err(Error::validation(format!(
                "the fernet key repository {} holds {} key(s); run `ironstone fernet setup`",
                self.dir.display(),
                files.len()
            )));
        }
        let mut order: Vec<u64> = files.keys().copied().filter(|n| *n != 0).rev().collect();
        if files.contains_key(&0) {
            order.push(0);
        }
        order
            .into_iter()
            .map(|n| {
                let path = &files[&n];
                let text = Zeroizing::new(fs::read_to_string(path).map_err(|e| {
                    Error::validation(format!("cannot read fernet key {}: {e}", path.display()))
                })?);
                fernet::Fernet::new(text.trim()).ok_or_else(|| {
                    Error::validation(format!(
                        "fernet key {} is not a valid url-safe base64 key",
                        path.display()
                    ))
                })
            })
            .collect()
    }

    /// Creates the repository with a staged and a primary key; does nothing when keys exist.
    /// Returns whether it created keys.
    pub fn setup(&self) -> Result<bool> {
        create_private_dir(&self.dir)?;
        if !self.key_files()?.is_empty() {
            return Ok(false);
        }
        self.write_key(0)?;
        self.rotate()?;
        Ok(true)
    }

    /// Keystone's rotation: the staged key `0` becomes the new primary `max+1`, a new staged key
    /// is written, and the oldest keys beyond `max_active_keys` are removed.
    pub fn rotate(&self) -> Result<()> {
        self.promote()?;
        self.trim()
    }

    /// The first half of a rotation: the staged key `0` becomes the new primary `max+1` and a
    /// new staged key is written; no key is removed yet.
    pub fn promote(&self) -> Result<()> {
        let files = self.key_files()?;
        if !files.contains_key(&0) {
            return Err(Error::validation(format!(
                "the fernet key repository {} has no staged key 0; run `ironstone fernet setup`",
                self.dir.display()
            )));
        }
        let new_primary = files.keys().max().copied().unwrap_or(0) + 1;
        let new_path = self.dir.join(new_primary.to_string());
        fs::rename(&files[&0], &new_path)
            .map_err(|e| Error::internal(format!("cannot promote staged key: {e}")))?;
        self.write_key(0)
    }

    /// The second half: the oldest keys beyond `max_active_keys` (staged key included) are removed.
    pub fn trim(&self) -> Result<()> {
        let mut files = self.key_files()?;
        files.remove(&0);
        let mut keys: Vec<u64> = files.keys().copied().collect();
        while keys.len() > self.max_active_keys.saturating_sub(1).max(1) {
            let oldest = keys.remove(0);
            fs::remove_file(&files[&oldest])
                .map_err(|e| Error::internal(format!("cannot remove old key {oldest}: {e}")))?;
        }
        Ok(())
    }

    /// Writes a new random key as file `n`, readable by the owner only, atomically.
    fn write_key(&self, n: u64) -> Result<()> {
        let key = Zeroizing::new(fernet::Fernet::generate_key());
        let tmp = self.dir.join(format!(".{n}.tmp"));
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp).map_err(|e| {
            Error::validation(format!(
                "cannot write fernet key in {}: {e}",
                self.dir.display()
            ))
        })?;
        f.write_all(key.as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(|e| Error::internal(format!("cannot write key: {e}")))?;
        fs::rename(&tmp, self.dir.join(n.to_string()))
            .map_err(|e| Error::internal(format!("cannot place key: {e}")))?;
        Ok(())
    }

    /// SHA-256 over every key file's name and content: changes when a key is added, removed or
    /// rewritten in place (a directory's mtime does not see the last).
    fn fingerprint(&self) -> Result<[u8; 32]> {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        for (n, path) in self.key_files()? {
            let text = Zeroizing::new(fs::read(&path).map_err(|e| {
                Error::validation(format!("cannot read fernet key {}: {e}", path.display()))
            })?);
            h.update(n.to_le_bytes());
            h.update((text.len() as u64).to_le_bytes());
            h.update(text.as_slice());
        }
        Ok(h.finalize().into())
    }
}

fn create_private_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir).map_err(|e| {
        Error::validation(format!(
            "cannot create the fernet key repository {}: {e}",
            dir.display()
        ))
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
    }
    Ok(())
}

/// The loaded keys, re-read when the repository changes (rotation by cron or on another node,
/// a key file rewritten in place).
pub struct KeyRing {
    repo: KeyRepository,
    state: RwLock<Loaded>,
    /// Held by the one caller that reads the files; the others keep using the loaded keys.
    checking: Mutex<()>,
    recheck: Duration,
}

struct Loaded {
    keys: Arc<Keys>,
    fingerprint: Option<[u8; 32]>,
    checked: Instant,
}

pub struct Keys {
    pub primary: fernet::Fernet,
    pub all: fernet::MultiFernet,
    /// A fingerprint of the primary key (SHA-256 of it, hex), recorded beside what it encrypts.
    pub primary_hash: String,
}

/// How often a running server looks at its key repositories: a key rotated on one node (or a
/// file copied in) is used by every node within a second.
const RECHECK: Duration = Duration::from_millis(500);

impl KeyRing {
    pub fn open(repo: KeyRepository) -> Result<KeyRing> {
        Self::open_with_recheck(repo, RECHECK)
    }

    fn open_with_recheck(repo: KeyRepository, recheck: Duration) -> Result<KeyRing> {
        let fingerprint = repo.fingerprint().ok();
        let keys = Arc::new(Self::read(&repo)?);
        Ok(KeyRing {
            repo,
            state: RwLock::new(Loaded {
                keys,
                fingerprint,
                checked: Instant::now(),
            }),
            checking: Mutex::new(()),
            recheck,
        })
    }

    /// The keys of `repo` as they are on disk now.
    pub fn read(repo: &KeyRepository) -> Result<Keys> {
        let mut keys = repo.load()?;
        let primary = keys[0].clone();
        let all = fernet::MultiFernet::new(std::mem::take(&mut keys));
        let primary_hash = match repo.key_files()?.iter().next_back() {
            Some((_, path)) => {
                use sha2::Digest;
                let text = Zeroizing::new(fs::read_to_string(path).unwrap_or_default());
                hex::encode(sha2::Sha256::digest(text.trim().as_bytes()))
            }
            None => String::new(),
        };
        Ok(Keys {
            primary,
            all,
            primary_hash,
        })
    }

    /// The current keys. At most every `RECHECK` (half a second) one caller re-reads the key files (a few
    /// small reads, outside the lock the others take) and reloads when their names or contents
    /// changed; everyone else meanwhile answers with the loaded keys.
    pub fn keys(&self) -> Arc<Keys> {
        let current = {
            let state = self.state.read().unwrap_or_else(|p| p.into_inner());
            if state.checked.elapsed() < self.recheck {
                return state.keys.clone();
            }
            (state.keys.clone(), state.fingerprint)
        };
        let Ok(_checking) = self.checking.try_lock() else {
            return current.0;
        };
        let fingerprint = match self.repo.fingerprint() {
            Ok(f) => Some(f),
            Err(e) => {
                tracing::error!(error = %e, "fernet key repository unreadable; keeping the loaded keys");
                None
            }
        };
        let reloaded = match fingerprint {
            Some(f) if Some(f) != current.1 => match Self::read(&self.repo) {
                Ok(keys) => Some(Arc::new(keys)),
                Err(e) => {
                    tracing::error!(error = %e, "fernet key repository unreadable; keeping the loaded keys");
                    None
                }
            },
            _ => None,
        };
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        state.checked = Instant::now();
        if let Some(keys) = reloaded {
            tracing::info!(repository = %self.repo.dir().display(), "fernet keys reloaded");
            state.keys = keys;
            state.fingerprint = fingerprint;
        }
        state.keys.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(repo: &KeyRepository) -> Vec<u64> {
        repo.key_files().unwrap().keys().copied().collect()
    }

    #[test]
    fn setup_creates_staged_and_primary_and_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let repo = KeyRepository::new(dir.path().join("keys"), 3);
        assert!(repo.setup().unwrap());
        assert_eq!(names(&repo), vec![0, 1]);
        assert!(!repo.setup().unwrap());
        assert_eq!(names(&repo), vec![0, 1]);
    }

    #[test]
    fn rotation_follows_keystone() {
        let dir = tempfile::tempdir().unwrap();
        let repo = KeyRepository::new(dir.path(), 3);
        repo.setup().unwrap();
        let staged = fs::read_to_string(dir.path().join("0")).unwrap();
        repo.rotate().unwrap();
        assert_eq!(names(&repo), vec![0, 1, 2]);
        assert_eq!(
            fs::read_to_string(dir.path().join("2")).unwrap(),
            staged,
            "staged key becomes primary"
        );
        repo.rotate().unwrap();
        assert_eq!(names(&repo), vec![0, 2, 3]);
        repo.rotate().unwrap();
        assert_eq!(names(&repo), vec![0, 3, 4]);
    }

    #[test]
    fn tokens_from_old_primary_still_decrypt_after_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let repo = KeyRepository::new(dir.path(), 3);
        repo.setup().unwrap();
        let before = KeyRing::read(&repo).unwrap();
        let token = before.primary.encrypt(b"hello");
        repo.rotate().unwrap();
        let after = KeyRing::read(&repo).unwrap();
        assert_eq!(after.all.decrypt(&token).unwrap(), b"hello");
    }

    #[test]
    fn a_key_file_rewritten_in_place_is_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let repo = KeyRepository::new(dir.path(), 3);
        repo.setup().unwrap();
        let ring =
            KeyRing::open_with_recheck(KeyRepository::new(dir.path(), 3), Duration::ZERO).unwrap();
        let before = ring.keys().primary_hash.clone();
        // Another key written over the primary's file: the directory itself does not change.
        let other = fernet::Fernet::generate_key();
        let token = fernet::Fernet::new(&other).unwrap().encrypt(b"hello");
        assert!(ring.keys().all.decrypt(&token).is_err());
        fs::write(dir.path().join("1"), &other).unwrap();
        let keys = ring.keys();
        assert_eq!(keys.all.decrypt(&token).unwrap(), b"hello");
        assert_ne!(keys.primary_hash, before);
    }

    #[test]
    fn an_unchanged_repository_is_not_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let repo = KeyRepository::new(dir.path(), 3);
        repo.setup().unwrap();
        let ring = KeyRing::open_with_recheck(repo, Duration::ZERO).unwrap();
        let a = ring.keys();
        let b = ring.keys();
        assert!(Arc::ptr_eq(&a, &b));
    }

    #[test]
    fn empty_or_missing_repository_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = KeyRepository::new(dir.path().join("nope"), 3)
            .load()
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("cannot read the fernet key repository"),
            "{err}"
        );
        let err = KeyRepository::new(dir.path(), 3)
            .load()
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("fernet setup"), "{err}");
    }
}
