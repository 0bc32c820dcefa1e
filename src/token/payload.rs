//! Keystone's fernet token payloads: a msgpack array `[version, ...fields]`.
//! Ironstone issues version 2 (project scoped) and 9 (application-credential scoped) only.

use base64::Engine;
use chrono::{DateTime, Utc};
use rmpv::Value;

use crate::ids::is_uuid_hex;

pub const PROJECT_SCOPED: u64 = 2;
pub const APPLICATION_CREDENTIAL_SCOPED: u64 = 9;

#[derive(Debug, Clone, PartialEq)]
pub struct Payload {
    pub user_id: String,
    pub methods: Vec<String>,
    pub project_id: String,
    pub expires_at: DateTime<Utc>,
    pub audit_ids: Vec<String>,
    pub application_credential_id: Option<String>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("malformed token payload: {0}")]
    Malformed(&'static str),
    #[error(
        "token payload version {0} is not supported: Ironstone accepts project-scoped tokens only"
    )]
    UnsupportedVersion(u64),
    #[error("token method mask {0} names methods this server does not know")]
    UnknownMethods(u64),
}

/// Keystone's id packing: `[true, 16 bytes]` for a UUID hex id, else `[false, "id"]`.
pub(crate) fn pack_id(id: &str) -> Value {
    match uuid::Uuid::parse_str(id) {
        Ok(u) if is_uuid_hex(id) => Value::Array(vec![
            Value::Boolean(true),
            Value::Binary(u.as_bytes().to_vec()),
        ]),
        _ => Value::Array(vec![Value::Boolean(false), Value::String(id.into())]),
    }
}

pub(crate) fn unpack_id(v: &Value) -> Result<String, PayloadError> {
    let pair = v
        .as_array()
        .filter(|a| a.len() == 2)
        .ok_or(PayloadError::Malformed("id"))?;
    match (&pair[0], &pair[1]) {
        (Value::Boolean(true), Value::Binary(b)) => uuid::Uuid::from_slice(b)
            .map(|u| u.simple().to_string())
            .map_err(|_| PayloadError::Malformed("id bytes")),
        (Value::Boolean(_), Value::String(s)) => s
            .as_str()
            .map(String::from)
            .ok_or(PayloadError::Malformed("id text")),
        (Value::Boolean(false), Value::Binary(b)) => {
            String::from_utf8(b.clone()).map_err(|_| PayloadError::Malformed("id text"))
        }
        _ => Err(PayloadError::Malformed("id")),
    }
}

/// The method bitmask: bit `2^i` for `order[i]`.
pub fn methods_to_mask(methods: &[String], order: &[String]) -> u64 {
    methods
        .iter()
        .filter_map(|m| order.iter().position(|o| o == m))
        .fold(0, |mask, i| mask | (1 << i))
}

pub fn mask_to_methods(mask: u64, order: &[String]) -> Result<Vec<String>, PayloadError> {
    let known = if order.len() >= 64 {
        u64::MAX
    } else {
        (1u64 << order.len()) - 1
    };
    if mask & !known != 0 {
        return Err(PayloadError::UnknownMethods(mask));
    }
    Ok(order
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, m)| m.clone())
        .collect())
}

fn pack_audit_id(a: &str) -> Value {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(a.trim_end_matches('='))
        .unwrap_or_default();
    Value::Binary(bytes)
}

fn unpack_audit_id(v: &Value) -> Result<String, PayloadError> {
    match v {
        Value::Binary(b) => Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)),
        _ => Err(PayloadError::Malformed("audit id")),
    }
}

impl Payload {
    pub fn encode(&self, method_order: &[String]) -> Vec<u8> {
        let expires = self.expires_at.timestamp() as f64;
        let mut fields = vec![
            Value::from(if self.application_credential_id.is_some() {
                APPLICATION_CREDENTIAL_SCOPED
            } else {
                PROJECT_SCOPED
            }),
            pack_id(&self.user_id),
            Value::from(methods_to_mask(&self.methods, method_order)),
            pack_id(&self.project_id),
            Value::F64(expires),
            Value::Array(self.audit_ids.iter().map(|a| pack_audit_id(a)).collect()),
        ];
        if let Some(ac) = &self.application_credential_id {
            fields.push(pack_id(ac));
        }
        let mut out = Vec::with_capacity(96);
        // Writing to a Vec cannot fail.
        let _ = rmpv::encode::write_value(&mut out, &Value::Array(fields));
        out
    }

    pub fn decode(bytes: &[u8], method_order: &[String]) -> Result<Payload, PayloadError> {
        let mut rd = bytes;
        let value =
            rmpv::decode::read_value(&mut rd).map_err(|_| PayloadError::Malformed("msgpack"))?;
        let items = value
            .as_array()
            .ok_or(PayloadError::Malformed("not an array"))?;
        let version = items
            .first()
            .and_then(Value::as_u64)
            .ok_or(PayloadError::Malformed("version"))?;
        let expected_len = match version {
            PROJECT_SCOPED => 6,
            APPLICATION_CREDENTIAL_SCOPED => 7,
            other => return Err(PayloadError::UnsupportedVersion(other)),
        };
        if items.len() != expected_len {
            return Err(PayloadError::Malformed("field count"));
        }
        let mask = items[2]
            .as_u64()
            .ok_or(PayloadError::Malformed("methods"))?;
        let expires = match &items[4] {
            Value::F64(f) => *f,
            Value::F32(f) => *f as f64,
            v => v.as_i64().ok_or(PayloadError::Malformed("expires_at"))? as f64,
        };
        let secs = expires.floor();
        let micros = ((expires - secs) * 1_000_000.0).round() as u32;
        let expires_at = DateTime::from_timestamp(secs as i64, micros * 1000)
            .ok_or(PayloadError::Malformed("expires_at"))?;
        let audit_ids = items[5]
            .as_array()
            .ok_or(PayloadError::Malformed("audit ids"))?
            .iter()
            .map(unpack_audit_id)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Payload {
            user_id: unpack_id(&items[1])?,
            methods: mask_to_methods(mask, method_order)?,
            project_id: unpack_id(&items[3])?,
            expires_at,
            audit_ids,
            application_credential_id: if version == APPLICATION_CREDENTIAL_SCOPED {
                Some(unpack_id(&items[6])?)
            } else {
                None
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order() -> Vec<String> {
        crate::config::TokenConfig::default().methods
    }

    fn sample() -> Payload {
        Payload {
            user_id: "0123456789abcdef0123456789abcdef".into(),
            methods: vec!["password".into()],
            project_id: "fedcba9876543210fedcba9876543210".into(),
            expires_at: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            audit_ids: vec![crate::ids::new_audit_id()],
            application_credential_id: None,
        }
    }

    #[test]
    fn keystone_method_bits() {
        let o = order();
        assert_eq!(methods_to_mask(&["password".into()], &o), 2);
        assert_eq!(methods_to_mask(&["token".into()], &o), 4);
        assert_eq!(methods_to_mask(&["application_credential".into()], &o), 32);
        assert_eq!(methods_to_mask(&["password".into(), "token".into()], &o), 6);
        assert_eq!(mask_to_methods(6, &o).unwrap(), vec!["password", "token"]);
        assert!(mask_to_methods(1 << 20, &o).is_err());
    }

    #[test]
    fn project_payload_bytes_match_keystone_packing() {
        let p = sample();
        let bytes = p.encode(&order());
        // [2, [true, bin16], 2, [true, bin16], float64, [bin16]]
        let v = rmpv::decode::read_value(&mut &bytes[..]).unwrap();
        let a = v.as_array().unwrap();
        assert_eq!(a.len(), 6);
        assert_eq!(a[0].as_u64(), Some(2));
        assert_eq!(a[1].as_array().unwrap()[0], Value::Boolean(true));
        assert!(matches!(&a[1].as_array().unwrap()[1], Value::Binary(b) if b.len() == 16));
        assert!(matches!(a[4], Value::F64(f) if f == 1_800_000_000.0));
        assert!(matches!(&a[5].as_array().unwrap()[0], Value::Binary(b) if b.len() == 16));
        assert_eq!(Payload::decode(&bytes, &order()).unwrap(), p);
    }

    #[test]
    fn non_uuid_ids_are_packed_as_text() {
        let mut p = sample();
        p.project_id = "default".into();
        let bytes = p.encode(&order());
        let v = rmpv::decode::read_value(&mut &bytes[..]).unwrap();
        assert_eq!(
            v.as_array().unwrap()[3],
            Value::Array(vec![Value::Boolean(false), Value::from("default")])
        );
        assert_eq!(Payload::decode(&bytes, &order()).unwrap(), p);
    }

    #[test]
    fn application_credential_payload_is_version_9() {
        let mut p = sample();
        p.methods = vec!["application_credential".into()];
        p.application_credential_id = Some(crate::ids::new_id());
        let bytes = p.encode(&order());
        let v = rmpv::decode::read_value(&mut &bytes[..]).unwrap();
        assert_eq!(v.as_array().unwrap()[0].as_u64(), Some(9));
        assert_eq!(Payload::decode(&bytes, &order()).unwrap(), p);
    }

    #[test]
    fn other_scopes_are_refused() {
        // version 0 (unscoped): [0, user, methods, expires, audit_ids]
        let v = Value::Array(vec![
            Value::from(0),
            pack_id("0123456789abcdef0123456789abcdef"),
            Value::from(2),
            Value::F64(1.8e9),
            Value::Array(vec![]),
        ]);
        let mut bytes = vec![];
        rmpv::encode::write_value(&mut bytes, &v).unwrap();
        assert_eq!(
            Payload::decode(&bytes, &order()),
            Err(PayloadError::UnsupportedVersion(0))
        );
        assert!(Payload::decode(b"\xc1garbage", &order()).is_err());
    }
}
