//! Keystone's JSON shapes for resources.

use std::sync::Arc;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;
use serde_json::{json, Value};

use crate::assignment::manage::{AssignmentView, Names};
use crate::credential::AppCredView;
use crate::identity::{RenderedFor, UserView};
use crate::resource::manage::ProjectView;
use crate::store::{
    AccessRule, Domain, Endpoint, Group, Project, Region, Role, Service, UserOption,
};

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
            "OS-PCU:mfa_required": d.mfa_required,
            "OS-PCU:login_by_email": d.login_by_email,
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

fn time(t: &chrono::NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

fn options_of(options: &[UserOption]) -> Value {
    let mut m = serde_json::Map::new();
    for o in options {
        m.insert(
            o.name.clone(),
            serde_json::from_str(&o.value).unwrap_or(Value::Null),
        );
    }
    Value::Object(m)
}

pub fn user(base: &str, v: &UserView) -> Value {
    // Serializing a map with string keys cannot fail.
    serde_json::to_value(UserJson { base, v }).unwrap_or(Value::Null)
}

/// A user as Keystone shows it, written straight to JSON: user lists are the largest answers,
/// and a `Value` per user cost more than the database did (a map node and a key per field).
pub struct UserJson<'a> {
    pub base: &'a str,
    pub v: &'a UserView,
}

/// A listed user: as `UserJson`, rendered once per user and state and kept with the cached user
/// (`ShownUser::rendered`), so that a page of unchanged users is copied rather than written
/// again (the JSON was most of what a cached list still cost). A user whose profile, options,
/// inactivity or MFA state changed is a new `ShownUser` or a different state: rendered afresh.
pub struct ListedUserJson<'a> {
    pub base: &'a str,
    pub v: &'a UserView,
}

impl ListedUserJson<'_> {
    fn state(&self) -> RenderedFor<'_> {
        RenderedFor {
            base: self.base,
            inactive: self.v.inactive,
            mfa_enabled: self.v.mfa_enabled,
        }
    }
}

impl Serialize for ListedUserJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let fresh = UserJson {
            base: self.base,
            v: self.v,
        };
        // A password shown once is never kept.
        if self.v.generated_password.is_some() {
            return fresh.serialize(s);
        }
        let state = self.state();
        let json = match self.v.shown.rendering(state) {
            Some(json) => json,
            None => {
                use serde::ser::Error;
                let text = serde_json::to_string(&fresh).map_err(S::Error::custom)?;
                let json: Arc<RawValue> = RawValue::from_string(text)
                    .map_err(S::Error::custom)?
                    .into();
                self.v.shown.keep_rendering(state, json.clone());
                json
            }
        };
        json.serialize(s)
    }
}

/// `{"self": "<base>/v3/users/<id>"}`.
struct SelfLink<'a> {
    base: &'a str,
    id: &'a str,
}

impl Serialize for SelfLink<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        // Concatenated, not formatted: `fmt` machinery cost more than the rest of the link.
        const PATH: &str = "/v3/users/";
        let mut href = String::with_capacity(self.base.len() + PATH.len() + self.id.len());
        href.push_str(self.base);
        href.push_str(PATH);
        href.push_str(self.id);
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry("self", &href)?;
        m.end()
    }
}

/// The fields every user shows (an extra attribute of the same name never replaces one).
const USER_FIELDS: [&str; 9] = [
    "id",
    "name",
    "domain_id",
    "enabled",
    "password_expires_at",
    "options",
    "OS-PCU:status",
    "OS-PCU:mfa_enabled",
    "links",
];

impl Serialize for UserJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let (v, u) = (self.v, self.v.user());
        let status = if !u.enabled || v.inactive {
            "disabled"
        } else if !u.password_set {
            "pending"
        } else {
            "active"
        };
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", &u.id)?;
        m.serialize_entry("name", &u.name)?;
        m.serialize_entry("domain_id", &u.domain_id)?;
        m.serialize_entry("enabled", &(u.enabled && !v.inactive))?;
        m.serialize_entry(
            "password_expires_at",
            &u.password_expires_at.as_ref().map(time),
        )?;
        m.serialize_entry("options", &options_of(&v.shown.options))?;
        m.serialize_entry("OS-PCU:status", status)?;
        m.serialize_entry("OS-PCU:mfa_enabled", &v.mfa_enabled)?;
        m.serialize_entry(
            "links",
            &SelfLink {
                base: self.base,
                id: &u.id,
            },
        )?;
        let optional = [
            ("default_project_id", u.default_project_id.as_deref()),
            ("email", u.email.as_deref()),
            ("phone", u.phone.as_deref()),
            ("OS-PCU:bound_project_id", u.bound_project_id.as_deref()),
            (
                "OS-PCU:generated_password",
                v.generated_password
                    .as_ref()
                    .map(secrecy::ExposeSecret::expose_secret),
            ),
            ("description", u.description.as_deref()),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                m.serialize_entry(key, value)?;
            }
        }
        // Attributes a client stored beyond Keystone's own never hide one of them.
        if u.extra != "{}" {
            for (k, x) in extra(&u.extra) {
                let shown = USER_FIELDS.contains(&k.as_str())
                    || optional.iter().any(|(o, v)| *o == k && v.is_some());
                if !shown {
                    m.serialize_entry(&k, &x)?;
                }
            }
        }
        m.end()
    }
}

pub fn group(base: &str, g: &Group) -> Value {
    with_extra(
        json!({
            "id": g.id,
            "name": g.name,
            "domain_id": g.domain_id,
            "description": g.description,
            "links": {"self": format!("{base}/v3/groups/{}", g.id)},
        }),
        &g.extra,
    )
}

pub fn project(base: &str, v: &ProjectView) -> Value {
    let p = &v.project;
    with_extra(
        json!({
            "id": p.id,
            "name": p.name,
            "domain_id": p.domain_id,
            "parent_id": p.parent_id.clone().unwrap_or_else(|| p.domain_id.clone()),
            "description": p.description,
            "enabled": p.enabled,
            "is_domain": false,
            "tags": v.tags,
            "options": {},
            "links": {"self": format!("{base}/v3/projects/{}", p.id)},
        }),
        &p.extra,
    )
}

pub fn role(base: &str, r: &Role) -> Value {
    with_extra(
        json!({
            "id": r.id,
            "name": r.name,
            "domain_id": r.domain_id,
            "description": r.description,
            "options": {},
            "links": {"self": format!("{base}/v3/roles/{}", r.id)},
        }),
        &r.extra,
    )
}

/// A role inside an inference rule.
pub fn role_brief(base: &str, r: &Role) -> Value {
    json!({
        "id": r.id,
        "name": r.name,
        "links": {"self": format!("{base}/v3/roles/{}", r.id)},
    })
}

pub fn region(base: &str, r: &Region) -> Value {
    with_extra(
        json!({
            "id": r.id,
            "description": r.description,
            "parent_region_id": r.parent_region_id,
            "links": {"self": format!("{base}/v3/regions/{}", r.id)},
        }),
        &r.extra,
    )
}

pub fn service(base: &str, s: &Service) -> Value {
    with_extra(
        json!({
            "id": s.id,
            "type": s.type_,
            "name": s.name,
            "description": s.description,
            "enabled": s.enabled,
            "links": {"self": format!("{base}/v3/services/{}", s.id)},
        }),
        &s.extra,
    )
}

pub fn endpoint(base: &str, e: &Endpoint) -> Value {
    with_extra(
        json!({
            "id": e.id,
            "service_id": e.service_id,
            "interface": e.interface,
            "url": e.url,
            "region_id": e.region_id,
            "region": e.region_id,
            "enabled": e.enabled,
            "links": {"self": format!("{base}/v3/endpoints/{}", e.id)},
        }),
        &e.extra,
    )
}

pub fn access_rule(base: &str, r: &AccessRule) -> Value {
    json!({
        "id": r.id,
        "service": r.service,
        "path": r.path,
        "method": r.method,
        "links": {"self": format!("{base}/v3/users/{}/access_rules/{}", r.user_id, r.id)},
    })
}

pub fn application_credential(base: &str, v: &AppCredView) -> Value {
    let a = &v.cred;
    let mut out = json!({
        "id": a.id,
        "name": a.name,
        "description": a.description,
        "user_id": a.user_id,
        "project_id": a.project_id,
        "expires_at": a.expires_at.as_ref().map(time),
        "unrestricted": a.unrestricted,
        "system": null,
        "roles": v.roles.iter().map(|r| json!({"id": r.id, "name": r.name, "domain_id": r.domain_id})).collect::<Vec<_>>(),
        "access_rules": v.access_rules.iter().map(|r| json!({"id": r.id, "service": r.service, "path": r.path, "method": r.method})).collect::<Vec<_>>(),
        "links": {"self": format!("{base}/v3/users/{}/application_credentials/{}", a.user_id, a.id)},
    });
    if let (Some(secret), Value::Object(m)) = (&v.secret, &mut out) {
        m.insert("secret".into(), json!(secret));
    }
    out
}

fn named(id: &str, n: Option<&(String, String)>, names: &Names) -> Value {
    match n {
        Some((name, domain_id)) => json!({
            "id": id,
            "name": name,
            "domain": {"id": domain_id, "name": names.domains.get(domain_id)},
        }),
        None => json!({"id": id}),
    }
}

pub fn role_assignment(a: &AssignmentView, names: Option<&Names>) -> Value {
    let empty = Names::default();
    let n = names.unwrap_or(&empty);
    let with_names = names.is_some();
    let role = match (with_names, n.roles.get(&a.role_id)) {
        (true, Some(r)) => {
            let mut v = json!({"id": r.id, "name": r.name});
            if let (Some(d), Value::Object(m)) = (&r.domain_id, &mut v) {
                m.insert("domain".into(), json!({"id": d, "name": n.domains.get(d)}));
            }
            v
        }
        _ => json!({"id": a.role_id}),
    };
    let actor = if a.actor_type == "user" {
        named(
            &a.actor_id,
            with_names.then(|| n.users.get(&a.actor_id)).flatten(),
            n,
        )
    } else {
        named(
            &a.actor_id,
            with_names.then(|| n.groups.get(&a.actor_id)).flatten(),
            n,
        )
    };
    let mut scope = match a.target_type.as_str() {
        "project" => {
            json!({"project": named(&a.target_id, with_names.then(|| n.projects.get(&a.target_id)).flatten(), n)})
        }
        "domain" => {
            let mut d = json!({"id": a.target_id});
            if with_names {
                d["name"] = json!(n.domains.get(&a.target_id));
            }
            json!({"domain": d})
        }
        _ => json!({"system": {"all": true}}),
    };
    if a.inherited {
        scope["OS-INHERIT:inherited_to"] = json!("projects");
    }
    let mut links = json!({"assignment": a.assignment_link});
    if let Some(m) = &a.membership_link {
        links["membership"] = json!(m);
    }
    if let Some(p) = &a.prior_role_link {
        links["prior_role"] = json!(p);
    }
    let mut out = json!({"role": role, "scope": scope, "links": links});
    out[a.actor_type.as_str()] = actor;
    out
}

pub fn invitation(base: &str, v: &crate::accounts::invitations::InvitationView) -> Value {
    let i = &v.invitation;
    let roles: Vec<Value> = v
        .roles
        .iter()
        .map(|r| {
            let mut o = json!({"role": {"id": r.role_id, "name": r.role_name}});
            if let Value::Object(m) = &mut o {
                let key = if r.target_type == crate::store::TARGET_PROJECT {
                    "project_id"
                } else {
                    "domain_id"
                };
                m.insert(key.into(), json!(r.target_id));
            }
            o
        })
        .collect();
    json!({
        "id": i.id,
        "email": i.email,
        "name": i.name,
        "domain_id": i.domain_id,
        "user_id": i.user_id,
        "roles": roles,
        "status": v.status.as_str(),
        "expires_at": time(&i.expires_at),
        "created_at": time(&i.created_at),
        "accepted_at": i.accepted_at.as_ref().map(time),
        "delivery": {
            "sent_to": i.sent_to,
            "sent_at": i.sent_at.as_ref().map(time),
            "error": i.delivery_error,
        },
        "links": {"self": format!("{base}/v3/OS-PCU/invitations/{}", i.id)},
    })
}
