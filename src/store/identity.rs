//! Users, their options and password history; groups and memberships.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::filter::{filter_text, TextFilter};
use super::models::{Group, ListedUser, User, UserOption, UserProfile, ACTOR_GROUP, ACTOR_USER};
use super::schema::{
    groups, password_history, role_assignments, user_group_memberships, user_options, users,
};
use super::{on_conflict, DbConnection};
use crate::error::Result;

pub fn get_user(conn: &mut DbConnection, id: &str) -> Result<Option<User>> {
    Ok(users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .optional()?)
}

pub fn get_user_by_name(
    conn: &mut DbConnection,
    domain_id: &str,
    name: &str,
) -> Result<Option<User>> {
    Ok(users::table
        .filter(users::domain_id.eq(domain_id))
        .filter(users::name.eq(name))
        .select(User::as_select())
        .first(conn)
        .optional()?)
}

fn user_conflict(u: &User) -> impl FnOnce() -> String + '_ {
    move || {
        format!(
            "Conflict occurred attempting to store user - Duplicate entry found with name {} at domain ID {}.",
            u.name, u.domain_id
        )
    }
}

pub fn insert_user(conn: &mut DbConnection, u: &User) -> Result<()> {
    diesel::insert_into(users::table)
        .values(u)
        .execute(conn)
        .map_err(on_conflict(user_conflict(u)))?;
    Ok(())
}

/// Writes every mutable attribute of `u` (not the password or the failure counters).
pub fn update_user(conn: &mut DbConnection, u: &User) -> Result<()> {
    diesel::update(users::table.find(&u.id))
        .set((
            users::name.eq(&u.name),
            users::enabled.eq(u.enabled),
            users::default_project_id.eq(&u.default_project_id),
            users::email.eq(&u.email),
            users::phone.eq(&u.phone),
            users::description.eq(&u.description),
            users::extra.eq(&u.extra),
            users::bound_project_id.eq(&u.bound_project_id),
        ))
        .execute(conn)
        .map_err(on_conflict(user_conflict(u)))?;
    Ok(())
}

/// Writes the change from `base` (what the caller read) to `new` onto the user as it is now,
/// with its row locked: attributes the caller did not change keep any concurrent update.
/// Returns the user as written.
pub fn patch_user(conn: &mut DbConnection, base: &User, new: &User) -> Result<User> {
    super::lock_row(conn, "users", &new.id)?;
    let current = get_user(conn, &new.id)?
        .ok_or_else(|| crate::error::Error::not_found("user", new.id.clone()))?;
    let merged = super::merge_changes!(current, base, new; name, enabled, default_project_id, email, phone, description, bound_project_id);
    update_user(conn, &merged)?;
    Ok(merged)
}

/// A password about to become a user's current one.
pub struct NewPassword<'a> {
    pub hash: &'a str,
    pub created_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
    /// Chosen by the user (self-service) rather than set by an administrator.
    pub self_service: bool,
    /// Earlier passwords to keep in the history (the current one is not in it).
    pub keep_history: i64,
}

/// Replaces the current password, moving the old hash into the history (trimmed to
/// `keep_history` entries) and clearing the failure counter.
pub fn set_user_password(conn: &mut DbConnection, user_id: &str, p: &NewPassword) -> Result<()> {
    let old: Option<(Option<String>, Option<NaiveDateTime>)> = users::table
        .find(user_id)
        .select((users::password_hash, users::password_created_at))
        .first(conn)
        .optional()?;
    if let (Some((Some(old_hash), created)), true) = (old, p.keep_history > 0) {
        diesel::insert_into(password_history::table)
            .values((
                password_history::id.eq(crate::ids::new_id()),
                password_history::user_id.eq(user_id),
                password_history::password_hash.eq(old_hash),
                password_history::created_at.eq(created.unwrap_or(p.created_at)),
            ))
            .execute(conn)?;
    }
    let stale: Vec<String> = password_history::table
        .filter(password_history::user_id.eq(user_id))
        .order((
            password_history::created_at.desc(),
            password_history::id.desc(),
        ))
        .offset(p.keep_history.max(0))
        .select(password_history::id)
        .load(conn)?;
    if !stale.is_empty() {
        diesel::delete(password_history::table.filter(password_history::id.eq_any(stale)))
            .execute(conn)?;
    }
    diesel::update(users::table.find(user_id))
        .set((
            users::password_hash.eq(p.hash),
            users::password_created_at.eq(p.created_at),
            users::password_expires_at.eq(p.expires_at),
            users::password_self_service.eq(p.self_service),
            users::failed_auth_count.eq(0),
            users::failed_auth_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    Ok(())
}

/// Expires the current password at `at`: the user must change it before logging in again.
pub fn expire_user_password(
    conn: &mut DbConnection,
    user_id: &str,
    at: NaiveDateTime,
) -> Result<()> {
    diesel::update(
        users::table
            .find(user_id)
            .filter(users::password_hash.is_not_null()),
    )
    .set(users::password_expires_at.eq(at))
    .execute(conn)?;
    Ok(())
}

/// Swaps in a re-computed hash of the same password (parameters changed); no history entry.
pub fn rehash_user_password(
    conn: &mut DbConnection,
    user_id: &str,
    old_hash: &str,
    new_hash: &str,
) -> Result<()> {
    diesel::update(
        users::table
            .find(user_id)
            .filter(users::password_hash.eq(old_hash)),
    )
    .set(users::password_hash.eq(new_hash))
    .execute(conn)?;
    Ok(())
}

/// The last `n` earlier password hashes, newest first.
pub fn password_history(conn: &mut DbConnection, user_id: &str, n: i64) -> Result<Vec<String>> {
    Ok(password_history::table
        .filter(password_history::user_id.eq(user_id))
        .order(password_history::created_at.desc())
        .limit(n)
        .select(password_history::password_hash)
        .load(conn)?)
}

pub fn record_auth_failure(
    conn: &mut DbConnection,
    user_id: &str,
    now: NaiveDateTime,
) -> Result<()> {
    diesel::update(users::table.find(user_id))
        .set((
            users::failed_auth_count.eq(users::failed_auth_count + 1),
            users::failed_auth_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// A successful login, or an administrator lifting a lockout and an inactivity mark (Keystone
/// does this when a user is enabled): the failure counter is cleared and the user counts as
/// active from `now`.
pub fn record_auth_success(
    conn: &mut DbConnection,
    user_id: &str,
    now: NaiveDateTime,
) -> Result<()> {
    diesel::update(users::table.find(user_id))
        .set((
            users::failed_auth_count.eq(0),
            users::failed_auth_at.eq(None::<NaiveDateTime>),
            users::last_active_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Deletes a user and everything hanging off it (memberships, options, history, credentials and
/// application credentials cascade in SQL; assignments are polymorphic and removed here).
pub fn delete_user(conn: &mut DbConnection, id: &str) -> Result<()> {
    diesel::delete(
        role_assignments::table
            .filter(role_assignments::actor_type.eq(ACTOR_USER))
            .filter(role_assignments::actor_id.eq(id)),
    )
    .execute(conn)?;
    diesel::delete(users::table.find(id)).execute(conn)?;
    Ok(())
}

/// Locks a project's row until the transaction ends: a bind to it and its deletion, each taking
/// this lock first, see each other's outcome (PostgreSQL; SQLite serializes writes anyway).
pub fn lock_project(conn: &mut DbConnection, project_id: &str) -> Result<()> {
    super::lock_row(conn, "projects", project_id)
}

/// The bound users among `user_ids`, each with its project, in one query.
pub fn bound_projects_of(
    conn: &mut DbConnection,
    user_ids: &[String],
) -> Result<Vec<(String, String)>> {
    let mut out = vec![];
    for chunk in user_ids.chunks(500) {
        let rows: Vec<(String, Option<String>)> = users::table
            .filter(users::id.eq_any(chunk))
            .filter(users::bound_project_id.is_not_null())
            .select((users::id, users::bound_project_id))
            .order(users::id.asc())
            .load(conn)?;
        out.extend(rows.into_iter().filter_map(|(u, p)| Some((u, p?))));
    }
    Ok(out)
}

/// The users bound to a project.
pub fn user_ids_bound_to(conn: &mut DbConnection, project_id: &str) -> Result<Vec<String>> {
    Ok(users::table
        .filter(users::bound_project_id.eq(project_id))
        .select(users::id)
        .order(users::id.asc())
        .load(conn)?)
}

#[derive(Debug, Default, Clone)]
pub struct UserFilter {
    pub name: Option<TextFilter>,
    pub email: Option<TextFilter>,
    pub phone: Option<TextFilter>,
    pub domain_id: Option<String>,
    pub enabled: Option<bool>,
    pub bound_project_id: Option<String>,
    /// Users with (true) or without (false) a password (`OS-PCU:status` active / pending).
    pub password_set: Option<bool>,
    /// `OS-PCU:mfa_enabled`: MFA rules enforced (enabled, rules set) and a TOTP credential.
    pub mfa_enabled: Option<bool>,
    /// With `enabled`: users last active (or, never active, created) before this moment count
    /// as disabled unless exempt (`disable_user_account_days_inactive`).
    pub inactive_before: Option<NaiveDateTime>,
    pub ids: Option<Vec<String>>,
    pub marker: Option<String>,
    pub limit: Option<i64>,
}

impl UserFilter {
    /// This filter for one page: sorted by id, after `marker`, at most `limit` rows.
    pub fn page(self, marker: Option<String>, limit: Option<i64>) -> UserFilter {
        UserFilter {
            marker,
            limit,
            ..self
        }
    }
}

/// Whether the listed user has a TOTP credential / any option: correlated probes, in SQL both
/// backends read alike (diesel builds no correlated subquery). Written out, not bound: constant.
const HAS_TOTP: &str =
    "EXISTS (SELECT 1 FROM credentials c WHERE c.user_id = users.id AND c.type = 'totp')";
const HAS_OPTIONS: &str = "EXISTS (SELECT 1 FROM user_options o WHERE o.user_id = users.id)";

/// A constant boolean SQL fragment over a `users` row. Unlike `diesel::dsl::sql` (which cannot
/// know its text is fixed), it leaves the statement cacheable: a list is planned once per
/// connection, not on every request.
#[derive(Debug, Clone, Copy)]
struct UserProbe(&'static str);

impl diesel::query_builder::QueryId for UserProbe {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::Expression for UserProbe {
    type SqlType = diesel::sql_types::Bool;
}

impl<GB> diesel::expression::ValidGrouping<GB> for UserProbe {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

impl diesel::AppearsOnTable<users::table> for UserProbe {}
impl diesel::SelectableExpression<users::table> for UserProbe {}

impl<DB: diesel::backend::Backend> diesel::query_builder::QueryFragment<DB> for UserProbe {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> diesel::QueryResult<()> {
        out.push_sql(self.0);
        Ok(())
    }
}

/// The users of one page, in order: ids and what is read fresh for every page (the profiles
/// come from `user_profiles`, or the cache).
pub fn list_users(conn: &mut DbConnection, f: &UserFilter) -> Result<Vec<ListedUser>> {
    let each = |ids| UserFilter {
        ids: Some(ids),
        ..f.clone()
    };
    if let Some(rows) = super::list_in_chunks(
        f.ids.as_ref(),
        f.limit,
        |ids| list_users(conn, &each(ids)),
        |u| u.id.clone(),
    ) {
        return rows;
    }
    let mut q = users::table
        .select((users::id, users::last_active_at, UserProbe(HAS_TOTP)))
        .into_boxed();
    if let Some(name) = &f.name {
        q = filter_text!(q, users::name, name);
    }
    if let Some(email) = &f.email {
        q = filter_text!(q, users::email.assume_not_null(), email);
    }
    if let Some(phone) = &f.phone {
        q = filter_text!(q, users::phone.assume_not_null(), phone);
    }
    if let Some(d) = &f.domain_id {
        q = q.filter(users::domain_id.eq(d.clone()));
    }
    if let Some(p) = &f.bound_project_id {
        q = q.filter(users::bound_project_id.eq(p.clone()));
    }
    match f.password_set {
        Some(true) => q = q.filter(users::password_hash.is_not_null()),
        Some(false) => q = q.filter(users::password_hash.is_null()),
        None => {}
    }
    if let Some(want) = f.mfa_enabled {
        // `identity::mfa::rules_of` in SQL: enforced when enabled with rules of its own or a
        // domain that requires MFA, or not set at all in such a domain; and a TOTP credential.
        use super::schema::{credentials, domains};
        use crate::identity::mfa::{MFA_ENABLED, MFA_RULES};
        let option = |name: &'static str| {
            user_options::table
                .filter(user_options::name.eq(name))
                .select(user_options::user_id)
        };
        let enabled = option(MFA_ENABLED).filter(user_options::value.eq("true"));
        // Stored rules are validated (no empty rule, known methods): any but `[]` enforce.
        let ruled = option(MFA_RULES).filter(user_options::value.ne("[]"));
        let requiring = || {
            domains::table
                .filter(domains::mfa_required.eq(true))
                .select(domains::id)
        };
        let with_totp = credentials::table
            .filter(credentials::type_.eq(crate::auth::totp::TOTP_TYPE))
            .select(credentials::user_id);
        let enforced = users::id
            .eq_any(enabled)
            .and(
                users::id
                    .eq_any(ruled)
                    .or(users::domain_id.eq_any(requiring())),
            )
            .or(diesel::dsl::not(users::id.eq_any(option(MFA_ENABLED)))
                .and(users::domain_id.eq_any(requiring())));
        let on = enforced.and(users::id.eq_any(with_totp));
        q = if want {
            q.filter(on)
        } else {
            q.filter(diesel::dsl::not(on))
        };
    }
    match (f.enabled, f.inactive_before) {
        (Some(enabled), None) => q = q.filter(users::enabled.eq(enabled)),
        (Some(enabled), Some(cutoff)) => {
            let exempt = user_options::table
                .filter(user_options::name.eq(crate::identity::passwords::IGNORE_INACTIVITY))
                .filter(user_options::value.eq("true"))
                .select(user_options::user_id);
            let active = users::last_active_at
                .gt(cutoff)
                .or(users::last_active_at
                    .is_null()
                    .and(users::created_at.gt(cutoff)))
                .assume_not_null()
                .or(users::id.eq_any(exempt));
            q = if enabled {
                q.filter(users::enabled.eq(true).and(active))
            } else {
                q.filter(users::enabled.eq(false).or(diesel::dsl::not(active)))
            };
        }
        (None, _) => {}
    }
    if let Some(ids) = &f.ids {
        q = q.filter(users::id.eq_any(ids.clone()));
    }
    if let Some(marker) = &f.marker {
        q = q.filter(users::id.gt(marker.clone()));
    }
    if let Some(limit) = f.limit {
        q = q.limit(limit);
    }
    Ok(q.order(users::id.asc()).load(conn)?)
}

/// The profiles of these users (those that exist), each with whether it has any option.
pub fn user_profiles(conn: &mut DbConnection, ids: &[String]) -> Result<Vec<(UserProfile, bool)>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(super::MAX_IN_LIST) {
        out.extend(
            users::table
                .filter(users::id.eq_any(chunk))
                .select((UserProfile::as_select(), UserProbe(HAS_OPTIONS)))
                .load::<(UserProfile, bool)>(conn)?,
        );
    }
    Ok(out)
}

pub fn user_options(conn: &mut DbConnection, user_id: &str) -> Result<Vec<UserOption>> {
    Ok(user_options::table
        .filter(user_options::user_id.eq(user_id))
        .select(UserOption::as_select())
        .load(conn)?)
}

/// The options of many users in one query per `MAX_IN_LIST` users, grouped by user.
pub fn user_options_of(
    conn: &mut DbConnection,
    user_ids: &[String],
) -> Result<std::collections::HashMap<String, Vec<UserOption>>> {
    let mut out: std::collections::HashMap<String, Vec<UserOption>> = Default::default();
    for chunk in user_ids.chunks(super::MAX_IN_LIST) {
        let rows: Vec<UserOption> = user_options::table
            .filter(user_options::user_id.eq_any(chunk))
            .select(UserOption::as_select())
            .load(conn)?;
        for o in rows {
            out.entry(o.user_id.clone()).or_default().push(o);
        }
    }
    Ok(out)
}

/// Sets (`Some`) or removes (`None`) one user option.
pub fn set_user_option(
    conn: &mut DbConnection,
    user_id: &str,
    name: &str,
    value: Option<&str>,
) -> Result<()> {
    let Some(value) = value else {
        diesel::delete(user_options::table.find((user_id, name))).execute(conn)?;
        return Ok(());
    };
    // Update first: concurrent requests setting the same option then never collide on insert;
    // one that inserts second (a duplicate) updates instead.
    let set = |c: &mut DbConnection| {
        diesel::update(user_options::table.find((user_id, name)))
            .set(user_options::value.eq(value))
            .execute(c)
    };
    if set(conn)? == 0
        && !super::insert_once(conn, |c| {
            diesel::insert_into(user_options::table)
                .values((
                    user_options::user_id.eq(user_id),
                    user_options::name.eq(name),
                    user_options::value.eq(value),
                ))
                .execute(c)
        })?
    {
        set(conn)?;
    }
    Ok(())
}

pub fn get_group(conn: &mut DbConnection, id: &str) -> Result<Option<Group>> {
    Ok(groups::table
        .find(id)
        .select(Group::as_select())
        .first(conn)
        .optional()?)
}

fn group_conflict(g: &Group) -> impl FnOnce() -> String + '_ {
    move || {
        format!(
            "Conflict occurred attempting to store group - Duplicate entry found with name {} at domain ID {}.",
            g.name, g.domain_id
        )
    }
}

pub fn insert_group(conn: &mut DbConnection, g: &Group) -> Result<()> {
    diesel::insert_into(groups::table)
        .values(g)
        .execute(conn)
        .map_err(on_conflict(group_conflict(g)))?;
    Ok(())
}

pub fn update_group(conn: &mut DbConnection, g: &Group) -> Result<()> {
    diesel::update(groups::table.find(&g.id))
        .set((
            groups::name.eq(&g.name),
            groups::description.eq(&g.description),
            groups::extra.eq(&g.extra),
        ))
        .execute(conn)
        .map_err(on_conflict(group_conflict(g)))?;
    Ok(())
}

/// Writes the change from `base` (what the caller read) to `new` onto the group as it is now,
/// with its row locked: attributes the caller did not change keep any concurrent update.
/// Returns the group as written.
pub fn patch_group(conn: &mut DbConnection, base: &Group, new: &Group) -> Result<Group> {
    super::lock_row(conn, "groups", &new.id)?;
    let current = get_group(conn, &new.id)?
        .ok_or_else(|| crate::error::Error::not_found("group", new.id.clone()))?;
    let merged = super::merge_changes!(current, base, new; name, description);
    update_group(conn, &merged)?;
    Ok(merged)
}

pub fn delete_group(conn: &mut DbConnection, id: &str) -> Result<()> {
    diesel::delete(
        role_assignments::table
            .filter(role_assignments::actor_type.eq(ACTOR_GROUP))
            .filter(role_assignments::actor_id.eq(id)),
    )
    .execute(conn)?;
    diesel::delete(groups::table.find(id)).execute(conn)?;
    Ok(())
}

#[derive(Debug, Default, Clone)]
pub struct GroupFilter {
    pub name: Option<TextFilter>,
    pub domain_id: Option<String>,
    pub ids: Option<Vec<String>>,
    /// With `marker` or `limit`: sorted by id, after `marker`, at most `limit` (a page);
    /// otherwise sorted by name.
    pub marker: Option<String>,
    pub limit: Option<i64>,
}

pub fn list_groups(conn: &mut DbConnection, f: &GroupFilter) -> Result<Vec<Group>> {
    let paged = f.marker.is_some() || f.limit.is_some();
    let each = |ids| GroupFilter {
        ids: Some(ids),
        ..f.clone()
    };
    if let Some(rows) = super::list_in_chunks(
        f.ids.as_ref(),
        f.limit,
        |ids| list_groups(conn, &each(ids)),
        |g| if paged { g.id.clone() } else { g.name.clone() },
    ) {
        return rows;
    }
    let mut q = groups::table.select(Group::as_select()).into_boxed();
    if let Some(name) = &f.name {
        q = filter_text!(q, groups::name, name);
    }
    if let Some(d) = &f.domain_id {
        q = q.filter(groups::domain_id.eq(d.clone()));
    }
    if let Some(ids) = &f.ids {
        q = q.filter(groups::id.eq_any(ids.clone()));
    }
    if !paged {
        return Ok(q.order(groups::name.asc()).load(conn)?);
    }
    if let Some(marker) = &f.marker {
        q = q.filter(groups::id.gt(marker.clone()));
    }
    if let Some(limit) = f.limit {
        q = q.limit(limit);
    }
    Ok(q.order(groups::id.asc()).load(conn)?)
}

pub fn add_user_to_group(conn: &mut DbConnection, user_id: &str, group_id: &str) -> Result<()> {
    if is_user_in_group(conn, user_id, group_id)? {
        return Ok(());
    }
    super::insert_once(conn, |c| {
        diesel::insert_into(user_group_memberships::table)
            .values((
                user_group_memberships::user_id.eq(user_id),
                user_group_memberships::group_id.eq(group_id),
            ))
            .execute(c)
    })?;
    Ok(())
}

pub fn remove_user_from_group(
    conn: &mut DbConnection,
    user_id: &str,
    group_id: &str,
) -> Result<bool> {
    let n =
        diesel::delete(user_group_memberships::table.find((user_id, group_id))).execute(conn)?;
    Ok(n > 0)
}

pub fn is_user_in_group(conn: &mut DbConnection, user_id: &str, group_id: &str) -> Result<bool> {
    let n: i64 = user_group_memberships::table
        .find((user_id, group_id))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

pub fn group_ids_of_user(conn: &mut DbConnection, user_id: &str) -> Result<Vec<String>> {
    Ok(user_group_memberships::table
        .filter(user_group_memberships::user_id.eq(user_id))
        .select(user_group_memberships::group_id)
        .load(conn)?)
}

pub fn user_ids_in_group(conn: &mut DbConnection, group_id: &str) -> Result<Vec<String>> {
    Ok(user_group_memberships::table
        .filter(user_group_memberships::group_id.eq(group_id))
        .select(user_group_memberships::user_id)
        .load(conn)?)
}

/// Removes a user's password (it can no longer log in with one); the old hash joins the history.
pub fn clear_user_password(conn: &mut DbConnection, user_id: &str) -> Result<()> {
    diesel::update(users::table.find(user_id))
        .set((
            users::password_hash.eq(None::<String>),
            users::password_created_at.eq(None::<NaiveDateTime>),
            users::password_expires_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    Ok(())
}

/// Ids of the users of a domain (for cascades when the domain goes).
pub fn user_ids_in_domain(conn: &mut DbConnection, domain_id: &str) -> Result<Vec<String>> {
    Ok(users::table
        .filter(users::domain_id.eq(domain_id))
        .select(users::id)
        .load(conn)?)
}

pub fn group_ids_in_domain(conn: &mut DbConnection, domain_id: &str) -> Result<Vec<String>> {
    Ok(groups::table
        .filter(groups::domain_id.eq(domain_id))
        .select(groups::id)
        .load(conn)?)
}

/// What a login proved about a user, read again at issue time: `(enabled, password_created_at)`.
/// On PostgreSQL the row is share-locked for the rest of the transaction, so that a concurrent
/// password change either committed before this read (and is seen) or writes after it (and its
/// revocation, recorded later, covers the token). SQLite's write transactions are serialized.
pub fn user_credential_state_locked(
    conn: &mut DbConnection,
    user_id: &str,
) -> Result<Option<(bool, Option<NaiveDateTime>)>> {
    let q = users::table
        .find(user_id)
        .select((users::enabled, users::password_created_at));
    Ok(match conn {
        DbConnection::Postgresql(pg) => q.for_share().first(pg).optional()?,
        DbConnection::Sqlite(lite) => q.first(lite).optional()?,
    })
}

/// When the user's current password was set, read with the user's row locked for update, so
/// that two writers proven by the same password are ordered.
pub fn password_created_at_locked(
    conn: &mut DbConnection,
    user_id: &str,
) -> Result<Option<Option<NaiveDateTime>>> {
    super::lock_row(conn, "users", user_id)?;
    Ok(users::table
        .find(user_id)
        .select(users::password_created_at)
        .first(conn)
        .optional()?)
}

/// The user authenticated at `now` (by other means than its password: counters stay).
pub fn touch_user_activity(
    conn: &mut DbConnection,
    user_id: &str,
    now: NaiveDateTime,
) -> Result<()> {
    diesel::update(users::table.find(user_id))
        .set(users::last_active_at.eq(now))
        .execute(conn)?;
    Ok(())
}

/// The users of a domain whose email is `email`, compared case-insensitively (by the database's
/// `lower()`, the same on both sides).
pub fn users_by_email(conn: &mut DbConnection, domain_id: &str, email: &str) -> Result<Vec<User>> {
    use super::filter::lower;
    Ok(users::table
        .filter(users::domain_id.eq(domain_id))
        .filter(lower(users::email.assume_not_null()).eq(lower(email.to_string())))
        .select(User::as_select())
        .order(users::id.asc())
        .load(conn)?)
}

/// Email addresses that more than one user of the domain has (case-insensitively), lower-cased.
pub fn duplicate_emails(conn: &mut DbConnection, domain_id: &str) -> Result<Vec<String>> {
    use super::filter::lower;
    let mut rows: Vec<String> = users::table
        .filter(users::domain_id.eq(domain_id))
        .filter(users::email.is_not_null())
        .select(lower(users::email.assume_not_null()))
        .load(conn)?;
    rows.sort();
    let mut dups: Vec<String> = rows
        .windows(2)
        .filter(|w| w[0] == w[1])
        .map(|w| w[0].clone())
        .collect();
    dups.dedup();
    Ok(dups)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totp_probe_names_the_totp_type() {
        let quoted = format!("c.type = '{}'", crate::auth::totp::TOTP_TYPE);
        assert!(HAS_TOTP.contains(&quoted), "{HAS_TOTP}");
    }
}
