//! `/account/2fa`: a user turns on two-factor authentication for itself. It signs in with its
//! password (the real `password` auth method: lockout, expiry and every rule apply), sees a QR
//! code of a fresh TOTP secret (rendered server-side as SVG; no external service) and the secret
//! as text, and confirms with a first passcode; only then is MFA switched on
//! (`credential::totp::{begin_enrolment, confirm_enrolment}`, the same functions as the API).
//!
//! Between the two steps the page's sign-in (a token, only ever in an `HttpOnly`,
//! `SameSite=Strict` cookie limited to this path and to ten minutes) stands for the user. The
//! token itself expires with the cookie, and the server refuses (and revokes) one older than
//! that whatever the browser sends; it is revoked when the enrolment is done or cannot go on.
//! Forms are CSRF-protected like the link pages.

use actix_web::cookie::{time::Duration as CookieAge, Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Duration, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use super::{cloud_name, csrf, form, message, page};
use crate::auth::TokenInfo;
use crate::auth::{Auth, AuthRequest, Identity, PasswordMethod, UserCredentials};
use crate::context::Ctx;
use crate::credential::totp::{self, Confirmation, Enrolment};
use crate::error::Error;
use crate::resource::DomainRef;
use crate::state::State;

pub const PATH: &str = "/account/2fa";
/// The page's sign-in between its two steps.
const SESSION_COOKIE: &str = "ironstone_2fa";
const SESSION_MINUTES: i64 = 10;

/// How long the page's sign-in stands: its cookie's age, its token's lifetime, and the age past
/// which the server refuses it.
fn session_limit() -> Duration {
    Duration::minutes(SESSION_MINUTES)
}

#[derive(Serialize, Default)]
struct LoginPage {
    csrf_token: String,
    user_name: String,
    domain: String,
    project: String,
    error: Option<String>,
}

#[derive(Serialize)]
struct EnrolPage {
    csrf_token: String,
    user_name: String,
    domain_name: String,
    credential_id: String,
    /// The key in groups of four, as apps ask for it.
    secret: String,
    qr_svg: String,
    error: Option<String>,
}

#[derive(Serialize)]
struct DonePage {
    user_name: String,
    cli: String,
    clouds_yaml: String,
}

/// A page with the CSRF cookie the form needs.
fn with_csrf(
    state: &State,
    status: StatusCode,
    csrf_token: &str,
    body: Result<String, String>,
) -> HttpResponse {
    let mut res = page::html(status, body);
    let _ = res.add_cookie(&csrf::cookie(csrf_token, state.page_origins.secure()));
    res
}

fn login_page(
    state: &State,
    req: &HttpRequest,
    status: StatusCode,
    mut p: LoginPage,
) -> HttpResponse {
    p.csrf_token = csrf::token_for(req);
    if p.domain.is_empty() {
        p.domain = "Default".into();
    }
    let body = page::mfa("mfa_login.html", cloud_name(state), &p);
    let token = p.csrf_token.clone();
    with_csrf(state, status, &token, body)
}

pub async fn show(state: web::Data<State>, req: HttpRequest) -> HttpResponse {
    login_page(&state, &req, StatusCode::OK, LoginPage::default())
}

pub async fn submit(
    state: web::Data<State>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let sub = match form::read(payload)
        .await
        .map_err(|_| ())
        .and_then(|b| form::parse(&b).map_err(|_| ()))
    {
        Ok(s) => s,
        Err(()) => {
            return message(
                &state,
                StatusCode::BAD_REQUEST,
                "This form could not be read",
                "Open the page again and fill in the form.",
                false,
            )
        }
    };
    if csrf::check(&req, sub.csrf_token.as_deref(), &state.page_origins).is_err() {
        return login_page(
            &state,
            &req,
            StatusCode::FORBIDDEN,
            LoginPage {
                error: Some("This form expired or did not come from this page (cookies must be allowed for it). Sign in again.".into()),
                ..Default::default()
            },
        );
    }
    match sub.step.as_deref() {
        Some("login") => login(&state, &req, sub).await,
        Some("confirm") => confirm(&state, &req, sub).await,
        _ => message(
            &state,
            StatusCode::BAD_REQUEST,
            "This form could not be read",
            "Open the page again and fill in the form.",
            false,
        ),
    }
}

/// Step 1: the password method, exactly as `POST /v3/auth/tokens` runs it.
async fn login(state: &State, req: &HttpRequest, sub: form::Submission) -> HttpResponse {
    let user_name = sub.user_name.unwrap_or_default().trim().to_string();
    let domain = sub.domain.unwrap_or_default().trim().to_string();
    let project = sub.project.unwrap_or_default().trim().to_string();
    let retry = |error: &str| LoginPage {
        user_name: user_name.clone(),
        domain: domain.clone(),
        project: project.clone(),
        error: Some(error.to_string()),
        ..Default::default()
    };
    let Some(password) = sub.password.filter(|p| !p.expose_secret().is_empty()) else {
        return login_page(
            state,
            req,
            StatusCode::BAD_REQUEST,
            retry("Enter your password."),
        );
    };
    if user_name.is_empty() || domain.is_empty() {
        return login_page(
            state,
            req,
            StatusCode::BAD_REQUEST,
            retry("Enter your user name and its domain."),
        );
    }
    let request = AuthRequest {
        auth: Auth {
            identity: Identity {
                methods: vec!["password".into()],
                password: Some(PasswordMethod {
                    user: UserCredentials {
                        id: None,
                        name: Some(user_name.clone()),
                        domain: Some(DomainRef {
                            id: None,
                            name: Some(domain.clone()),
                        }),
                        password: Some(password),
                    },
                }),
                token: None,
                application_credential: None,
                totp: None,
            },
            // Without a project: the user's own (bound or default) project, as the API does.
            scope: (!project.is_empty()).then(
                || serde_json::json!({"project": {"name": project, "domain": {"name": domain}}}),
            ),
        },
    };
    let now = Utc::now();
    // A token for this page only: it does not outlive the page's session (an abandoned
    // enrolment leaves no bearer token for the whole `[token] expiration`).
    let lifetime = Some(session_limit());
    let info = match crate::auth::authenticate_within(state, request, None, now, lifetime).await {
        Ok(info) => info,
        Err(Error::MfaRequired(_)) => {
            return message(
                state,
                StatusCode::CONFLICT,
                "Two-factor authentication is already on",
                "This account's login already asks for a second factor. To move it to a new device, ask your administrator to remove your current TOTP credential, then come back to this page. If your domain requires two-factor authentication and you have not enrolled yet, your administrator can enrol you, or a tool can with the API (POST /v3/OS-PCU/users/{user_id}/totp with the auth receipt).",
                false,
            )
        }
        // The API's words for a failed login (nothing that tells which part was wrong), for an
        // expired password, or for a busy service.
        Err(e) => return login_page(state, req, e.status(), retry(&e.to_string())),
    };
    let ctx = Ctx {
        state,
        caller: &info,
        now,
    };
    match totp::begin_enrolment(&ctx, &info.user.id).await {
        Ok(enrolment) => enrol_page(state, req, &info, enrolment, None, true),
        Err(e) => message(
            state,
            e.status(),
            "Two-factor authentication cannot be set up",
            &e.to_string(),
            false,
        ),
    }
}

fn enrol_page(
    state: &State,
    req: &HttpRequest,
    info: &TokenInfo,
    e: Enrolment,
    error: Option<String>,
    new_session: bool,
) -> HttpResponse {
    let secret: Vec<String> = e
        .secret
        .expose_secret()
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    // The SVG is ours (the QR modules of the otpauth URI; no text from a user); the XML
    // declaration has no place inside an HTML page.
    let svg = e
        .qr_svg
        .find("<svg")
        .map_or(e.qr_svg.as_str(), |i| &e.qr_svg[i..]);
    let p = EnrolPage {
        csrf_token: csrf::token_for(req),
        user_name: info.user.name.clone(),
        domain_name: info.user_domain.name.clone(),
        credential_id: e.credential_id.clone(),
        secret: secret.join(" "),
        qr_svg: svg.to_string(),
        error,
    };
    let status = if p.error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let token = p.csrf_token.clone();
    let mut res = with_csrf(
        state,
        status,
        &token,
        page::mfa("mfa_enrol.html", cloud_name(state), &p),
    );
    if new_session {
        let _ = res.add_cookie(&session_cookie(
            state,
            &info.token,
            CookieAge::minutes(SESSION_MINUTES),
        ));
    }
    res
}

fn session_cookie(state: &State, value: &str, age: CookieAge) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, value.to_string())
        .path(PATH)
        .http_only(true)
        .secure(state.page_origins.secure())
        .same_site(SameSite::Strict)
        .max_age(age)
        .finish()
}

/// The page's sign-in is over (done, failed for good, or too old): its token is revoked. A
/// failure to revoke is logged; the page goes on (the token expires with the session anyway).
async fn end_session(state: &State, info: &TokenInfo, now: DateTime<Utc>) {
    let revoked = crate::auth::caller::revoke_token(state, info, &info.token, now).await;
    if let Err(e) = revoked {
        tracing::warn!(error = %e, "could not revoke the two-factor page's sign-in");
    }
}

/// A response that also clears the page's sign-in cookie.
fn without_session(state: &State, mut res: HttpResponse) -> HttpResponse {
    let _ = res.add_cookie(&session_cookie(state, "", CookieAge::ZERO));
    res
}

/// The page's sign-in, if the request carries one that stands at `now` and is younger than the
/// session limit. One that is older (whatever the browser kept) is revoked and refused.
async fn session(state: &State, req: &HttpRequest, now: DateTime<Utc>) -> Option<TokenInfo> {
    let token = req.cookie(SESSION_COOKIE)?.value().to_string();
    let info = crate::auth::validate(state, &token, now, false)
        .await
        .ok()?;
    if now - info.issued_at >= session_limit() {
        tracing::info!(user_id = %info.user.id, "two-factor page sign-in older than its session refused");
        end_session(state, &info, now).await;
        return None;
    }
    Some(info)
}

/// Step 2: the first passcode switches MFA on; the page's sign-in is revoked.
async fn confirm(state: &State, req: &HttpRequest, sub: form::Submission) -> HttpResponse {
    let now = Utc::now();
    let Some(info) = session(state, req, now).await else {
        let res = login_page(
            state,
            req,
            StatusCode::UNAUTHORIZED,
            LoginPage {
                error: Some("Your sign-in on this page expired (it lasts ten minutes). Sign in again; you will get a new QR code.".into()),
                ..Default::default()
            },
        );
        return without_session(state, res);
    };
    let ctx = Ctx {
        state,
        caller: &info,
        now,
    };
    let credential_id = sub.credential_id.unwrap_or_default();
    let confirmation = Confirmation {
        credential_id: Some(credential_id.clone()),
        passcode: Some(
            sub.passcode
                .unwrap_or_else(|| SecretString::from(String::new())),
        ),
    };
    match totp::confirm_enrolment(&ctx, &info.user.id, confirmation).await {
        Ok(()) => {}
        Err(e) if e.status() == StatusCode::BAD_REQUEST => {
            // Wrong or malformed passcode: the same secret again (the app already holds it);
            // the sign-in stays for the next try.
            match totp::resume_enrolment(&ctx, &info.user.id, &credential_id).await {
                Ok(enrolment) => {
                    return enrol_page(state, req, &info, enrolment, Some(e.to_string()), false)
                }
                // No pending enrolment of this user under that id: the page cannot go on.
                Err(e) => {
                    end_session(state, &info, now).await;
                    let res = message(
                        state,
                        StatusCode::NOT_FOUND,
                        "Start again",
                        &format!("{e} Open this page again to get a new QR code."),
                        false,
                    );
                    return without_session(state, res);
                }
            }
        }
        Err(e) => {
            // Nothing more this sign-in can do: the user starts over with a new one.
            end_session(state, &info, now).await;
            let res = message(
                state,
                e.status(),
                "Two-factor authentication was not turned on",
                &format!("{e} Open this page again to start over."),
                false,
            );
            return without_session(state, res);
        }
    }
    // The page's sign-in has done its job.
    end_session(state, &info, now).await;
    let auth_url = format!("{}/v3", state.public_url());
    let id = super::exports::Identity {
        auth_url: &auth_url,
        user_name: &info.user.name,
        user_domain_name: &info.user_domain.name,
        project: Some((&info.project.name, &info.project_domain.name)),
    };
    let cli = super::exports::multifactor_command(&id);
    let clouds_yaml =
        super::exports::multifactor_clouds_yaml(&super::exports::cloud_key(cloud_name(state)), &id);
    let p = DonePage {
        user_name: info.user.name.clone(),
        cli,
        clouds_yaml,
    };
    let res = page::html(
        StatusCode::OK,
        page::mfa("mfa_done.html", cloud_name(state), &p),
    );
    without_session(state, res)
}
