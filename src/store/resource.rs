//! Domains, projects and project tags.

use diesel::prelude::*;

use super::filter::{filter_text, TextFilter};
use super::models::{Domain, Project};
use super::schema::{domains, project_tags, projects};
use super::{on_conflict, DbConnection};
use crate::error::Result;

pub fn get_domain(conn: &mut DbConnection, id: &str) -> Result<Option<Domain>> {
    Ok(domains::table
        .find(id)
        .select(Domain::as_select())
        .first(conn)
        .optional()?)
}

pub fn get_domain_by_name(conn: &mut DbConnection, name: &str) -> Result<Option<Domain>> {
    Ok(domains::table
        .filter(domains::name.eq(name))
        .select(Domain::as_select())
        .first(conn)
        .optional()?)
}

pub fn insert_domain(conn: &mut DbConnection, d: &Domain) -> Result<()> {
    diesel::insert_into(domains::table)
        .values(d)
        .execute(conn)
        .map_err(on_conflict(|| format!("Conflict occurred attempting to store domain - Duplicate entry found with name {}.", d.name)))?;
    Ok(())
}

pub fn update_domain(conn: &mut DbConnection, d: &Domain) -> Result<()> {
    diesel::update(domains::table.find(&d.id))
        .set((
            domains::name.eq(&d.name),
            domains::description.eq(&d.description),
            domains::enabled.eq(d.enabled),
            domains::extra.eq(&d.extra),
            domains::mfa_required.eq(d.mfa_required),
            domains::login_by_email.eq(d.login_by_email),
        ))
        .execute(conn)
        .map_err(on_conflict(|| format!("Conflict occurred attempting to store domain - Duplicate entry found with name {}.", d.name)))?;
    Ok(())
}

/// Writes the change from `base` (what the caller read) to `new` onto the domain as it is now,
/// with its row locked: attributes the caller did not change keep any concurrent update.
/// Returns the domain as written.
pub fn patch_domain(conn: &mut DbConnection, base: &Domain, new: &Domain) -> Result<Domain> {
    super::lock_row(conn, "domains", &new.id)?;
    let current = get_domain(conn, &new.id)?
        .ok_or_else(|| crate::error::Error::not_found("domain", new.id.clone()))?;
    let merged = super::merge_changes!(current, base, new; name, description, enabled, mfa_required, login_by_email);
    update_domain(conn, &merged)?;
    Ok(merged)
}

pub fn delete_domain(conn: &mut DbConnection, id: &str) -> Result<()> {
    diesel::delete(domains::table.find(id)).execute(conn)?;
    Ok(())
}

#[derive(Debug, Default, Clone)]
pub struct DomainFilter {
    pub name: Option<TextFilter>,
    pub enabled: Option<bool>,
    pub ids: Option<Vec<String>>,
}

pub fn list_domains(conn: &mut DbConnection, f: &DomainFilter) -> Result<Vec<Domain>> {
    let each = |ids| DomainFilter {
        ids: Some(ids),
        ..f.clone()
    };
    if let Some(rows) = super::list_in_chunks(
        f.ids.as_ref(),
        None,
        |ids| list_domains(conn, &each(ids)),
        |d| d.name.clone(),
    ) {
        return rows;
    }
    let mut q = domains::table.select(Domain::as_select()).into_boxed();
    if let Some(name) = &f.name {
        q = filter_text!(q, domains::name, name);
    }
    if let Some(enabled) = f.enabled {
        q = q.filter(domains::enabled.eq(enabled));
    }
    if let Some(ids) = &f.ids {
        q = q.filter(domains::id.eq_any(ids.clone()));
    }
    Ok(q.order(domains::name.asc()).load(conn)?)
}

pub fn get_project(conn: &mut DbConnection, id: &str) -> Result<Option<Project>> {
    Ok(projects::table
        .find(id)
        .select(Project::as_select())
        .first(conn)
        .optional()?)
}

pub fn get_project_by_name(
    conn: &mut DbConnection,
    domain_id: &str,
    name: &str,
) -> Result<Option<Project>> {
    Ok(projects::table
        .filter(projects::domain_id.eq(domain_id))
        .filter(projects::name.eq(name))
        .select(Project::as_select())
        .first(conn)
        .optional()?)
}

fn project_conflict(p: &Project) -> impl FnOnce() -> String + '_ {
    move || {
        format!(
            "Conflict occurred attempting to store project - it is not permitted to have two projects with the same name in the same domain : {}.",
            p.name
        )
    }
}

pub fn insert_project(conn: &mut DbConnection, p: &Project) -> Result<()> {
    diesel::insert_into(projects::table)
        .values(p)
        .execute(conn)
        .map_err(on_conflict(project_conflict(p)))?;
    Ok(())
}

pub fn update_project(conn: &mut DbConnection, p: &Project) -> Result<()> {
    diesel::update(projects::table.find(&p.id))
        .set((
            projects::name.eq(&p.name),
            projects::description.eq(&p.description),
            projects::enabled.eq(p.enabled),
            projects::extra.eq(&p.extra),
        ))
        .execute(conn)
        .map_err(on_conflict(project_conflict(p)))?;
    Ok(())
}

/// Writes the change from `base` (what the caller read) to `new` onto the project as it is now,
/// with its row locked: attributes the caller did not change keep any concurrent update.
/// Returns the project as written.
pub fn patch_project(conn: &mut DbConnection, base: &Project, new: &Project) -> Result<Project> {
    super::lock_row(conn, "projects", &new.id)?;
    let current = get_project(conn, &new.id)?
        .ok_or_else(|| crate::error::Error::not_found("project", new.id.clone()))?;
    let merged = super::merge_changes!(current, base, new; name, description, enabled);
    update_project(conn, &merged)?;
    Ok(merged)
}

pub fn delete_project(conn: &mut DbConnection, id: &str) -> Result<()> {
    diesel::delete(projects::table.find(id)).execute(conn)?;
    Ok(())
}

pub fn project_has_children(conn: &mut DbConnection, id: &str) -> Result<bool> {
    let n: i64 = projects::table
        .filter(projects::parent_id.eq(id))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

pub fn count_projects_in_domain(conn: &mut DbConnection, domain_id: &str) -> Result<i64> {
    Ok(projects::table
        .filter(projects::domain_id.eq(domain_id))
        .count()
        .get_result(conn)?)
}

#[derive(Debug, Default, Clone)]
pub struct ProjectFilter {
    pub name: Option<TextFilter>,
    pub domain_id: Option<String>,
    pub parent_id: Option<String>,
    pub enabled: Option<bool>,
    pub ids: Option<Vec<String>>,
    /// Every tag must be present.
    pub tags: Vec<String>,
    /// At least one of these tags must be present.
    pub tags_any: Vec<String>,
    pub not_tags: Vec<String>,
    pub not_tags_any: Vec<String>,
    pub marker: Option<String>,
    pub limit: Option<i64>,
}

pub fn list_projects(conn: &mut DbConnection, f: &ProjectFilter) -> Result<Vec<Project>> {
    let each = |ids| ProjectFilter {
        ids: Some(ids),
        ..f.clone()
    };
    if let Some(rows) = super::list_in_chunks(
        f.ids.as_ref(),
        f.limit,
        |ids| list_projects(conn, &each(ids)),
        |p| p.id.clone(),
    ) {
        return rows;
    }
    let mut q = projects::table.select(Project::as_select()).into_boxed();
    if let Some(name) = &f.name {
        q = filter_text!(q, projects::name, name);
    }
    if let Some(d) = &f.domain_id {
        q = q.filter(projects::domain_id.eq(d.clone()));
    }
    if let Some(p) = &f.parent_id {
        q = q.filter(projects::parent_id.eq(p.clone()));
    }
    if let Some(enabled) = f.enabled {
        q = q.filter(projects::enabled.eq(enabled));
    }
    if let Some(ids) = &f.ids {
        q = q.filter(projects::id.eq_any(ids.clone()));
    }
    for tag in &f.tags {
        q = q.filter(
            projects::id.eq_any(
                project_tags::table
                    .filter(project_tags::name.eq(tag.clone()))
                    .select(project_tags::project_id),
            ),
        );
    }
    if !f.tags_any.is_empty() {
        q = q.filter(
            projects::id.eq_any(
                project_tags::table
                    .filter(project_tags::name.eq_any(f.tags_any.clone()))
                    .select(project_tags::project_id),
            ),
        );
    }
    if !f.not_tags.is_empty() {
        // Excluded only when it carries every one of these tags.
        let n = f.not_tags.len() as i64;
        let having_all = project_tags::table
            .filter(project_tags::name.eq_any(f.not_tags.clone()))
            .group_by(project_tags::project_id)
            .having(diesel::dsl::count_star().eq(n))
            .select(project_tags::project_id);
        q = q.filter(projects::id.ne_all(having_all));
    }
    if !f.not_tags_any.is_empty() {
        q = q.filter(
            projects::id.ne_all(
                project_tags::table
                    .filter(project_tags::name.eq_any(f.not_tags_any.clone()))
                    .select(project_tags::project_id),
            ),
        );
    }
    if let Some(marker) = &f.marker {
        q = q.filter(projects::id.gt(marker.clone()));
    }
    if let Some(limit) = f.limit {
        q = q.limit(limit);
    }
    Ok(q.order(projects::id.asc()).load(conn)?)
}

pub fn project_tags(conn: &mut DbConnection, project_id: &str) -> Result<Vec<String>> {
    Ok(project_tags::table
        .filter(project_tags::project_id.eq(project_id))
        .select(project_tags::name)
        .order(project_tags::name.asc())
        .load(conn)?)
}

/// Applies the change from `base` (the tags the caller read) to `new`: removes the tags it
/// removed, adds the tags it added, and keeps any tag a concurrent request added or removed.
/// Returns the project's tags afterwards.
pub fn change_project_tags(
    conn: &mut DbConnection,
    project_id: &str,
    base: &[String],
    new: &[String],
) -> Result<Vec<String>> {
    let removed: Vec<&String> = base.iter().filter(|t| !new.contains(t)).collect();
    if !removed.is_empty() {
        diesel::delete(
            project_tags::table
                .filter(project_tags::project_id.eq(project_id))
                .filter(project_tags::name.eq_any(removed)),
        )
        .execute(conn)?;
    }
    for tag in new.iter().filter(|t| !base.contains(t)) {
        super::insert_once(conn, |c| {
            diesel::insert_into(project_tags::table)
                .values((
                    project_tags::project_id.eq(project_id),
                    project_tags::name.eq(tag),
                ))
                .execute(c)
        })?;
    }
    project_tags(conn, project_id)
}

pub fn set_project_tags(conn: &mut DbConnection, project_id: &str, tags: &[String]) -> Result<()> {
    diesel::delete(project_tags::table.filter(project_tags::project_id.eq(project_id)))
        .execute(conn)?;
    for tag in tags {
        super::insert_once(conn, |c| {
            diesel::insert_into(project_tags::table)
                .values((
                    project_tags::project_id.eq(project_id),
                    project_tags::name.eq(tag),
                ))
                .execute(c)
        })?;
    }
    Ok(())
}

/// Locks a domain's row until the transaction ends (PostgreSQL; SQLite serializes writes).
pub fn lock_domain(conn: &mut DbConnection, id: &str) -> Result<()> {
    super::lock_row(conn, "domains", id)
}
