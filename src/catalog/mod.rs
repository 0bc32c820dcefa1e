//! The service catalog as tokens and `/v3/auth/catalog` show it.

pub mod manage;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::Result;
use crate::store::{self, DbConnection, EndpointFilter};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CatalogEndpoint {
    pub id: String,
    pub interface: String,
    pub region: Option<String>,
    pub region_id: Option<String>,
    pub url: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CatalogService {
    pub endpoints: Vec<CatalogEndpoint>,
    pub id: String,
    #[serde(rename = "type")]
    pub type_: String,
    pub name: String,
}

/// Enabled services with their enabled endpoints. `$(project_id)s`-style placeholders in URLs are
/// filled in as Keystone does.
pub fn build(conn: &mut DbConnection, project_id: Option<&str>) -> Result<Vec<CatalogService>> {
    let services = store::list_services(conn, None, None)?;
    let endpoints = store::list_endpoints(
        conn,
        &EndpointFilter {
            enabled_only: true,
            ..Default::default()
        },
    )?;
    let mut by_service: BTreeMap<String, Vec<CatalogEndpoint>> = BTreeMap::new();
    for e in endpoints {
        let url = substitute(&e.url, project_id);
        by_service
            .entry(e.service_id.clone())
            .or_default()
            .push(CatalogEndpoint {
                id: e.id,
                interface: e.interface,
                region: e.region_id.clone(),
                region_id: e.region_id,
                url,
            });
    }
    Ok(services
        .into_iter()
        .filter(|s| s.enabled)
        .map(|s| CatalogService {
            endpoints: by_service.remove(&s.id).unwrap_or_default(),
            id: s.id,
            type_: s.type_,
            name: s.name,
        })
        .collect())
}

fn substitute(url: &str, project_id: Option<&str>) -> String {
    match project_id {
        Some(p) => url.replace("$(project_id)s", p).replace("$(tenant_id)s", p),
        None => url.to_string(),
    }
}
