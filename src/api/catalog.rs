//! `/v3/regions`, `/v3/services`, `/v3/endpoints`.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::query::{created, list_response, no_content, ok, Query};
use super::{render, resource, Caller, JsonBody};
use crate::catalog::manage::{self, EndpointInput, RegionInput, ServiceInput};
use crate::context::Ctx;
use crate::error::Result;
use crate::state::State;
use crate::store::EndpointFilter;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/v3/regions")
            .route(web::get().to(list_regions))
            .route(web::post().to(create_region)),
    )
    .service(
        resource("/v3/regions/{id}")
            .route(web::get().to(get_region))
            .route(web::put().to(put_region))
            .route(web::patch().to(update_region))
            .route(web::delete().to(delete_region)),
    )
    .service(
        resource("/v3/services")
            .route(web::get().to(list_services))
            .route(web::post().to(create_service)),
    )
    .service(
        resource("/v3/services/{id}")
            .route(web::get().to(get_service))
            .route(web::patch().to(update_service))
            .route(web::delete().to(delete_service)),
    )
    .service(
        resource("/v3/endpoints")
            .route(web::get().to(list_endpoints))
            .route(web::post().to(create_endpoint)),
    )
    .service(
        resource("/v3/endpoints/{id}")
            .route(web::get().to(get_endpoint))
            .route(web::patch().to(update_endpoint))
            .route(web::delete().to(delete_endpoint)),
    );
}

#[derive(Deserialize)]
struct RegionBody {
    region: RegionInput,
}

#[derive(Deserialize)]
struct ServiceBody {
    service: ServiceInput,
}

#[derive(Deserialize)]
struct EndpointBody {
    endpoint: EndpointInput,
}

async fn list_regions(
    state: web::Data<State>,
    caller: Caller,
    req: HttpRequest,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let q = Query::of(&req);
    let regions = manage::list_regions(&ctx, q.get("parent_region_id")).await?;
    let base = ctx.base();
    let items = regions.iter().map(|r| render::region(&base, r)).collect();
    Ok(list_response(&req, &base, "regions", items, None))
}

async fn create_region(
    state: web::Data<State>,
    caller: Caller,
    body: JsonBody<RegionBody>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let r = manage::create_region(&ctx, None, body.0.region).await?;
    Ok(created("region", render::region(&ctx.base(), &r)))
}

async fn put_region(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<String>,
    body: JsonBody<RegionBody>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let r = manage::create_region(&ctx, Some(path.into_inner()), body.0.region).await?;
    Ok(created("region", render::region(&ctx.base(), &r)))
}

async fn get_region(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let r = manage::get_region(&ctx, &path).await?;
    Ok(ok("region", render::region(&ctx.base(), &r)))
}

async fn update_region(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<String>,
    body: JsonBody<RegionBody>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let r = manage::update_region(&ctx, &path, body.0.region).await?;
    Ok(ok("region", render::region(&ctx.base(), &r)))
}

async fn delete_region(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    manage::delete_region(&ctx, &path).await?;
    Ok(no_content())
}

async fn list_services(
    state: web::Data<State>,
    caller: Caller,
    req: HttpRequest,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let q = Query::of(&req);
    let services = manage::list_services(&ctx, q.get("type"), q.get("name")).await?;
    let base = ctx.base();
    let items = services.iter().map(|s| render::service(&base, s)).collect();
    Ok(list_response(&req, &base, "services", items, None))
}

async fn create_service(
    state: web::Data<State>,
    caller: Caller,
    body: JsonBody<ServiceBody>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let s = manage::create_service(&ctx, body.0.service).await?;
    Ok(created("service", render::service(&ctx.base(), &s)))
}

async fn get_service(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let s = manage::get_service(&ctx, &path).await?;
    Ok(ok("service", render::service(&ctx.base(), &s)))
}

async fn update_service(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<String>,
    body: JsonBody<ServiceBody>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let s = manage::update_service(&ctx, &path, body.0.service).await?;
    Ok(ok("service", render::service(&ctx.base(), &s)))
}

async fn delete_service(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    manage::delete_service(&ctx, &path).await?;
    Ok(no_content())
}

async fn list_endpoints(
    state: web::Data<State>,
    caller: Caller,
    req: HttpRequest,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let q = Query::of(&req);
    let f = EndpointFilter {
        service_id: q.get("service_id"),
        interface: q.get("interface"),
        region_id: q.get("region_id").or(q.get("region")),
        enabled_only: false,
    };
    let endpoints = manage::list_endpoints(&ctx, f).await?;
    let base = ctx.base();
    let items = endpoints
        .iter()
        .map(|e| render::endpoint(&base, e))
        .collect();
    Ok(list_response(&req, &base, "endpoints", items, None))
}

async fn create_endpoint(
    state: web::Data<State>,
    caller: Caller,
    body: JsonBody<EndpointBody>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let e = manage::create_endpoint(&ctx, body.0.endpoint).await?;
    Ok(created("endpoint", render::endpoint(&ctx.base(), &e)))
}

async fn get_endpoint(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let e = manage::get_endpoint(&ctx, &path).await?;
    Ok(ok("endpoint", render::endpoint(&ctx.base(), &e)))
}

async fn update_endpoint(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<String>,
    body: JsonBody<EndpointBody>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let e = manage::update_endpoint(&ctx, &path, body.0.endpoint).await?;
    Ok(ok("endpoint", render::endpoint(&ctx.base(), &e)))
}

async fn delete_endpoint(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    manage::delete_endpoint(&ctx, &path).await?;
    Ok(no_content())
}
