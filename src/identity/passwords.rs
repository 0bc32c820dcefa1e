//! The life of a password: who may set which one (the policy), what Keystone's
//! `[security_compliance]` rules make of it (expiry, change upon first use, history, minimum age,
//! inactivity), and the self-service change. Administrators' sets go through
//! `prepare_admin_set` + `PreparedPassword::write`; users' own changes through `change_password`.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::password_policy::Subject;
use crate::auth::password::Verified;
use crate::auth::revoke::{self, Revoke};
use crate::config::SecurityComplianceConfig;
use crate::error::{Error, Result};
use crate::state::State;
use crate::store::{self, DbConnection, NewPassword, User, UserOption};

pub const IGNORE_CHANGE_UPON_FIRST_USE: &str = "ignore_change_password_upon_first_use";
pub const IGNORE_EXPIRY: &str = "ignore_password_expiry";
pub const IGNORE_INACTIVITY: &str = "ignore_user_inactivity";
pub const LOCK_PASSWORD: &str = "lock_password";

/// A boolean option that is set to true.
pub fn option_on(options: &[UserOption], name: &str) -> bool {
    options.iter().any(|o| o.name == name && o.value == "true")
}

/// When a password set at `now` expires (Keystone: `password_expires_days`, whole seconds),
/// unless the user is exempt.
pub fn expiry_for(
    sc: &SecurityComplianceConfig,
    exempt: bool,
    now: NaiveDateTime,
) -> Option<NaiveDateTime> {
    let days = sc.password_expires_days.filter(|_| !exempt)?;
    let at = now + Duration::days(days.into());
    Some(at - Duration::nanoseconds(at.and_utc().timestamp_subsec_nanos().into()))
}

/// The user's password can no longer be used to log in (expired, or to be changed upon first
/// use); `ignore_password_expiry` exempts.
pub fn password_expired(user: &User, options: &[UserOption], now: DateTime<Utc>) -> bool {
    !option_on(options, IGNORE_EXPIRY)
        && user
            .password_expires_at
            .is_some_and(|at| at <= now.naive_utc())
}

/// No successful authentication (or, never, creation) for `disable_user_account_days_inactive`
/// days. The exemption (`ignore_user_inactivity`) is the caller's to check: this needs no options.
pub fn inactive_by_time(
    sc: &SecurityComplianceConfig,
    last_seen: NaiveDateTime,
    now: DateTime<Utc>,
) -> bool {
    let Some(days) = sc.disable_user_account_days_inactive else {
        return false;
    };
    now.naive_utc() - last_seen >= Duration::days(days.into())
}

/// `inactive_by_time` and not exempt.
pub fn inactive(
    sc: &SecurityComplianceConfig,
    last_seen: NaiveDateTime,
    options: &[UserOption],
    now: DateTime<Utc>,
) -> bool {
    inactive_by_time(sc, last_seen, now) && !option_on(options, IGNORE_INACTIVITY)
}

/// As `inactive`, reading the options only when time says the user might be.
pub fn inactive_in(
    c: &mut DbConnection,
    sc: &SecurityComplianceConfig,
    user: &User,
    now: DateTime<Utc>,
) -> Result<bool> {
    if !inactive_by_time(sc, user.last_seen(), now) {
        return Ok(false);
    }
    Ok(!option_on(
        &store::user_options(c, &user.id)?,
        IGNORE_INACTIVITY,
    ))
}

/// Earlier passwords kept beside the current one: enough for `unique_last_password_count`.
pub fn history_to_keep(sc: &SecurityComplianceConfig) -> i64 {
    i64::from(sc.unique_last_password_count.saturating_sub(1))
}

/// How a request by an administrator sets a password.
pub enum AdminPassword {
    Given(SecretString),
    Generate,
}

/// A password an administrator sets, checked and hashed, ready to write.
pub struct PreparedPassword {
    pub hash: String,
    /// The password, when Ironstone generated it: shown once, in the response.
    pub generated: Option<SecretString>,
}

/// Checks (or generates) and hashes a password an administrator sets for `subject`. Slow (hashing):
/// run it before the write transaction.
pub async fn prepare_admin_set(
    state: &State,
    how: AdminPassword,
    subject: &Subject<'_>,
) -> Result<PreparedPassword> {
    let (secret, generated) = match how {
        AdminPassword::Given(p) => {
            state.password_policy.check(&p, subject)?;
            (p, None)
        }
        AdminPassword::Generate => {
            let p = state.password_policy.generate(subject)?;
            (p.clone(), Some(p))
        }
    };
    let hash = state.hasher.hash(secret).await?;
    Ok(PreparedPassword { hash, generated })
}

/// Whether a password an administrator sets must be changed at first use: the operator's
/// `change_password_upon_first_use` (unless the user is exempt), or the request's explicit ask.
/// A request cannot waive the operator's rule.
pub fn change_required(
    sc: &SecurityComplianceConfig,
    requested: Option<bool>,
    exempt: bool,
) -> Result<bool> {
    let by_operator = sc.change_password_upon_first_use && !exempt;
    match requested {
        Some(false) if by_operator => Err(Error::validation(
            "Invalid input for field 'user.OS-PCU:password_change_required': this cloud requires every password an administrator sets to be changed at first use; to exempt a user, set its option ignore_change_password_upon_first_use.",
        )),
        Some(asked) => Ok(asked || by_operator),
        None => Ok(by_operator),
    }
}

impl PreparedPassword {
    /// Writes the password an administrator set: recorded in the history (not checked against
    /// it, as in Keystone), expired at once when it must be changed at first use. Returns the
    /// password when Ironstone generated it, for the response.
    pub fn write(
        &self,
        c: &mut DbConnection,
        sc: &SecurityComplianceConfig,
        user_id: &str,
        must_change: bool,
        expiry_exempt: bool,
        now: NaiveDateTime,
    ) -> Result<Option<SecretString>> {
        store::set_user_password(
            c,
            user_id,
            &NewPassword {
                hash: &self.hash,
                created_at: now,
                expires_at: if must_change {
                    Some(now)
                } else {
                    expiry_for(sc, expiry_exempt, now)
                },
                self_service: false,
                keep_history: history_to_keep(sc),
            },
        )?;
        Ok(self.generated.clone())
    }
}

/// `POST /v3/users/{id}/password` body. No `Debug`: it carries passwords.
#[derive(Deserialize)]
pub struct PasswordChange {
    pub password: SecretString,
    pub original_password: SecretString,
}

/// Self-service password change, proven by the original password rather than a token, so that a
/// user whose password expired (or must be changed) can still change it. A wrong original password
/// is the generic 401 and counts toward lockout; every other refusal writes nothing.
pub async fn change_password(
    state: &State,
    id: &str,
    req: PasswordChange,
    now: DateTime<Utc>,
) -> Result<()> {
    state.hasher.check_room()?;
    let uid = id.to_string();
    let user = state.store.run(move |c| store::get_user(c, &uid)).await?;
    let proved = crate::auth::verify_password(state, user, req.original_password, now).await?;
    let sc = &state.config.security_compliance;
    if !proved.user.enabled || inactive(sc, proved.user.last_seen(), &proved.options, now) {
        return Err(proved.refuse().await);
    }
    let crate::auth::Proved { user, options, .. } = proved;
    if option_on(&options, LOCK_PASSWORD) {
        return Err(Error::ForbiddenMsg(
            "You cannot change your password at this time due to password policy disallowing password changes. Please contact your administrator to reset your password.".into(),
        ));
    }
    let naive = now.naive_utc();
    // The minimum age binds a password the user chose and may still use; one that expired or
    // must be changed can always be replaced.
    let usable = !password_expired(&user, &options, now);
    if let Some(created) = user
        .password_created_at
        .filter(|_| user.password_self_service && usable)
    {
        let min_age = Duration::days(sc.minimum_password_age.into());
        if sc.minimum_password_age > 0 && naive < created + min_age {
            let days_left = (created + min_age - naive).num_days();
            return Err(Error::validation(format!(
                "You cannot change your password at this time due to the minimum password age. Once you change your password, it must be used for {} day(s) before it can be changed. Please try again in {days_left} day(s) or contact your administrator to reset your password.",
                sc.minimum_password_age
            )));
        }
    }
    let subject = Subject {
        name: Some(&user.name),
        email: user.email.as_deref(),
        phone: user.phone.as_deref(),
    };
    state.password_policy.check(&req.password, &subject)?;
    if sc.unique_last_password_count > 0 {
        let (uid, earlier) = (user.id.clone(), history_to_keep(sc));
        let mut recent = state
            .store
            .run(move |c| store::password_history(c, &uid, earlier))
            .await?;
        recent.extend(user.password_hash.clone());
        for hash in recent {
            if state
                .hasher
                .verify(req.password.clone(), Some(hash))
                .await?
                != Verified::No
            {
                return Err(Error::validation(format!(
                    "The new password cannot be identical to a previous password. The total number which includes the new password must be unique is {}.",
                    sc.unique_last_password_count
                )));
            }
        }
    }
    if req.password.expose_secret().len() > state.hasher.max_len() {
        return Err(Error::validation(format!(
            "Invalid input for field 'user.password': at most {} bytes are allowed.",
            state.hasher.max_len()
        )));
    }
    let hash = state.hasher.hash(req.password).await?;
    let expires = expiry_for(sc, option_on(&options, IGNORE_EXPIRY), naive);
    let keep = history_to_keep(sc);
    let keep_for = revoke::retention(state);
    let proved = user.password_created_at;
    state
        .store
        .tx(move |c| {
            // Two changes proven by the same password: only the first one stands.
            let unchanged = store::password_created_at_locked(c, &user.id)? == Some(proved);
            if !unchanged {
                return Err(Error::Conflict(
                    "The password was changed by another request meanwhile; log in with the current password and try again.".into(),
                ));
            }
            store::set_user_password(
                c,
                &user.id,
                &NewPassword {
                    hash: &hash,
                    created_at: naive,
                    expires_at: expires,
                    self_service: true,
                    keep_history: keep,
                },
            )?;
            // The cut-off is taken after the new hash is written (see `Revoker::revoke`).
            let at = now.max(Utc::now());
            revoke::record(c, Revoke::user(&user.id), at, keep_for)
        })
        .await
}
