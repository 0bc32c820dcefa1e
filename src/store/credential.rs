//! Application credentials with their roles and access rules.

use diesel::prelude::*;

use super::models::{AccessRule, ApplicationCredential, Credential};
use super::schema::{
    access_rules, application_credential_access_rules, application_credential_roles,
    application_credentials, credentials, totp_steps,
};
use super::{on_conflict, DbConnection};
use crate::error::Result;

pub fn insert_application_credential(
    conn: &mut DbConnection,
    ac: &ApplicationCredential,
    role_ids: &[String],
    access_rule_ids: &[String],
) -> Result<()> {
    diesel::insert_into(application_credentials::table).values(ac).execute(conn).map_err(on_conflict(|| {
        format!("Conflict occurred attempting to store application_credential - Duplicate entry found with name {}.", ac.name)
    }))?;
    for role_id in role_ids {
        diesel::insert_into(application_credential_roles::table)
            .values((
                application_credential_roles::application_credential_id.eq(&ac.id),
                application_credential_roles::role_id.eq(role_id),
            ))
            .execute(conn)?;
    }
    for rule_id in access_rule_ids {
        diesel::insert_into(application_credential_access_rules::table)
            .values((
                application_credential_access_rules::application_credential_id.eq(&ac.id),
                application_credential_access_rules::access_rule_id.eq(rule_id),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn get_application_credential(
    conn: &mut DbConnection,
    id: &str,
) -> Result<Option<ApplicationCredential>> {
    Ok(application_credentials::table
        .find(id)
        .select(ApplicationCredential::as_select())
        .first(conn)
        .optional()?)
}

pub fn get_application_credential_by_name(
    conn: &mut DbConnection,
    user_id: &str,
    name: &str,
) -> Result<Option<ApplicationCredential>> {
    Ok(application_credentials::table
        .filter(application_credentials::user_id.eq(user_id))
        .filter(application_credentials::name.eq(name))
        .select(ApplicationCredential::as_select())
        .first(conn)
        .optional()?)
}

pub fn list_application_credentials(
    conn: &mut DbConnection,
    user_id: &str,
    name: Option<&str>,
) -> Result<Vec<ApplicationCredential>> {
    let mut q = application_credentials::table
        .filter(application_credentials::user_id.eq(user_id.to_string()))
        .select(ApplicationCredential::as_select())
        .into_boxed();
    if let Some(n) = name {
        q = q.filter(application_credentials::name.eq(n.to_string()));
    }
    Ok(q.order(application_credentials::name.asc()).load(conn)?)
}

pub fn application_credential_role_ids(conn: &mut DbConnection, id: &str) -> Result<Vec<String>> {
    Ok(application_credential_roles::table
        .filter(application_credential_roles::application_credential_id.eq(id))
        .select(application_credential_roles::role_id)
        .load(conn)?)
}

pub fn delete_application_credential(conn: &mut DbConnection, id: &str) -> Result<bool> {
    Ok(diesel::delete(application_credentials::table.find(id)).execute(conn)? > 0)
}

/// Ids of a user's application credentials, optionally only those on one project.
pub fn application_credential_ids_of_user(
    conn: &mut DbConnection,
    user_id: &str,
    project_id: Option<&str>,
) -> Result<Vec<String>> {
    let mut q = application_credentials::table
        .filter(application_credentials::user_id.eq(user_id.to_string()))
        .select(application_credentials::id)
        .into_boxed();
    if let Some(p) = project_id {
        q = q.filter(application_credentials::project_id.eq(p.to_string()));
    }
    Ok(q.load(conn)?)
}

/// Finds the user's access rule with these values, or stores a new one.
pub fn find_or_insert_access_rule(conn: &mut DbConnection, rule: &AccessRule) -> Result<String> {
    let existing: Option<String> = access_rules::table
        .filter(access_rules::user_id.eq(&rule.user_id))
        .filter(access_rules::service.eq(&rule.service))
        .filter(access_rules::path.eq(&rule.path))
        .filter(access_rules::method.eq(&rule.method))
        .select(access_rules::id)
        .first(conn)
        .optional()?;
    if let Some(id) = existing {
        return Ok(id);
    }
    let inserted = super::insert_once(conn, |c| {
        diesel::insert_into(access_rules::table)
            .values(rule)
            .execute(c)
    })?;
    if inserted {
        return Ok(rule.id.clone());
    }
    // A concurrent request stored the same rule (or one with this id) first.
    access_rules::table
        .filter(access_rules::user_id.eq(&rule.user_id))
        .filter(access_rules::service.eq(&rule.service))
        .filter(access_rules::path.eq(&rule.path))
        .filter(access_rules::method.eq(&rule.method))
        .select(access_rules::id)
        .first(conn)
        .optional()?
        .ok_or_else(|| crate::error::Error::Conflict("Duplicate access rule id.".into()))
}

pub fn access_rules_of_user(conn: &mut DbConnection, user_id: &str) -> Result<Vec<AccessRule>> {
    Ok(access_rules::table
        .filter(access_rules::user_id.eq(user_id))
        .select(AccessRule::as_select())
        .load(conn)?)
}

pub fn access_rules_of_application_credential(
    conn: &mut DbConnection,
    id: &str,
) -> Result<Vec<AccessRule>> {
    Ok(access_rules::table
        .inner_join(
            application_credential_access_rules::table
                .on(application_credential_access_rules::access_rule_id.eq(access_rules::id)),
        )
        .filter(application_credential_access_rules::application_credential_id.eq(id))
        .select(AccessRule::as_select())
        .load(conn)?)
}

pub fn access_rule_in_use(conn: &mut DbConnection, rule_id: &str) -> Result<bool> {
    let n: i64 = application_credential_access_rules::table
        .filter(application_credential_access_rules::access_rule_id.eq(rule_id))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

pub fn delete_access_rule(conn: &mut DbConnection, rule_id: &str) -> Result<bool> {
    Ok(diesel::delete(access_rules::table.find(rule_id)).execute(conn)? > 0)
}

pub fn application_credential_ids_on_project(
    conn: &mut DbConnection,
    project_id: &str,
) -> Result<Vec<String>> {
    Ok(application_credentials::table
        .filter(application_credentials::project_id.eq(project_id))
        .select(application_credentials::id)
        .load(conn)?)
}

pub fn insert_credential(conn: &mut DbConnection, c: &Credential) -> Result<()> {
    diesel::insert_into(credentials::table)
        .values(c)
        .execute(conn)
        .map_err(on_conflict(|| {
            format!(
                "Conflict occurred attempting to store credential - Duplicate entry found with ID {}.",
                c.id
            )
        }))?;
    Ok(())
}

pub fn get_credential(conn: &mut DbConnection, id: &str) -> Result<Option<Credential>> {
    Ok(credentials::table
        .find(id)
        .select(Credential::as_select())
        .first(conn)
        .optional()?)
}

pub fn update_credential(conn: &mut DbConnection, c: &Credential) -> Result<()> {
    diesel::update(credentials::table.find(&c.id))
        .set((
            credentials::project_id.eq(&c.project_id),
            credentials::type_.eq(&c.type_),
            credentials::encrypted_blob.eq(&c.encrypted_blob),
            credentials::key_hash.eq(&c.key_hash),
            credentials::extra.eq(&c.extra),
        ))
        .execute(conn)?;
    Ok(())
}

/// Writes the change from `base` (what the caller read) to `new` onto the credential as it is now,
/// with its row locked: attributes the caller did not change keep any concurrent update.
/// Returns the credential as written.
pub fn patch_credential(
    conn: &mut DbConnection,
    base: &Credential,
    new: &Credential,
) -> Result<Credential> {
    super::lock_row(conn, "credentials", &new.id)?;
    let current = get_credential(conn, &new.id)?
        .ok_or_else(|| crate::error::Error::not_found("credential", new.id.clone()))?;
    let merged =
        super::merge_changes!(current, base, new; project_id, type_, encrypted_blob, key_hash);
    update_credential(conn, &merged)?;
    Ok(merged)
}

/// Swaps a credential's encrypted blob for the same blob under another key, unless the blob
/// changed meanwhile; whether it was swapped. Touches nothing else of the row.
pub fn reencrypt_credential(
    conn: &mut DbConnection,
    id: &str,
    old_blob: &str,
    new_blob: &str,
    key_hash: &str,
) -> Result<bool> {
    let n = diesel::update(
        credentials::table
            .find(id)
            .filter(credentials::encrypted_blob.eq(old_blob)),
    )
    .set((
        credentials::encrypted_blob.eq(new_blob),
        credentials::key_hash.eq(key_hash),
    ))
    .execute(conn)?;
    Ok(n > 0)
}

pub fn delete_credential(conn: &mut DbConnection, id: &str) -> Result<bool> {
    Ok(diesel::delete(credentials::table.find(id)).execute(conn)? > 0)
}

/// Credentials, optionally of one user and of one type, by id.
pub fn list_credentials(
    conn: &mut DbConnection,
    user_id: Option<&str>,
    type_: Option<&str>,
) -> Result<Vec<Credential>> {
    let mut q = credentials::table
        .select(Credential::as_select())
        .into_boxed();
    if let Some(u) = user_id {
        q = q.filter(credentials::user_id.eq(u.to_string()));
    }
    if let Some(t) = type_ {
        q = q.filter(credentials::type_.eq(t.to_string()));
    }
    Ok(q.order(credentials::id.asc()).load(conn)?)
}

/// Claims TOTP time step `step` for a credential: true when it is later than every step accepted
/// before (and is now recorded), false when it was used already or an earlier-or-equal one was.
/// Each statement is atomic on its own, so two nodes racing for one step cannot both win: the
/// UPDATE only moves the step forward; the first step ever is an INSERT that only one can do.
pub fn claim_totp_step(conn: &mut DbConnection, credential_id: &str, step: i64) -> Result<bool> {
    let advance = |conn: &mut DbConnection| -> Result<bool> {
        Ok(diesel::update(
            totp_steps::table
                .filter(totp_steps::credential_id.eq(credential_id))
                .filter(totp_steps::last_step.lt(step)),
        )
        .set(totp_steps::last_step.eq(step))
        .execute(conn)?
            == 1)
    };
    if advance(conn)? {
        return Ok(true);
    }
    let inserted = super::insert_once(conn, |c| {
        diesel::insert_into(totp_steps::table)
            .values((
                totp_steps::credential_id.eq(credential_id),
                totp_steps::last_step.eq(step),
            ))
            .execute(c)
    })?;
    if inserted {
        return Ok(true);
    }
    // A row appeared between the two statements: another login's; it may still be earlier.
    advance(conn)
}
