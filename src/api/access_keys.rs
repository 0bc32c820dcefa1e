//! `/v3/credentials`, `/v3/users/{user_id}/credentials/OS-EC2`, and the access-key exchanges
//! `/v3/ec2tokens` and `/v3/s3tokens`.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::query::{created, list_response, no_content, ok, Query};
use super::{resource, Caller, JsonBody};
use crate::context::Ctx;
use crate::credential::access_keys::{
    self, CredentialInput, CredentialView, Ec2View, Exchange, SignedRequest,
};
use crate::error::Result;
use crate::state::State;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/v3/credentials")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        resource("/v3/credentials/{id}")
            .route(web::get().to(get))
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    )
    .service(
        resource("/v3/users/{user_id}/credentials/OS-EC2")
            .route(web::get().to(ec2_list))
            .route(web::post().to(ec2_create)),
    )
    .service(
        resource("/v3/users/{user_id}/credentials/OS-EC2/{access}")
            .route(web::get().to(ec2_get))
            .route(web::delete().to(ec2_delete)),
    )
    .service(resource("/v3/ec2tokens").route(web::post().to(ec2tokens)))
    .service(resource("/v3/s3tokens").route(web::post().to(s3tokens)));
}

/// Keystone reads `credentials`, then `credential`, then the legacy `ec2Credentials`.
#[derive(Deserialize)]
struct ExchangeBody {
    credentials: Option<SignedRequest>,
    credential: Option<SignedRequest>,
    #[serde(rename = "ec2Credentials")]
    ec2_credentials: Option<SignedRequest>,
}

async fn exchange(
    state: web::Data<State>,
    caller: Caller,
    body: JsonBody<ExchangeBody>,
    kind: Exchange,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let b = body.0;
    let signed = b
        .credentials
        .or(b.credential)
        .or(b.ec2_credentials)
        .unwrap_or_default();
    let info = access_keys::exchange(&ctx, kind, signed).await?;
    let body = crate::api::auth::token_body(&state, &info, true).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("X-Subject-Token", info.token.clone()))
        .json(body))
}

async fn ec2tokens(
    state: web::Data<State>,
    caller: Caller,
    body: JsonBody<ExchangeBody>,
) -> Result<HttpResponse> {
    exchange(state, caller, body, Exchange::Ec2).await
}

async fn s3tokens(
    state: web::Data<State>,
    caller: Caller,
    body: JsonBody<ExchangeBody>,
) -> Result<HttpResponse> {
    exchange(state, caller, body, Exchange::S3).await
}

#[derive(Deserialize)]
struct Body {
    credential: CredentialInput,
}

#[derive(Deserialize)]
struct Ec2Body {
    tenant_id: Option<String>,
}

fn render(base: &str, v: &CredentialView) -> Value {
    json!({
        "id": v.cred.id,
        "user_id": v.cred.user_id,
        "project_id": v.cred.project_id,
        "type": v.cred.type_,
        "blob": v.blob,
        "links": {"self": format!("{base}/v3/credentials/{}", v.cred.id)},
    })
}

fn render_ec2(base: &str, v: &Ec2View) -> Value {
    json!({
        "user_id": v.user_id,
        "tenant_id": v.project_id,
        "access": v.access,
        "secret": v.secret,
        "trust_id": null,
        "links": {"self": format!("{base}/v3/users/{}/credentials/OS-EC2/{}", v.user_id, v.access)},
    })
}

async fn list(state: web::Data<State>, caller: Caller, req: HttpRequest) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let q = Query::of(&req);
    let creds = access_keys::list(&ctx, q.get("user_id"), q.get("type")).await?;
    let base = ctx.base();
    let items = creds.iter().map(|c| render(&base, c)).collect();
    Ok(list_response(&req, &base, "credentials", items, None))
}

async fn create(
    state: web::Data<State>,
    caller: Caller,
    body: JsonBody<Body>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let v = access_keys::create(&ctx, body.0.credential).await?;
    Ok(created("credential", render(&ctx.base(), &v)))
}

async fn get(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let v = access_keys::get(&ctx, &path).await?;
    Ok(ok("credential", render(&ctx.base(), &v)))
}

async fn update(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<String>,
    body: JsonBody<Body>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let v = access_keys::update(&ctx, &path, body.0.credential).await?;
    Ok(ok("credential", render(&ctx.base(), &v)))
}

async fn delete(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    access_keys::delete(&ctx, &path).await?;
    Ok(no_content())
}

async fn ec2_list(
    state: web::Data<State>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let keys = access_keys::ec2_list(&ctx, &path).await?;
    let base = ctx.base();
    let items = keys.iter().map(|k| render_ec2(&base, k)).collect();
    Ok(list_response(&req, &base, "credentials", items, None))
}

async fn ec2_create(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<String>,
    body: JsonBody<Ec2Body>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let v = access_keys::ec2_create(&ctx, &path, body.0.tenant_id).await?;
    Ok(created("credential", render_ec2(&ctx.base(), &v)))
}

async fn ec2_get(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let v = access_keys::ec2_get(&ctx, &path.0, &path.1).await?;
    Ok(ok("credential", render_ec2(&ctx.base(), &v)))
}

async fn ec2_delete(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    access_keys::ec2_delete(&ctx, &path.0, &path.1).await?;
    Ok(no_content())
}
