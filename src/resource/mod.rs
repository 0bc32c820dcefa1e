//! Domains and projects: the rules around them.

pub mod manage;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::store::{self, DbConnection, Domain, Project};

pub const DEFAULT_DOMAIN_ID: &str = "default";
pub const DEFAULT_DOMAIN_NAME: &str = "Default";

/// `{"id": ...}` or `{"name": ...}` as clients send for domains.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DomainRef {
    pub id: Option<String>,
    pub name: Option<String>,
}

/// `{"id": ...}` or `{"name": ..., "domain": {...}}` as clients send for projects.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProjectRef {
    pub id: Option<String>,
    pub name: Option<String>,
    pub domain: Option<DomainRef>,
}

/// Resolves a domain reference; `None` when it names nothing.
pub fn find_domain(conn: &mut DbConnection, r: &DomainRef) -> Result<Option<Domain>> {
    match (&r.id, &r.name) {
        (Some(id), _) => store::get_domain(conn, id),
        (None, Some(name)) => store::get_domain_by_name(conn, name),
        (None, None) => Err(Error::validation("Expecting to find id or name in domain.")),
    }
}

/// Resolves a project reference (by id, or by name within a domain given by id or name).
pub fn find_project(conn: &mut DbConnection, r: &ProjectRef) -> Result<Option<Project>> {
    match (&r.id, &r.name) {
        (Some(id), _) => store::get_project(conn, id),
        (None, Some(name)) => {
            let d = r
                .domain
                .as_ref()
                .ok_or_else(|| Error::validation("Expecting to find domain in project: a project name needs its domain (id or name)."))?;
            match find_domain(conn, d)? {
                Some(domain) => store::get_project_by_name(conn, &domain.id, name),
                None => Ok(None),
            }
        }
        (None, None) => Err(Error::validation(
            "Expecting to find id or name in project.",
        )),
    }
}
