//! CSRF protection for the account forms: a double-submit cookie. The page that shows a form sets
//! a random token in a cookie (`SameSite=Strict`, `HttpOnly`, `Path=/account`) and in a hidden
//! field; a submission is accepted only when both are present and equal (compared in constant
//! time) and its `Origin`, when the browser names one, is one of the page family's own
//! (`PageOrigins`). Another site can neither read the cookie nor make the browser send it
//! (SameSite=Strict), so it cannot forge a matching pair.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::HttpRequest;
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use crate::accounts::links;
use crate::config::Config;

pub const COOKIE: &str = "ironstone_csrf";
pub const FIELD: &str = "csrf_token";
const PATH: &str = "/account";

// A token has the contract of a link's secret (32 random bytes, URL-safe base64 without
// padding, 43 characters), so the links module's generator and shape check serve both.
fn well_formed(token: &str) -> bool {
    links::well_formed(token)
}

fn new_token() -> String {
    links::random_secret().expose_secret().to_string()
}

/// Where the account pages are served from, as far as their forms are concerned: the origins a
/// submission may name (`public_url`'s and `[links] base_url`'s, where a mailed link opens the
/// pages) and whether their cookies are `Secure` (either URL is HTTPS). Computed once at start
/// (`State::page_origins`), used by every page of the family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageOrigins {
    allowed: Vec<String>,
    secure: bool,
}

impl PageOrigins {
    /// The family served under these base URLs.
    pub fn new<S: AsRef<str>>(urls: &[S]) -> PageOrigins {
        let mut allowed = Vec::new();
        for url in urls {
            let origin = origin_of(url.as_ref());
            // An unparsable URL, or one with an opaque origin ("null"), admits nothing.
            if !origin.is_empty() && origin != "null" && !allowed.contains(&origin) {
                allowed.push(origin);
            }
        }
        PageOrigins {
            allowed,
            secure: urls.iter().any(|u| u.as_ref().starts_with("https://")),
        }
    }

    /// `public_url` and `[links] base_url` (which defaults to it).
    pub fn from_config(config: &Config) -> PageOrigins {
        PageOrigins::new(&[config.public_url(), config.links_base_url()])
    }

    /// Whether a form sent from `origin` (as the `Origin` header writes it) is one of ours.
    pub fn allows(&self, origin: &str) -> bool {
        self.allowed.iter().any(|o| o == origin)
    }

    /// Whether the pages' cookies carry `Secure`.
    pub fn secure(&self) -> bool {
        self.secure
    }
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

/// Checks a submission: `field` is the hidden field's value, `origins` the page family's.
pub fn check(req: &HttpRequest, field: Option<&str>, origins: &PageOrigins) -> Result<(), Refusal> {
    // With `Referrer-Policy: no-referrer` browsers send `Origin: null` even for a form of our own
    // page; "null" says nothing, so only a named origin is compared.
    if let Some(origin) = req.headers().get(actix_web::http::header::ORIGIN) {
        let origin = origin.to_str().map_err(|_| Refusal::ForeignOrigin)?;
        if origin != "null" && !origins.allows(origin) {
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

    fn ours() -> PageOrigins {
        PageOrigins::new(&[ORIGIN])
    }

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
        assert_eq!(check(&req(Some(&t), None), Some(&t), &ours()), Ok(()));
        assert_eq!(
            check(&req(Some(&t), Some(ORIGIN)), Some(&t), &ours()),
            Ok(())
        );
        assert_eq!(
            check(&req(Some(&t), Some("null")), Some(&t), &ours()),
            Ok(())
        );
    }

    #[test]
    fn a_forger_without_the_cookie_fails() {
        let t = new_token();
        let other = new_token();
        assert_eq!(
            check(&req(None, None), Some(&t), &ours()),
            Err(Refusal::Mismatch)
        );
        assert_eq!(
            check(&req(Some(&t), None), None, &ours()),
            Err(Refusal::Mismatch)
        );
        assert_eq!(
            check(&req(Some(&other), None), Some(&t), &ours()),
            Err(Refusal::Mismatch)
        );
        assert_eq!(
            check(&req(Some(""), None), Some(""), &ours()),
            Err(Refusal::Mismatch)
        );
        assert_eq!(
            check(&req(Some("a"), None), Some("a"), &ours()),
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
                check(&req(Some(&t), Some(o)), Some(&t), &ours()),
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
    fn the_family_admits_both_base_urls_and_no_other() {
        let o = PageOrigins::new(&["http://127.0.0.1:5000", "https://links.example/identity/"]);
        assert!(o.allows("http://127.0.0.1:5000"));
        assert!(o.allows("https://links.example"));
        for other in ["https://evil.example", "http://links.example", "null", ""] {
            assert!(!o.allows(other), "{other}");
        }
        assert!(o.secure(), "Secure when either is HTTPS");
        assert!(!PageOrigins::new(&["http://a.example", "http://b.example"]).secure());
        assert!(!PageOrigins::new(&["not a url"]).allows(""));
    }

    #[test]
    fn origins_as_browsers_write_them() {
        assert_eq!(origin_of("https://cloud.example:443/identity"), ORIGIN);
        assert_eq!(origin_of("http://127.0.0.1:5000"), "http://127.0.0.1:5000");
    }
}
