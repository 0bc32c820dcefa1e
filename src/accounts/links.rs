//! One-time links: a 256-bit random secret, stored only as its SHA-256 (a fast hash is right for
//! a high-entropy secret, and the lookup by hash leaves no timing oracle on the secret), used
//! exactly once, valid for `[links] ttl_seconds`. Issuing a link for the same purpose kills the
//! previous one.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Duration, SubsecRound, Utc};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::error::{Error, LinkProblem, Result};
use crate::state::State;
use crate::store::{self, AccountLink, DbConnection};

/// Characters of a secret: 32 bytes in URL-safe base64 without padding.
pub const SECRET_LEN: usize = 43;
/// The shortest `expires_in` a request may ask for, in seconds.
pub const MIN_EXPIRES_IN: u64 = 5;

/// A link just issued: its row and the secret, which exists nowhere else (the row holds its hash).
pub struct Issued {
    pub row: AccountLink,
    pub secret: SecretString,
}

/// A fresh secret and its hash.
pub fn new_secret() -> (SecretString, String) {
    let secret = random_secret();
    let hash = hash_secret(secret.expose_secret());
    (secret, hash)
}

/// 32 random bytes, URL-safe base64 without padding (`SECRET_LEN` characters, `well_formed`);
/// also the web pages' CSRF tokens.
pub fn random_secret() -> SecretString {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = URL_SAFE_NO_PAD.encode(bytes);
    zeroize::Zeroize::zeroize(&mut bytes);
    SecretString::from(secret)
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Whether `secret` could be one of ours; anything else is unknown without a lookup.
pub fn well_formed(secret: &str) -> bool {
    secret.len() == SECRET_LEN
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// How long a new link lives: `expires_in` seconds when the request asks (between
/// `MIN_EXPIRES_IN` and `[links] ttl_seconds`), else `ttl_seconds`.
pub fn lifetime(state: &State, expires_in: Option<u64>, field: &str) -> Result<Duration> {
    let max = state.config.links.ttl_seconds;
    let secs = match expires_in {
        None => max,
        Some(s) if (MIN_EXPIRES_IN..=max).contains(&s) => s,
        Some(s) => {
            return Err(Error::validation(format!(
                "Invalid input for field '{field}': expecting whole seconds between {MIN_EXPIRES_IN} and {max} (this cloud's link lifetime), not {s}."
            )))
        }
    };
    Ok(Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX)))
}

/// Where a secret is redeemed: the web page under `[links] base_url` (default `public_url`).
pub fn url(state: &State, secret: &SecretString) -> String {
    format!(
        "{}/account/link/{}",
        state.config.links_base_url(),
        secret.expose_secret()
    )
}

/// What a new link is for.
pub enum Subject<'a> {
    /// Setting the password of this user.
    Password { user_id: &'a str },
    /// Accepting this invitation.
    Invitation { invitation_id: &'a str },
}

/// Issues a link inside the caller's transaction, killing (replacing) the outstanding one for
/// the same purpose.
pub fn issue(
    c: &mut DbConnection,
    subject: Subject,
    sent_to: Option<&str>,
    now: DateTime<Utc>,
    lifetime: Duration,
) -> Result<Issued> {
    let now = now.trunc_subsecs(0);
    let naive = now.naive_utc();
    let (kind, user_id, invitation_id) = match subject {
        Subject::Password { user_id } => {
            store::replace_user_links(c, user_id, store::LINK_PASSWORD, naive)?;
            (store::LINK_PASSWORD, Some(user_id.to_string()), None)
        }
        Subject::Invitation { invitation_id } => {
            store::replace_invitation_links(c, invitation_id, naive)?;
            (
                store::LINK_INVITATION,
                None,
                Some(invitation_id.to_string()),
            )
        }
    };
    let (secret, secret_hash) = new_secret();
    let row = AccountLink {
        id: crate::ids::new_id(),
        kind: kind.into(),
        secret_hash,
        user_id,
        invitation_id,
        sent_to: sent_to.map(str::to_string),
        created_at: naive,
        expires_at: (now + lifetime).naive_utc(),
        used_at: None,
        replaced_at: None,
    };
    store::insert_link(c, &row)?;
    Ok(Issued { row, secret })
}

/// Why `link` cannot be used at `now`, if it cannot.
pub fn problem(link: &AccountLink, now: DateTime<Utc>) -> Option<LinkProblem> {
    if link.used_at.is_some() {
        Some(LinkProblem::Used)
    } else if link.replaced_at.is_some() {
        Some(LinkProblem::Replaced)
    } else if link.expires_at <= now.naive_utc() {
        Some(LinkProblem::Expired(link.expires_at.and_utc()))
    } else {
        None
    }
}

/// The usable link with this secret, or why there is none.
pub fn find(c: &mut DbConnection, secret: &str, now: DateTime<Utc>) -> Result<AccountLink> {
    if !well_formed(secret) {
        return Err(Error::Link(LinkProblem::Unknown));
    }
    let link =
        store::link_by_hash(c, &hash_secret(secret))?.ok_or(Error::Link(LinkProblem::Unknown))?;
    match problem(&link, now) {
        Some(p) => Err(Error::Link(p)),
        None => Ok(link),
    }
}

/// Uses `link` inside the redeeming transaction: exactly one of several concurrent redemptions
/// wins; the others learn why the link is gone.
pub fn consume(c: &mut DbConnection, link: &AccountLink, now: DateTime<Utc>) -> Result<()> {
    if store::use_link(c, &link.id, now.naive_utc())? {
        return Ok(());
    }
    let current = store::link_by_hash(c, &link.secret_hash)?;
    Err(Error::Link(
        current
            .and_then(|l| problem(&l, now))
            .unwrap_or(LinkProblem::Unknown),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_256_bit_url_safe_and_distinct() {
        let (a, ha) = new_secret();
        let (b, hb) = new_secret();
        assert_eq!(a.expose_secret().len(), SECRET_LEN);
        assert!(well_formed(a.expose_secret()));
        assert_eq!(URL_SAFE_NO_PAD.decode(a.expose_secret()).unwrap().len(), 32);
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert_ne!(ha, hb);
        assert_eq!(ha, hash_secret(a.expose_secret()));
        assert_eq!(ha.len(), 64);
        assert!(!ha.contains(a.expose_secret()));
    }

    #[test]
    fn malformed_secrets_are_not_well_formed() {
        assert!(!well_formed(""));
        assert!(!well_formed(&"a".repeat(42)));
        assert!(!well_formed(&"a".repeat(44)));
        assert!(!well_formed(&format!("{}/", "a".repeat(42))));
        assert!(!well_formed(&format!("{}=", "a".repeat(42))));
        assert!(well_formed(&"A-_z".repeat(11)[..43]));
    }

    fn link(now: DateTime<Utc>) -> AccountLink {
        AccountLink {
            id: "l".into(),
            kind: store::LINK_PASSWORD.into(),
            secret_hash: "h".into(),
            user_id: Some("u".into()),
            invitation_id: None,
            sent_to: None,
            created_at: now.naive_utc(),
            expires_at: (now + Duration::seconds(60)).naive_utc(),
            used_at: None,
            replaced_at: None,
        }
    }

    #[test]
    fn a_link_is_usable_until_used_replaced_or_expired() {
        let now = Utc::now().trunc_subsecs(0);
        let l = link(now);
        assert_eq!(problem(&l, now), None);
        let later = now + Duration::seconds(60);
        assert_eq!(problem(&l, later), Some(LinkProblem::Expired(later)));
        let used = AccountLink {
            used_at: Some(now.naive_utc()),
            ..l.clone()
        };
        assert_eq!(problem(&used, now), Some(LinkProblem::Used));
        let replaced = AccountLink {
            replaced_at: Some(now.naive_utc()),
            ..l
        };
        assert_eq!(problem(&replaced, now), Some(LinkProblem::Replaced));
    }
}
