//! Keystone's JSON shapes for resources.

use serde_json::{json, Value};

use crate::store::{Domain, Project};

fn extra(raw: &str) -> serde_json::Map<String, Value> {
    serde_json::from_str(raw).unwrap_or_default()
}

fn with_extra(mut v: Value, raw: &str) -> Value {
    if let Value::Object(map) = &mut v {
        for (k, x) in extra(raw) {
            map.entry(k).or_insert(x);
        }
    }
    v
}

pub fn domain(base: &str, d: &Domain) -> Value {
    with_extra(
        json!({
            "id": d.id,
            "name": d.name,
            "description": d.description,
            "enabled": d.enabled,
            "tags": [],
            "options": {},
            "links": {"self": format!("{base}/v3/domains/{}", d.id)},
        }),
        &d.extra,
    )
}

/// A project as `/v3/auth/projects` lists it.
pub fn project_brief(base: &str, p: &Project) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "domain_id": p.domain_id,
        "enabled": p.enabled,
        "links": {"self": format!("{base}/v3/projects/{}", p.id)},
    })
}
