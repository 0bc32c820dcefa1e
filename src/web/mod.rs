//! The pages a person opens from an email, served under the public URL outside `/v3`:
//! `/account/link/{secret}` sets a password or accepts an invitation, then shows how to log in.
//! Server-rendered HTML that needs no JavaScript; every answer under `/account` carries
//! `Cache-Control: no-store`, `Referrer-Policy: no-referrer` and a strict Content-Security-Policy
//! (`page::secure_headers`); forms are protected by a double-submit cookie (`csrf`). Like
//! `api`, this layer parses, calls one domain function (`accounts::redeem`) and renders.

pub mod csrf;
pub mod exports;
pub mod form;
pub mod mfa;
pub mod page;

use std::borrow::Cow;

/// Where a link's secret sits in a path; `loggable_path` hides what follows.
pub const LINK_PREFIX: &str = "/account/link/";

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
