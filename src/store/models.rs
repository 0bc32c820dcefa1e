//! Rows as the store reads and writes them. Domain code uses these types; only `store` builds queries.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::*;

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = domains)]
pub struct Domain {
    pub id: String,
    pub name: String,
    pub description: String,
    pub enabled: bool,
    pub extra: String,
    pub created_at: NaiveDateTime,
    /// `OS-PCU:mfa_required`: users must satisfy MFA rules unless exempt.
    pub mfa_required: bool,
    /// `OS-PCU:login_by_email`: password and TOTP logins accept the email as user name.
    pub login_by_email: bool,
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = projects)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub parent_id: Option<String>,
    pub description: String,
    pub enabled: bool,
    pub extra: String,
    pub created_at: NaiveDateTime,
}

/// A user row. No `Debug`: it carries the password hash.
#[derive(Queryable, Selectable, Insertable, Clone)]
#[diesel(table_name = users)]
pub struct User {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub enabled: bool,
    pub default_project_id: Option<String>,
    pub email: Option<String>,
    pub description: Option<String>,
    pub extra: String,
    pub password_hash: Option<String>,
    pub password_created_at: Option<NaiveDateTime>,
    pub password_expires_at: Option<NaiveDateTime>,
    pub failed_auth_count: i32,
    pub failed_auth_at: Option<NaiveDateTime>,
    pub last_active_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub phone: Option<String>,
    /// The current password was chosen by the user (self-service), not set by an administrator.
    pub password_self_service: bool,
    /// The one project this user may hold roles on (and scope tokens to), if bound.
    pub bound_project_id: Option<String>,
}

impl User {
    /// When the user last authenticated, or (never) was created: what inactivity counts from.
    pub fn last_seen(&self) -> NaiveDateTime {
        self.last_active_at.unwrap_or(self.created_at)
    }
}

/// A user as the API shows one: no password hash, no login bookkeeping (last activity, which
/// moves without the change feed, is read apart). What lists read, and what the per-node cache
/// keeps of a user.
#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = users)]
pub struct UserProfile {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub enabled: bool,
    pub default_project_id: Option<String>,
    pub email: Option<String>,
    pub description: Option<String>,
    pub extra: String,
    /// A password is set (the hash itself stays in the database).
    #[diesel(
        select_expression = users::password_hash.is_not_null(),
        select_expression_type = diesel::dsl::IsNotNull<users::password_hash>
    )]
    pub password_set: bool,
    pub password_expires_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub phone: Option<String>,
    pub bound_project_id: Option<String>,
}

impl From<User> for UserProfile {
    fn from(u: User) -> UserProfile {
        UserProfile {
            password_set: u.password_hash.is_some(),
            id: u.id,
            name: u.name,
            domain_id: u.domain_id,
            enabled: u.enabled,
            default_project_id: u.default_project_id,
            email: u.email,
            description: u.description,
            extra: u.extra,
            password_expires_at: u.password_expires_at,
            created_at: u.created_at,
            phone: u.phone,
            bound_project_id: u.bound_project_id,
        }
    }
}

/// One user of a listed page: who, in the list's order, with what moves without the change
/// feed (last activity, TOTP credentials), read fresh for every page.
#[derive(Queryable, Clone, Debug)]
pub struct ListedUser {
    pub id: String,
    pub last_active_at: Option<NaiveDateTime>,
    pub has_totp: bool,
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = user_options)]
pub struct UserOption {
    pub user_id: String,
    pub name: String,
    pub value: String,
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = groups)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub description: String,
    pub extra: String,
    pub created_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = roles)]
pub struct Role {
    pub id: String,
    pub name: String,
    pub domain_id: Option<String>,
    pub description: String,
    pub extra: String,
    pub created_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq, Hash)]
#[diesel(table_name = role_assignments)]
pub struct Assignment {
    pub actor_type: String,
    pub actor_id: String,
    pub target_type: String,
    pub target_id: String,
    pub role_id: String,
    pub inherited: bool,
}

pub const ACTOR_USER: &str = "user";
pub const ACTOR_GROUP: &str = "group";
pub const TARGET_PROJECT: &str = "project";
pub const TARGET_DOMAIN: &str = "domain";
pub const TARGET_SYSTEM: &str = "system";
/// The one system target Keystone knows.
pub const SYSTEM_ALL: &str = "all";

#[derive(Queryable, Selectable, Insertable, Clone)]
#[diesel(table_name = application_credentials)]
pub struct ApplicationCredential {
    pub id: String,
    pub name: String,
    pub secret_hash: String,
    pub description: Option<String>,
    pub user_id: String,
    pub project_id: String,
    pub expires_at: Option<NaiveDateTime>,
    pub unrestricted: bool,
    pub created_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = access_rules)]
pub struct AccessRule {
    pub id: String,
    pub user_id: String,
    pub service: String,
    pub path: String,
    pub method: String,
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = regions)]
pub struct Region {
    pub id: String,
    pub description: String,
    pub parent_region_id: Option<String>,
    pub extra: String,
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = services)]
pub struct Service {
    pub id: String,
    pub type_: String,
    pub name: String,
    pub description: String,
    pub enabled: bool,
    pub extra: String,
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = endpoints)]
pub struct Endpoint {
    pub id: String,
    pub service_id: String,
    pub region_id: Option<String>,
    pub interface: String,
    pub url: String,
    pub enabled: bool,
    pub extra: String,
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug, Default)]
#[diesel(table_name = revocation_events)]
pub struct RevocationEvent {
    pub id: String,
    pub user_id: Option<String>,
    pub project_id: Option<String>,
    pub domain_id: Option<String>,
    pub role_id: Option<String>,
    pub audit_id: Option<String>,
    pub audit_chain_id: Option<String>,
    pub application_credential_id: Option<String>,
    pub issued_before: NaiveDateTime,
    pub revoked_at: NaiveDateTime,
}

/// A stored credential (EC2 access key, ...); the blob is encrypted with the credential keys.
#[derive(Queryable, Selectable, Insertable, Clone)]
#[diesel(table_name = credentials)]
pub struct Credential {
    pub id: String,
    pub user_id: String,
    pub project_id: Option<String>,
    pub type_: String,
    pub encrypted_blob: String,
    pub key_hash: String,
    pub extra: String,
    pub created_at: NaiveDateTime,
}

/// An invitation: grants in one domain for whoever holds `email`, applied when accepted.
#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = invitations)]
pub struct Invitation {
    pub id: String,
    pub email: String,
    /// The name the new user gets (generated when absent); unused for an existing user.
    pub name: Option<String>,
    pub domain_id: String,
    /// The existing user invited, or the user created at acceptance; none until known.
    pub user_id: Option<String>,
    pub inviter_id: Option<String>,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub accepted_at: Option<NaiveDateTime>,
    pub sent_to: Option<String>,
    pub sent_at: Option<NaiveDateTime>,
    pub delivery_error: Option<String>,
}

/// One grant an invitation carries (`target_type`: `project` or `domain`).
#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = invitation_roles)]
pub struct InvitationRole {
    pub invitation_id: String,
    pub role_id: String,
    pub target_type: String,
    pub target_id: String,
}

pub const LINK_PASSWORD: &str = "password";
pub const LINK_INVITATION: &str = "invitation";

/// A one-time link. Only the SHA-256 of its secret is stored, so `Debug` shows nothing secret.
#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = account_links)]
pub struct AccountLink {
    pub id: String,
    /// `LINK_PASSWORD` or `LINK_INVITATION`.
    pub kind: String,
    pub secret_hash: String,
    pub user_id: Option<String>,
    pub invitation_id: Option<String>,
    pub sent_to: Option<String>,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
    pub replaced_at: Option<NaiveDateTime>,
}
