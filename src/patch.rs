//! Request-body helpers shared by the management API's input types.

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// For PATCH fields where `null` means "clear": absent → `None`, `null` → `Some(None)`.
pub fn nullable<'de, D, T>(d: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A required, non-blank name of at most 255 characters.
pub fn check_name(kind: &str, field: &str, name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(Error::validation(format!(
            "Invalid input for field '{kind}.{field}': it must not be empty."
        )));
    }
    if name.chars().count() > 255 {
        return Err(Error::validation(format!(
            "Invalid input for field '{kind}.{field}': at most 255 characters are allowed."
        )));
    }
    Ok(())
}

/// Keeps the attributes a resource does not model (Keystone's `extra`), refusing ones that would
/// shadow a field the server owns.
pub fn merge_extra(kind: &str, stored: &str, update: Map<String, Value>) -> Result<String> {
    const RESERVED: &[&str] = &["id", "links", "domain_id", "password_expires_at"];
    let mut extra: Map<String, Value> = serde_json::from_str(stored).unwrap_or_default();
    for (k, v) in update {
        if RESERVED.contains(&k.as_str()) {
            return Err(Error::validation(format!(
                "Invalid input for field '{kind}.{k}': it cannot be set."
            )));
        }
        if v.is_null() {
            extra.remove(&k);
        } else {
            extra.insert(k, v);
        }
    }
    Ok(Value::Object(extra).to_string())
}
