//! Effective reach into the operator's realm and beyond a caller's domain. Every "does this reach
//! the admin project / is this principal privileged / does it reach outside the caller's domain"
//! question is answered here, counting direct grants, group grants, grants inherited from the
//! domain or an ancestor project, and implied roles; the policy module then decides with the
//! answer (`Target::protected`).

use std::collections::BTreeSet;

use super::granted_role_ids_on_project;
use crate::error::Result;
use crate::realm::Realm;
use crate::store::{
    self, Assignment, AssignmentFilter, DbConnection, Project, ACTOR_GROUP, ACTOR_USER,
    TARGET_DOMAIN, TARGET_PROJECT, TARGET_SYSTEM,
};

/// Roles whose holders administer or serve the whole cloud, wherever they are granted.
const POWERFUL_ROLES: [&str; 2] = ["admin", "service"];

/// The realm's facts, read once for a set of questions asked on behalf of a caller of one domain.
pub struct Reach {
    /// The domain of the caller's project: grants elsewhere are beyond its reach.
    caller_domain: String,
    admin_project: Option<Project>,
    /// The admin project and its ancestors, nearest first.
    admin_lineage: Vec<String>,
    /// Global role ids whose implications include a powerful role.
    powerful: BTreeSet<String>,
}

impl Reach {
    pub fn load(conn: &mut DbConnection, realm: &Realm, caller_domain: &str) -> Result<Reach> {
        let admin_project = match realm.admin_project_id_in(conn)? {
            Some(id) => store::get_project(conn, &id)?,
            None => None,
        };
        let mut admin_lineage = vec![];
        let mut next = admin_project.as_ref().map(|p| p.id.clone());
        while let Some(id) = next.take() {
            if admin_lineage.contains(&id) || admin_lineage.len() > 64 {
                break;
            }
            next = store::get_project(conn, &id)?.and_then(|p| p.parent_id);
            admin_lineage.push(id);
        }
        // Powerful: the global admin/service roles and every role that implies one of them.
        let mut powerful: BTreeSet<String> = store::list_roles(conn, &Default::default())?
            .into_iter()
            .filter(|r| r.domain_id.is_none() && POWERFUL_ROLES.contains(&r.name.as_str()))
            .map(|r| r.id)
            .collect();
        let pairs = store::list_implied_roles(conn)?;
        let mut grew = true;
        while grew {
            grew = false;
            for (prior, implied) in &pairs {
                if powerful.contains(implied) && powerful.insert(prior.clone()) {
                    grew = true;
                }
            }
        }
        Ok(Reach {
            caller_domain: caller_domain.to_string(),
            admin_project,
            admin_lineage,
            powerful,
        })
    }

    /// The admin project or a project under it.
    pub fn project_in_realm(&self, conn: &mut DbConnection, project_id: &str) -> Result<bool> {
        match &self.admin_project {
            Some(admin) => is_in_subtree(conn, &admin.id, project_id),
            None => Ok(false),
        }
    }

    /// A project nobody but the cloud admin may change or grant on: the admin project or a project
    /// under it, or one where `admin`/`service` is granted (the service project whose users every
    /// other service relies on).
    pub fn project_protected(&self, conn: &mut DbConnection, project_id: &str) -> Result<bool> {
        if self.project_in_realm(conn, project_id)? {
            return Ok(true);
        }
        let grants = store::list_assignments(
            conn,
            &AssignmentFilter {
                target_type: Some(TARGET_PROJECT.into()),
                target_ids: Some(vec![project_id.to_string()]),
                ..Default::default()
            },
        )?;
        Ok(grants.iter().any(|a| self.powerful.contains(&a.role_id)))
    }

    /// A grant that would reach the realm or beyond the caller's domain: on the admin project (or
    /// under it), inherited from its domain or an ancestor, on the system, of a role implying
    /// `admin` or `service`, or on a project or domain of another domain.
    pub fn grant_reaches(&self, conn: &mut DbConnection, a: &Assignment) -> Result<bool> {
        if a.target_type == TARGET_SYSTEM || self.powerful.contains(&a.role_id) {
            return Ok(true);
        }
        let target_domain = match a.target_type.as_str() {
            TARGET_PROJECT => store::get_project(conn, &a.target_id)?.map(|p| p.domain_id),
            TARGET_DOMAIN => Some(a.target_id.clone()),
            _ => None,
        };
        if target_domain.as_deref() != Some(self.caller_domain.as_str()) {
            return Ok(true);
        }
        let Some(admin) = &self.admin_project else {
            return Ok(false);
        };
        Ok(match a.target_type.as_str() {
            TARGET_PROJECT => {
                self.project_in_realm(conn, &a.target_id)?
                    || (a.inherited && self.admin_lineage.contains(&a.target_id))
            }
            TARGET_DOMAIN => a.inherited && a.target_id == admin.domain_id,
            _ => true,
        })
    }

    /// Whether any of these grants reaches the realm.
    fn any_reaches(&self, conn: &mut DbConnection, grants: &[Assignment]) -> Result<bool> {
        for a in grants {
            if self.grant_reaches(conn, a)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// A user with effective reach into the admin project, or holding (directly, through a group,
    /// by inheritance or implication) a powerful role or a system grant anywhere, or any grant
    /// outside the caller's domain.
    pub fn user_privileged(&self, conn: &mut DbConnection, user_id: &str) -> Result<bool> {
        if let Some(admin) = &self.admin_project {
            if !granted_role_ids_on_project(conn, user_id, admin)?.is_empty() {
                return Ok(true);
            }
        }
        let mut actors = vec![user_id.to_string()];
        actors.extend(store::group_ids_of_user(conn, user_id)?);
        let grants = actor_grants(conn, actors)?;
        self.any_reaches(conn, &grants)
    }

    /// Whether making grant `a` (to `user`, or to a user not yet created) would reach beyond the
    /// caller: a privileged user, a grant reaching the realm or another domain, or a protected
    /// project. What a direct grant is checked against, and invitations too.
    pub fn grant_protected(
        &self,
        conn: &mut DbConnection,
        user: Option<&str>,
        a: &Assignment,
    ) -> Result<bool> {
        if let Some(u) = user {
            if self.user_privileged(conn, u)? {
                return Ok(true);
            }
        }
        Ok(self.grant_reaches(conn, a)?
            || (a.target_type == TARGET_PROJECT && self.project_protected(conn, &a.target_id)?))
    }

    /// A user who administers (or serves) the cloud: a powerful role, by any path, on the
    /// admin project. What the cloud admin's token proves, read from the grants as they are now.
    pub fn user_is_operator(&self, conn: &mut DbConnection, user_id: &str) -> Result<bool> {
        let Some(admin) = &self.admin_project else {
            return Ok(false);
        };
        let granted = granted_role_ids_on_project(conn, user_id, admin)?;
        let all = super::expand_implied(conn, granted)?;
        Ok(all.iter().any(|r| self.powerful.contains(r)))
    }

    /// A group whose grants reach the realm or beyond the caller's domain, or one with a
    /// privileged member: changing it changes what a privileged user can do.
    pub fn group_privileged(&self, conn: &mut DbConnection, group_id: &str) -> Result<bool> {
        let grants: Vec<Assignment> = actor_grants(conn, vec![group_id.to_string()])?
            .into_iter()
            .filter(|a| a.actor_type == ACTOR_GROUP)
            .collect();
        if self.any_reaches(conn, &grants)? {
            return Ok(true);
        }
        for user_id in store::user_ids_in_group(conn, group_id)? {
            if self.user_privileged(conn, &user_id)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The actor of a grant is privileged (user or group).
    pub fn actor_privileged(
        &self,
        conn: &mut DbConnection,
        actor_type: &str,
        actor_id: &str,
    ) -> Result<bool> {
        match actor_type {
            ACTOR_USER => self.user_privileged(conn, actor_id),
            _ => self.group_privileged(conn, actor_id),
        }
    }
}

/// `project_id` is `root` or lies under it.
fn is_in_subtree(conn: &mut DbConnection, root: &str, project_id: &str) -> Result<bool> {
    let mut next = Some(project_id.to_string());
    let mut seen = 0;
    while let Some(id) = next.take() {
        if id == root {
            return Ok(true);
        }
        seen += 1;
        if seen > 64 {
            break;
        }
        next = store::get_project(conn, &id)?.and_then(|p| p.parent_id);
    }
    Ok(false)
}

fn actor_grants(conn: &mut DbConnection, actor_ids: Vec<String>) -> Result<Vec<Assignment>> {
    store::list_assignments(
        conn,
        &AssignmentFilter {
            actor_ids: Some(actor_ids),
            ..Default::default()
        },
    )
}
