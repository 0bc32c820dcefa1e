//! Facts about the cloud decided once (the admin project's id, whether bootstrap ran).

use diesel::prelude::*;

use super::schema::system_facts;
use super::DbConnection;
use crate::error::Result;

pub const FACT_ADMIN_PROJECT_ID: &str = "admin_project_id";
pub const FACT_ADMIN_USER_ID: &str = "admin_user_id";
pub const FACT_BOOTSTRAPPED_AT: &str = "bootstrapped_at";

pub fn get_fact(conn: &mut DbConnection, name: &str) -> Result<Option<String>> {
    Ok(system_facts::table
        .find(name)
        .select(system_facts::value)
        .first(conn)
        .optional()?)
}

/// Records `name` unless it is already recorded; returns the value that stands. Two nodes
/// recording at once: one insert wins and both return its value.
pub fn record_fact_once(conn: &mut DbConnection, name: &str, value: &str) -> Result<String> {
    if let Some(v) = get_fact(conn, name)? {
        return Ok(v);
    }
    let inserted = super::insert_once(conn, |c| {
        diesel::insert_into(system_facts::table)
            .values((system_facts::name.eq(name), system_facts::value.eq(value)))
            .execute(c)
    })?;
    if inserted {
        return Ok(value.to_string());
    }
    get_fact(conn, name)?.ok_or_else(|| {
        crate::error::Error::internal(format!("fact {name} vanished while being recorded"))
    })
}

/// Records `name` = `value`, replacing what was recorded.
pub fn set_fact(conn: &mut DbConnection, name: &str, value: &str) -> Result<()> {
    let updated = diesel::update(system_facts::table.find(name))
        .set(system_facts::value.eq(value))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(system_facts::table)
            .values((system_facts::name.eq(name), system_facts::value.eq(value)))
            .execute(conn)?;
    }
    Ok(())
}

/// Serializes the writes that change or depend on who reaches the operator's realm (grants,
/// memberships, implications, changes to privileged principals) across nodes: on PostgreSQL the
/// admin project's fact row is locked for the rest of the transaction. SQLite's write
/// transactions are serialized already.
pub fn lock_realm(conn: &mut DbConnection) -> Result<()> {
    if let DbConnection::Postgresql(pg) = conn {
        system_facts::table
            .find(FACT_ADMIN_PROJECT_ID)
            .select(system_facts::name)
            .for_update()
            .load::<String>(pg)?;
    }
    Ok(())
}
