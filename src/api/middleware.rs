//! One middleware for what every response needs: a request id, a log line, Keystone's error body
//! for errors produced outside our handlers (actix's own 404/405/400/413), and `WWW-Authenticate`
//! on 401. It also refuses request lines no handler should see (NUL or control characters,
//! invalid UTF-8 in the path or the query) and answers HEAD wherever GET is answered. It also
//! counts and times every request for `/metrics`. The account pages' HTML errors pass unchanged,
//! and a one-time link's secret is cut out of the logged path (`web::loggable_path`).

use std::time::Instant;

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, Uri};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpResponse};
use tracing::Instrument;

use crate::error::Error;
use crate::state::State;

pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-openstack-request-id");

pub async fn keystone_envelope(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<BoxBody>>, actix_web::Error> {
    let request_id = format!("req-{}", uuid::Uuid::new_v4());
    let public_url = req
        .app_data::<web::Data<State>>()
        .map(|s| s.public_url())
        .unwrap_or_default();
    // A one-time link's secret is a credential: it never reaches a log line.
    let path = crate::web::loggable_path(req.path()).into_owned();
    let method = req.method().clone();
    let span = tracing::info_span!("request", id = %request_id, %method, %path);
    let started = Instant::now();
    let method_label = crate::telemetry::method_label(&method);
    // HEAD is GET without a body: route it as GET (a resource's own `api::head()` route, listed
    // first, still takes it); the HTTP layer still knows the request was HEAD and sends the
    // headers (Content-Length included) without the body.
    if req.method() == Method::HEAD {
        req.head_mut().method = Method::GET;
        req.extensions_mut().insert(super::HeadRequest);
    }
    let mut res = match refuse_request_line(req.uri()) {
        Err(e) => req.error_response(e),
        Ok(()) => {
            let result = next.call(req).instrument(span.clone()).await;
            // Handler and extractor errors arrive as responses; an Err here comes from a middleware.
            result?.map_into_boxed_body()
        }
    };
    let status = res.status();
    if status.is_client_error() || status.is_server_error() {
        let content_type = res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        // JSON is ours already; HTML is an account page (src/web) that a browser shows.
        let ours =
            content_type.starts_with("application/json") || content_type.starts_with("text/html");
        if !ours {
            let detail = res.response().error().map(|e| e.to_string());
            let err = generic_error(status, detail);
            let (http_req, _) = res.into_parts();
            res = ServiceResponse::new(http_req, HttpResponse::build(status).json(err.body()));
        }
    }
    let headers = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert(REQUEST_ID.clone(), v);
    }
    if res.status() == actix_web::http::StatusCode::UNAUTHORIZED {
        if let Ok(v) = HeaderValue::from_str(&format!("Keystone uri=\"{public_url}\"")) {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
    }
    let elapsed = started.elapsed();
    // The route pattern (`/v3/users/{user_id}`), never the path: ids and secrets stay out of
    // labels, and their number stays that of the routes.
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| crate::telemetry::UNMATCHED.to_string());
    crate::telemetry::record_request(route, method_label, res.status().as_u16(), elapsed);
    let _guard = span.enter();
    tracing::info!(
        status = res.status().as_u16(),
        elapsed_ms = elapsed.as_millis() as u64,
        "done"
    );
    Ok(res.map_into_left_body())
}

/// Keystone's body for an error actix produced; client-error detail is kept, server detail is not.
fn generic_error(status: actix_web::http::StatusCode, detail: Option<String>) -> Error {
    use actix_web::http::StatusCode as S;
    match status {
        S::NOT_FOUND => Error::NotFoundMsg("The resource could not be found.".into()),
        S::METHOD_NOT_ALLOWED => Error::MethodNotAllowed,
        S::PAYLOAD_TOO_LARGE => Error::PayloadTooLarge(0),
        S::UNAUTHORIZED => Error::Unauthorized,
        S::BAD_REQUEST => Error::validation(match detail {
            Some(d) => format!("The request could not be understood: {d}"),
            None => "The request could not be understood: check its syntax and parameters.".into(),
        }),
        s if s.is_server_error() => Error::internal(format!(
            "non-JSON {s} response: {}",
            detail.unwrap_or_default()
        )),
        s => Error::validation(detail.unwrap_or_else(|| format!("The request was refused ({s})."))),
    }
}

/// Refuses a path or query that decodes to invalid UTF-8 or carries a control character (NUL
/// included): no id, name or filter holds one, and some databases fail on NUL instead of answering.
fn refuse_request_line(uri: &Uri) -> Result<(), Error> {
    check_component("the URL path", uri.path(), false)?;
    if let Some(q) = uri.query() {
        for pair in q.split('&') {
            check_component("the query string", pair, true)?;
        }
    }
    Ok(())
}

fn check_component(what: &str, raw: &str, form: bool) -> Result<(), Error> {
    let bytes = percent_decode(raw, form);
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        Error::validation(format!(
            "Invalid input in {what}: it is not valid UTF-8 once decoded."
        ))
    })?;
    if text.chars().any(char::is_control) {
        let name = if form {
            let key = text.split('=').next().unwrap_or("");
            format!(" (parameter '{}')", key.escape_default())
        } else {
            String::new()
        };
        return Err(Error::validation(format!(
            "Invalid input in {what}{name}: control characters such as NUL (U+0000) are not allowed."
        )));
    }
    Ok(())
}

/// `%XX` decoding (and `+` as a space in a query); a malformed escape is kept as it is.
fn percent_decode(raw: &str, form: bool) -> Vec<u8> {
    let b = raw.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match b[i] {
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if form => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(uri: &str) -> bool {
        refuse_request_line(&uri.parse::<Uri>().unwrap()).is_ok()
    }

    #[test]
    fn request_lines_with_control_characters_are_refused() {
        assert!(check("/v3/users/abc?name=a%20b&enabled=true"));
        assert!(check("/v3/projects/p/tags/caf%C3%A9"));
        assert!(!check("/v3/users/a%00b"));
        assert!(!check("/v3/users/a%0Ab"));
        assert!(!check("/v3/users/a%FFb"));
        assert!(!check("/v3/users?name=a%00"));
        assert!(!check("/v3/users?a%01=1"));
        assert!(check("/v3/users?name=100%"));
        assert_eq!(percent_decode("a+b%41%4", true), b"a bA%4");
        assert_eq!(percent_decode("a+b", false), b"a+b");
    }

    /// Everything the middleware logs for a request to a link page, captured: the secret is
    /// not in it, the route is; and the page's HTML error passes unchanged.
    #[actix_web::test]
    async fn a_link_secret_never_reaches_the_log() {
        use std::sync::{Arc, Mutex};

        #[derive(Clone, Default)]
        struct Sink(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Sink {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let sink = Sink::default();
        let writer = sink.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let app = actix_web::test::init_service(
            actix_web::App::new()
                .wrap(actix_web::middleware::from_fn(keystone_envelope))
                .route(
                    "/account/link/{secret}",
                    web::get().to(|| async {
                        tracing::info!("handler ran");
                        HttpResponse::NotFound()
                            .content_type("text/html; charset=utf-8")
                            .body("<p>This link is not valid.</p>")
                    }),
                ),
        )
        .await;
        let secret = "c2VjcmV0LXRoYXQtbXVzdC1uZXZlci1iZS1sb2dnZWQx";
        let req = actix_web::test::TestRequest::get()
            .uri(&format!("/account/link/{secret}"))
            .to_request();
        let res = actix_web::test::call_service(&app, req).await;
        assert_eq!(res.status(), 404);
        let body = actix_web::test::read_body(res).await;
        assert_eq!(
            &body[..],
            b"<p>This link is not valid.</p>",
            "HTML is not rewritten"
        );
        let logged = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert!(logged.contains("handler ran"), "{logged}");
        assert!(logged.contains("/account/link/{secret}"), "{logged}");
        assert!(!logged.contains(secret), "{logged}");
    }
}
