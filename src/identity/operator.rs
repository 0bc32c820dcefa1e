//! What an operator does from the server machine (`ironstone user ...`), with database access
//! and no token: the way back in when nobody can log in any more.

use chrono::{DateTime, Utc};
use secrecy::SecretString;

use super::password_policy::Subject;
use super::passwords::{self, AdminPassword};
use crate::auth::revoke::{self, Revoke};
use crate::error::{Error, Result};
use crate::resource::{self, DomainRef};
use crate::state::State;
use crate::store::{self, User};

/// A user by name in a domain given by name or id.
async fn find_user(state: &State, domain: &str, name: &str) -> Result<User> {
    let (domain, name) = (domain.to_string(), name.to_string());
    state
        .store
        .run(move |c| {
            let by_name = resource::find_domain(
                c,
                &DomainRef {
                    id: None,
                    name: Some(domain.clone()),
                },
            )?;
            let d = match by_name {
                Some(d) => Some(d),
                None => store::get_domain(c, &domain)?,
            }
            .ok_or_else(|| Error::NotFoundMsg(format!("There is no domain {domain:?}.")))?;
            store::get_user_by_name(c, &d.id, &name)?.ok_or_else(|| {
                Error::NotFoundMsg(format!(
                    "There is no user {name:?} in domain {:?} ({}).",
                    d.name, d.id
                ))
            })
        })
        .await
}

/// Lifts a lockout and an inactivity mark: the user may log in again with its password.
/// Returns the user as it was (for the report).
pub async fn unlock(state: &State, domain: &str, name: &str, now: DateTime<Utc>) -> Result<User> {
    let user = find_user(state, domain, name).await?;
    let (id, at) = (user.id.clone(), now.naive_utc());
    state
        .store
        .tx(move |c| store::record_auth_success(c, &id, at))
        .await?;
    Ok(user)
}

/// Sets a user's password as an administrator would (policy checked, history recorded, tokens
/// revoked) and lifts its lockout. Returns the user and the password when it was generated.
pub async fn reset_password(
    state: &State,
    domain: &str,
    name: &str,
    password: Option<SecretString>,
    require_change: bool,
    now: DateTime<Utc>,
) -> Result<(User, Option<SecretString>)> {
    let user = find_user(state, domain, name).await?;
    let options = {
        let id = user.id.clone();
        state
            .store
            .run(move |c| store::user_options(c, &id))
            .await?
    };
    let sc = &state.config.security_compliance;
    let must_change = passwords::change_required(
        sc,
        require_change.then_some(true),
        passwords::option_on(&options, passwords::IGNORE_CHANGE_UPON_FIRST_USE),
    )?;
    let how = match password {
        Some(p) => AdminPassword::Given(p),
        None => AdminPassword::Generate,
    };
    let subject = Subject {
        name: Some(&user.name),
        email: user.email.as_deref(),
        phone: user.phone.as_deref(),
    };
    let prepared = passwords::prepare_admin_set(state, how, &subject).await?;
    let exempt = passwords::option_on(&options, passwords::IGNORE_EXPIRY);
    let (id, at) = (user.id.clone(), now.naive_utc());
    let config = state.config.clone();
    let keep_for = revoke::retention(state);
    let prepared = std::sync::Arc::new(prepared);
    let written = prepared.clone();
    let generated = state
        .store
        .tx(move |c| {
            let generated =
                written.write(c, &config.security_compliance, &id, must_change, exempt, at)?;
            store::record_auth_success(c, &id, at)?;
            revoke::record(c, Revoke::user(&id), now.max(Utc::now()), keep_for)?;
            Ok(generated)
        })
        .await?;
    Ok((user, generated))
}
