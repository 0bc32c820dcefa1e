//! `GET`/`POST /account/link/{secret}`: the page a one-time link opens. `GET` shows what the
//! link is for and its form; `POST` checks the CSRF pair, then sets the password or accepts the
//! invitation (`accounts::redeem`) and shows the user name with the lines to log in. A refused
//! password shows the form again with the policy's reasons; a link that cannot be used shows
//! what happened and what to do. The secret appears in no log and in no page.

use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{SecondsFormat, Utc};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use super::{cloud_name, csrf, exports, form, message, page};
use crate::accounts::redeem::{self, Completed, LinkInfo, LinkKind};
use crate::error::Error;
use crate::state::State;

pub async fn show(
    req: HttpRequest,
    state: web::Data<State>,
    secret: web::Path<String>,
) -> HttpResponse {
    let now = Utc::now();
    match redeem::inspect(&state, &secret, now).await {
        Ok(info) => form_page(&req, &state, &info, StatusCode::OK, None),
        Err(e) => refusal(&state, &e),
    }
}

pub async fn submit(
    req: HttpRequest,
    state: web::Data<State>,
    secret: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let now = Utc::now();
    let fields = match form::read(payload).await.and_then(|b| form::parse(&b)) {
        Ok(f) => f,
        Err(form::BodyError::TooLarge) => return message(
            &state,
            StatusCode::PAYLOAD_TOO_LARGE,
            "Form too large",
            "The form sent more than this page accepts. Open the link again and fill in the form.",
            true,
        ),
        Err(form::BodyError::Unreadable) => {
            return message(
                &state,
                StatusCode::BAD_REQUEST,
                "Form not understood",
                "The form could not be read. Open the link again and fill in the form.",
                true,
            )
        }
    };
    if csrf::check(&req, fields.csrf_token.as_deref(), &state.page_origins).is_err() {
        return message(
            &state,
            StatusCode::FORBIDDEN,
            "Form expired",
            "This form could not be verified: it was opened in another browser or tab, cookies are blocked for this site, or it was sent from another site. Open the link again and fill in the form there.",
            true,
        );
    }
    let info = match redeem::inspect(&state, &secret, now).await {
        Ok(info) => info,
        Err(e) => return refusal(&state, &e),
    };
    let Some(password) = fields.password.filter(|p| !p.expose_secret().is_empty()) else {
        return form_page(
            &req,
            &state,
            &info,
            StatusCode::BAD_REQUEST,
            Some("Enter the password.".into()),
        );
    };
    let new_password = !(info.kind == LinkKind::Invitation && info.existing_user);
    if new_password && !same(&password, fields.confirm.as_ref()) {
        return form_page(
            &req,
            &state,
            &info,
            StatusCode::BAD_REQUEST,
            Some("The two passwords differ. Type the same password in both fields.".into()),
        );
    }
    let result = match info.kind {
        LinkKind::SetPassword => redeem::set_password(&state, &secret, password, now).await,
        LinkKind::Invitation => redeem::accept_invitation(&state, &secret, password, now).await,
    };
    match result {
        Ok(done) => done_page(&state, &info, &done),
        // The policy's reasons, or a field the form got wrong: the same form again.
        Err(Error::Validation(why)) => {
            form_page(&req, &state, &info, StatusCode::BAD_REQUEST, Some(why))
        }
        // The current password of an existing user did not prove it (wrong, or the account is
        // locked or disabled: a login says no more, nor does this page).
        Err(Error::Unauthorized | Error::UnauthorizedMsg(_)) => form_page(
            &req,
            &state,
            &info,
            StatusCode::UNAUTHORIZED,
            Some("The password was not accepted. Enter the current password of this account; after too many failures the account is locked for a while.".into()),
        ),
        Err(e) => refusal(&state, &e),
    }
}

/// Whether the confirmation repeats the password (constant time, though both came in one form).
fn same(password: &SecretString, confirm: Option<&SecretString>) -> bool {
    confirm.is_some_and(|c| {
        bool::from(
            password
                .expose_secret()
                .as_bytes()
                .ct_eq(c.expose_secret().as_bytes()),
        )
    })
}

/// A failure that ends the visit (the link cannot be used, the user has a password already, the
/// store is down): a page that says what happened and what to do, with the error's status.
fn refusal(state: &State, e: &Error) -> HttpResponse {
    let status = e.status();
    let (heading, text, retry) = match e {
        Error::Link(_) => ("This link cannot be used", e.to_string(), false),
        Error::Conflict(_) => ("Nothing to do", e.to_string(), false),
        Error::Unavailable(_) => (
            "Try again shortly",
            "The service is busy or unreachable right now; nothing was changed. Try again in a moment.".to_string(),
            true,
        ),
        Error::Internal(detail) => {
            tracing::error!(error = %detail, "internal error on an account page");
            (
                "Something went wrong",
                "An unexpected error prevented the server from completing this; nothing was changed. Try again later, or ask the person who sent the link.".to_string(),
                false,
            )
        }
        _ => ("This link cannot be used", e.to_string(), false),
    };
    message(state, status, heading, &text, retry)
}

fn heading(info: &LinkInfo) -> (&'static str, &'static str) {
    match (info.kind, info.existing_user) {
        (LinkKind::SetPassword, _) => ("Set your password", "Set password"),
        (LinkKind::Invitation, true) => ("Accept the invitation", "Accept"),
        (LinkKind::Invitation, false) => ("Accept the invitation and choose a password", "Accept"),
    }
}

fn form_page(
    req: &HttpRequest,
    state: &State,
    info: &LinkInfo,
    status: StatusCode,
    error: Option<String>,
) -> HttpResponse {
    let policy = crate::identity::password_policy(state).policy;
    let token = csrf::token_for(req);
    let (heading, submit) = heading(info);
    let view = page::FormPage {
        heading: heading.into(),
        invitation: info.kind == LinkKind::Invitation,
        existing_user: info.kind == LinkKind::Invitation && info.existing_user,
        user_name: info.user_name.clone(),
        domain_name: info.domain_name.clone(),
        project_name: info.project_name.clone(),
        roles: info
            .roles
            .iter()
            .map(|(role, target)| page::RoleLine {
                role: role.clone(),
                target: target.clone(),
            })
            .collect(),
        expires_at: info.expires_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        expires_at_text: info.expires_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        rules: policy.rules,
        min_length: policy.min_length,
        max_length: policy.max_length,
        error,
        csrf_token: token.clone(),
        submit: submit.into(),
    };
    let mut res = page::html(status, page::form(cloud_name(state), &view));
    set_cookie(&mut res, csrf::cookie(&token, state.page_origins.secure()));
    res
}

fn set_cookie(res: &mut HttpResponse, cookie: Cookie<'static>) {
    if let Err(e) = res.add_cookie(&cookie) {
        tracing::error!(error = %e, "csrf cookie");
    }
}

fn done_page(state: &State, info: &LinkInfo, done: &Completed) -> HttpResponse {
    let auth_url = format!("{}/v3", state.public_url());
    let id = exports::Identity {
        auth_url: &auth_url,
        user_name: &done.user_name,
        user_domain_name: &done.domain_name,
        // Projects a link leads to are of the user's domain.
        project: done
            .project_name
            .as_deref()
            .map(|p| (p, done.domain_name.as_str())),
    };
    let cloud = cloud_name(state);
    let key = exports::cloud_key(cloud);
    let heading = match info.kind {
        LinkKind::SetPassword => "Your password is set",
        LinkKind::Invitation => "Invitation accepted",
    };
    let view = page::DonePage {
        heading: heading.into(),
        user_name: done.user_name.clone(),
        domain_name: done.domain_name.clone(),
        project_name: done.project_name.clone(),
        exports: exports::shell_exports(&id),
        clouds_yaml: exports::clouds_yaml(&key, &id),
        cloud_key: key,
    };
    page::html(StatusCode::OK, page::done(cloud, &view))
}
