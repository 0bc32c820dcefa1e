//! Login by email (a domain's `OS-PCU:login_by_email`): password and TOTP logins accept the
//! user's email address as `user.name`, so a domain that allows it keeps emails unique
//! (case-insensitively). Both checks run under the domain's row lock, which a change of the
//! setting takes too, so a user write and the switch cannot race past each other.

use crate::error::{Error, Result};
use crate::store::{self, DbConnection};

/// Refuses turning login by email on while two users of the domain share an address.
pub fn check_unique_in_domain(c: &mut DbConnection, domain_id: &str) -> Result<()> {
    let dups = store::duplicate_emails(c, domain_id)?;
    if let Some(first) = dups.first() {
        return Err(Error::Conflict(format!(
            "Login by email cannot be enabled for domain {domain_id}: {} email address(es) belong to more than one user (e.g. {first}); give each user its own address first.",
            dups.len()
        )));
    }
    Ok(())
}

/// Refuses giving a user of a login-by-email domain an address another user of it has.
/// `user_id` is the user being written (its own address is no conflict).
pub fn check_email_free(
    c: &mut DbConnection,
    domain_id: &str,
    email: Option<&str>,
    user_id: &str,
) -> Result<()> {
    let Some(email) = email.filter(|e| !e.is_empty()) else {
        return Ok(());
    };
    store::lock_domain(c, domain_id)?;
    let Some(domain) = store::get_domain(c, domain_id)? else {
        return Ok(());
    };
    if !domain.login_by_email {
        return Ok(());
    }
    if store::users_by_email(c, domain_id, email)?
        .iter()
        .any(|u| u.id != user_id)
    {
        return Err(Error::Conflict(format!(
            "Another user of domain {domain_id} has the email address {email}; users of a domain that logs in by email need addresses of their own."
        )));
    }
    Ok(())
}
