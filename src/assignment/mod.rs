//! Effective roles: direct, through groups, inherited from the domain or parent projects, and
//! implied by other roles.

pub mod bound;
pub mod manage;
pub mod reach;

pub use manage::{projects_of_actor, projects_with_roles, revoke_if_roleless};

use std::collections::{BTreeSet, HashMap, VecDeque};

use crate::error::Result;
use crate::store::{
    self, AssignmentFilter, DbConnection, Project, Role, ACTOR_GROUP, ACTOR_USER, TARGET_DOMAIN,
    TARGET_PROJECT,
};

/// Role ids reachable from `ids` through implications, including `ids`.
pub fn expand_implied(conn: &mut DbConnection, ids: BTreeSet<String>) -> Result<BTreeSet<String>> {
    let pairs = store::list_implied_roles(conn)?;
    let mut implies: HashMap<&str, Vec<&str>> = HashMap::new();
    for (prior, implied) in &pairs {
        implies.entry(prior).or_default().push(implied);
    }
    let mut out = ids.clone();
    let mut queue: VecDeque<String> = ids.into_iter().collect();
    while let Some(id) = queue.pop_front() {
        for next in implies.get(id.as_str()).into_iter().flatten() {
            if out.insert(next.to_string()) {
                queue.push_back(next.to_string());
            }
        }
    }
    Ok(out)
}

/// The role ids granted to a user on a project, before implications.
pub fn granted_role_ids_on_project(
    conn: &mut DbConnection,
    user_id: &str,
    project: &Project,
) -> Result<BTreeSet<String>> {
    let groups = store::group_ids_of_user(conn, user_id)?;
    let mut actors = vec![user_id.to_string()];
    actors.extend(groups.iter().cloned());
    let mut ids = BTreeSet::new();
    let is_actor = |a: &store::Assignment| {
        (a.actor_type == ACTOR_USER && a.actor_id == user_id)
            || (a.actor_type == ACTOR_GROUP && groups.contains(&a.actor_id))
    };
    // Direct grants on the project.
    let direct = store::list_assignments(
        conn,
        &AssignmentFilter {
            actor_ids: Some(actors.clone()),
            target_type: Some(TARGET_PROJECT.into()),
            target_ids: Some(vec![project.id.clone()]),
            inherited: Some(false),
            ..Default::default()
        },
    )?;
    ids.extend(
        direct
            .into_iter()
            .filter(|a| is_actor(a))
            .map(|a| a.role_id),
    );
    // Inherited grants on the domain and on every ancestor project.
    let mut ancestors = vec![];
    let mut parent = project.parent_id.clone();
    while let Some(p) = parent.take() {
        if ancestors.contains(&p) || ancestors.len() > 32 {
            break;
        }
        parent = store::get_project(conn, &p)?.and_then(|pp| pp.parent_id);
        ancestors.push(p);
    }
    for (target_type, targets) in [
        (TARGET_DOMAIN, vec![project.domain_id.clone()]),
        (TARGET_PROJECT, ancestors),
    ] {
        if targets.is_empty() {
            continue;
        }
        let inherited = store::list_assignments(
            conn,
            &AssignmentFilter {
                actor_ids: Some(actors.clone()),
                target_type: Some(target_type.into()),
                target_ids: Some(targets),
                inherited: Some(true),
                ..Default::default()
            },
        )?;
        ids.extend(
            inherited
                .into_iter()
                .filter(|a| is_actor(a))
                .map(|a| a.role_id),
        );
    }
    Ok(ids)
}

/// A user's effective roles on a project, sorted by name.
pub fn effective_roles_on_project(
    conn: &mut DbConnection,
    user_id: &str,
    project: &Project,
) -> Result<Vec<Role>> {
    let granted = granted_role_ids_on_project(conn, user_id, project)?;
    if granted.is_empty() {
        return Ok(vec![]);
    }
    let all = expand_implied(conn, granted)?;
    // Domain-specific roles never reach a token; the global roles they imply do.
    Ok(
        store::roles_by_ids(conn, &all.into_iter().collect::<Vec<_>>())?
            .into_iter()
            .filter(|r| r.domain_id.is_none())
            .collect(),
    )
}
