//! `/v3/groups`: groups and their members.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::query::{created, no_content, ok, page_response, Paging, Query};
use super::users::user_filter;
use super::{render, resource, Caller, JsonBody};
use crate::context::Ctx;
use crate::error::Result;
use crate::identity::{self, GroupCreate, GroupUpdate};
use crate::state::State;
use crate::store::GroupFilter;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/v3/groups")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        resource("/v3/groups/{group_id}")
            .route(web::get().to(get))
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    )
    .service(resource("/v3/groups/{group_id}/users").route(web::get().to(members)))
    .service(
        resource("/v3/groups/{group_id}/users/{user_id}")
            .route(web::put().to(add))
            .route(super::head().to(check))
            .route(web::get().to(check))
            .route(web::delete().to(remove)),
    );
}

#[derive(Deserialize)]
struct CreateBody {
    group: GroupCreate,
}

#[derive(Deserialize)]
struct UpdateBody {
    group: GroupUpdate,
}

async fn list(state: web::Data<State>, caller: Caller, req: HttpRequest) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let q = Query::of(&req);
    let paging = Paging::of(&q, &state.config.list)?;
    let f = GroupFilter {
        name: q.text("name"),
        domain_id: q.exact("domain_id"),
        marker: paging.marker.clone(),
        limit: paging.fetch(),
        ..Default::default()
    };
    let mut groups = identity::list_groups(&ctx, f).await?;
    groups.sort_by(|a, b| a.id.cmp(&b.id));
    let (groups, end) = paging.cut(groups, |g| g.id.as_str());
    let base = ctx.base();
    let items: Vec<serde_json::Value> = groups.iter().map(|g| render::group(&base, g)).collect();
    Ok(page_response(&req, &base, "groups", items, end))
}

async fn create(
    state: web::Data<State>,
    caller: Caller,
    body: JsonBody<CreateBody>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let g = identity::create_group(&ctx, body.0.group).await?;
    Ok(created("group", render::group(&ctx.base(), &g)))
}

async fn get(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let g = identity::get_group(&ctx, &path).await?;
    Ok(ok("group", render::group(&ctx.base(), &g)))
}

async fn update(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<String>,
    body: JsonBody<UpdateBody>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let g = identity::update_group(&ctx, &path, body.0.group).await?;
    Ok(ok("group", render::group(&ctx.base(), &g)))
}

async fn delete(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    identity::delete_group(&ctx, &path).await?;
    Ok(no_content())
}

async fn members(
    state: web::Data<State>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let q = Query::of(&req);
    let paging = Paging::of(&q, &state.config.list)?;
    let users = identity::users_in_group(
        &ctx,
        &path,
        user_filter(&q)?.page(paging.marker.clone(), paging.fetch()),
    )
    .await?;
    let (users, end) = paging.cut(users, |u| u.user().id.as_str());
    let base = ctx.base();
    let items: Vec<_> = users
        .iter()
        .map(|v| render::ListedUserJson { base: &base, v })
        .collect();
    Ok(page_response(&req, &base, "users", items, end))
}

async fn add(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    identity::add_user_to_group(&ctx, &path.0, &path.1).await?;
    Ok(no_content())
}

async fn check(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    identity::check_user_in_group(&ctx, &path.0, &path.1).await?;
    Ok(no_content())
}

async fn remove(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    identity::remove_user_from_group(&ctx, &path.0, &path.1).await?;
    Ok(no_content())
}
