//! Revocation events.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::models::RevocationEvent;
use super::schema::revocation_events as re;
use super::DbConnection;
use crate::error::Result;

pub fn insert_revocation_event(conn: &mut DbConnection, e: &RevocationEvent) -> Result<()> {
    diesel::insert_into(re::table).values(e).execute(conn)?;
    Ok(())
}

/// Events that could revoke a token with these attributes issued at `issued_at`: the caller
/// checks each event's remaining fields (see `token::revoke`).
pub fn candidate_revocation_events(
    conn: &mut DbConnection,
    user_id: &str,
    project_id: &str,
    audit_ids: &[String],
    application_credential_id: Option<&str>,
    issued_at: NaiveDateTime,
) -> Result<Vec<RevocationEvent>> {
    let mut q = re::table
        .filter(re::issued_before.ge(issued_at))
        .filter(
            re::user_id
                .eq(user_id.to_string())
                .or(re::project_id.eq(project_id.to_string()))
                .or(re::audit_id.eq_any(audit_ids.to_vec()))
                .or(re::audit_chain_id.eq_any(audit_ids.to_vec())),
        )
        .select(RevocationEvent::as_select())
        .into_boxed();
    if let Some(ac) = application_credential_id {
        q = q.or_filter(
            re::application_credential_id
                .eq(ac.to_string())
                .and(re::issued_before.ge(issued_at)),
        );
    }
    Ok(q.load(conn)?)
}

/// Removes events older than any token they could still concern; returns how many.
pub fn purge_revocation_events(
    conn: &mut DbConnection,
    revoked_before: NaiveDateTime,
) -> Result<usize> {
    Ok(diesel::delete(re::table.filter(re::revoked_at.lt(revoked_before))).execute(conn)?)
}

/// Events that revoke every token of a domain's users or projects.
pub fn domain_revocation_events(
    conn: &mut DbConnection,
    domain_ids: &[String],
    issued_at: NaiveDateTime,
) -> Result<Vec<RevocationEvent>> {
    Ok(re::table
        .filter(re::issued_before.ge(issued_at))
        .filter(re::domain_id.eq_any(domain_ids.to_vec()))
        .select(RevocationEvent::as_select())
        .load(conn)?)
}

pub fn latest_revocation(conn: &mut DbConnection) -> Result<Option<NaiveDateTime>> {
    Ok(re::table
        .select(diesel::dsl::max(re::revoked_at))
        .first(conn)?)
}
