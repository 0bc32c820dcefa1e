//! `/v3/users/{user_id}/application_credentials` and `/v3/users/{user_id}/access_rules`.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::query::{created, list_response, no_content, ok, Query};
use super::{render, resource, Caller, JsonBody};
use crate::context::Ctx;
use crate::credential::{self, AppCredCreate};
use crate::error::Result;
use crate::state::State;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/v3/users/{user_id}/application_credentials")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        resource("/v3/users/{user_id}/application_credentials/{id}")
            .route(web::get().to(get))
            .route(web::delete().to(delete)),
    )
    .service(resource("/v3/users/{user_id}/access_rules").route(web::get().to(list_rules)))
    .service(
        resource("/v3/users/{user_id}/access_rules/{id}")
            .route(web::get().to(get_rule))
            .route(web::delete().to(delete_rule)),
    );
}

#[derive(Deserialize)]
struct CreateBody {
    application_credential: AppCredCreate,
}

async fn create(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<String>,
    body: JsonBody<CreateBody>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let v = credential::create(&ctx, &path, body.0.application_credential).await?;
    Ok(created(
        "application_credential",
        render::application_credential(&ctx.base(), &v),
    ))
}

async fn list(
    state: web::Data<State>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let q = Query::of(&req);
    let creds = credential::list(&ctx, &path, q.get("name")).await?;
    let base = ctx.base();
    let items = creds
        .iter()
        .map(|c| render::application_credential(&base, c))
        .collect();
    Ok(list_response(
        &req,
        &base,
        "application_credentials",
        items,
        None,
    ))
}

async fn get(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let v = credential::get(&ctx, &path.0, &path.1).await?;
    Ok(ok(
        "application_credential",
        render::application_credential(&ctx.base(), &v),
    ))
}

async fn delete(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    credential::delete(&ctx, &path.0, &path.1).await?;
    Ok(no_content())
}

async fn list_rules(
    state: web::Data<State>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let rules = credential::access_rules(&ctx, &path).await?;
    let base = ctx.base();
    let items = rules
        .iter()
        .map(|r| render::access_rule(&base, r))
        .collect();
    Ok(list_response(&req, &base, "access_rules", items, None))
}

async fn get_rule(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let r = credential::access_rule(&ctx, &path.0, &path.1).await?;
    Ok(ok("access_rule", render::access_rule(&ctx.base(), &r)))
}

async fn delete_rule(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    credential::delete_access_rule(&ctx, &path.0, &path.1).await?;
    Ok(no_content())
}
