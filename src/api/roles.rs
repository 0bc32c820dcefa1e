//! `/v3/roles`, implied roles, grants on projects, domains and the system, and
//! `/v3/role_assignments`.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::query::{created, list_response, no_content, ok, page_response, Paging, Query};
use super::{render, resource, Caller, JsonBody};
use crate::assignment::manage::{self, AssignmentQuery, GrantRef, RoleCreate, RoleUpdate};
use crate::context::Ctx;
use crate::error::{Error, Result};
use crate::state::State;
use crate::store::{SYSTEM_ALL, TARGET_DOMAIN, TARGET_PROJECT, TARGET_SYSTEM};

const GRANT: &str =
    "/v3/{target_kind:projects|domains}/{target_id}/{actor_kind:users|groups}/{actor_id}/roles";
const INHERITED: &str = "/v3/OS-INHERIT/{target_kind:projects|domains}/{target_id}/{actor_kind:users|groups}/{actor_id}/roles";
const SYSTEM: &str = "/v3/system/{actor_kind:users|groups}/{actor_id}/roles";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/v3/roles")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        resource("/v3/roles/{role_id}")
            .route(web::get().to(get))
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    )
    .service(resource("/v3/roles/{prior}/implies").route(web::get().to(implies)))
    .service(
        resource("/v3/roles/{prior}/implies/{implied}")
            .route(web::put().to(create_implied))
            .route(super::head().to(check_implied))
            .route(web::get().to(get_implied))
            .route(web::delete().to(delete_implied)),
    )
    .service(resource("/v3/role_inferences").route(web::get().to(inferences)))
    .service(resource("/v3/role_assignments").route(web::get().to(role_assignments)))
    .service(resource(GRANT).route(web::get().to(list_grants)))
    .service(grant_resource(&format!("{GRANT}/{{role_id}}")))
    .service(
        resource(&format!("{INHERITED}/inherited_to_projects")).route(web::get().to(list_grants)),
    )
    .service(grant_resource(&format!(
        "{INHERITED}/{{role_id}}/inherited_to_projects"
    )))
    .service(resource(SYSTEM).route(web::get().to(list_grants)))
    .service(grant_resource(&format!("{SYSTEM}/{{role_id}}")));
}

fn grant_resource(path: &str) -> actix_web::Resource {
    resource(path)
        .route(web::put().to(put_grant))
        .route(super::head().to(check_grant))
        .route(web::get().to(check_grant))
        .route(web::delete().to(delete_grant))
}

#[derive(Deserialize)]
struct CreateBody {
    role: RoleCreate,
}

#[derive(Deserialize)]
struct UpdateBody {
    role: RoleUpdate,
}

async fn list(state: web::Data<State>, caller: Caller, req: HttpRequest) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let q = Query::of(&req);
    let paging = Paging::of(&q, &state.config.list)?;
    let mut f = manage::role_filter(q.text("name"), q.exact("domain_id"));
    f.marker = paging.marker.clone();
    f.limit = paging.fetch();
    let mut roles = manage::list_roles(&ctx, f).await?;
    roles.sort_by(|a, b| a.id.cmp(&b.id));
    let (roles, end) = paging.cut(roles, |r| r.id.as_str());
    let base = ctx.base();
    let items: Vec<serde_json::Value> = roles.iter().map(|r| render::role(&base, r)).collect();
    Ok(page_response(&req, &base, "roles", items, end))
}

async fn create(
    state: web::Data<State>,
    caller: Caller,
    body: JsonBody<CreateBody>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let r = manage::create_role(&ctx, body.0.role).await?;
    Ok(created("role", render::role(&ctx.base(), &r)))
}

async fn get(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let r = manage::get_role(&ctx, &path).await?;
    Ok(ok("role", render::role(&ctx.base(), &r)))
}

async fn update(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<String>,
    body: JsonBody<UpdateBody>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let r = manage::update_role(&ctx, &path, body.0.role).await?;
    Ok(ok("role", render::role(&ctx.base(), &r)))
}

async fn delete(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    manage::delete_role(&ctx, &path).await?;
    Ok(no_content())
}

fn inference_body(
    base: &str,
    prior: &crate::store::Role,
    implied: &crate::store::Role,
) -> serde_json::Value {
    json!({
        "role_inference": {
            "prior_role": render::role_brief(base, prior),
            "implies": render::role_brief(base, implied),
        },
        "links": {"self": format!("{base}/v3/roles/{}/implies/{}", prior.id, implied.id)},
    })
}

async fn create_implied(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let (p, i) = manage::create_implied_role(&ctx, &path.0, &path.1).await?;
    Ok(HttpResponse::Created().json(inference_body(&ctx.base(), &p, &i)))
}

async fn get_implied(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let (p, i) = manage::get_implied_role(&ctx, &path.0, &path.1).await?;
    Ok(HttpResponse::Ok().json(inference_body(&ctx.base(), &p, &i)))
}

async fn check_implied(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    manage::get_implied_role(&ctx, &path.0, &path.1).await?;
    Ok(no_content())
}

async fn delete_implied(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    manage::delete_implied_role(&ctx, &path.0, &path.1).await?;
    Ok(no_content())
}

async fn implies(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let base = ctx.base();
    let rules = manage::inferences(&ctx, Some(&path)).await?;
    let rule = rules
        .first()
        .ok_or_else(|| Error::not_found("role", path.as_str()))?;
    Ok(HttpResponse::Ok().json(json!({
        "role_inference": {
            "prior_role": render::role_brief(&base, &rule.prior),
            "implies": rule.implies.iter().map(|r| render::role_brief(&base, r)).collect::<Vec<_>>(),
        },
        "links": {"self": format!("{base}/v3/roles/{}/implies", rule.prior.id)},
    })))
}

async fn inferences(
    state: web::Data<State>,
    caller: Caller,
    req: HttpRequest,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let base = ctx.base();
    let rules = manage::inferences(&ctx, None).await?;
    let items = rules
        .iter()
        .filter(|r| !r.implies.is_empty())
        .map(|r| {
            json!({
                "prior_role": render::role_brief(&base, &r.prior),
                "implies": r.implies.iter().map(|i| render::role_brief(&base, i)).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(list_response(&req, &base, "role_inferences", items, None))
}

/// The grant named by the path of any of the grant routes.
fn grant_ref(req: &HttpRequest) -> Result<GrantRef> {
    let info = req.match_info();
    let actor_type = manage::actor_type(info.get("actor_kind").unwrap_or_default())?;
    let actor_id = info.get("actor_id").unwrap_or_default().to_string();
    let inherited = req.path().starts_with("/v3/OS-INHERIT/");
    let (target_type, target_id) = match info.get("target_kind") {
        Some("projects") => (
            TARGET_PROJECT,
            info.get("target_id").unwrap_or_default().to_string(),
        ),
        Some("domains") => (
            TARGET_DOMAIN,
            info.get("target_id").unwrap_or_default().to_string(),
        ),
        _ => (TARGET_SYSTEM, SYSTEM_ALL.to_string()),
    };
    Ok(GrantRef {
        actor_type,
        actor_id,
        target_type,
        target_id,
        inherited,
    })
}

fn role_id(req: &HttpRequest) -> String {
    req.match_info()
        .get("role_id")
        .unwrap_or_default()
        .to_string()
}

async fn put_grant(
    state: web::Data<State>,
    caller: Caller,
    req: HttpRequest,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    manage::create_grant(&ctx, grant_ref(&req)?, &role_id(&req)).await?;
    Ok(no_content())
}

async fn check_grant(
    state: web::Data<State>,
    caller: Caller,
    req: HttpRequest,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    manage::check_grant(&ctx, grant_ref(&req)?, &role_id(&req)).await?;
    Ok(no_content())
}

async fn delete_grant(
    state: web::Data<State>,
    caller: Caller,
    req: HttpRequest,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    manage::revoke_grant(&ctx, grant_ref(&req)?, &role_id(&req)).await?;
    Ok(no_content())
}

async fn list_grants(
    state: web::Data<State>,
    caller: Caller,
    req: HttpRequest,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let roles = manage::list_grants(&ctx, grant_ref(&req)?).await?;
    let base = ctx.base();
    let items = roles.iter().map(|r| render::role(&base, r)).collect();
    Ok(list_response(&req, &base, "roles", items, None))
}

async fn role_assignments(
    state: web::Data<State>,
    caller: Caller,
    req: HttpRequest,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let q = Query::of(&req);
    let query = AssignmentQuery {
        user_id: q.get("user.id"),
        group_id: q.get("group.id"),
        role_id: q.get("role.id"),
        project_id: q.get("scope.project.id"),
        domain_id: q.get("scope.domain.id"),
        system: q.has("scope.system"),
        inherited_only: q.has("scope.OS-INHERIT:inherited_to"),
        effective: q.has("effective") && q.bool("effective")? != Some(false),
        include_names: q.flag("include_names")?,
        include_subtree: q.flag("include_subtree")?,
    };
    if query.effective && query.group_id.is_some() {
        return Err(Error::validation(
            "The effective and group.id query parameters cannot be combined: effective assignments are per user.",
        ));
    }
    if query.project_id.is_some() && query.domain_id.is_some() {
        return Err(Error::validation(
            "The scope.project.id and scope.domain.id query parameters cannot be combined: specify a project or a domain, not both.",
        ));
    }
    if query.user_id.is_some() && query.group_id.is_some() {
        return Err(Error::validation(
            "The user.id and group.id query parameters cannot be combined: specify a user or a group, not both.",
        ));
    }
    if query.include_subtree && query.project_id.is_none() {
        return Err(Error::validation("include_subtree needs scope.project.id."));
    }
    let (lines, names) = manage::role_assignments(&ctx, query).await?;
    let base = ctx.base();
    let items = lines
        .iter()
        .map(|l| render::role_assignment(l, names.as_ref()))
        .collect();
    Ok(list_response(&req, &base, "role_assignments", items, None))
}
