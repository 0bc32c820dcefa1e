//! Keystone's JSON shapes for resources.

use serde_json::{json, Value};

use crate::assignment::manage::{AssignmentView, Names};
use crate::credential::AppCredView;
use crate::identity::UserView;
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
    let u = &v.user;
    let mut out = json!({
        "id": u.id,
        "name": u.name,
        "domain_id": u.domain_id,
        "enabled": u.enabled && !v.inactive,
        "password_expires_at": u.password_expires_at.as_ref().map(time),
        "options": options_of(&v.options),
        "OS-PCU:status": if !u.enabled || v.inactive {
            "disabled"
        } else if u.password_hash.is_none() {
            "pending"
        } else {
            "active"
        },
        "OS-PCU:mfa_enabled": v.mfa_enabled,
        "links": {"self": format!("{base}/v3/users/{}", u.id)},
    });
    if let Value::Object(m) = &mut out {
        if let Some(p) = &u.default_project_id {
            m.insert("default_project_id".into(), json!(p));
        }
        if let Some(e) = &u.email {
            m.insert("email".into(), json!(e));
        }
        if let Some(p) = &u.phone {
            m.insert("phone".into(), json!(p));
        }
        if let Some(p) = &u.bound_project_id {
            m.insert("OS-PCU:bound_project_id".into(), json!(p));
        }
        if let Some(p) = &v.generated_password {
            m.insert(
                "OS-PCU:generated_password".into(),
                json!(secrecy::ExposeSecret::expose_secret(p)),
            );
        }
        if let Some(d) = &u.description {
            m.insert("description".into(), json!(d));
        }
    }
    with_extra(out, &u.extra)
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
