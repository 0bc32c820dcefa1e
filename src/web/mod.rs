//! The pages a person opens from an email, served under the public URL outside `/v3`:
//! `/account/link/{secret}` sets a password or accepts an invitation, then shows how to log in.
//! Server-rendered HTML that needs no JavaScript; every answer under `/account` carries
//! `Cache-Control: no-store`, `Referrer-Policy: no-referrer` and a strict Content-Security-Policy
//! (`page::secure_headers`); forms are protected by a double-submit cookie (`csrf`). Like
//! `api`, this layer parses, calls one domain function (`accounts::redeem`) and renders.

pub mod csrf;
pub mod exports;
pub mod form;
mod link;
pub mod mfa;
pub mod page;

use std::borrow::Cow;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, HttpResponse};

use crate::state::State;

/// Where a link's secret sits in a path; `loggable_path` hides what follows.
pub const LINK_PREFIX: &str = "/account/link/";

/// The routes under `/account`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/account")
            .wrap(from_fn(secure_headers))
            .service(web::resource("/style.css").route(web::get().to(style)))
            .service(
                web::resource("/2fa")
                    .route(web::get().to(mfa::show))
                    .route(web::post().to(mfa::submit))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/link/{secret}")
                    .route(web::get().to(link::show))
                    .route(web::post().to(link::submit))
                    .default_service(web::to(method_not_allowed)),
            )
            .default_service(web::to(not_found)),
    );
}

/// A request path as it may be logged: a link's secret is a credential, so everything after
/// `/account/link/` is replaced (the route pattern, `/account/link/{secret}`, is what remains).
pub fn loggable_path(path: &str) -> Cow<'_, str> {
    match path.find(LINK_PREFIX) {
        Some(i) if path.len() > i + LINK_PREFIX.len() => {
            Cow::Owned(format!("{}{LINK_PREFIX}{{secret}}", &path[..i]))
        }
        _ => Cow::Borrowed(path),
    }
}

async fn secure_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    page::secure_headers(res.headers_mut());
    Ok(res)
}

async fn style() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .body(page::STYLE)
}

/// How the pages name the cloud: `[smtp] cloud_name`, as the mail does.
pub(crate) fn cloud_name(state: &State) -> &str {
    &state.config.smtp.cloud_name
}

/// A page that only says something: what happened (`heading`), what to do (`text`), and with
/// `retry` a way back to the form. Every page of the family words its messages through this.
pub(crate) fn message(
    state: &State,
    status: StatusCode,
    heading: &str,
    text: &str,
    retry: bool,
) -> HttpResponse {
    page::html(
        status,
        page::message(
            cloud_name(state),
            &page::MessagePage {
                heading: heading.into(),
                message: text.into(),
                retry,
            },
        ),
    )
}

async fn not_found(state: web::Data<State>) -> HttpResponse {
    message(
        &state,
        StatusCode::NOT_FOUND,
        "Page not found",
        "There is no page at this address. If you followed a link from an email, check that it was copied whole.",
        false,
    )
}

async fn method_not_allowed(state: web::Data<State>) -> HttpResponse {
    message(
        &state,
        StatusCode::METHOD_NOT_ALLOWED,
        "Not allowed",
        "This page is opened with a browser (GET) and its form is sent with POST.",
        false,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_reach_a_log_line() {
        let secret = "Qm9ndXNTZWNyZXRGb3JUZXN0aW5nT25seTAxMjM0NTY";
        assert_eq!(
            loggable_path(&format!("/account/link/{secret}")),
            "/account/link/{secret}"
        );
        assert_eq!(
            loggable_path(&format!("/account/link/{secret}/more")),
            "/account/link/{secret}"
        );
        assert_eq!(
            loggable_path(&format!("/prefix/account/link/{secret}")),
            "/prefix/account/link/{secret}"
        );
        assert_eq!(loggable_path("/account/link/"), "/account/link/");
        assert_eq!(loggable_path("/v3/users/abc"), "/v3/users/abc");
    }
}
