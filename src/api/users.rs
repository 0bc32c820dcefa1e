//! `/v3/users`: users, their password, groups, projects.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::query::{created, list_response, no_content, ok, page_response, Paging, Query};
use super::{render, resource, Caller, JsonBody};
use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::identity::{self, PasswordChange, UserCreate, UserUpdate};
use crate::state::State;
use crate::store::UserFilter;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/v3/users")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        resource("/v3/users/{user_id}")
            .route(web::get().to(get))
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    )
    .service(resource("/v3/users/{user_id}/password").route(web::post().to(change_password)))
    .service(resource("/v3/users/{user_id}/groups").route(web::get().to(groups)))
    .service(resource("/v3/users/{user_id}/projects").route(web::get().to(projects)));
}

#[derive(Deserialize)]
struct CreateBody {
    user: UserCreate,
}

#[derive(Deserialize)]
struct UpdateBody {
    user: UserUpdate,
}

#[derive(Deserialize)]
struct PasswordBody {
    user: PasswordChange,
}

/// The user filters of `GET /v3/users` (and of group member lists).
pub(crate) fn user_filter(q: &Query) -> Result<UserFilter> {
    let enabled = q.bool("enabled")?;
    // OS-PCU:status: pending (enabled, no password yet), active (enabled, with a password),
    // disabled (not enabled, or inactive); the three never overlap.
    let (status_enabled, password_set) = match q.get("OS-PCU:status").as_deref() {
        None => (None, None),
        Some("pending") => (Some(true), Some(false)),
        Some("active") => (Some(true), Some(true)),
        Some("disabled") => (Some(false), None),
        Some(other) => {
            return Err(Error::validation(format!(
                "Invalid value for query parameter 'OS-PCU:status': expecting pending, active or disabled, not {other:?}."
            )))
        }
    };
    if let (Some(a), Some(b)) = (enabled, status_enabled) {
        if a != b {
            return Err(Error::validation(
                "Invalid query: enabled and OS-PCU:status contradict each other (pending and active users are enabled); give one of them.",
            ));
        }
    }
    Ok(UserFilter {
        name: q.text("name"),
        email: q.text("email"),
        phone: q.text("phone"),
        domain_id: q.exact("domain_id"),
        enabled: enabled.or(status_enabled),
        bound_project_id: q.exact("OS-PCU:bound_project_id"),
        password_set,
        mfa_enabled: q.bool("OS-PCU:mfa_enabled")?,
        ..Default::default()
    })
}

async fn list(state: web::Data<State>, caller: Caller, req: HttpRequest) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let q = Query::of(&req);
    let paging = Paging::of(&q, &state.config.list)?;
    let users = identity::list_users(
        &ctx,
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

async fn create(
    state: web::Data<State>,
    caller: Caller,
    body: JsonBody<CreateBody>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let v = identity::create_user(&ctx, body.0.user).await?;
    Ok(created("user", render::user(&ctx.base(), &v)))
}

async fn get(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let v = identity::get_user(&ctx, &path).await?;
    Ok(ok("user", render::user(&ctx.base(), &v)))
}

async fn update(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<String>,
    body: JsonBody<UpdateBody>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let v = identity::update_user(&ctx, &path, body.0.user).await?;
    Ok(ok("user", render::user(&ctx.base(), &v)))
}

async fn delete(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    identity::delete_user(&ctx, &path).await?;
    Ok(no_content())
}

/// Proven by the original password, so no token is required.
async fn change_password(
    state: web::Data<State>,
    path: web::Path<String>,
    body: JsonBody<PasswordBody>,
) -> Result<HttpResponse> {
    identity::change_password(&state, &path, body.0.user, chrono::Utc::now()).await?;
    Ok(no_content())
}

async fn groups(
    state: web::Data<State>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let groups = identity::groups_of_user(&ctx, &path).await?;
    let base = ctx.base();
    let items = groups.iter().map(|g| render::group(&base, g)).collect();
    Ok(list_response(&req, &base, "groups", items, None))
}

async fn projects(
    state: web::Data<State>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let projects = identity::projects_of_user(&ctx, &path).await?;
    let base = ctx.base();
    let items = projects
        .into_iter()
        .map(|project| {
            render::project(
                &base,
                &crate::resource::manage::ProjectView {
                    project,
                    tags: vec![],
                },
            )
        })
        .collect();
    Ok(list_response(&req, &base, "projects", items, None))
}
