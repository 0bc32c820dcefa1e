//! `ironstone bootstrap`: the Default domain, the admin user and project, the default roles and
//! the identity endpoints. Idempotent: what exists is left as it is.

use chrono::{DateTime, Utc};
use secrecy::SecretString;

use crate::error::{Error, Result};
use crate::resource::{DEFAULT_DOMAIN_ID, DEFAULT_DOMAIN_NAME};
use crate::state::State;
use crate::store::{
    self, Assignment, Domain, Endpoint, EndpointFilter, Project, Region, Role, Service, User,
};

pub const DEFAULT_ROLES: [&str; 5] = ["reader", "member", "manager", "admin", "service"];
/// (prior, implied): admin -> manager -> member -> reader.
pub const DEFAULT_IMPLICATIONS: [(&str, &str); 3] = [
    ("admin", "manager"),
    ("manager", "member"),
    ("member", "reader"),
];

pub struct Options {
    pub username: String,
    pub project_name: String,
    pub region_id: String,
    /// When absent and the admin does not exist, a password is generated and reported once.
    pub password: Option<SecretString>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            username: "admin".into(),
            project_name: "admin".into(),
            region_id: "RegionOne".into(),
            password: None,
        }
    }
}

#[derive(Default)]
pub struct Report {
    /// What was created, one line each ("role admin", ...).
    pub created: Vec<String>,
    /// A password generated for a newly created admin: shown once, never stored in clear.
    pub generated_password: Option<String>,
    pub password_reset: bool,
    pub admin_user_id: String,
    pub admin_project_id: String,
}

pub async fn run(state: &State, opts: Options, now: DateTime<Utc>) -> Result<Report> {
    // The policy binds the operator's own password too.
    let subject = crate::identity::password_policy::Subject {
        name: Some(&opts.username),
        ..Default::default()
    };
    let (password, generated) = match &opts.password {
        Some(p) => {
            state
                .password_policy
                .check(p, &subject)
                .map_err(|e| Error::validation(format!("IRONSTONE_BOOTSTRAP_PASSWORD: {e}")))?;
            (Some(p.clone()), None)
        }
        None => {
            let g = state.password_policy.generate(&subject)?;
            (
                None,
                Some(secrecy::ExposeSecret::expose_secret(&g).to_string()),
            )
        }
    };
    // Hash outside the transaction (it is slow); used only if the admin must be created or reset.
    let given_hash = match &password {
        Some(p) => Some(state.hasher.hash(p.clone()).await?),
        None => None,
    };
    let generated_hash = match &generated {
        Some(g) => Some(state.hasher.hash(SecretString::from(g.clone())).await?),
        None => None,
    };
    // Does the given password already match? Then nothing is reset.
    let existing = {
        let (domain, name) = (DEFAULT_DOMAIN_ID.to_string(), opts.username.clone());
        state
            .store
            .run(move |c| store::get_user_by_name(c, &domain, &name))
            .await?
    };
    let password_matches = match (
        &password,
        existing.as_ref().and_then(|u| u.password_hash.clone()),
    ) {
        (Some(p), Some(h)) => {
            state.hasher.verify(p.clone(), Some(h)).await? != crate::auth::password::Verified::No
        }
        _ => false,
    };
    let public_url = state.public_url();
    let keep_for = crate::auth::revoke::retention(state);
    let at = now.naive_utc();
    let sc = state.config.security_compliance.clone();
    let set_password = move |c: &mut store::DbConnection, id: &str, hash: &str| {
        store::set_user_password(
            c,
            id,
            &store::NewPassword {
                hash,
                created_at: at,
                expires_at: crate::identity::passwords::expiry_for(&sc, false, at),
                self_service: false,
                keep_history: crate::identity::passwords::history_to_keep(&sc),
            },
        )
    };
    let report = state
        .store
        .tx(move |c| {
            let mut r = Report::default();
            if store::get_domain(c, DEFAULT_DOMAIN_ID)?.is_none() {
                store::insert_domain(
                    c,
                    &Domain {
                        id: DEFAULT_DOMAIN_ID.into(),
                        name: DEFAULT_DOMAIN_NAME.into(),
                        description: "The default domain".into(),
                        enabled: true,
                        extra: "{}".into(),
                        created_at: at,
                        mfa_required: false,
                        login_by_email: false,
                    },
                )?;
                r.created.push(format!("domain {DEFAULT_DOMAIN_NAME}"));
            }
            // The admin project is the one recorded by id; only a store that never had one
            // looks it up by name (or creates it) and records it.
            let recorded = match store::get_fact(c, store::FACT_ADMIN_PROJECT_ID)? {
                Some(id) => store::get_project(c, &id)?,
                None => None,
            };
            let by_name = match recorded {
                Some(p) => Some(p),
                None => store::get_project_by_name(c, DEFAULT_DOMAIN_ID, &opts.project_name)?,
            };
            let project = match by_name {
                Some(p) => p,
                None => {
                    let p = Project {
                        id: crate::ids::new_id(),
                        name: opts.project_name.clone(),
                        domain_id: DEFAULT_DOMAIN_ID.into(),
                        parent_id: None,
                        description: "Bootstrap project for initializing the cloud.".into(),
                        enabled: true,
                        extra: "{}".into(),
                        created_at: at,
                    };
                    store::insert_project(c, &p)?;
                    r.created.push(format!("project {}", p.name));
                    p
                }
            };
            let existing = store::get_user_by_name(c, DEFAULT_DOMAIN_ID, &opts.username)?;
            // Once bootstrap has recorded its administrator, it never adopts another existing
            // user by name: a customer-side manager may have created one to be made admin.
            if let (Some(u), Some(recorded)) =
                (&existing, store::get_fact(c, store::FACT_ADMIN_USER_ID)?)
            {
                if u.id != recorded {
                    return Err(Error::Conflict(format!(
                        "user {} exists in the Default domain but is not the administrator bootstrap created; refusing to make it admin (choose another --bootstrap-username, or grant the role yourself)",
                        opts.username
                    )));
                }
            }
            let user = match existing {
                Some(u) => {
                    if let (Some(hash), false) = (&given_hash, password_matches) {
                        set_password(c, &u.id, hash)?;
                        crate::auth::revoke::record(
                            c,
                            crate::auth::revoke::Revoke::user(&u.id),
                            now,
                            keep_for,
                        )?;
                        r.password_reset = true;
                    }
                    u
                }
                None => {
                    let u = User {
                        id: crate::ids::new_id(),
                        name: opts.username.clone(),
                        domain_id: DEFAULT_DOMAIN_ID.into(),
                        enabled: true,
                        default_project_id: Some(project.id.clone()),
                        email: None,
                        phone: None,
                        description: None,
                        extra: "{}".into(),
                        password_hash: None,
                        password_created_at: None,
                        password_expires_at: None,
                        password_self_service: false,
                        bound_project_id: None,
                        failed_auth_count: 0,
                        failed_auth_at: None,
                        last_active_at: None,
                        created_at: at,
                    };
                    store::insert_user(c, &u)?;
                    let hash = given_hash
                        .as_ref()
                        .or(generated_hash.as_ref())
                        .expect("one of the two is set");
                    set_password(c, &u.id, hash)?;
                    // The cloud's own administrator cannot be locked out for good by failed
                    // logins or by a long absence (README: how to change this).
                    for option in ["ignore_lockout_failure_attempts", "ignore_user_inactivity"] {
                        store::set_user_option(c, &u.id, option, Some("true"))?;
                    }
                    if given_hash.is_none() {
                        r.generated_password = generated.clone();
                    }
                    r.created.push(format!("user {}", u.name));
                    u
                }
            };
            let mut role_ids = std::collections::HashMap::new();
            for name in DEFAULT_ROLES {
                let role = match store::get_role_by_name(c, name, None)? {
                    Some(role) => role,
                    None => {
                        let role = Role {
                            id: crate::ids::new_id(),
                            name: name.into(),
                            domain_id: None,
                            description: String::new(),
                            extra: "{}".into(),
                            created_at: at,
                        };
                        store::insert_role(c, &role)?;
                        r.created.push(format!("role {name}"));
                        role
                    }
                };
                role_ids.insert(name, role.id);
            }
            for (prior, implied) in DEFAULT_IMPLICATIONS {
                if !store::implied_role_exists(c, &role_ids[prior], &role_ids[implied])? {
                    store::insert_implied_role(c, &role_ids[prior], &role_ids[implied])?;
                    r.created.push(format!("implied role {prior} -> {implied}"));
                }
            }
            let grant = Assignment {
                actor_type: store::ACTOR_USER.into(),
                actor_id: user.id.clone(),
                target_type: store::TARGET_PROJECT.into(),
                target_id: project.id.clone(),
                role_id: role_ids["admin"].clone(),
                inherited: false,
            };
            if !store::assignment_exists(c, &grant)? {
                store::insert_assignment(c, &grant)?;
                r.created.push(format!(
                    "role admin for user {} on project {}",
                    user.name, project.name
                ));
            }
            if store::get_region(c, &opts.region_id)?.is_none() {
                store::insert_region(
                    c,
                    &Region {
                        id: opts.region_id.clone(),
                        description: String::new(),
                        parent_region_id: None,
                        extra: "{}".into(),
                    },
                )?;
                r.created.push(format!("region {}", opts.region_id));
            }
            let service = match store::list_services(c, Some("identity"), None)?
                .into_iter()
                .next()
            {
                Some(s) => s,
                None => {
                    let s = Service {
                        id: crate::ids::new_id(),
                        type_: "identity".into(),
                        name: "keystone".into(),
                        description: String::new(),
                        enabled: true,
                        extra: "{}".into(),
                    };
                    store::insert_service(c, &s)?;
                    r.created.push("service keystone (identity)".into());
                    s
                }
            };
            let url = format!("{public_url}/v3");
            let existing = store::list_endpoints(
                c,
                &EndpointFilter {
                    service_id: Some(service.id.clone()),
                    region_id: Some(opts.region_id.clone()),
                    ..Default::default()
                },
            )?;
            for interface in ["public", "internal", "admin"] {
                match existing.iter().find(|e| e.interface == interface) {
                    Some(e) if e.url == url => {}
                    Some(e) => {
                        store::update_endpoint(
                            c,
                            &Endpoint {
                                url: url.clone(),
                                ..e.clone()
                            },
                        )?;
                        r.created
                            .push(format!("{interface} identity endpoint now {url}"));
                    }
                    None => {
                        store::insert_endpoint(
                            c,
                            &Endpoint {
                                id: crate::ids::new_id(),
                                service_id: service.id.clone(),
                                region_id: Some(opts.region_id.clone()),
                                interface: interface.into(),
                                url: url.clone(),
                                enabled: true,
                                extra: "{}".into(),
                            },
                        )?;
                        r.created
                            .push(format!("{interface} identity endpoint {url}"));
                    }
                }
            }
            store::set_fact(c, store::FACT_ADMIN_PROJECT_ID, &project.id)?;
            store::record_fact_once(c, store::FACT_ADMIN_USER_ID, &user.id)?;
            store::record_fact_once(c, store::FACT_BOOTSTRAPPED_AT, &at.to_string())?;
            r.admin_user_id = user.id;
            r.admin_project_id = project.id;
            Ok(r)
        })
        .await?;
    // Bootstrap is rare and runs before serving: a direct read is fine here.
    state.realm.refresh(&mut state.store.conn()?.conn)?;
    Ok(report)
}
