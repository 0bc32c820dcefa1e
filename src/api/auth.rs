//! `/v3/auth/*`: issue, validate, check and revoke tokens; the caller's catalog, projects, domains.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use serde_json::{json, Value};

use super::{resource, Caller, JsonBody};
use crate::auth::{self, caller, AuthRequest, TokenInfo};
use crate::error::{Error, Result};
use crate::state::State;
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
    let receipt = req
        .headers()
        .get(auth::receipt::RECEIPT_HEADER)
        .and_then(|v| v.to_str().ok());
    let info = auth::authenticate(&state, body.0, receipt, Utc::now()).await?;
    let nocatalog = query_flag(&req, "nocatalog").is_some();
    let body = token_body(&state, &info, !nocatalog).await?;
    Ok(HttpResponse::Created()
        .insert_header(("X-Subject-Token", info.token.clone()))
        .json(body))
}

/// The token named by `X-Subject-Token`.
fn subject_header(req: &HttpRequest) -> Result<&str> {
    req.headers()
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            Error::validation(
                "The X-Subject-Token header is required: it names the token to act on.",
            )
        })
}

async fn validate(
    state: web::Data<State>,
    req: HttpRequest,
    caller: Caller,
) -> Result<HttpResponse> {
    let allow_expired = truthy(query_flag(&req, "allow_expired"));
    let subject = subject_header(&req)?;
    let info = caller::inspect(
        &state,
        &caller.0,
        subject,
        "validate_token",
        allow_expired,
        Utc::now(),
    )
    .await?;
    let nocatalog = query_flag(&req, "nocatalog").is_some();
    let body = token_body(&state, &info, !nocatalog).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("X-Subject-Token", info.token.clone()))
        .json(body))
}

async fn check(state: web::Data<State>, req: HttpRequest, caller: Caller) -> Result<HttpResponse> {
    let allow_expired = truthy(query_flag(&req, "allow_expired"));
    let subject = subject_header(&req)?;
    let info = caller::inspect(
        &state,
        &caller.0,
        subject,
        "check_token",
        allow_expired,
        Utc::now(),
    )
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("X-Subject-Token", info.token))
        .finish())
}

async fn revoke(state: web::Data<State>, req: HttpRequest, caller: Caller) -> Result<HttpResponse> {
    caller::revoke_token(&state, &caller.0, subject_header(&req)?, Utc::now()).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn catalog(
    state: web::Data<State>,
    req: HttpRequest,
    caller: Caller,
) -> Result<HttpResponse> {
    let catalog = caller::catalog(&state, &caller.0).await?;
    Ok(HttpResponse::Ok().json(json!({"catalog": catalog, "links": self_links(&state, &req)})))
}

/// Projects the caller holds a role on, and can scope to.
async fn projects(
    state: web::Data<State>,
    req: HttpRequest,
    caller: Caller,
) -> Result<HttpResponse> {
    let projects = caller::projects(&state, &caller.0).await?;
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
    let domains = caller::domains(&state, &caller.0).await?;
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
    let extras = caller::token_extras(state, t, with_catalog).await?;
    if let Some(catalog) = extras.catalog {
        token["catalog"] = serde_json::to_value(catalog).map_err(Error::internal)?;
    }
    if let Some(ac) = &t.application_credential {
        let mut block = json!({"id": ac.id, "name": ac.name, "restricted": ac.restricted});
        if !extras.access_rules.is_empty() {
            block["access_rules"] = extras
                .access_rules
                .iter()
                .map(|r| json!({"id": r.id, "service": r.service, "path": r.path, "method": r.method}))
                .collect();
        }
        token["application_credential"] = block;
    }
    Ok(json!({"token": token}))
}
