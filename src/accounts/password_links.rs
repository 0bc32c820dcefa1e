//! `POST /v3/OS-PCU/users/{user_id}/password_link`: a set-password link for a user that has no
//! password yet, sent (or sent again, killing the previous one) to an address of the caller's
//! choice or the user's email.

use serde::Deserialize;

use super::delivery::{self, LinkOutcome, Mail, MailVars};
use super::links;
use crate::assignment::reach::Reach;
use crate::context::{found, Ctx};
use crate::error::{Error, Result};
use crate::policy::Target;
use crate::store::{self, User};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PasswordLinkRequest {
    /// Where the link goes; default the user's email.
    pub email: Option<String>,
    /// Seconds the link is valid (5 up to `[links] ttl_seconds`); default `ttl_seconds`.
    pub expires_in: Option<u64>,
}

/// The address a link goes to: `given` (checked), else the user's email, else a 400 naming
/// `field`.
pub(crate) fn link_address(
    given: Option<String>,
    fallback: Option<&str>,
    field: &str,
) -> Result<String> {
    let address = given
        .map(|e| e.trim().to_string())
        .or_else(|| fallback.map(str::to_string))
        .filter(|e| !e.is_empty())
        .ok_or_else(|| {
            Error::validation(format!(
                "Invalid input for field '{field}': the user has no email; give the address the link goes to."
            ))
        })?;
    if !address.contains('@') || address.len() > 255 || address.chars().any(char::is_whitespace) {
        return Err(Error::validation(format!(
            "Invalid input for field '{field}': expecting an address like name@example.com."
        )));
    }
    Ok(address)
}

pub(crate) fn has_password_conflict(user: &User) -> Error {
    Error::Conflict(format!(
        "User {} has set a password already; a set-password link is for users without one. To give it a new password, use PATCH /v3/users/{} with a password or OS-PCU:generate_password.",
        user.name, user.id
    ))
}

/// The variables of the set-password email for `user`.
pub(crate) fn password_mail_vars(c: &mut store::DbConnection, user: &User) -> Result<MailVars> {
    let domain = found(
        store::get_domain(c, &user.domain_id)?,
        "domain",
        &user.domain_id,
    )?;
    let project = match user
        .bound_project_id
        .as_ref()
        .or(user.default_project_id.as_ref())
    {
        Some(p) => store::get_project(c, p)?,
        None => None,
    };
    Ok(MailVars {
        user_name: Some(user.name.clone()),
        domain_name: domain.name,
        project_name: project.map(|p| p.name),
        inviter_name: None,
        roles: vec![],
    })
}

fn target(u: &User) -> Target<'_> {
    Target {
        user_id: Some(&u.id),
        domain_id: Some(&u.domain_id),
        ..Default::default()
    }
}

pub async fn send_password_link(
    ctx: &Ctx<'_>,
    user_id: &str,
    req: PasswordLinkRequest,
) -> Result<LinkOutcome> {
    let (id, realm, caller_domain) = (
        user_id.to_string(),
        ctx.state.realm.clone(),
        ctx.domain_id().to_string(),
    );
    let (user, privileged) = ctx
        .state
        .store
        .run(move |c| {
            let user = found(store::get_user(c, &id)?, "user", &id)?;
            let privileged = Reach::load(c, &realm, &caller_domain)?.user_privileged(c, &id)?;
            Ok((user, privileged))
        })
        .await?;
    ctx.enforce(
        "send_password_link",
        Target {
            protected: privileged,
            ..target(&user)
        },
    )?;
    if user.password_hash.is_some() {
        return Err(has_password_conflict(&user));
    }
    let to = link_address(req.email, user.email.as_deref(), "link.email")?;
    let lifetime = links::lifetime(ctx.state, req.expires_in, "link.expires_in")?;
    let guard = ctx.realm_guard("send_password_link");
    let now = ctx.now;
    let sent_to = to.clone();
    let (issued, vars) = ctx
        .state
        .store
        .tx(move |c| {
            guard.check(c, target(&user), |reach, c| {
                reach.user_privileged(c, &user.id)
            })?;
            store::password_created_at_locked(c, &user.id)?;
            let user = found(store::get_user(c, &user.id)?, "user", &user.id)?;
            if user.password_hash.is_some() {
                return Err(has_password_conflict(&user));
            }
            let issued = links::issue(
                c,
                links::Subject::Password { user_id: &user.id },
                Some(&sent_to),
                now,
                lifetime,
            )?;
            Ok((issued, password_mail_vars(c, &user)?))
        })
        .await?;
    Ok(delivery::deliver(ctx.state, &issued, &to, Mail::SetPassword, &vars).await)
}
