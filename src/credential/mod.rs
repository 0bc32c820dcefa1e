//! Application credentials and their access rules (Keystone's semantics): created by a user for
//! itself on its token's project, roles within the token's, secret shown once and stored hashed.

pub mod access_keys;
pub mod ec2_signature;
pub mod rotate;
pub mod totp;

use chrono::{DateTime, NaiveDateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::auth::revoke::Revoke;
use crate::context::{found, Ctx};
use crate::error::{Error, Result};
use crate::patch::check_name;
use crate::policy::Target;
use crate::store::{self, AccessRule, ApplicationCredential, Role};

pub const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];

/// `{"id": ...}` or `{"name": ...}`.
#[derive(Deserialize)]
pub struct RoleRef {
    pub id: Option<String>,
    pub name: Option<String>,
}

#[derive(Deserialize)]
pub struct AccessRuleInput {
    pub id: Option<String>,
    pub service: Option<String>,
    pub path: Option<String>,
    pub method: Option<String>,
}

/// No `Debug`: it may carry a secret (zeroized when dropped).
#[derive(Deserialize)]
pub struct AppCredCreate {
    pub name: String,
    pub description: Option<String>,
    pub secret: Option<SecretString>,
    pub expires_at: Option<String>,
    pub roles: Option<Vec<RoleRef>>,
    pub unrestricted: Option<bool>,
    pub access_rules: Option<Vec<AccessRuleInput>>,
}

pub struct AppCredView {
    pub cred: ApplicationCredential,
    pub roles: Vec<Role>,
    pub access_rules: Vec<AccessRule>,
    /// Only in the response to creation.
    pub secret: Option<String>,
}

fn owner(user_id: &str) -> Target<'_> {
    Target {
        user_id: Some(user_id),
        ..Default::default()
    }
}

/// Keystone's timestamp forms: `2026-12-31T23:59:59Z`, with fractions or an offset, or naive.
pub fn parse_time(field: &str, s: &str) -> Result<NaiveDateTime> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc).naive_utc());
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Ok(t);
        }
    }
    Err(Error::validation(format!(
        "Invalid input for field '{field}': {s:?} is not a time like 2026-12-31T23:59:59Z."
    )))
}

pub async fn create(ctx: &Ctx<'_>, user_id: &str, req: AppCredCreate) -> Result<AppCredView> {
    ctx.enforce("create_application_credential", owner(user_id))?;
    check_name("application_credential", "name", &req.name)?;
    let expires_at = match &req.expires_at {
        Some(s) => {
            let t = parse_time("application_credential.expires_at", s)?;
            if t <= ctx.now.naive_utc() {
                return Err(Error::validation(
                    "Invalid input for field 'application_credential.expires_at': the time is in the past.",
                ));
            }
            Some(t)
        }
        None => None,
    };
    // Roles: the token's by default; any given must be among them.
    let token_roles = &ctx.caller.roles;
    let roles: Vec<Role> = match &req.roles {
        None => token_roles.clone(),
        Some(refs) if refs.is_empty() => token_roles.clone(),
        Some(refs) => {
            let mut out: Vec<Role> = vec![];
            for r in refs {
                let hit = token_roles.iter().find(|t| match (&r.id, &r.name) {
                    (Some(id), _) => t.id == *id,
                    (None, Some(name)) => t.name == *name,
                    (None, None) => false,
                });
                match hit {
                    Some(role) if !out.contains(role) => out.push(role.clone()),
                    Some(_) => {}
                    None => {
                        let what = r.id.clone().or(r.name.clone()).unwrap_or_default();
                        return Err(Error::validation(format!(
                            "Invalid input for field 'application_credential.roles': role {what} is not among the roles of your token on project {}.",
                            ctx.caller.project.id
                        )));
                    }
                }
            }
            out
        }
    };
    let mut rules = vec![];
    for r in req.access_rules.unwrap_or_default() {
        rules.push(check_access_rule(r, user_id)?);
    }
    let secret =
        match req.secret {
            Some(s) if s.expose_secret().is_empty() => return Err(Error::validation(
                "Invalid input for field 'application_credential.secret': it must not be empty.",
            )),
            Some(s) => s,
            None => SecretString::from(crate::ids::random_urlsafe(64)),
        };
    if secret.expose_secret().len() > ctx.state.hasher.max_len() {
        return Err(Error::validation(
            "Invalid input for field 'application_credential.secret': it is too long.",
        ));
    }
    let secret_hash = ctx.state.hasher.hash(secret.clone()).await?;
    let cred = ApplicationCredential {
        id: crate::ids::new_id(),
        name: req.name,
        secret_hash,
        description: req.description,
        user_id: user_id.to_string(),
        project_id: ctx.caller.project.id.clone(),
        expires_at,
        unrestricted: req.unrestricted.unwrap_or(false),
        created_at: ctx.now.naive_utc(),
    };
    let role_ids: Vec<String> = roles.iter().map(|r| r.id.clone()).collect();
    let view = ctx
        .state
        .store
        .tx(move |c| {
            // A project-bound user's application credentials exist for its project only.
            if let Some(bound) = store::get_user(c, &cred.user_id)?.and_then(|u| u.bound_project_id) {
                if bound != cred.project_id {
                    return Err(Error::Conflict(format!(
                        "User {} is bound to project {bound}: its application credentials can only be for that project.",
                        cred.user_id
                    )));
                }
            }
            let mut rule_ids = vec![];
            for r in &rules {
                let id = match r {
                    RuleSpec::Existing(id) => {
                        let known = store::access_rules_of_user(c, &cred.user_id)?;
                        if !known.iter().any(|k| k.id == *id) {
                            return Err(Error::validation(format!(
                                "Invalid input for field 'application_credential.access_rules': access rule {id} does not exist."
                            )));
                        }
                        id.clone()
                    }
                    RuleSpec::New(rule) => store::find_or_insert_access_rule(c, rule)?,
                };
                if !rule_ids.contains(&id) {
                    rule_ids.push(id);
                }
            }
            store::insert_application_credential(c, &cred, &role_ids, &rule_ids)?;
            let access_rules = store::access_rules_of_application_credential(c, &cred.id)?;
            Ok(AppCredView {
                cred,
                roles,
                access_rules,
                secret: None,
            })
        })
        .await?;
    Ok(AppCredView {
        secret: Some(secret.expose_secret().to_string()),
        ..view
    })
}

enum RuleSpec {
    Existing(String),
    New(AccessRule),
}

/// Keystone's limits for an access rule: a service type fits the column (64), a path 225 characters.
const MAX_RULE_SERVICE: usize = 64;
const MAX_RULE_PATH: usize = 225;

fn check_access_rule(r: AccessRuleInput, user_id: &str) -> Result<RuleSpec> {
    if let Some(id) = r.id {
        return Ok(RuleSpec::Existing(id));
    }
    let bad = |what: &str| {
        Error::validation(format!(
            "Invalid input for field 'application_credential.access_rules': {what}."
        ))
    };
    let service = r
        .service
        .filter(|s| !s.trim().is_empty() && s.chars().count() <= MAX_RULE_SERVICE)
        .ok_or_else(|| {
            bad(&format!(
                "each rule needs a service type of 1 to {MAX_RULE_SERVICE} characters"
            ))
        })?;
    let path = r
        .path
        .filter(|p| p.starts_with('/') && p.chars().count() <= MAX_RULE_PATH)
        .ok_or_else(|| {
            bad(&format!(
                "each rule needs a path starting with '/', at most {MAX_RULE_PATH} characters"
            ))
        })?;
    let method = r
        .method
        .filter(|m| METHODS.contains(&m.as_str()))
        .ok_or_else(|| bad("each rule needs a method among GET, HEAD, POST, PUT, PATCH, DELETE"))?;
    Ok(RuleSpec::New(AccessRule {
        id: crate::ids::new_id(),
        user_id: user_id.to_string(),
        service,
        path,
        method,
    }))
}

fn view_of(c: &mut store::DbConnection, cred: ApplicationCredential) -> Result<AppCredView> {
    let ids = store::application_credential_role_ids(c, &cred.id)?;
    let roles = store::roles_by_ids(c, &ids)?;
    let access_rules = store::access_rules_of_application_credential(c, &cred.id)?;
    Ok(AppCredView {
        cred,
        roles,
        access_rules,
        secret: None,
    })
}

async fn load(ctx: &Ctx<'_>, user_id: &str, id: &str, action: &str) -> Result<AppCredView> {
    ctx.enforce(action, owner(user_id))?;
    let (uid, id) = (user_id.to_string(), id.to_string());
    ctx.state
        .store
        .run(move |c| {
            let cred = store::get_application_credential(c, &id)?.filter(|a| a.user_id == uid);
            let cred = found(cred, "application credential", &id)?;
            view_of(c, cred)
        })
        .await
}

pub async fn get(ctx: &Ctx<'_>, user_id: &str, id: &str) -> Result<AppCredView> {
    load(ctx, user_id, id, "get_application_credential").await
}

pub async fn list(ctx: &Ctx<'_>, user_id: &str, name: Option<String>) -> Result<Vec<AppCredView>> {
    ctx.enforce("list_application_credentials", owner(user_id))?;
    let uid = user_id.to_string();
    ctx.state
        .store
        .run(move |c| {
            found(store::get_user(c, &uid)?, "user", &uid)?;
            store::list_application_credentials(c, &uid, name.as_deref())?
                .into_iter()
                .map(|cred| view_of(c, cred))
                .collect()
        })
        .await
}

/// Deletes an application credential and revokes every token made from it.
pub async fn delete(ctx: &Ctx<'_>, user_id: &str, id: &str) -> Result<()> {
    let view = load(ctx, user_id, id, "delete_application_credential").await?;
    let revoker = ctx.revoker();
    ctx.state
        .store
        .tx(move |c| {
            store::delete_application_credential(c, &view.cred.id)?;
            revoker.revoke(c, Revoke::application_credential(&view.cred.id))
        })
        .await
}

pub async fn access_rules(ctx: &Ctx<'_>, user_id: &str) -> Result<Vec<AccessRule>> {
    ctx.enforce("list_access_rules", owner(user_id))?;
    let uid = user_id.to_string();
    ctx.state
        .store
        .run(move |c| {
            found(store::get_user(c, &uid)?, "user", &uid)?;
            store::access_rules_of_user(c, &uid)
        })
        .await
}

pub async fn access_rule(ctx: &Ctx<'_>, user_id: &str, id: &str) -> Result<AccessRule> {
    let rules = access_rules(ctx, user_id).await?;
    found(rules.into_iter().find(|r| r.id == id), "access rule", id)
}

/// Deletes an access rule no application credential uses.
pub async fn delete_access_rule(ctx: &Ctx<'_>, user_id: &str, id: &str) -> Result<()> {
    ctx.enforce("delete_access_rule", owner(user_id))?;
    let (uid, id) = (user_id.to_string(), id.to_string());
    ctx.state
        .store
        .tx(move |c| {
            let rules = store::access_rules_of_user(c, &uid)?;
            found(rules.into_iter().find(|r| r.id == id), "access rule", &id)?;
            if store::access_rule_in_use(c, &id)? {
                return Err(Error::ForbiddenMsg(format!(
                    "Access rule {id} is used by an application credential; delete that first."
                )));
            }
            store::delete_access_rule(c, &id)?;
            Ok(())
        })
        .await
}
