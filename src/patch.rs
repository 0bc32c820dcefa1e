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

/// The longest name Keystone stores for each kind of resource.
fn max_name_len(kind: &str) -> usize {
    match kind {
        "project" | "domain" | "group" => 64,
        _ => 255,
    }
}

/// A required, non-blank name within Keystone's length limit for the kind.
pub fn check_name(kind: &str, field: &str, name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(Error::validation(format!(
            "Invalid input for field '{kind}.{field}': it must not be empty."
        )));
    }
    let max = max_name_len(kind);
    if name.chars().count() > max {
        return Err(Error::validation(format!(
            "Invalid input for field '{kind}.{field}': at most {max} characters are allowed."
        )));
    }
    Ok(())
}

/// Resource options of projects, domains and roles. Keystone knows only `immutable`, which
/// Ironstone does not enforce: it is refused when set rather than stored and ignored; any other
/// key is unknown. `immutable: false` (or null) is the default and accepted.
pub fn check_resource_options(kind: &str, options: Option<&Map<String, Value>>) -> Result<()> {
    for (k, v) in options.into_iter().flatten() {
        if k == "immutable" && matches!(v, Value::Bool(false) | Value::Null) {
            continue;
        }
        let why = if k == "immutable" {
            "immutable resources are not supported"
        } else {
            "unknown option (Keystone knows only immutable)"
        };
        return Err(Error::validation(format!(
            "Invalid input for field '{kind}.options.{}': {why}.",
            k.chars().take(64).collect::<String>()
        )));
    }
    Ok(())
}

/// Keeps the attributes a resource does not model (Keystone's `extra`), refusing ones that would
/// shadow a field the server owns.
pub fn merge_extra(kind: &str, stored: &str, update: Map<String, Value>) -> Result<String> {
    const RESERVED: &[&str] = &["domain_id", "password_expires_at"];
    let mut extra: Map<String, Value> = serde_json::from_str(stored).unwrap_or_default();
    for (k, v) in update {
        // Clients echo these back (tempest sends the id it updates); they are never stored.
        if k == "id" || k == "links" {
            continue;
        }
        if RESERVED.contains(&k.as_str()) {
            return Err(Error::validation(format!(
                "Invalid input for field '{kind}.{k}': it cannot be set."
            )));
        }
        // Ironstone's own attributes are never free-form extras, so that none can be forged.
        if k.starts_with("OS-PCU:") {
            return Err(Error::validation(format!(
                "Invalid input for field '{kind}.{k}': unknown OS-PCU attribute."
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

/// An `id` in an update body must name the resource being updated.
pub fn check_same_id(kind: &str, id: &str, update: &Map<String, Value>) -> Result<()> {
    match update.get("id") {
        Some(Value::String(given)) if given == id => Ok(()),
        None => Ok(()),
        Some(_) => Err(Error::validation(format!(
            "Invalid input for field '{kind}.id': the id of a {kind} cannot be changed."
        ))),
    }
}
