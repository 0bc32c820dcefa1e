//! Argon2id password hashing with explicit parameters. Hashing and verification are CPU-heavy:
//! callers run them on the blocking pool (`hash`/`verify` here are async and do that).

use std::sync::{Arc, OnceLock};

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};

use crate::config::PasswordHashingConfig;
use crate::error::{Error, Result};

#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

struct Inner {
    params: Params,
    max_len: usize,
    /// A real hash of a random password, verified when the user is unknown so that the
    /// answer takes as long as for a real user.
    dummy: OnceLock<String>,
}

/// The outcome of a verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// Correct, but hashed with other parameters: store this new hash.
    YesRehash(String),
}

impl PasswordHasher {
    pub fn new(c: &PasswordHashingConfig) -> Result<Self> {
        let params = Params::new(c.memory_kib, c.iterations, c.parallelism, None)
            .map_err(|e| Error::validation(format!("invalid password_hashing parameters: {e}")))?;
        Ok(PasswordHasher {
            inner: Arc::new(Inner {
                params,
                max_len: c.max_password_length,
                dummy: OnceLock::new(),
            }),
        })
    }

    fn argon(&self) -> Argon2<'static> {
        Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            self.inner.params.clone(),
        )
    }

    pub fn max_len(&self) -> usize {
        self.inner.max_len
    }

    pub fn hash_blocking(&self, password: &SecretString) -> Result<String> {
        let pw = password.expose_secret();
        if pw.len() > self.inner.max_len {
            return Err(Error::validation(format!(
                "Invalid input: the password is longer than {} characters.",
                self.inner.max_len
            )));
        }
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        self.argon()
            .hash_password(pw.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::internal(format!("password hashing failed: {e}")))
    }

    /// Checks `password` against `hash`; with no hash (unknown user, no password set) a dummy
    /// hash is verified and the answer is always `No`.
    pub fn verify_blocking(&self, password: &SecretString, hash: Option<&str>) -> Verified {
        let pw = password.expose_secret();
        let too_long = pw.len() > self.inner.max_len;
        let dummy = self.inner.dummy.get_or_init(|| {
            self.hash_blocking(&SecretString::from(crate::ids::random_urlsafe(24)))
                .unwrap_or_default()
        });
        let (target, real) = match hash {
            Some(h) if !too_long => (h, true),
            _ => (dummy.as_str(), false),
        };
        let Ok(parsed) = PasswordHash::new(target) else {
            return Verified::No;
        };
        let input: &[u8] = if too_long { b"" } else { pw.as_bytes() };
        let ok = Argon2::default().verify_password(input, &parsed).is_ok();
        if !(ok && real) {
            return Verified::No;
        }
        if self.is_current(&parsed) {
            Verified::Yes
        } else {
            match self.hash_blocking(password) {
                Ok(new) => Verified::YesRehash(new),
                Err(_) => Verified::Yes,
            }
        }
    }

    fn is_current(&self, h: &PasswordHash) -> bool {
        if h.algorithm != Algorithm::Argon2id.ident() {
            return false;
        }
        match Params::try_from(h) {
            Ok(p) => {
                p.m_cost() == self.inner.params.m_cost()
                    && p.t_cost() == self.inner.params.t_cost()
                    && p.p_cost() == self.inner.params.p_cost()
            }
            Err(_) => false,
        }
    }

    pub async fn hash(&self, password: SecretString) -> Result<String> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.hash_blocking(&password))
            .await
            .map_err(|e| Error::internal(format!("hashing task failed: {e}")))?
    }

    pub async fn verify(&self, password: SecretString, hash: Option<String>) -> Verified {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.verify_blocking(&password, hash.as_deref()))
            .await
            .unwrap_or(Verified::No)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap(memory_kib: u32) -> PasswordHasher {
        PasswordHasher::new(&PasswordHashingConfig {
            memory_kib,
            iterations: 1,
            parallelism: 1,
            max_password_length: 64,
        })
        .unwrap()
    }

    #[test]
    fn hash_is_argon2id_and_verifies() {
        let h = cheap(1024);
        let hash = h
            .hash_blocking(&SecretString::from("correct horse"))
            .unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{hash}");
        assert_eq!(
            h.verify_blocking(&SecretString::from("correct horse"), Some(&hash)),
            Verified::Yes
        );
        assert_eq!(
            h.verify_blocking(&SecretString::from("wrong"), Some(&hash)),
            Verified::No
        );
    }

    #[test]
    fn unknown_user_never_verifies() {
        let h = cheap(1024);
        assert_eq!(
            h.verify_blocking(&SecretString::from(""), None),
            Verified::No
        );
        assert_eq!(
            h.verify_blocking(&SecretString::from("anything"), None),
            Verified::No
        );
    }

    #[test]
    fn changed_parameters_trigger_rehash() {
        let old = cheap(1024)
            .hash_blocking(&SecretString::from("pw123456"))
            .unwrap();
        match cheap(2048).verify_blocking(&SecretString::from("pw123456"), Some(&old)) {
            Verified::YesRehash(new) => assert!(new.contains("m=2048"), "{new}"),
            other => panic!("expected rehash, got {other:?}"),
        }
    }

    #[test]
    fn overlong_passwords_are_refused_before_hashing() {
        let h = cheap(1024);
        let long = SecretString::from("x".repeat(65));
        assert!(h.hash_blocking(&long).is_err());
        let hash = h
            .hash_blocking(&SecretString::from("x".repeat(64)))
            .unwrap();
        assert_eq!(h.verify_blocking(&long, Some(&hash)), Verified::No);
    }
}
