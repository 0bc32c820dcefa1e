//! `/v3/auth/*`: issue, validate, check and revoke tokens; the caller's catalog, projects, domains.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use serde_json::{json, Value};

use super::{resource, Caller, JsonBody};
use crate::auth::{self, AuthRequest, TokenInfo};
use crate::error::{Error, Result};
use crate::policy::{self, Target};
use crate::state::State;
use crate::store;
use crate::token::format_time;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/v3/auth/tokens")
            .route(web::post().to(issue))
            .route(super::head().to(check))
            .route(web::get().to(validate))
            .route(web::delete().to(revoke)),
    )
    .service(resource("/v3/auth/catalog").route(web::get().to(catalog)))
    .service(resource("/v3/auth/projects").route(web::get().to(projects)))
    .service(resource("/v3/auth/domains").route(web::get().to(domains)));
}

fn query_flag(req: &HttpRequest, name: &str) -> Option<String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn truthy(v: Option<String>) -> bool {
    v.is_some_and(|v| {
        !matches!(
            v.to_ascii_lowercase().as_str(),
            "0" | "false" | "no" | "off"
        )
    })
}

async fn issue(
    state: web::Data<State>,
    req: HttpRequest,
    body: JsonBody<AuthRequest>,
) -> Result<HttpResponse> {
    let info = auth::authenticate(&state, body.0, Utc::now()).await?;
    let nocatalog = query_flag(&req, "nocatalog").is_some();
    let body = token_body(&state, &info, !nocatalog).await?;
    Ok(HttpResponse::Created()
        .insert_header(("X-Subject-Token", info.token.clone()))
        .json(body))
}

/// The subject token named by `X-Subject-Token`, which the caller may inspect.
async fn subject(
    state: &State,
    req: &HttpRequest,
    caller: &TokenInfo,
    action: &str,
    allow_expired: bool,
) -> Result<TokenInfo> {
    let token = req
        .headers()
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            Error::validation(
                "The X-Subject-Token header is required: it names the token to act on.",
            )
        })?;
    // Decide on the caller's rights first; an owner check needs the subject's user.
    let privileged = policy::allows(policy::rule(action), caller, &Target::default());
    let info = auth::validate(state, token, Utc::now(), allow_expired && privileged).await?;
    policy::enforce(
        caller,
        action,
        &Target {
            user_id: Some(&info.user.id),
            ..Default::default()
        },
    )?;
    Ok(info)
}

async fn validate(
    state: web::Data<State>,
    req: HttpRequest,
    caller: Caller,
) -> Result<HttpResponse> {
    let allow_expired = truthy(query_flag(&req, "allow_expired"));
    let info = subject(&state, &req, &caller.0, "validate_token", allow_expired).await?;
    let nocatalog = query_flag(&req, "nocatalog").is_some();
    let body = token_body(&state, &info, !nocatalog).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("X-Subject-Token", info.token.clone()))
        .json(body))
}

async fn check(state: web::Data<State>, req: HttpRequest, caller: Caller) -> Result<HttpResponse> {
    let allow_expired = truthy(query_flag(&req, "allow_expired"));
    let info = subject(&state, &req, &caller.0, "check_token", allow_expired).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("X-Subject-Token", info.token))
        .finish())
}

async fn revoke(state: web::Data<State>, req: HttpRequest, caller: Caller) -> Result<HttpResponse> {
    let info = subject(&state, &req, &caller.0, "revoke_token", false).await?;
    let audit_id = info.audit_ids.first().cloned().unwrap_or_default();
    let keep_for = auth::revoke::retention(&state);
    let now = Utc::now();
    state
        .store
        .tx(move |c| {
            auth::revoke::record(c, auth::revoke::Revoke::audit_id(&audit_id), now, keep_for)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn catalog(
    state: web::Data<State>,
    req: HttpRequest,
    caller: Caller,
) -> Result<HttpResponse> {
    let project_id = caller.0.project.id.clone();
    let catalog = state
        .store
        .run(move |c| crate::catalog::build(c, Some(&project_id)))
        .await?;
    Ok(HttpResponse::Ok().json(json!({"catalog": catalog, "links": self_links(&state, &req)})))
}

/// Projects the caller holds a role on, and can scope to.
async fn projects(
    state: web::Data<State>,
    req: HttpRequest,
    caller: Caller,
) -> Result<HttpResponse> {
    let user_id = caller.0.user.id.clone();
    let projects = state
        .store
        .run(move |c| {
            let candidates = store::list_projects(
                c,
                &store::ProjectFilter {
                    enabled: Some(true),
                    ..Default::default()
                },
            )?;
            let mut out = vec![];
            for p in candidates {
                if !crate::assignment::granted_role_ids_on_project(c, &user_id, &p)?.is_empty() {
                    out.push(p);
                }
            }
            Ok(out)
        })
        .await?;
    let base = state.public_url();
    let list: Vec<Value> = projects
        .iter()
        .map(|p| super::render::project_brief(&base, p))
        .collect();
    Ok(HttpResponse::Ok().json(json!({"projects": list, "links": self_links(&state, &req)})))
}

/// Domains the caller holds a role on. Tokens are never domain-scoped, but clients list these.
async fn domains(
    state: web::Data<State>,
    req: HttpRequest,
    caller: Caller,
) -> Result<HttpResponse> {
    let user_id = caller.0.user.id.clone();
    let domains = state
        .store
        .run(move |c| {
            let mut actors = store::group_ids_of_user(c, &user_id)?;
            actors.push(user_id.clone());
            let grants = store::list_assignments(
                c,
                &store::AssignmentFilter {
                    actor_ids: Some(actors),
                    target_type: Some(store::TARGET_DOMAIN.into()),
                    ..Default::default()
                },
            )?;
            let ids: Vec<String> = grants.into_iter().map(|a| a.target_id).collect();
            store::list_domains(
                c,
                &store::DomainFilter {
                    ids: Some(ids),
                    enabled: Some(true),
                    ..Default::default()
                },
            )
        })
        .await?;
    let base = state.public_url();
    let list: Vec<Value> = domains
        .iter()
        .map(|d| super::render::domain(&base, d))
        .collect();
    Ok(HttpResponse::Ok().json(json!({"domains": list, "links": self_links(&state, &req)})))
}

fn self_links(state: &State, req: &HttpRequest) -> Value {
    json!({"self": format!("{}{}", state.public_url(), req.path()), "previous": null, "next": null})
}

/// Keystone's token body.
pub async fn token_body(state: &State, t: &TokenInfo, with_catalog: bool) -> Result<Value> {
    let mut token = json!({
        "methods": t.methods,
        "user": {
            "domain": {"id": t.user_domain.id, "name": t.user_domain.name},
            "id": t.user.id,
            "name": t.user.name,
            "password_expires_at": t.user.password_expires_at.map(|e| format_time(e.and_utc())),
        },
        "audit_ids": t.audit_ids,
        "expires_at": format_time(t.expires_at),
        "issued_at": format_time(t.issued_at),
        "project": {
            "domain": {"id": t.project_domain.id, "name": t.project_domain.name},
            "id": t.project.id,
            "name": t.project.name,
        },
        "is_domain": false,
        "roles": t.roles.iter().map(|r| json!({"id": r.id, "name": r.name})).collect::<Vec<_>>(),
    });
    if with_catalog {
        let project_id = t.project.id.clone();
        let catalog = state
            .store
            .run(move |c| crate::catalog::build(c, Some(&project_id)))
            .await?;
        token["catalog"] = serde_json::to_value(catalog).map_err(Error::internal)?;
    }
    if let Some(ac) = &t.application_credential {
        let mut block = json!({"id": ac.id, "name": ac.name, "restricted": ac.restricted});
        // Services (keystonemiddleware) enforce access rules from the token body: without them
        // here a rule-limited credential would be unlimited.
        let id = ac.id.clone();
        let rules = state
            .store
            .run(move |c| crate::store::access_rules_of_application_credential(c, &id))
            .await?;
        if !rules.is_empty() {
            block["access_rules"] = rules
                .iter()
                .map(|r| json!({"id": r.id, "service": r.service, "path": r.path, "method": r.method}))
                .collect();
        }
        token["application_credential"] = block;
    }
    Ok(json!({"token": token}))
}
