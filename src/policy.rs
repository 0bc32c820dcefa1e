//! Access control in one place: a declarative rule per action, evaluated against the caller's
//! token (user, project, effective roles) and the target. Keystone's defaults, adapted to
//! project-scoped tokens: the cloud admin is `admin` on the admin project that bootstrap recorded
//! (by id: `TokenInfo::admin_realm`); a role on a customer project counts in that project's domain
//! only. Two rules hold for every action, whatever its own rule says: nothing but the cloud admin
//! changes the operator's realm or what reaches beyond the caller's domain (`Target::protected`), and a restricted application credential cannot
//! mint or manage credentials.

use crate::auth::TokenInfo;
use crate::error::{Error, Result};

/// What an action is about.
#[derive(Debug, Default, Clone, Copy)]
pub struct Target<'a> {
    /// The user the action concerns (owner of a token, of a credential, ...).
    pub user_id: Option<&'a str>,
    /// The domain the target lives in.
    pub domain_id: Option<&'a str>,
    pub project_id: Option<&'a str>,
    /// The target is beyond what anyone but the cloud admin may change: the operator's realm or
    /// something that reaches it (the admin project, a project under it, a project holding
    /// `admin`/`service` grants, a user or group with effective reach into it, holding
    /// `admin`/`service` anywhere or holding grants outside the caller's domain, a grant that would
    /// reach any of these). Computed from effective reach by `assignment::reach`.
    pub protected: bool,
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
    /// Any valid token.
    Authenticated,
    AnyOf(&'static [Rule]),
}

use Rule::*;

/// Readers of the whole cloud: `reader` (or a role implying it) on the admin project.
const CLOUD_READ: Rule = CloudReader;
const ADMIN_OR_OWNER: &[Rule] = &[CloudAdmin, Owner];
const READ_OR_OWNER: &[Rule] = &[CloudReader, Owner];
const DOMAIN_MANAGER: &[Rule] = &[CloudAdmin, DomainRole("manager")];
const DOMAIN_MANAGER_READ: &[Rule] = &[CloudReader, DomainRole("manager")];

/// Keystone's default rule for each action this server enforces, adapted to project scope.
/// Anything not listed needs the cloud admin.
pub fn rule(action: &str) -> Rule {
    match action {
        // Tokens.
        // Keystone: only services (and the admin) exchange signed requests for tokens, so that
        // a presigned URL is no oracle for anyone.
        "ec2tokens_validate" | "s3tokens_validate" => AnyOf(&[CloudAdmin, Service]),
        "validate_token" | "check_token" => AnyOf(&[CloudReader, Service, Owner]),
        // Keystone: the cloud admin, a service, or the token's own user; a reader only looks.
        "revoke_token" => AnyOf(&[CloudAdmin, Service, Owner]),
        // Users: a reader of the user's domain may look, a manager of it may change.
        "get_user" => AnyOf(&[CloudReader, Owner, DomainRole("reader")]),
        "list_users" => AnyOf(DOMAIN_MANAGER_READ),
        "create_user" | "update_user" | "delete_user" => AnyOf(DOMAIN_MANAGER),
        // Project-bound users (OS-PCU): binding, unbinding and the one-call project user are a
        // manager's business in the project's domain (target: that domain and project).
        "bind_user" | "create_project_user" => AnyOf(DOMAIN_MANAGER),
        // Set-password links: whoever may reset the user's password (a manager of its domain
        // for users outside the realm). Invitations: a manager's business in its domain; which
        // roles it may grant is checked as for a grant.
        "send_password_link" => AnyOf(DOMAIN_MANAGER),
        "create_invitation" | "resend_invitation" | "delete_invitation" => AnyOf(DOMAIN_MANAGER),
        "get_invitation" | "list_invitations" => AnyOf(DOMAIN_MANAGER_READ),
        "list_groups_for_user" | "list_user_projects" => {
            AnyOf(&[CloudReader, Owner, DomainRole("manager")])
        }
        // Groups.
        "get_group" | "list_groups" | "list_users_in_group" | "check_user_in_group" => {
            AnyOf(DOMAIN_MANAGER_READ)
        }
        "create_group"
        | "update_group"
        | "delete_group"
        | "add_user_to_group"
        | "remove_user_from_group" => AnyOf(DOMAIN_MANAGER),
        // Projects: any role on a project shows it; a manager of its domain administers it.
        "get_project" | "list_project_tags" | "get_project_tag" => {
            AnyOf(&[CloudReader, ProjectMember, DomainRole("manager")])
        }
        "list_projects" => AnyOf(DOMAIN_MANAGER_READ),
        "create_project"
        | "update_project"
        | "delete_project"
        | "update_project_tags"
        | "create_project_tag"
        | "delete_project_tag"
        | "delete_project_tags" => AnyOf(DOMAIN_MANAGER),
        // Domains: holders of a role in a domain see it; only the cloud admin changes domains.
        "get_domain" => AnyOf(&[CloudReader, DomainRole("reader")]),
        "list_domains" => CLOUD_READ,
        // Roles: managers must find the roles they may grant.
        "get_role" | "list_roles" => AnyOf(DOMAIN_MANAGER_READ),
        "get_implied_role"
        | "list_implied_roles"
        | "list_role_inference_rules"
        | "check_implied_role" => AnyOf(DOMAIN_MANAGER_READ),
        // Grants: managers within their domain (which roles they may grant is checked apart).
        "check_grant" | "list_grants" => AnyOf(DOMAIN_MANAGER_READ),
        "create_grant" | "revoke_grant" => AnyOf(DOMAIN_MANAGER),
        "list_role_assignments" => AnyOf(&[CloudReader, DomainRole("manager"), Owner]),
        "list_system_grants" | "check_system_grant" => CLOUD_READ,
        // Catalog: anyone may read regions (Keystone's default); services and endpoints are
        // the cloud's business.
        "get_region" | "list_regions" => Authenticated,
        "get_service" | "list_services" | "get_endpoint" | "list_endpoints" => CLOUD_READ,
        // Application credentials and access rules belong to their user.
        "create_application_credential" => Owner,
        "get_application_credential"
        | "list_application_credentials"
        | "get_access_rule"
        | "list_access_rules" => AnyOf(READ_OR_OWNER),
        "delete_application_credential" | "delete_access_rule" => AnyOf(ADMIN_OR_OWNER),
        // Stored credentials and EC2 access keys belong to their user too.
        "get_credential" | "list_credentials" | "ec2_get_credential" | "ec2_list_credentials" => {
            AnyOf(READ_OR_OWNER)
        }
        "create_credential"
        | "update_credential"
        | "delete_credential"
        | "ec2_delete_credential" => AnyOf(ADMIN_OR_OWNER),
        // TOTP enrolment hands out a secret and switches MFA on: the user's own business only.
        "enrol_totp" => Owner,
        _ => CloudAdmin,
    }
}

pub fn is_cloud_admin(c: &TokenInfo) -> bool {
    c.admin_realm && c.has_role("admin")
}

pub fn is_cloud_reader(c: &TokenInfo) -> bool {
    c.admin_realm && c.has_role("reader")
}

/// Actions that only read: a cloud reader may do them anywhere, and the realm rule leaves them be
/// (so nobody needs to compute protection for them).
pub fn reads(action: &str) -> bool {
    [
        "get_",
        "list_",
        "check_",
        "validate_",
        "ec2_get_",
        "ec2_list_",
    ]
    .iter()
    .any(|p| action.starts_with(p))
}

/// What a restricted application credential may not do (Keystone: it cannot create or delete
/// application credentials; nor may it mint other credentials that would outlive its limits).
fn refused_to_restricted(action: &str) -> Option<&'static str> {
    match action {
        "create_application_credential" => Some(
            "create application credentials; create it with unrestricted=true or use a password",
        ),
        "delete_application_credential" => Some("delete application credentials"),
        "create_credential"
        | "update_credential"
        | "delete_credential"
        | "ec2_delete_credential"
        | "enrol_totp" => Some("manage credentials"),
        _ => None,
    }
}

pub fn allows(rule: Rule, c: &TokenInfo, t: &Target) -> bool {
    match rule {
        CloudAdmin => is_cloud_admin(c),
        CloudReader => is_cloud_reader(c),
        Service => c.has_role("service"),
        Owner => t.user_id.is_some_and(|u| u == c.user.id),
        DomainRole(role) => {
            t.domain_id.is_some_and(|d| d == c.project.domain_id) && c.has_role(role)
        }
        ProjectRole(role) => t.project_id.is_some_and(|p| p == c.project.id) && c.has_role(role),
        ProjectMember => t.project_id.is_some_and(|p| p == c.project.id),
        Authenticated => true,
        AnyOf(rules) => rules.iter().any(|r| allows(*r, c, t)),
    }
}

/// Whether a caller sees a stored credential bound to `bound_app_cred`: a token made from an
/// application credential sees only the credentials bound to that same application credential,
/// since the others would yield the user's full roles.
pub fn credential_visible(c: &TokenInfo, bound_app_cred: Option<&str>) -> bool {
    match &c.application_credential {
        None => true,
        Some(ac) => bound_app_cred == Some(ac.id.as_str()),
    }
}

/// Roles a manager (not the cloud admin) may grant.
pub const MANAGER_GRANTABLE: &[&str] = &["manager", "member", "reader"];

/// Whether the caller may grant role `name` (of `role_domain`, `None` for a global role) in
/// `target_domain`: the cloud admin any role; anyone else only the grantable roles, global or of
/// its own domain, inside its own domain.
pub fn may_grant_role(
    c: &TokenInfo,
    name: &str,
    role_domain: Option<&str>,
    target_domain: &str,
) -> bool {
    if is_cloud_admin(c) {
        return true;
    }
    let own = c.project.domain_id.as_str();
    target_domain == own
        && MANAGER_GRANTABLE.contains(&name)
        && role_domain.is_none_or(|d| d == own)
}

/// The decision for `action` on `t`: its rule, then the rules that hold for every action.
pub fn decide(c: &TokenInfo, action: &str, t: &Target) -> Result<()> {
    if !allows(rule(action), c, t) {
        return Err(Error::forbidden(action));
    }
    if t.protected && !reads(action) && !is_cloud_admin(c) {
        tracing::info!(user_id = %c.user.id, action, "policy refused: the operator's realm");
        return Err(Error::forbidden(action));
    }
    if let Some(what) = refused_to_restricted(action) {
        if c.application_credential
            .as_ref()
            .is_some_and(|a| a.restricted)
        {
            return Err(Error::ForbiddenMsg(format!(
                "A restricted application credential cannot be used to {what}."
            )));
        }
    }
    Ok(())
}

/// Refuses with 403 naming the action unless the policy allows it.
pub fn enforce(c: &TokenInfo, action: &str, t: &Target) -> Result<()> {
    decide(c, action, t).inspect_err(|_| {
        tracing::info!(user_id = %c.user.id, action, "policy refused");
    })
}

/// Whether `action` on `t` would be allowed (for filtering what a list shows).
pub fn permits(c: &TokenInfo, action: &str, t: &Target) -> bool {
    decide(c, action, t).is_ok()
}
