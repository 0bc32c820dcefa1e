//! Regions, services and endpoints: the cloud admin's catalog. Tokens carry what is here.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::context::{found, Ctx};
use crate::error::{Error, Result};
use crate::patch::{merge_extra, nullable};
use crate::policy::Target;
use crate::store::{self, DbConnection, Endpoint, EndpointFilter, Region, Service};

pub const INTERFACES: &[&str] = &["public", "internal", "admin"];

#[derive(Deserialize)]
pub struct RegionInput {
    pub id: Option<String>,
    pub description: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub parent_region_id: Option<Option<String>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Deserialize)]
pub struct ServiceInput {
    #[serde(rename = "type")]
    pub type_: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Deserialize)]
pub struct EndpointInput {
    pub service_id: Option<String>,
    pub interface: Option<String>,
    pub url: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub region_id: Option<Option<String>>,
    /// Keystone's older name for `region_id`.
    #[serde(default, deserialize_with = "nullable")]
    pub region: Option<Option<String>>,
    pub enabled: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn admin(ctx: &Ctx, action: &str) -> Result<()> {
    ctx.enforce(action, Target::default())
}

fn check_parent(c: &mut DbConnection, id: &str, parent: Option<&str>) -> Result<()> {
    let mut cur = parent.map(str::to_string);
    let mut hops = 0;
    while let Some(p) = cur {
        if p == id {
            return Err(Error::validation(format!(
                "Invalid input for field 'region.parent_region_id': region {id} would be its own ancestor."
            )));
        }
        let r = store::get_region(c, &p)?.ok_or_else(|| {
            Error::validation(format!(
                "Invalid input for field 'region.parent_region_id': region {p} does not exist."
            ))
        })?;
        cur = r.parent_region_id;
        hops += 1;
        if hops > 64 {
            break;
        }
    }
    Ok(())
}

/// Creates a region; `id` may come from the path (`PUT /v3/regions/{id}`) or the body.
pub async fn create_region(
    ctx: &Ctx<'_>,
    path_id: Option<String>,
    req: RegionInput,
) -> Result<Region> {
    admin(ctx, "create_region")?;
    if let (Some(p), Some(b)) = (&path_id, &req.id) {
        if p != b {
            return Err(Error::validation(
                "Invalid input for field 'region.id': it differs from the id in the URL.",
            ));
        }
    }
    let id = path_id.or(req.id).unwrap_or_else(crate::ids::new_id);
    if id.is_empty() || id.len() > 255 || id.contains('/') {
        return Err(Error::validation(
            "Invalid input for field 'region.id': 1 to 255 characters, no '/'.",
        ));
    }
    let r = Region {
        id,
        description: req.description.unwrap_or_default(),
        parent_region_id: req.parent_region_id.flatten(),
        extra: merge_extra("region", "{}", req.extra)?,
    };
    ctx.state
        .store
        .tx(move |c| {
            check_parent(c, &r.id, r.parent_region_id.as_deref())?;
            store::insert_region(c, &r)?;
            Ok(r)
        })
        .await
}

pub async fn get_region(ctx: &Ctx<'_>, id: &str) -> Result<Region> {
    admin(ctx, "get_region")?;
    let id = id.to_string();
    ctx.state
        .store
        .run(move |c| found(store::get_region(c, &id)?, "region", &id))
        .await
}

pub async fn list_regions(ctx: &Ctx<'_>, parent: Option<String>) -> Result<Vec<Region>> {
    admin(ctx, "list_regions")?;
    ctx.state
        .store
        .run(move |c| store::list_regions(c, parent.as_deref()))
        .await
}

pub async fn update_region(ctx: &Ctx<'_>, id: &str, req: RegionInput) -> Result<Region> {
    admin(ctx, "update_region")?;
    if req.id.as_ref().is_some_and(|b| b != id) {
        return Err(Error::validation(
            "Invalid input for field 'region.id': it cannot be changed.",
        ));
    }
    let id = id.to_string();
    ctx.state
        .store
        .tx(move |c| {
            let mut r = found(store::get_region_for_update(c, &id)?, "region", &id)?;
            if let Some(d) = req.description {
                r.description = d;
            }
            if let Some(p) = req.parent_region_id {
                check_parent(c, &r.id, p.as_deref())?;
                r.parent_region_id = p;
            }
            r.extra = merge_extra("region", &r.extra, req.extra)?;
            store::update_region(c, &r)?;
            Ok(r)
        })
        .await
}

pub async fn delete_region(ctx: &Ctx<'_>, id: &str) -> Result<()> {
    admin(ctx, "delete_region")?;
    let id = id.to_string();
    ctx.state
        .store
        .tx(move |c| {
            found(store::get_region(c, &id)?, "region", &id)?;
            if store::region_in_use(c, &id)? {
                return Err(Error::ForbiddenMsg(format!(
                    "Region {id} has child regions or endpoints; remove them first."
                )));
            }
            store::delete_region(c, &id)
        })
        .await
}

pub async fn create_service(ctx: &Ctx<'_>, req: ServiceInput) -> Result<Service> {
    admin(ctx, "create_service")?;
    let type_ = req
        .type_
        .filter(|t| !t.trim().is_empty() && t.len() <= 255)
        .ok_or_else(|| Error::validation("Invalid input for field 'service.type': a service type (1 to 255 characters) is required."))?;
    if let Some(n) = &req.name {
        crate::patch::check_name("service", "name", n)?;
    }
    let s = Service {
        id: crate::ids::new_id(),
        type_,
        name: req.name.unwrap_or_default(),
        description: req.description.unwrap_or_default(),
        enabled: req.enabled.unwrap_or(true),
        extra: merge_extra("service", "{}", req.extra)?,
    };
    ctx.state
        .store
        .tx(move |c| {
            store::insert_service(c, &s)?;
            Ok(s)
        })
        .await
}

pub async fn get_service(ctx: &Ctx<'_>, id: &str) -> Result<Service> {
    admin(ctx, "get_service")?;
    let id = id.to_string();
    ctx.state
        .store
        .run(move |c| found(store::get_service(c, &id)?, "service", &id))
        .await
}

pub async fn list_services(
    ctx: &Ctx<'_>,
    type_: Option<String>,
    name: Option<String>,
) -> Result<Vec<Service>> {
    admin(ctx, "list_services")?;
    ctx.state
        .store
        .run(move |c| store::list_services(c, type_.as_deref(), name.as_deref()))
        .await
}

pub async fn update_service(ctx: &Ctx<'_>, id: &str, req: ServiceInput) -> Result<Service> {
    admin(ctx, "update_service")?;
    let id = id.to_string();
    ctx.state
        .store
        .tx(move |c| {
            let mut s = found(store::get_service_for_update(c, &id)?, "service", &id)?;
            if let Some(t) = req.type_ {
                if t.trim().is_empty() || t.len() > 255 {
                    return Err(Error::validation(
                        "Invalid input for field 'service.type': 1 to 255 characters.",
                    ));
                }
                s.type_ = t;
            }
            if let Some(n) = req.name {
                crate::patch::check_name("service", "name", &n)?;
                s.name = n;
            }
            if let Some(d) = req.description {
                s.description = d;
            }
            if let Some(e) = req.enabled {
                s.enabled = e;
            }
            crate::patch::check_same_id("service", &s.id, &req.extra)?;
            s.extra = merge_extra("service", &s.extra, req.extra)?;
            store::update_service(c, &s)?;
            Ok(s)
        })
        .await
}

/// Deletes a service and its endpoints.
pub async fn delete_service(ctx: &Ctx<'_>, id: &str) -> Result<()> {
    admin(ctx, "delete_service")?;
    let id = id.to_string();
    ctx.state
        .store
        .tx(move |c| {
            found(store::get_service(c, &id)?, "service", &id)?;
            store::delete_service(c, &id)
        })
        .await
}

fn check_interface(i: &str) -> Result<()> {
    if INTERFACES.contains(&i) {
        Ok(())
    } else {
        Err(Error::validation(format!(
            "Invalid input for field 'endpoint.interface': {i:?} is not one of public, internal, admin."
        )))
    }
}

fn check_url(u: &str) -> Result<()> {
    // Keystone allows `$(project_id)s` placeholders, so test the URL with them filled in.
    let probe = u.replace("$(", "x").replace(")s", "x");
    match url::Url::parse(&probe) {
        Ok(p) if p.scheme() == "http" || p.scheme() == "https" => Ok(()),
        _ => Err(Error::validation(format!(
            "Invalid input for field 'endpoint.url': {u:?} is not an http(s) URL."
        ))),
    }
}

/// Keystone's rule for an endpoint's region: a `region_id` must name an existing region (400
/// otherwise); only the legacy `region` field, given without `region_id`, creates a missing one.
fn legacy_region(req: &EndpointInput) -> bool {
    matches!(req.region_id, None | Some(None)) && matches!(req.region, Some(Some(_)))
}

fn check_endpoint_refs(c: &mut DbConnection, e: &Endpoint, create_region: bool) -> Result<()> {
    if store::get_service(c, &e.service_id)?.is_none() {
        return Err(Error::validation(format!(
            "Invalid input for field 'endpoint.service_id': service {} does not exist.",
            e.service_id
        )));
    }
    if let Some(r) = &e.region_id {
        if store::get_region(c, r)?.is_none() {
            let field = if create_region { "region" } else { "region_id" };
            if r.is_empty() || r.chars().count() > 255 || r.contains('/') {
                return Err(Error::validation(format!(
                    "Invalid input for field 'endpoint.{field}': 1 to 255 characters, no '/'."
                )));
            }
            if !create_region {
                return Err(Error::validation(format!(
                    "Invalid input for field 'endpoint.region_id': region {r} does not exist."
                )));
            }
            store::insert_region(
                c,
                &Region {
                    id: r.clone(),
                    description: String::new(),
                    parent_region_id: None,
                    extra: "{}".into(),
                },
            )?;
        }
    }
    Ok(())
}

pub async fn create_endpoint(ctx: &Ctx<'_>, req: EndpointInput) -> Result<Endpoint> {
    admin(ctx, "create_endpoint")?;
    let create_region = legacy_region(&req);
    let service_id = req.service_id.ok_or_else(|| {
        Error::validation("Invalid input for field 'endpoint.service_id': it is required.")
    })?;
    let interface = req.interface.ok_or_else(|| {
        Error::validation("Invalid input for field 'endpoint.interface': it is required (public, internal or admin).")
    })?;
    let url = req.url.ok_or_else(|| {
        Error::validation("Invalid input for field 'endpoint.url': it is required.")
    })?;
    check_interface(&interface)?;
    check_url(&url)?;
    let e = Endpoint {
        id: crate::ids::new_id(),
        service_id,
        region_id: req.region_id.or(req.region).flatten(),
        interface,
        url,
        enabled: req.enabled.unwrap_or(true),
        extra: merge_extra("endpoint", "{}", req.extra)?,
    };
    ctx.state
        .store
        .tx(move |c| {
            check_endpoint_refs(c, &e, create_region)?;
            store::insert_endpoint(c, &e)?;
            Ok(e)
        })
        .await
}

pub async fn get_endpoint(ctx: &Ctx<'_>, id: &str) -> Result<Endpoint> {
    admin(ctx, "get_endpoint")?;
    let id = id.to_string();
    ctx.state
        .store
        .run(move |c| found(store::get_endpoint(c, &id)?, "endpoint", &id))
        .await
}

pub async fn list_endpoints(ctx: &Ctx<'_>, f: EndpointFilter) -> Result<Vec<Endpoint>> {
    admin(ctx, "list_endpoints")?;
    if let Some(i) = &f.interface {
        check_interface(i)?;
    }
    ctx.state
        .store
        .run(move |c| store::list_endpoints(c, &f))
        .await
}

pub async fn update_endpoint(ctx: &Ctx<'_>, id: &str, req: EndpointInput) -> Result<Endpoint> {
    admin(ctx, "update_endpoint")?;
    if let Some(i) = &req.interface {
        check_interface(i)?;
    }
    if let Some(u) = &req.url {
        check_url(u)?;
    }
    let create_region = legacy_region(&req);
    let id = id.to_string();
    ctx.state
        .store
        .tx(move |c| {
            let mut e = found(store::get_endpoint_for_update(c, &id)?, "endpoint", &id)?;
            if let Some(s) = req.service_id {
                e.service_id = s;
            }
            if let Some(i) = req.interface {
                e.interface = i;
            }
            if let Some(u) = req.url {
                e.url = u;
            }
            if let Some(r) = req.region_id.or(req.region) {
                e.region_id = r;
            }
            if let Some(en) = req.enabled {
                e.enabled = en;
            }
            crate::patch::check_same_id("endpoint", &e.id, &req.extra)?;
            e.extra = merge_extra("endpoint", &e.extra, req.extra)?;
            check_endpoint_refs(c, &e, create_region)?;
            store::update_endpoint(c, &e)?;
            Ok(e)
        })
        .await
}

pub async fn delete_endpoint(ctx: &Ctx<'_>, id: &str) -> Result<()> {
    admin(ctx, "delete_endpoint")?;
    let id = id.to_string();
    ctx.state
        .store
        .tx(move |c| {
            found(store::get_endpoint(c, &id)?, "endpoint", &id)?;
            store::delete_endpoint(c, &id)
        })
        .await
}
