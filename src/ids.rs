//! Identifiers and random secrets.

use base64::Engine;
use rand::RngCore;

/// A new Keystone-style id: a UUID4 as 32 lowercase hex digits.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// True for ids Keystone packs as 16 raw bytes in a fernet payload.
pub fn is_uuid_hex(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `n` random bytes from the OS generator, as unpadded base64url.
pub fn random_urlsafe(n: usize) -> String {
    let mut buf = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// A random audit id: 16 bytes as 22 characters of unpadded base64url.
pub fn new_audit_id() -> String {
    random_urlsafe(16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_uuid_hex() {
        let id = new_id();
        assert!(is_uuid_hex(&id), "{id}");
        assert!(!is_uuid_hex("default"));
        assert!(!is_uuid_hex(&id.to_uppercase()));
    }

    #[test]
    fn audit_ids_are_22_chars() {
        assert_eq!(new_audit_id().len(), 22);
    }
}
