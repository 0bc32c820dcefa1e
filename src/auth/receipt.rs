//! Auth receipts (Keystone's MFA flow): a login that proved who the user is but satisfied only
//! part of the user's MFA rules gets a 401 with `Openstack-Auth-Receipt: <receipt>`; repeating
//! the request with the missing method(s) and that header completes the login.
//!
//! A receipt is Keystone's receipt payload, msgpack `[P(user_id), methods_mask, expires_float]`,
//! sealed with fernet. Keystone keeps a key repository of its own for receipts
//! (`[fernet_receipts]`); Ironstone seals them with the token keys, which every node already
//! shares and rotates. A receipt never opens as a token nor a token as a receipt: a token's
//! payload starts with its version number, a receipt's with the packed user id.

use chrono::{DateTime, Duration, Utc};
use rmpv::Value;

use crate::error::{Error, Result};
use crate::state::State;
use crate::store::{Domain, User};
use crate::token::payload::{mask_to_methods, methods_to_mask, pack_id, unpack_id};

/// The header Keystone and keystoneauth1 use both ways.
pub const RECEIPT_HEADER: &str = "Openstack-Auth-Receipt";

/// What a 401 for missing MFA factors carries (rendered in `error.rs`).
pub struct ReceiptIssued {
    pub receipt: String,
    pub methods: Vec<String>,
    pub user: User,
    pub user_domain: Domain,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub required: Vec<Vec<String>>,
}

/// The receipt is a bearer proof of one factor: never in a log or a `Debug` output.
impl std::fmt::Debug for ReceiptIssued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiptIssued")
            .field("user_id", &self.user.id)
            .field("methods", &self.methods)
            .finish_non_exhaustive()
    }
}

impl ReceiptIssued {
    /// Keystone's body for the 401 (no `error` object: this is what keystoneauth1 reads).
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({
            "receipt": {
                "methods": self.methods,
                "user": {
                    "id": self.user.id,
                    "name": self.user.name,
                    "domain": {"id": self.user_domain.id, "name": self.user_domain.name},
                },
                "expires_at": crate::token::format_time(self.expires_at),
                "issued_at": crate::token::format_time(self.issued_at),
            },
            "required_auth_methods": self.required,
        })
    }
}

/// A receipt that opened: whose it is and which methods it proves.
#[derive(Debug, Clone)]
pub struct Receipt {
    pub user_id: String,
    pub methods: Vec<String>,
    pub issued_at: DateTime<Utc>,
}

impl Receipt {
    /// Whether what the receipt proved still stands for `user`: it is the receipt's user, and
    /// the password did not change after the receipt was issued (a reset ends what an old
    /// password proved, as it revokes the tokens made with it). Whole seconds, as receipts.
    pub fn stands_for(&self, user: &User) -> bool {
        self.user_id == user.id
            && user
                .password_created_at
                .is_none_or(|t| t.and_utc().timestamp() <= self.issued_at.timestamp())
    }
}

pub fn seal(
    state: &State,
    user_id: &str,
    methods: &[String],
    now: DateTime<Utc>,
) -> (String, DateTime<Utc>) {
    let expires_at = now + Duration::seconds(state.config.receipt.expiration as i64);
    let expires_at = DateTime::from_timestamp(expires_at.timestamp(), 0).unwrap_or(expires_at);
    let payload = Value::Array(vec![
        pack_id(user_id),
        Value::from(methods_to_mask(methods, &state.config.token.methods)),
        Value::F64(expires_at.timestamp() as f64),
    ]);
    let mut bytes = Vec::with_capacity(48);
    // Writing to a Vec cannot fail.
    let _ = rmpv::encode::write_value(&mut bytes, &payload);
    (state.tokens.seal_bytes(&bytes, now), expires_at)
}

/// Opens a receipt: it must decrypt, have Keystone's receipt shape and not have expired. Every
/// failure is the same 401, which says what to do.
pub fn open(state: &State, receipt: &str, now: DateTime<Utc>) -> Result<Receipt> {
    let refused = || {
        Error::UnauthorizedMsg(
            "The auth receipt is invalid or has expired: authenticate again with all the methods your account requires.".into(),
        )
    };
    let (bytes, issued_at) = state.tokens.open_bytes(receipt).ok_or_else(refused)?;
    let mut rd = bytes.as_slice();
    let value = rmpv::decode::read_value(&mut rd).map_err(|_| refused())?;
    let items = value
        .as_array()
        .filter(|a| a.len() == 3)
        .ok_or_else(refused)?;
    let user_id = unpack_id(&items[0]).map_err(|_| refused())?;
    let mask = items[1].as_u64().ok_or_else(refused)?;
    let methods = mask_to_methods(mask, &state.config.token.methods).map_err(|_| refused())?;
    let expires = items[2]
        .as_f64()
        .or_else(|| items[2].as_u64().map(|u| u as f64))
        .ok_or_else(refused)?;
    if expires <= now.timestamp() as f64 {
        return Err(refused());
    }
    Ok(Receipt {
        user_id,
        methods,
        issued_at,
    })
}
