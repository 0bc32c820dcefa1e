//! Keystone-format fernet tokens: sealing and opening payloads with the key repository.

pub mod keys;
pub mod payload;

use base64::Engine;
use chrono::{DateTime, Utc};

pub use keys::{KeyRepository, KeyRing};
pub use payload::Payload;

use crate::error::{Error, Result};

pub struct TokenProvider {
    keys: KeyRing,
    method_order: Vec<String>,
}

/// A token's payload and the time it was issued (the fernet timestamp).
#[derive(Debug, Clone)]
pub struct Opened {
    pub payload: Payload,
    pub issued_at: DateTime<Utc>,
}

impl TokenProvider {
    pub fn new(keys: KeyRing, method_order: Vec<String>) -> Self {
        TokenProvider { keys, method_order }
    }

    pub fn method_order(&self) -> &[String] {
        &self.method_order
    }

    /// Seals a payload with the primary key; the fernet timestamp is `now` (whole seconds).
    pub fn seal(&self, payload: &Payload, now: DateTime<Utc>) -> String {
        self.seal_bytes(&payload.encode(&self.method_order), now)
    }

    /// Seals any msgpack payload (an auth receipt's) the way tokens are sealed.
    pub fn seal_bytes(&self, bytes: &[u8], now: DateTime<Utc>) -> String {
        let token = self
            .keys
            .keys()
            .primary
            .encrypt_at_time(bytes, now.timestamp().max(0) as u64);
        token.trim_end_matches('=').to_string()
    }

    /// Opens a token with any key of the repository. Expiry and revocation are the caller's.
    pub fn open(&self, token: &str) -> Result<Opened> {
        let unrecognized = || Error::NotFoundMsg("Could not recognize Fernet token".into());
        let (bytes, issued_at) = self.open_bytes(token).ok_or_else(unrecognized)?;
        let payload = Payload::decode(&bytes, &self.method_order).map_err(|e| {
            tracing::debug!(error = %e, "token payload refused");
            unrecognized()
        })?;
        Ok(Opened { payload, issued_at })
    }

    /// Decrypts a sealed payload with any key: its bytes and the fernet timestamp; `None` when
    /// it is not one of ours.
    pub fn open_bytes(&self, token: &str) -> Option<(Vec<u8>, DateTime<Utc>)> {
        if token.is_empty()
            || token.len() > 1024
            || !token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'=')
        {
            return None;
        }
        let mut padded = token.trim_end_matches('=').to_string();
        while padded.len() % 4 != 0 {
            padded.push('=');
        }
        let bytes = self.keys.keys().all.decrypt(&padded).ok()?;
        let raw = base64::engine::general_purpose::URL_SAFE
            .decode(&padded)
            .ok()?;
        let ts = u64::from_be_bytes(raw.get(1..9)?.try_into().ok()?);
        let issued_at = DateTime::from_timestamp(ts as i64, 0)?;
        Some((bytes, issued_at))
    }
}

/// Keystone's time format in token bodies: `2026-01-01T00:00:00.000000Z`.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(dir: &std::path::Path) -> TokenProvider {
        let repo = KeyRepository::new(dir, 3);
        repo.setup().unwrap();
        TokenProvider::new(
            KeyRing::open(repo).unwrap(),
            crate::config::TokenConfig::default().methods,
        )
    }

    fn payload() -> Payload {
        Payload {
            user_id: crate::ids::new_id(),
            methods: vec!["password".into()],
            project_id: crate::ids::new_id(),
            expires_at: DateTime::from_timestamp(1_900_000_000, 0).unwrap(),
            audit_ids: vec![crate::ids::new_audit_id()],
            application_credential_id: None,
        }
    }

    #[test]
    fn seal_and_open_roundtrip_without_padding() {
        let dir = tempfile::tempdir().unwrap();
        let p = provider(dir.path());
        let now = DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap();
        let token = p.seal(&payload(), now);
        assert!(!token.ends_with('='));
        let opened = p.open(&token).unwrap();
        assert_eq!(opened.issued_at, now);
        assert_eq!(opened.payload.methods, vec!["password"]);
    }

    #[test]
    fn tampered_and_foreign_tokens_are_not_recognized() {
        let dir = tempfile::tempdir().unwrap();
        let p = provider(dir.path());
        let token = p.seal(&payload(), Utc::now());
        let mut bad = token.clone().into_bytes();
        let i = bad.len() / 2;
        bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
        assert!(p.open(std::str::from_utf8(&bad).unwrap()).is_err());
        let other = tempfile::tempdir().unwrap();
        assert!(provider(other.path()).open(&token).is_err());
        assert!(p.open("not a token").is_err());
    }

    #[test]
    fn time_format_matches_keystone() {
        let t = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        assert_eq!(format_time(t), "2027-01-15T08:00:00.000000Z");
    }
}
