//! Project-bound users: a user bound to a project holds roles there and nowhere else. The only
//! grant that may reach it is a direct (non-inherited) grant on its project, to itself or to a
//! group it belongs to; every other path (grants on other projects, on a domain or the system,
//! inherited grants, which reach a subtree, memberships of groups holding such grants) is refused
//! with a 409 naming the rule. Each check runs inside the write's transaction, after
//! `store::lock_realm`, so that a check and its write are one decision.

use crate::error::{Error, Result};
use crate::store::{
    self, Assignment, AssignmentFilter, DbConnection, Project, ACTOR_GROUP, ACTOR_USER,
    TARGET_PROJECT,
};

const RULE: &str = "a project-bound user may hold roles only through direct (not inherited) grants on its own project, to itself or to its groups";

/// The only kind of grant that may reach a user bound to `project_id`.
pub fn fits(a: &Assignment, project_id: &str) -> bool {
    a.target_type == TARGET_PROJECT && a.target_id == project_id && !a.inherited
}

fn describe(a: &Assignment) -> String {
    let inherited = if a.inherited { "an inherited " } else { "a " };
    format!("{inherited}grant on {} {}", a.target_type, a.target_id)
}

/// A new grant `a`: refused when its actor is (or, for a group, contains) a bound user it would
/// give a role beyond its project.
pub fn check_grant(c: &mut DbConnection, a: &Assignment) -> Result<()> {
    let users = if a.actor_type == ACTOR_GROUP {
        store::user_ids_in_group(c, &a.actor_id)?
    } else {
        vec![a.actor_id.clone()]
    };
    for (uid, bound) in store::bound_projects_of(c, &users)? {
        if !fits(a, &bound) {
            let via = if a.actor_type == ACTOR_GROUP {
                format!(" (a member of group {})", a.actor_id)
            } else {
                String::new()
            };
            return Err(Error::Conflict(format!(
                "User {uid}{via} is bound to project {bound}: {RULE}; {} would reach beyond it.",
                describe(a)
            )));
        }
    }
    Ok(())
}

/// Adding `user_id` to `group_id`: refused for a bound user when the group holds any grant but
/// a direct one on the user's project.
pub fn check_membership(c: &mut DbConnection, user_id: &str, group_id: &str) -> Result<()> {
    let Some(bound) = store::get_user(c, user_id)?.and_then(|u| u.bound_project_id) else {
        return Ok(());
    };
    let grants = store::list_assignments(
        c,
        &AssignmentFilter {
            actor_type: Some(ACTOR_GROUP.into()),
            actor_ids: Some(vec![group_id.to_string()]),
            ..Default::default()
        },
    )?;
    if let Some(a) = grants.iter().find(|a| !fits(a, &bound)) {
        return Err(Error::Conflict(format!(
            "User {user_id} is bound to project {bound}: {RULE}; group {group_id} holds {}.",
            describe(a)
        )));
    }
    Ok(())
}

/// Binding `user_id` to `project_id`: refused while the user holds (directly or through its
/// groups) any grant but a direct one on that project.
pub fn check_bind(c: &mut DbConnection, user_id: &str, project_id: &str) -> Result<()> {
    let groups = store::group_ids_of_user(c, user_id)?;
    let mut held = store::list_assignments(
        c,
        &AssignmentFilter {
            actor_type: Some(ACTOR_USER.into()),
            actor_ids: Some(vec![user_id.to_string()]),
            ..Default::default()
        },
    )?;
    if !groups.is_empty() {
        held.extend(store::list_assignments(
            c,
            &AssignmentFilter {
                actor_type: Some(ACTOR_GROUP.into()),
                actor_ids: Some(groups),
                ..Default::default()
            },
        )?);
    }
    if let Some(a) = held.iter().find(|a| !fits(a, project_id)) {
        let via = if a.actor_type == ACTOR_GROUP {
            format!(" through group {}", a.actor_id)
        } else {
            String::new()
        };
        return Err(Error::Conflict(format!(
            "User {user_id} cannot be bound to project {project_id}: {RULE}, and it holds {}{via}. Remove that grant (or membership) first.",
            describe(a)
        )));
    }
    Ok(())
}

/// The project a user of `user_domain` may be bound to: one that exists in the user's domain.
/// Unknown projects and projects of other domains get the same answer.
pub fn bindable_project(
    c: &mut DbConnection,
    user_domain: &str,
    project_id: &str,
) -> Result<Project> {
    store::get_project(c, project_id)?
        .filter(|p| p.domain_id == user_domain)
        .ok_or_else(|| {
            Error::validation(format!(
                "Invalid input for field 'user.OS-PCU:bound_project_id': there is no project {project_id} in the user's domain."
            ))
        })
}

/// `bindable_project` inside a binding write: the project's row stays locked until the
/// transaction ends, so that its concurrent deletion either sees the bound user or runs first
/// and leaves nothing to bind to.
pub fn lock_bindable_project(
    c: &mut DbConnection,
    user_domain: &str,
    project_id: &str,
) -> Result<Project> {
    store::lock_project(c, project_id)?;
    bindable_project(c, user_domain, project_id)
}
