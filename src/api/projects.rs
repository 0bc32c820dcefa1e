//! `/v3/projects` (with tags) and `/v3/domains`.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::query::{created, list_response, no_content, ok, page_response, Paging, Query};
use super::{render, resource, Caller, JsonBody};
use crate::context::Ctx;
use crate::error::Result;
use crate::resource::manage::{self, DomainCreate, DomainUpdate, ProjectCreate, ProjectUpdate};
use crate::state::State;
use crate::store::{DomainFilter, ProjectFilter};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/v3/projects")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        resource("/v3/projects/{project_id}")
            .route(web::get().to(get))
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    )
    .service(
        resource("/v3/projects/{project_id}/tags")
            .route(web::get().to(tags))
            .route(web::put().to(replace_tags))
            .route(web::delete().to(clear_tags)),
    )
    .service(
        resource("/v3/projects/{project_id}/tags/{tag}")
            .route(web::get().to(has_tag))
            .route(web::put().to(add_tag))
            .route(web::delete().to(remove_tag)),
    )
    .service(
        resource("/v3/domains")
            .route(web::get().to(list_domains))
            .route(web::post().to(create_domain)),
    )
    .service(
        resource("/v3/domains/{domain_id}")
            .route(web::get().to(get_domain))
            .route(web::patch().to(update_domain))
            .route(web::delete().to(delete_domain)),
    );
}

#[derive(Deserialize)]
struct CreateBody {
    project: ProjectCreate,
}

#[derive(Deserialize)]
struct UpdateBody {
    project: ProjectUpdate,
}

#[derive(Deserialize)]
struct TagsBody {
    tags: Vec<String>,
}

async fn list(state: web::Data<State>, caller: Caller, req: HttpRequest) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let q = Query::of(&req);
    let base = ctx.base();
    // Ironstone has no projects acting as domains.
    if q.bool("is_domain")? == Some(true) {
        return Ok(list_response(&req, &base, "projects", vec![], None));
    }
    let paging = Paging::of(&q, &state.config.list)?;
    let f = ProjectFilter {
        name: q.text("name"),
        domain_id: q.exact("domain_id"),
        parent_id: q.exact("parent_id"),
        enabled: q.bool("enabled")?,
        tags: q.tags("tags")?,
        tags_any: q.tags("tags-any")?,
        not_tags: q.tags("not-tags")?,
        not_tags_any: q.tags("not-tags-any")?,
        marker: paging.marker.clone(),
        limit: paging.fetch(),
        ..Default::default()
    };
    let projects = manage::list_projects(&ctx, f).await?;
    let (projects, end) = paging.cut(projects, |p| p.project.id.as_str());
    let items: Vec<serde_json::Value> =
        projects.iter().map(|p| render::project(&base, p)).collect();
    Ok(page_response(&req, &base, "projects", items, end))
}

async fn create(
    state: web::Data<State>,
    caller: Caller,
    body: JsonBody<CreateBody>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let p = manage::create_project(&ctx, body.0.project).await?;
    Ok(created("project", render::project(&ctx.base(), &p)))
}

async fn get(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let p = manage::get_project(&ctx, &path).await?;
    Ok(ok("project", render::project(&ctx.base(), &p)))
}

async fn update(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<String>,
    body: JsonBody<UpdateBody>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let p = manage::update_project(&ctx, &path, body.0.project).await?;
    Ok(ok("project", render::project(&ctx.base(), &p)))
}

async fn delete(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    manage::delete_project(&ctx, &path).await?;
    Ok(no_content())
}

async fn tags(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let tags = manage::project_tags(&ctx, &path).await?;
    Ok(HttpResponse::Ok().json(json!({ "tags": tags })))
}

async fn replace_tags(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<String>,
    body: JsonBody<TagsBody>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let tags = manage::change_project_tags(&ctx, &path, Some(body.0.tags), None, None).await?;
    Ok(HttpResponse::Ok().json(json!({ "tags": tags })))
}

async fn clear_tags(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    manage::change_project_tags(&ctx, &path, Some(vec![]), None, None).await?;
    Ok(no_content())
}

async fn has_tag(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    manage::has_project_tag(&ctx, &path.0, &path.1).await?;
    Ok(no_content())
}

async fn add_tag(
    state: web::Data<State>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    manage::change_project_tags(&ctx, &path.0, None, Some(path.1.clone()), None).await?;
    let location = format!("{}{}", ctx.base(), req.path());
    Ok(HttpResponse::Created()
        .insert_header(("Location", location))
        .finish())
}

async fn remove_tag(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    manage::change_project_tags(&ctx, &path.0, None, None, Some(path.1.clone())).await?;
    Ok(no_content())
}

#[derive(Deserialize)]
struct DomainCreateBody {
    domain: DomainCreate,
}

#[derive(Deserialize)]
struct DomainUpdateBody {
    domain: DomainUpdate,
}

async fn list_domains(
    state: web::Data<State>,
    caller: Caller,
    req: HttpRequest,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let q = Query::of(&req);
    let paging = Paging::of(&q, &state.config.list)?;
    let f = DomainFilter {
        name: q.text("name"),
        enabled: q.bool("enabled")?,
        marker: paging.marker.clone(),
        limit: paging.fetch(),
        ..Default::default()
    };
    let mut domains = manage::list_domains(&ctx, f).await?;
    domains.sort_by(|a, b| a.id.cmp(&b.id));
    let (domains, end) = paging.cut(domains, |d| d.id.as_str());
    let base = ctx.base();
    let items: Vec<serde_json::Value> = domains.iter().map(|d| render::domain(&base, d)).collect();
    Ok(page_response(&req, &base, "domains", items, end))
}

async fn create_domain(
    state: web::Data<State>,
    caller: Caller,
    body: JsonBody<DomainCreateBody>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let d = manage::create_domain(&ctx, body.0.domain).await?;
    Ok(created("domain", render::domain(&ctx.base(), &d)))
}

async fn get_domain(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let d = manage::get_domain(&ctx, &path).await?;
    Ok(ok("domain", render::domain(&ctx.base(), &d)))
}

async fn update_domain(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<String>,
    body: JsonBody<DomainUpdateBody>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let d = manage::update_domain(&ctx, &path, body.0.domain).await?;
    Ok(ok("domain", render::domain(&ctx.base(), &d)))
}

async fn delete_domain(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    manage::delete_domain(&ctx, &path).await?;
    Ok(no_content())
}
