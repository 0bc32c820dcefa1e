//! Rotation of the credential key repository (`ironstone credential rotate`): Keystone's rotation
//! rule, plus what Keystone leaves to `credential_migrate`: every stored blob is re-encrypted with
//! the new primary key, so that the keys that rotate out are no longer needed by anything.

use crate::error::{Error, Result};
use crate::store::{self, Store};
use crate::token::{KeyRepository, KeyRing};

/// What a rotation did.
pub struct Rotated {
    /// Blobs now encrypted with the new primary key.
    pub reencrypted: usize,
    /// Blobs that changed while the rotation ran (a running server wrote them meanwhile); when
    /// there are any, no key was removed.
    pub changed_meanwhile: usize,
    /// Key files after the rotation.
    pub keys: Vec<u64>,
}

/// Promotes the staged key, re-encrypts every stored blob with it in one transaction, and only
/// then removes the keys beyond `max_active_keys`. If a blob cannot be decrypted, or the
/// transaction fails, nothing is removed (the repository then holds one key more than usual,
/// which the next rotation trims) and the error says which credential.
pub async fn rotate(store: &Store, repo: &KeyRepository) -> Result<Rotated> {
    repo.promote()?;
    let keys = KeyRing::read(repo)?;
    let (reencrypted, changed_meanwhile) = store
        .tx(move |c| {
            let (mut done, mut changed) = (0, 0);
            for cred in store::list_credentials(c, None, None)? {
                let blob = keys.all.decrypt(&cred.encrypted_blob).map_err(|_| {
                    Error::validation(format!(
                        "credential {} cannot be decrypted with any key of the credential key repository; no key was removed",
                        cred.id
                    ))
                })?;
                let blob = zeroize::Zeroizing::new(blob);
                let new = keys.primary.encrypt(&blob);
                if store::reencrypt_credential(
                    c,
                    &cred.id,
                    &cred.encrypted_blob,
                    &new,
                    &keys.primary_hash,
                )? {
                    done += 1;
                } else {
                    changed += 1;
                }
            }
            super::secret_hash::reencrypt(c, &keys)?;
            Ok((done, changed))
        })
        .await?;
    // A blob a running server wrote meanwhile may use a key that trimming would remove: then
    // keep every key, and let the next rotation (which re-encrypts first) trim.
    if changed_meanwhile == 0 {
        repo.trim()?;
    }
    Ok(Rotated {
        reencrypted,
        changed_meanwhile,
        keys: repo.key_files()?.keys().copied().collect(),
    })
}
