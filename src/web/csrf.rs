//! CSRF protection for the account forms: a double-submit cookie. The page that shows a form sets
//! a random token in a cookie (`SameSite=Strict`, `HttpOnly`, `Path=/account`) and in a hidden
//! field; a submission is accepted only when both are present and equal (compared in constant
//! time) and its `Origin`, when the browser names one, is the server's own. Another site can
//! neither read the cookie nor make the browser send it (SameSite=Strict), so it cannot forge a
//! matching pair.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::HttpRequest;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use subtle::ConstantTimeEq;

pub const COOKIE: &str = "ironstone_csrf";
pub const FIELD: &str = "csrf_token";
const PATH: &str = "/account";
/// 32 random bytes, URL-safe base64 without padding.
const TOKEN_LEN: usize = 43;

fn well_formed(token: &str) -> bool {
    token.len() == TOKEN_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The token for a form about to be shown: the browser's current one when it has a well-formed
/// one (so that two open tabs both work), else a new one.
pub fn token_for(req: &HttpRequest) -> String {
    req.cookie(COOKIE)
        .map(|c| c.value().to_string())
        .filter(|t| well_formed(t))
        .unwrap_or_else(new_token)
}

/// The cookie that carries `token`; `Secure` when the server is reached over HTTPS.
pub fn cookie(token: &str, secure: bool) -> Cookie<'static> {
    Cookie::build(COOKIE, token.to_string())
        .path(PATH)
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .finish()
}

/// Why a submission was refused; the page says what to do about it.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No cookie, no field, or they differ: an old tab, cookies blocked, or a forgery.
    Mismatch,
    /// The browser says the form came from another site.
    ForeignOrigin,
}

/// Checks a submission: `field` is the hidden field's value, `public_origin` the scheme, host
/// and port of the server's public URL.
pub fn check(req: &HttpRequest, field: Option<&str>, public_origin: &str) -> Result<(), Refusal> {
    // With `Referrer-Policy: no-referrer` browsers send `Origin: null` even for a form of our own
    // page; "null" says nothing, so only a named origin is compared.
    if let Some(origin) = req.headers().get(actix_web::http::header::ORIGIN) {
        let origin = origin.to_str().map_err(|_| Refusal::ForeignOrigin)?;
        if origin != "null" && origin != public_origin {
            return Err(Refusal::ForeignOrigin);
        }
    }
    let cookie = req.cookie(COOKIE).map(|c| c.value().to_string());
    match (cookie, field) {
        (Some(c), Some(f)) if well_formed(&c) && well_formed(f) => {
            if bool::from(c.as_bytes().ct_eq(f.as_bytes())) {
                Ok(())
            } else {
                Err(Refusal::Mismatch)
            }
        }
        _ => Err(Refusal::Mismatch),
    }
}

/// `https://host:port` of a URL, as browsers write it in `Origin` (default ports omitted).
pub fn origin_of(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    const ORIGIN: &str = "https://cloud.example";

    fn req(cookie: Option<&str>, origin: Option<&str>) -> HttpRequest {
        let mut r = TestRequest::post().uri("/account/link/x");
        if let Some(c) = cookie {
            r = r.cookie(Cookie::new(COOKIE, c.to_string()));
        }
        if let Some(o) = origin {
            r = r.insert_header(("Origin", o));
        }
        r.to_http_request()
    }

    #[test]
    fn a_matching_pair_passes() {
        let t = new_token();
        assert_eq!(check(&req(Some(&t), None), Some(&t), ORIGIN), Ok(()));
        assert_eq!(
            check(&req(Some(&t), Some(ORIGIN)), Some(&t), ORIGIN),
            Ok(())
        );
        assert_eq!(
            check(&req(Some(&t), Some("null")), Some(&t), ORIGIN),
            Ok(())
        );
    }

    #[test]
    fn a_forger_without_the_cookie_fails() {
        let t = new_token();
        let other = new_token();
        assert_eq!(
            check(&req(None, None), Some(&t), ORIGIN),
            Err(Refusal::Mismatch)
        );
        assert_eq!(
            check(&req(Some(&t), None), None, ORIGIN),
            Err(Refusal::Mismatch)
        );
        assert_eq!(
            check(&req(Some(&other), None), Some(&t), ORIGIN),
            Err(Refusal::Mismatch)
        );
        assert_eq!(
            check(&req(Some(""), None), Some(""), ORIGIN),
            Err(Refusal::Mismatch)
        );
        assert_eq!(
            check(&req(Some("a"), None), Some("a"), ORIGIN),
            Err(Refusal::Mismatch)
        );
    }

    #[test]
    fn a_foreign_origin_fails_even_with_the_pair() {
        let t = new_token();
        for o in [
            "https://evil.example",
            "http://cloud.example",
            "https://cloud.example:8443",
        ] {
            assert_eq!(
                check(&req(Some(&t), Some(o)), Some(&t), ORIGIN),
                Err(Refusal::ForeignOrigin),
                "{o}"
            );
        }
    }

    #[test]
    fn tokens_are_random_and_reused_from_the_browser() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert!(well_formed(&a));
        assert_eq!(token_for(&req(Some(&a), None)), a);
        let fresh = token_for(&req(Some("short"), None));
        assert!(well_formed(&fresh));
        assert_ne!(fresh, "short");
    }

    #[test]
    fn the_cookie_is_strict_and_private() {
        let c = cookie("t", true).to_string();
        for part in ["HttpOnly", "SameSite=Strict", "Path=/account", "Secure"] {
            assert!(c.contains(part), "{c}");
        }
        assert!(!cookie("t", false).to_string().contains("Secure"));
    }

    #[test]
    fn origins_as_browsers_write_them() {
        assert_eq!(origin_of("https://cloud.example:443/identity"), ORIGIN);
        assert_eq!(origin_of("http://127.0.0.1:5000"), "http://127.0.0.1:5000");
    }
}
