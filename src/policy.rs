//! Access control in one place: a declarative rule per action, evaluated against the caller's
//! token (user, project, domain, effective roles) and the target. Keystone's defaults, adapted to
//! project-scoped tokens: the cloud admin is `admin` on the bootstrap admin project; a role on a
//! customer project counts in that project's domain only.

use crate::auth::TokenInfo;
use crate::error::{Error, Result};
use crate::resource::DEFAULT_DOMAIN_ID;

/// The project whose `admin` holders administer the whole cloud.
pub const ADMIN_PROJECT_NAME: &str = "admin";
pub const ADMIN_PROJECT_DOMAIN_ID: &str = DEFAULT_DOMAIN_ID;

/// What an action is about.
#[derive(Debug, Default, Clone, Copy)]
pub struct Target<'a> {
    /// The user the action concerns (owner of a token, of a credential, ...).
    pub user_id: Option<&'a str>,
    /// The domain the target lives in.
    pub domain_id: Option<&'a str>,
    pub project_id: Option<&'a str>,
}

#[derive(Debug, Clone, Copy)]
pub enum Rule {
    /// `admin` on the admin project.
    CloudAdmin,
    /// Any role implying `reader` on the admin project.
    CloudReader,
    /// The `service` role, on any project.
    Service,
    /// The caller is the target user.
    Owner,
    /// The caller holds this role on a project of the target's domain.
    DomainRole(&'static str),
    /// The caller holds this role on the target project.
    ProjectRole(&'static str),
    /// Any role on the target project.
    ProjectMember,
    AnyOf(&'static [Rule]),
}

use Rule::*;

/// Keystone's default rule for each action this server enforces.
pub fn rule(action: &str) -> Rule {
    match action {
        "validate_token" | "check_token" | "revoke_token" => AnyOf(&[CloudReader, Service, Owner]),
        _ => CloudAdmin,
    }
}

pub fn is_cloud_admin(c: &TokenInfo) -> bool {
    on_admin_project(c) && c.has_role("admin")
}

fn on_admin_project(c: &TokenInfo) -> bool {
    c.project.name == ADMIN_PROJECT_NAME && c.project.domain_id == ADMIN_PROJECT_DOMAIN_ID
}

pub fn allows(rule: Rule, c: &TokenInfo, t: &Target) -> bool {
    match rule {
        CloudAdmin => is_cloud_admin(c),
        CloudReader => on_admin_project(c) && c.has_role("reader"),
        Service => c.has_role("service"),
        Owner => t.user_id.is_some_and(|u| u == c.user.id),
        DomainRole(role) => {
            t.domain_id.is_some_and(|d| d == c.project.domain_id) && c.has_role(role)
        }
        ProjectRole(role) => t.project_id.is_some_and(|p| p == c.project.id) && c.has_role(role),
        ProjectMember => t.project_id.is_some_and(|p| p == c.project.id),
        AnyOf(rules) => rules.iter().any(|r| allows(*r, c, t)),
    }
}

/// Refuses with 403 naming the action unless the rule for `action` allows it.
pub fn enforce(c: &TokenInfo, action: &str, t: &Target) -> Result<()> {
    if allows(rule(action), c, t) {
        Ok(())
    } else {
        tracing::info!(user_id = %c.user.id, action, "policy refused");
        Err(Error::forbidden(action))
    }
}
