//! One-time links and invitations.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::models::{AccountLink, Invitation, InvitationRole};
use super::schema::{account_links, invitation_roles, invitations};
use super::DbConnection;
use crate::error::Result;

pub fn insert_link(conn: &mut DbConnection, l: &AccountLink) -> Result<()> {
    diesel::insert_into(account_links::table)
        .values(l)
        .execute(conn)?;
    Ok(())
}

pub fn link_by_hash(conn: &mut DbConnection, secret_hash: &str) -> Result<Option<AccountLink>> {
    Ok(account_links::table
        .filter(account_links::secret_hash.eq(secret_hash))
        .select(AccountLink::as_select())
        .first(conn)
        .optional()?)
}

/// Marks every outstanding (unused, not yet replaced) set-password link of `user_id` replaced.
pub fn replace_user_links(
    conn: &mut DbConnection,
    user_id: &str,
    kind: &str,
    now: NaiveDateTime,
) -> Result<usize> {
    Ok(diesel::update(
        account_links::table
            .filter(account_links::user_id.eq(user_id))
            .filter(account_links::kind.eq(kind))
            .filter(account_links::used_at.is_null())
            .filter(account_links::replaced_at.is_null()),
    )
    .set(account_links::replaced_at.eq(now))
    .execute(conn)?)
}

/// Marks every outstanding link of an invitation replaced.
pub fn replace_invitation_links(
    conn: &mut DbConnection,
    invitation_id: &str,
    now: NaiveDateTime,
) -> Result<usize> {
    Ok(diesel::update(
        account_links::table
            .filter(account_links::invitation_id.eq(invitation_id))
            .filter(account_links::used_at.is_null())
            .filter(account_links::replaced_at.is_null()),
    )
    .set(account_links::replaced_at.eq(now))
    .execute(conn)?)
}

/// Uses a link: true for exactly one caller, and only while it is unused, not replaced and not
/// expired. The condition is in the UPDATE itself, so two concurrent redemptions cannot both win.
pub fn use_link(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> Result<bool> {
    let n = diesel::update(
        account_links::table
            .filter(account_links::id.eq(id))
            .filter(account_links::used_at.is_null())
            .filter(account_links::replaced_at.is_null())
            .filter(account_links::expires_at.gt(now)),
    )
    .set(account_links::used_at.eq(now))
    .execute(conn)?;
    Ok(n == 1)
}

/// The newest link of a user of `kind` (any state).
pub fn newest_user_link(
    conn: &mut DbConnection,
    user_id: &str,
    kind: &str,
) -> Result<Option<AccountLink>> {
    Ok(account_links::table
        .filter(account_links::user_id.eq(user_id))
        .filter(account_links::kind.eq(kind))
        .order((account_links::created_at.desc(), account_links::id.desc()))
        .select(AccountLink::as_select())
        .first(conn)
        .optional()?)
}

pub fn insert_invitation(
    conn: &mut DbConnection,
    inv: &Invitation,
    roles: &[InvitationRole],
) -> Result<()> {
    diesel::insert_into(invitations::table)
        .values(inv)
        .execute(conn)?;
    for r in roles {
        diesel::insert_into(invitation_roles::table)
            .values(r)
            .execute(conn)?;
    }
    Ok(())
}

pub fn get_invitation(conn: &mut DbConnection, id: &str) -> Result<Option<Invitation>> {
    Ok(invitations::table
        .find(id)
        .select(Invitation::as_select())
        .first(conn)
        .optional()?)
}

/// Locks an invitation's row until the transaction ends (acceptance, resend, withdrawal).
pub fn lock_invitation(conn: &mut DbConnection, id: &str) -> Result<Option<Invitation>> {
    super::lock_row(conn, "invitations", id)?;
    get_invitation(conn, id)
}

pub fn invitation_roles(conn: &mut DbConnection, id: &str) -> Result<Vec<InvitationRole>> {
    Ok(invitation_roles::table
        .filter(invitation_roles::invitation_id.eq(id))
        .order((
            invitation_roles::target_type.asc(),
            invitation_roles::target_id.asc(),
            invitation_roles::role_id.asc(),
        ))
        .select(InvitationRole::as_select())
        .load(conn)?)
}

/// The status of an invitation at `now`, as the list filter and the view compute it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Expired,
}

impl InvitationStatus {
    pub fn of(inv: &Invitation, now: NaiveDateTime) -> InvitationStatus {
        match inv.accepted_at {
            Some(_) => InvitationStatus::Accepted,
            None if inv.expires_at <= now => InvitationStatus::Expired,
            None => InvitationStatus::Pending,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            InvitationStatus::Pending => "pending",
            InvitationStatus::Accepted => "accepted",
            InvitationStatus::Expired => "expired",
        }
    }
}

#[derive(Debug, Default, Clone)]
pub struct InvitationFilter {
    pub domain_id: Option<String>,
    /// Compared case-insensitively.
    pub email: Option<String>,
    pub status: Option<InvitationStatus>,
    /// The moment `status` is judged at.
    pub now: Option<NaiveDateTime>,
}

pub fn list_invitations(conn: &mut DbConnection, f: &InvitationFilter) -> Result<Vec<Invitation>> {
    let mut q = invitations::table
        .select(Invitation::as_select())
        .into_boxed();
    if let Some(d) = &f.domain_id {
        q = q.filter(invitations::domain_id.eq(d.clone()));
    }
    if let Some(e) = &f.email {
        // Emails are stored lower-cased (see `accounts::invitations`).
        q = q.filter(invitations::email.eq(e.to_lowercase()));
    }
    if let (Some(status), Some(now)) = (f.status, f.now) {
        q = match status {
            InvitationStatus::Accepted => q.filter(invitations::accepted_at.is_not_null()),
            InvitationStatus::Pending => q
                .filter(invitations::accepted_at.is_null())
                .filter(invitations::expires_at.gt(now)),
            InvitationStatus::Expired => q
                .filter(invitations::accepted_at.is_null())
                .filter(invitations::expires_at.le(now)),
        };
    }
    Ok(
        q.order((invitations::created_at.asc(), invitations::id.asc()))
            .load(conn)?,
    )
}

pub fn delete_invitation(conn: &mut DbConnection, id: &str) -> Result<bool> {
    Ok(diesel::delete(invitations::table.find(id)).execute(conn)? > 0)
}

/// Records acceptance by `user_id`: true for exactly one caller, while still pending.
pub fn accept_invitation(
    conn: &mut DbConnection,
    id: &str,
    user_id: &str,
    now: NaiveDateTime,
) -> Result<bool> {
    let n = diesel::update(
        invitations::table
            .filter(invitations::id.eq(id))
            .filter(invitations::accepted_at.is_null()),
    )
    .set((
        invitations::accepted_at.eq(now),
        invitations::user_id.eq(user_id),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// A new expiry (resend).
pub fn set_invitation_expiry(
    conn: &mut DbConnection,
    id: &str,
    expires_at: NaiveDateTime,
) -> Result<()> {
    diesel::update(invitations::table.find(id))
        .set(invitations::expires_at.eq(expires_at))
        .execute(conn)?;
    Ok(())
}

/// What became of the last email: sent (`error` none) or not, to whom, when.
pub fn set_invitation_delivery(
    conn: &mut DbConnection,
    id: &str,
    sent_to: Option<&str>,
    sent_at: Option<NaiveDateTime>,
    error: Option<&str>,
) -> Result<()> {
    diesel::update(invitations::table.find(id))
        .set((
            invitations::sent_to.eq(sent_to),
            invitations::sent_at.eq(sent_at),
            invitations::delivery_error.eq(error),
        ))
        .execute(conn)?;
    Ok(())
}
