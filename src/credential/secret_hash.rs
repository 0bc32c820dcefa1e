//! Hashes of the application-credential secrets Ironstone generates itself (64 random bytes,
//! 512 bits): nobody can guess such a secret, so a slow password hash buys nothing but CPU and
//! memory on every login. They are stored as `$hmac-sha256$<base64url MAC>`, keyed with one
//! server key per cloud. Secrets a user chose keep Argon2id (`auth::password`), and so do the
//! hashes stored before this existed: the prefix tells which is which.
//!
//! The key is shared the way everything else is, through the database and the credential key
//! repository: it is stored in `system_facts` encrypted with the credential keys (which every
//! node must share already, and which `ironstone credential rotate` re-encrypts it with), and
//! made by whichever node first needs it (one insert wins; the others read it). A database leak
//! alone does not reveal it.

use std::sync::Arc;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::state::State;
use crate::store::{self, DbConnection};
use crate::token::Keys;

/// How a keyed hash starts; never the start of a PHC string of Argon2.
const PREFIX: &str = "$hmac-sha256$";
const KEY_LEN: usize = 32;

/// The fact holding the key, fernet-encrypted with the credential keys.
pub const FACT_KEY: &str = "app_cred_secret_key";

/// The server key. No `Debug`; zeroized when dropped.
pub struct SecretKey(Zeroizing<Vec<u8>>);

impl SecretKey {
    fn mac(&self, secret: &str) -> Hmac<Sha256> {
        // HMAC accepts a key of any length: this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key");
        mac.update(secret.as_bytes());
        mac
    }

    /// The stored form of a generated secret.
    pub fn hash(&self, secret: &str) -> String {
        let tag = self.mac(secret).finalize().into_bytes();
        format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag)
        )
    }

    /// Whether `secret` is the one `stored` (a keyed hash) was made from; constant-time.
    pub fn verify(&self, secret: &str, stored: &str) -> bool {
        let Some(tag) = stored.strip_prefix(PREFIX) else {
            return false;
        };
        let Ok(expected) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(tag) else {
            return false;
        };
        let actual = self.mac(secret).finalize().into_bytes();
        bool::from(actual.as_slice().ct_eq(&expected))
    }
}

/// Whether `stored` is a keyed hash (else an Argon2 PHC string).
pub fn is_keyed(stored: &str) -> bool {
    stored.starts_with(PREFIX)
}

/// The cloud's key: cached after the first use on this node; read from the database, or
/// created there when no node has made one yet.
pub async fn key(state: &State) -> Result<Arc<SecretKey>> {
    if let Some(k) = state.app_cred_secret_key.get() {
        return Ok(k.clone());
    }
    let keys = state.credential_keys.keys();
    let fresh = {
        let mut raw = Zeroizing::new(vec![0u8; KEY_LEN]);
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, raw.as_mut_slice());
        keys.primary.encrypt(&raw)
    };
    let sealed = state
        .store
        .tx(move |c| store::record_fact_once(c, FACT_KEY, &fresh))
        .await?;
    let raw = Zeroizing::new(keys.all.decrypt(&sealed).map_err(|_| {
        tracing::error!(
            repository = %state.config.credential_key_repository().display(),
            "the application-credential secret key in the database cannot be decrypted with any \
             key of the credential key repository: every node must share the same credential \
             keys (README, \"Several nodes\")"
        );
        Error::Unavailable(
            "Application credentials cannot be checked right now; try again later.".into(),
        )
    })?);
    if raw.len() != KEY_LEN {
        return Err(Error::internal(
            "the application-credential secret key in the database has the wrong length",
        ));
    }
    let key = Arc::new(SecretKey(raw));
    Ok(state.app_cred_secret_key.get_or_init(|| key).clone())
}

/// Re-encrypts the stored key with the primary credential key (rotation); nothing to do when
/// no key was made yet.
pub fn reencrypt(c: &mut DbConnection, keys: &Keys) -> Result<bool> {
    let Some(sealed) = store::get_fact(c, FACT_KEY)? else {
        return Ok(false);
    };
    let raw = Zeroizing::new(keys.all.decrypt(&sealed).map_err(|_| {
        Error::validation(
            "the application-credential secret key cannot be decrypted with any key of the \
             credential key repository; no key was removed",
        )
    })?);
    store::set_fact(c, FACT_KEY, &keys.primary.encrypt(&raw))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SecretKey {
        SecretKey(Zeroizing::new(vec![byte; KEY_LEN]))
    }

    #[test]
    fn a_keyed_hash_verifies_only_its_secret_under_its_key() {
        let k = key(7);
        let h = k.hash("generated-secret");
        assert!(is_keyed(&h), "{h}");
        assert!(k.verify("generated-secret", &h));
        assert!(!k.verify("generated-secreT", &h));
        assert!(!k.verify("", &h));
        // Another node's key (not shared) does not verify it.
        assert!(!key(8).verify("generated-secret", &h));
        // Tampered or foreign stored values never verify.
        assert!(!k.verify("generated-secret", &h.replace(PREFIX, "$hmac-sha1$")));
        assert!(!k.verify("generated-secret", &format!("{h}x")));
        assert!(!k.verify("generated-secret", PREFIX));
        // The same secret hashes the same way (it is looked up by credential, not by hash).
        assert_eq!(h, k.hash("generated-secret"));
    }

    #[test]
    fn argon2_hashes_are_not_keyed() {
        assert!(!is_keyed("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"));
        assert!(!key(1).verify("x", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"));
    }
}
