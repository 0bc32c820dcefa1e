//! Roles, implied roles and role assignments.

use diesel::prelude::*;

use super::filter::{filter_text, TextFilter};
use super::models::{Assignment, Role};
use super::schema::{implied_roles, role_assignments, roles};
use super::{on_conflict, DbConnection};
use crate::error::Result;

pub fn get_role(conn: &mut DbConnection, id: &str) -> Result<Option<Role>> {
    Ok(roles::table
        .find(id)
        .select(Role::as_select())
        .first(conn)
        .optional()?)
}

/// A global role by name (domain-specific roles are looked up with their domain).
pub fn get_role_by_name(
    conn: &mut DbConnection,
    name: &str,
    domain_id: Option<&str>,
) -> Result<Option<Role>> {
    let q = roles::table
        .filter(roles::name.eq(name))
        .select(Role::as_select())
        .into_boxed();
    let q = match domain_id {
        Some(d) => q.filter(roles::domain_id.eq(d.to_string())),
        None => q.filter(roles::domain_id.is_null()),
    };
    Ok(q.first(conn).optional()?)
}

fn role_conflict(r: &Role) -> impl FnOnce() -> String + '_ {
    move || {
        format!(
            "Conflict occurred attempting to store role - Duplicate entry found with name {}.",
            r.name
        )
    }
}

pub fn insert_role(conn: &mut DbConnection, r: &Role) -> Result<()> {
    diesel::insert_into(roles::table)
        .values(r)
        .execute(conn)
        .map_err(on_conflict(role_conflict(r)))?;
    Ok(())
}

pub fn update_role(conn: &mut DbConnection, r: &Role) -> Result<()> {
    diesel::update(roles::table.find(&r.id))
        .set((
            roles::name.eq(&r.name),
            roles::description.eq(&r.description),
            roles::extra.eq(&r.extra),
        ))
        .execute(conn)
        .map_err(on_conflict(role_conflict(r)))?;
    Ok(())
}

/// Writes the change from `base` (what the caller read) to `new` onto the role as it is now,
/// with its row locked: attributes the caller did not change keep any concurrent update.
/// Returns the role as written.
pub fn patch_role(conn: &mut DbConnection, base: &Role, new: &Role) -> Result<Role> {
    super::lock_row(conn, "roles", &new.id)?;
    let current = get_role(conn, &new.id)?
        .ok_or_else(|| crate::error::Error::not_found("role", new.id.clone()))?;
    let merged = super::merge_changes!(current, base, new; name, description);
    update_role(conn, &merged)?;
    Ok(merged)
}

/// Deletes a role; its assignments, implications and application-credential grants cascade.
pub fn delete_role(conn: &mut DbConnection, id: &str) -> Result<()> {
    diesel::delete(roles::table.find(id)).execute(conn)?;
    Ok(())
}

#[derive(Debug, Default, Clone)]
pub struct RoleFilter {
    pub name: Option<TextFilter>,
    /// `Some(None)`: global roles only; `Some(Some(d))`: roles of domain d; `None`: global roles.
    pub domain_id: Option<Option<String>>,
    pub ids: Option<Vec<String>>,
    /// With `marker` or `limit`: sorted by id, after `marker`, at most `limit` (a page);
    /// otherwise sorted by name.
    pub marker: Option<String>,
    pub limit: Option<i64>,
}

pub fn list_roles(conn: &mut DbConnection, f: &RoleFilter) -> Result<Vec<Role>> {
    let paged = f.marker.is_some() || f.limit.is_some();
    let each = |ids| RoleFilter {
        ids: Some(ids),
        ..f.clone()
    };
    if let Some(rows) = super::list_in_chunks(
        f.ids.as_ref(),
        f.limit,
        |ids| list_roles(conn, &each(ids)),
        |r| if paged { r.id.clone() } else { r.name.clone() },
    ) {
        return rows;
    }
    let mut q = roles::table.select(Role::as_select()).into_boxed();
    if let Some(name) = &f.name {
        q = filter_text!(q, roles::name, name);
    }
    q = match &f.domain_id {
        Some(Some(d)) => q.filter(roles::domain_id.eq(d.clone())),
        _ => q.filter(roles::domain_id.is_null()),
    };
    if let Some(ids) = &f.ids {
        q = q.filter(roles::id.eq_any(ids.clone()));
    }
    if !paged {
        return Ok(q.order(roles::name.asc()).load(conn)?);
    }
    if let Some(marker) = &f.marker {
        q = q.filter(roles::id.gt(marker.clone()));
    }
    if let Some(limit) = f.limit {
        q = q.limit(limit);
    }
    Ok(q.order(roles::id.asc()).load(conn)?)
}

pub fn roles_by_ids(conn: &mut DbConnection, ids: &[String]) -> Result<Vec<Role>> {
    let all = ids.to_vec();
    if let Some(rows) = super::list_in_chunks(
        Some(&all),
        None,
        |ids| roles_by_ids(conn, &ids),
        |r| r.name.clone(),
    ) {
        return rows;
    }
    Ok(roles::table
        .filter(roles::id.eq_any(ids))
        .select(Role::as_select())
        .order(roles::name.asc())
        .load(conn)?)
}

/// Every (prior, implied) pair.
pub fn list_implied_roles(conn: &mut DbConnection) -> Result<Vec<(String, String)>> {
    Ok(implied_roles::table
        .select((implied_roles::prior_role_id, implied_roles::implied_role_id))
        .load(conn)?)
}

pub fn insert_implied_role(conn: &mut DbConnection, prior: &str, implied: &str) -> Result<()> {
    if implied_role_exists(conn, prior, implied)? {
        return Ok(());
    }
    super::insert_once(conn, |c| {
        diesel::insert_into(implied_roles::table)
            .values((
                implied_roles::prior_role_id.eq(prior),
                implied_roles::implied_role_id.eq(implied),
            ))
            .execute(c)
    })?;
    Ok(())
}

pub fn implied_role_exists(conn: &mut DbConnection, prior: &str, implied: &str) -> Result<bool> {
    let n: i64 = implied_roles::table
        .find((prior, implied))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

pub fn delete_implied_role(conn: &mut DbConnection, prior: &str, implied: &str) -> Result<bool> {
    Ok(diesel::delete(implied_roles::table.find((prior, implied))).execute(conn)? > 0)
}

pub fn assignment_exists(conn: &mut DbConnection, a: &Assignment) -> Result<bool> {
    let n: i64 = role_assignments::table
        .find((
            &a.actor_type,
            &a.actor_id,
            &a.target_type,
            &a.target_id,
            &a.role_id,
            a.inherited,
        ))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Grants `a`; granting what is already granted changes nothing.
pub fn insert_assignment(conn: &mut DbConnection, a: &Assignment) -> Result<()> {
    if !assignment_exists(conn, a)? {
        super::insert_once(conn, |c| {
            diesel::insert_into(role_assignments::table)
                .values(a)
                .execute(c)
        })?;
    }
    Ok(())
}

pub fn delete_assignment(conn: &mut DbConnection, a: &Assignment) -> Result<bool> {
    let n = diesel::delete(role_assignments::table.find((
        &a.actor_type,
        &a.actor_id,
        &a.target_type,
        &a.target_id,
        &a.role_id,
        a.inherited,
    )))
    .execute(conn)?;
    Ok(n > 0)
}

/// Removes every assignment on a target (a project or domain being deleted).
pub fn delete_assignments_on_target(
    conn: &mut DbConnection,
    target_type: &str,
    target_id: &str,
) -> Result<()> {
    diesel::delete(
        role_assignments::table
            .filter(role_assignments::target_type.eq(target_type))
            .filter(role_assignments::target_id.eq(target_id)),
    )
    .execute(conn)?;
    Ok(())
}

#[derive(Debug, Default, Clone)]
pub struct AssignmentFilter {
    pub actor_type: Option<String>,
    /// Any of these actor ids (e.g. a user and its groups).
    pub actor_ids: Option<Vec<String>>,
    pub target_type: Option<String>,
    pub target_ids: Option<Vec<String>>,
    pub role_ids: Option<Vec<String>>,
    pub inherited: Option<bool>,
}

pub fn list_assignments(conn: &mut DbConnection, f: &AssignmentFilter) -> Result<Vec<Assignment>> {
    // One long id list at a time; the call per chunk handles the next one.
    let order = |a: &Assignment| {
        (
            a.actor_type.clone(),
            a.actor_id.clone(),
            a.target_id.clone(),
            a.role_id.clone(),
        )
    };
    let chunked = super::list_in_chunks(
        f.actor_ids.as_ref(),
        None,
        |ids| {
            let each = AssignmentFilter {
                actor_ids: Some(ids),
                ..f.clone()
            };
            list_assignments(conn, &each)
        },
        order,
    )
    .or_else(|| {
        super::list_in_chunks(
            f.target_ids.as_ref(),
            None,
            |ids| {
                let each = AssignmentFilter {
                    target_ids: Some(ids),
                    ..f.clone()
                };
                list_assignments(conn, &each)
            },
            order,
        )
    })
    .or_else(|| {
        super::list_in_chunks(
            f.role_ids.as_ref(),
            None,
            |ids| {
                let each = AssignmentFilter {
                    role_ids: Some(ids),
                    ..f.clone()
                };
                list_assignments(conn, &each)
            },
            order,
        )
    });
    if let Some(rows) = chunked {
        return rows;
    }
    let mut q = role_assignments::table
        .select(Assignment::as_select())
        .into_boxed();
    if let Some(t) = &f.actor_type {
        q = q.filter(role_assignments::actor_type.eq(t.clone()));
    }
    if let Some(ids) = &f.actor_ids {
        q = q.filter(role_assignments::actor_id.eq_any(ids.clone()));
    }
    if let Some(t) = &f.target_type {
        q = q.filter(role_assignments::target_type.eq(t.clone()));
    }
    if let Some(ids) = &f.target_ids {
        q = q.filter(role_assignments::target_id.eq_any(ids.clone()));
    }
    if let Some(ids) = &f.role_ids {
        q = q.filter(role_assignments::role_id.eq_any(ids.clone()));
    }
    if let Some(inh) = f.inherited {
        q = q.filter(role_assignments::inherited.eq(inh));
    }
    Ok(q.order((
        role_assignments::actor_type,
        role_assignments::actor_id,
        role_assignments::target_id,
        role_assignments::role_id,
    ))
    .load(conn)?)
}
