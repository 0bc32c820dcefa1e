//! `/v3/OS-PCU/*`: Ironstone's own extension, beside Keystone's API.

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use secrecy::ExposeSecret;

use chrono::Utc;

use super::extract::Enroller;
use super::query::{created, no_content, ok};
use super::{render, resource, Caller, JsonBody};
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
        .service(resource("/v3/OS-PCU/users/{user_id}/totp").route(web::post().to(begin_totp)))
        .service(
            resource("/v3/OS-PCU/users/{user_id}/totp/confirm").route(web::post().to(confirm_totp)),
        );
}

/// Starts a TOTP enrolment for the caller: 201 with the pending credential's id, the secret, the
/// `otpauth://` URI and its QR code as SVG (shown in this response only).
async fn begin_totp(
    state: web::Data<State>,
    who: Enroller,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let e = match who {
        Enroller::Token(caller) => {
            let ctx = Ctx::new(&state, &caller.0);
            credential::totp::begin_enrolment(&ctx, &path).await?
        }
        Enroller::Receipt(r) => {
            credential::totp::begin_enrolment_with_receipt(&state, &r, &path, Utc::now()).await?
        }
    };
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

/// Completes the enrolment with a first passcode: with a token, 200 with the user, now
/// `OS-PCU:mfa_enabled`; with a receipt (no token to read the user with), 204.
async fn confirm_totp(
    state: web::Data<State>,
    who: Enroller,
    path: web::Path<String>,
    body: JsonBody<ConfirmBody>,
) -> Result<HttpResponse> {
    match who {
        Enroller::Token(caller) => {
            let ctx = Ctx::new(&state, &caller.0);
            credential::totp::confirm_enrolment(&ctx, &path, body.0.totp).await?;
            let v = identity::get_user(&ctx, &path).await?;
            Ok(ok("user", render::user(&ctx.base(), &v)))
        }
        Enroller::Receipt(r) => {
            let now = Utc::now();
            credential::totp::confirm_enrolment_with_receipt(&state, &r, &path, body.0.totp, now)
                .await?;
            Ok(no_content())
        }
    }
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
    let v = identity::create_project_user(&ctx, &path, body.0.user).await?;
    let mut user = render::user(&ctx.base(), &v);
    if let Some(m) = user.as_object_mut() {
        if let Some(p) = m.remove("OS-PCU:generated_password") {
            m.insert("password".into(), p);
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
