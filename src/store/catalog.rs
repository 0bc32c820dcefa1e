//! Regions, services and endpoints.

use diesel::prelude::*;

use super::models::{Endpoint, Region, Service};
use super::schema::{endpoints, regions, services};
use super::{on_conflict, DbConnection};
use crate::error::Result;

/// The region with its row locked until the transaction ends: for a read-modify-write.
pub fn get_region_for_update(conn: &mut DbConnection, id: &str) -> Result<Option<Region>> {
    super::lock_row(conn, "regions", id)?;
    get_region(conn, id)
}

pub fn get_region(conn: &mut DbConnection, id: &str) -> Result<Option<Region>> {
    Ok(regions::table
        .find(id)
        .select(Region::as_select())
        .first(conn)
        .optional()?)
}

pub fn insert_region(conn: &mut DbConnection, r: &Region) -> Result<()> {
    diesel::insert_into(regions::table)
        .values(r)
        .execute(conn)
        .map_err(on_conflict(|| {
            format!(
                "Conflict occurred attempting to store region - Duplicate ID, {}.",
                r.id
            )
        }))?;
    Ok(())
}

pub fn update_region(conn: &mut DbConnection, r: &Region) -> Result<()> {
    diesel::update(regions::table.find(&r.id))
        .set((
            regions::description.eq(&r.description),
            regions::parent_region_id.eq(&r.parent_region_id),
            regions::extra.eq(&r.extra),
        ))
        .execute(conn)?;
    Ok(())
}

/// Writes the change from `base` (what the caller read) to `new` onto the region as it is now,
/// with its row locked: attributes the caller did not change keep any concurrent update.
/// Returns the region as written.
pub fn patch_region(conn: &mut DbConnection, base: &Region, new: &Region) -> Result<Region> {
    super::lock_row(conn, "regions", &new.id)?;
    let current = get_region(conn, &new.id)?
        .ok_or_else(|| crate::error::Error::not_found("region", new.id.clone()))?;
    let merged = super::merge_changes!(current, base, new; description, parent_region_id);
    update_region(conn, &merged)?;
    Ok(merged)
}

pub fn delete_region(conn: &mut DbConnection, id: &str) -> Result<()> {
    diesel::delete(regions::table.find(id)).execute(conn)?;
    Ok(())
}

pub fn list_regions(
    conn: &mut DbConnection,
    parent_region_id: Option<&str>,
) -> Result<Vec<Region>> {
    let mut q = regions::table.select(Region::as_select()).into_boxed();
    if let Some(p) = parent_region_id {
        q = q.filter(regions::parent_region_id.eq(p.to_string()));
    }
    Ok(q.order(regions::id.asc()).load(conn)?)
}

pub fn region_in_use(conn: &mut DbConnection, id: &str) -> Result<bool> {
    let children: i64 = regions::table
        .filter(regions::parent_region_id.eq(id))
        .count()
        .get_result(conn)?;
    let eps: i64 = endpoints::table
        .filter(endpoints::region_id.eq(id))
        .count()
        .get_result(conn)?;
    Ok(children + eps > 0)
}

/// The service with its row locked until the transaction ends: for a read-modify-write.
pub fn get_service_for_update(conn: &mut DbConnection, id: &str) -> Result<Option<Service>> {
    super::lock_row(conn, "services", id)?;
    get_service(conn, id)
}

pub fn get_service(conn: &mut DbConnection, id: &str) -> Result<Option<Service>> {
    Ok(services::table
        .find(id)
        .select(Service::as_select())
        .first(conn)
        .optional()?)
}

pub fn insert_service(conn: &mut DbConnection, s: &Service) -> Result<()> {
    diesel::insert_into(services::table)
        .values(s)
        .execute(conn)?;
    Ok(())
}

pub fn update_service(conn: &mut DbConnection, s: &Service) -> Result<()> {
    diesel::update(services::table.find(&s.id))
        .set((
            services::type_.eq(&s.type_),
            services::name.eq(&s.name),
            services::description.eq(&s.description),
            services::enabled.eq(s.enabled),
            services::extra.eq(&s.extra),
        ))
        .execute(conn)?;
    Ok(())
}

/// Writes the change from `base` (what the caller read) to `new` onto the service as it is now,
/// with its row locked: attributes the caller did not change keep any concurrent update.
/// Returns the service as written.
pub fn patch_service(conn: &mut DbConnection, base: &Service, new: &Service) -> Result<Service> {
    super::lock_row(conn, "services", &new.id)?;
    let current = get_service(conn, &new.id)?
        .ok_or_else(|| crate::error::Error::not_found("service", new.id.clone()))?;
    let merged = super::merge_changes!(current, base, new; type_, name, description, enabled);
    update_service(conn, &merged)?;
    Ok(merged)
}

/// Deletes a service; its endpoints cascade.
pub fn delete_service(conn: &mut DbConnection, id: &str) -> Result<()> {
    diesel::delete(services::table.find(id)).execute(conn)?;
    Ok(())
}

pub fn list_services(
    conn: &mut DbConnection,
    type_: Option<&str>,
    name: Option<&str>,
) -> Result<Vec<Service>> {
    let mut q = services::table.select(Service::as_select()).into_boxed();
    if let Some(t) = type_ {
        q = q.filter(services::type_.eq(t.to_string()));
    }
    if let Some(n) = name {
        q = q.filter(services::name.eq(n.to_string()));
    }
    Ok(q.order(services::id.asc()).load(conn)?)
}

/// The endpoint with its row locked until the transaction ends: for a read-modify-write.
pub fn get_endpoint_for_update(conn: &mut DbConnection, id: &str) -> Result<Option<Endpoint>> {
    super::lock_row(conn, "endpoints", id)?;
    get_endpoint(conn, id)
}

pub fn get_endpoint(conn: &mut DbConnection, id: &str) -> Result<Option<Endpoint>> {
    Ok(endpoints::table
        .find(id)
        .select(Endpoint::as_select())
        .first(conn)
        .optional()?)
}

pub fn insert_endpoint(conn: &mut DbConnection, e: &Endpoint) -> Result<()> {
    diesel::insert_into(endpoints::table)
        .values(e)
        .execute(conn)?;
    Ok(())
}

pub fn update_endpoint(conn: &mut DbConnection, e: &Endpoint) -> Result<()> {
    diesel::update(endpoints::table.find(&e.id))
        .set((
            endpoints::service_id.eq(&e.service_id),
            endpoints::region_id.eq(&e.region_id),
            endpoints::interface.eq(&e.interface),
            endpoints::url.eq(&e.url),
            endpoints::enabled.eq(e.enabled),
            endpoints::extra.eq(&e.extra),
        ))
        .execute(conn)?;
    Ok(())
}

/// Writes the change from `base` (what the caller read) to `new` onto the endpoint as it is now,
/// with its row locked: attributes the caller did not change keep any concurrent update.
/// Returns the endpoint as written.
pub fn patch_endpoint(
    conn: &mut DbConnection,
    base: &Endpoint,
    new: &Endpoint,
) -> Result<Endpoint> {
    super::lock_row(conn, "endpoints", &new.id)?;
    let current = get_endpoint(conn, &new.id)?
        .ok_or_else(|| crate::error::Error::not_found("endpoint", new.id.clone()))?;
    let merged =
        super::merge_changes!(current, base, new; service_id, region_id, interface, url, enabled);
    update_endpoint(conn, &merged)?;
    Ok(merged)
}

pub fn delete_endpoint(conn: &mut DbConnection, id: &str) -> Result<()> {
    diesel::delete(endpoints::table.find(id)).execute(conn)?;
    Ok(())
}

#[derive(Debug, Default, Clone)]
pub struct EndpointFilter {
    pub service_id: Option<String>,
    pub interface: Option<String>,
    pub region_id: Option<String>,
    pub enabled_only: bool,
}

pub fn list_endpoints(conn: &mut DbConnection, f: &EndpointFilter) -> Result<Vec<Endpoint>> {
    let mut q = endpoints::table.select(Endpoint::as_select()).into_boxed();
    if let Some(s) = &f.service_id {
        q = q.filter(endpoints::service_id.eq(s.clone()));
    }
    if let Some(i) = &f.interface {
        q = q.filter(endpoints::interface.eq(i.clone()));
    }
    if let Some(r) = &f.region_id {
        q = q.filter(endpoints::region_id.eq(r.clone()));
    }
    if f.enabled_only {
        q = q.filter(endpoints::enabled.eq(true));
    }
    Ok(q.order(endpoints::id.asc()).load(conn)?)
}
