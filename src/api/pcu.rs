//! `/v3/OS-PCU/*`: Ironstone's own extension, beside Keystone's API.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use secrecy::ExposeSecret;

use super::extract::OptionalJsonBody;
use super::query::{created, list_response, no_content, ok, Query};
use super::{render, resource, Caller, JsonBody};
use crate::accounts::invitations::{InvitationCreate, InvitationResend, InvitationSent};
use crate::accounts::{self, password_links::PasswordLinkRequest};
use crate::context::Ctx;
use crate::credential;
use crate::error::Result;
use crate::identity::{self, ProjectUserCreate};
use crate::state::State;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v3/OS-PCU/password_policy").route(web::get().to(password_policy)))
        .service(
            resource("/v3/OS-PCU/projects/{project_id}/users")
                .route(web::post().to(create_project_user)),
        )
        .service(
            resource("/v3/OS-PCU/users/{user_id}/password_link")
                .route(web::post().to(password_link)),
        )
        .service(
            resource("/v3/OS-PCU/invitations")
                .route(web::get().to(list_invitations))
                .route(web::post().to(create_invitation)),
        )
        .service(
            resource("/v3/OS-PCU/invitations/{invitation_id}")
                .route(web::get().to(get_invitation))
                .route(web::delete().to(delete_invitation)),
        )
        .service(
            resource("/v3/OS-PCU/invitations/{invitation_id}/resend")
                .route(web::post().to(resend_invitation)),
        )
        .service(resource("/v3/OS-PCU/users/{user_id}/totp").route(web::post().to(begin_totp)))
        .service(
            resource("/v3/OS-PCU/users/{user_id}/totp/confirm").route(web::post().to(confirm_totp)),
        );
}

/// Starts a TOTP enrolment for the caller: 201 with the pending credential's id, the secret, the
/// `otpauth://` URI and its QR code as SVG (shown in this response only).
async fn begin_totp(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let e = credential::totp::begin_enrolment(&ctx, &path).await?;
    Ok(created(
        "totp",
        serde_json::json!({
            "credential_id": e.credential_id,
            "secret": e.secret.expose_secret(),
            "otpauth_uri": e.otpauth_uri.expose_secret(),
            "qr_svg": e.qr_svg,
            "algorithm": "SHA1",
            "digits": crate::auth::totp::DIGITS,
            "period": crate::auth::totp::STEP_SECONDS,
        }),
    ))
}

#[derive(Deserialize)]
struct ConfirmBody {
    totp: credential::totp::Confirmation,
}

/// Completes the enrolment with a first passcode: 200 with the user, now `OS-PCU:mfa_enabled`.
async fn confirm_totp(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<String>,
    body: JsonBody<ConfirmBody>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    credential::totp::confirm_enrolment(&ctx, &path, body.0.totp).await?;
    let v = identity::get_user(&ctx, &path).await?;
    Ok(ok("user", render::user(&ctx.base(), &v)))
}

#[derive(Deserialize)]
struct InvitationBody {
    invitation: InvitationCreate,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ResendBody {
    #[serde(default)]
    invitation: InvitationResend,
}

/// `{"invitation": {...}}` with the `link` object beside the invitation's own attributes.
fn sent(base: &str, s: &InvitationSent) -> serde_json::Value {
    let mut v = render::invitation(base, &s.view);
    if let Some(m) = v.as_object_mut() {
        m.insert("link".into(), s.link.to_json());
    }
    v
}

async fn create_invitation(
    state: web::Data<State>,
    caller: Caller,
    body: JsonBody<InvitationBody>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let s = accounts::invitations::create_invitation(&ctx, body.0.invitation).await?;
    Ok(created("invitation", sent(&ctx.base(), &s)))
}

async fn list_invitations(
    state: web::Data<State>,
    caller: Caller,
    req: HttpRequest,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let q = Query::of(&req);
    let list = accounts::invitations::list_invitations(
        &ctx,
        q.exact("domain_id"),
        q.get("email"),
        q.get("status"),
    )
    .await?;
    let base = ctx.base();
    let items = list.iter().map(|v| render::invitation(&base, v)).collect();
    Ok(list_response(&req, &base, "invitations", items, None))
}

async fn get_invitation(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let v = accounts::invitations::get_invitation(&ctx, &path).await?;
    Ok(ok("invitation", render::invitation(&ctx.base(), &v)))
}

async fn delete_invitation(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    accounts::invitations::delete_invitation(&ctx, &path).await?;
    Ok(no_content())
}

async fn resend_invitation(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<String>,
    body: OptionalJsonBody<ResendBody>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let req = body.0.map(|b| b.invitation).unwrap_or_default();
    let s = accounts::invitations::resend_invitation(&ctx, &path, req).await?;
    Ok(ok("invitation", sent(&ctx.base(), &s)))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PasswordLinkBody {
    #[serde(default)]
    link: PasswordLinkRequest,
}

/// Sends (or sends again, killing the previous one) a set-password link to a user that has no
/// password. The body is optional.
async fn password_link(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<String>,
    body: OptionalJsonBody<PasswordLinkBody>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let req = body.0.map(|b| b.link).unwrap_or_default();
    let out = accounts::password_links::send_password_link(&ctx, &path, req).await?;
    Ok(created("link", out.to_json()))
}

#[derive(Deserialize)]
struct ProjectUserBody {
    user: ProjectUserCreate,
}

/// The one-call project user: the user as `/v3/users` shows it, bound to the project, plus
/// `password` when Ironstone generated it (shown in this response only).
async fn create_project_user(
    state: web::Data<State>,
    caller: Caller,
    path: web::Path<String>,
    body: JsonBody<ProjectUserBody>,
) -> Result<HttpResponse> {
    let ctx = Ctx::new(&state, &caller.0);
    let made = identity::create_project_user(&ctx, &path, body.0.user).await?;
    let mut user = render::user(&ctx.base(), &made.user);
    if let Some(m) = user.as_object_mut() {
        if let Some(p) = m.remove("OS-PCU:generated_password") {
            m.insert("password".into(), p);
        }
        if let Some(link) = &made.link {
            m.insert("link".into(), link.to_json());
        }
    }
    Ok(created("user", user))
}

/// The password rules as data: public, so that a user who must change an expired password (and
/// holds no token) and the set-password page can show them.
async fn password_policy(state: web::Data<State>) -> Result<HttpResponse> {
    let view = identity::password_policy(&state);
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "password_policy": view,
        "links": {"self": format!("{}/v3/OS-PCU/password_policy", state.public_url())},
    })))
}
