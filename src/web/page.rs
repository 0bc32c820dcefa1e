//! The account pages: templates embedded in the binary, rendered by minijinja with HTML
//! auto-escaping (every value a template prints is escaped; nothing is marked safe), and the
//! headers every page carries.
//!
//! minijinja because the mail templates use it too (one engine, one escaping rule), its
//! templates are plain files an operator can read, and undefined variables are an error here
//! (strict mode), so a renamed field fails the unit tests instead of rendering empty.

use std::sync::LazyLock;

use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

/// Where the stylesheet is served (the only resource a page loads).
pub const STYLE_PATH: &str = "/account/style.css";
pub const STYLE: &str = include_str!("templates/style.css");

/// Nothing but our stylesheet may load, no script runs, the form posts only to us, no site may
/// frame the page, and no `<base>` may redirect relative URLs.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // The default callback escapes templates named *.html: all of ours.
    for (name, source) in [
        ("base.html", include_str!("templates/base.html")),
        ("form.html", include_str!("templates/form.html")),
        ("done.html", include_str!("templates/done.html")),
        ("message.html", include_str!("templates/message.html")),
        ("mfa_login.html", include_str!("templates/mfa_login.html")),
        ("mfa_enrol.html", include_str!("templates/mfa_enrol.html")),
        ("mfa_done.html", include_str!("templates/mfa_done.html")),
    ] {
        env.add_template(name, source)
            .unwrap_or_else(|e| panic!("template {name}: {e}"));
    }
    env
});

/// What every page shows around its content.
#[derive(Serialize)]
struct Frame<'a, T: Serialize> {
    cloud_name: &'a str,
    style_url: &'static str,
    #[serde(flatten)]
    page: &'a T,
}

/// A role the invitation gives, as the page lists it.
#[derive(Debug, Clone, Serialize)]
pub struct RoleLine {
    pub role: String,
    /// "project X" or "domain Y".
    pub target: String,
}

/// The form a link opens: set a password, or accept an invitation.
#[derive(Debug, Clone, Serialize)]
pub struct FormPage {
    pub heading: String,
    pub invitation: bool,
    /// An invitation for an account that exists: the form asks for its current password.
    pub existing_user: bool,
    pub user_name: Option<String>,
    pub domain_name: String,
    pub project_name: Option<String>,
    pub roles: Vec<RoleLine>,
    /// RFC 3339, for `<time datetime>`.
    pub expires_at: String,
    pub expires_at_text: String,
    /// The password policy, one sentence each.
    pub rules: Vec<String>,
    pub min_length: usize,
    pub max_length: usize,
    /// Why the last submission was refused.
    pub error: Option<String>,
    pub csrf_token: String,
    pub submit: String,
}

/// The page after success: who the user is and how to log in.
#[derive(Debug, Clone, Serialize)]
pub struct DonePage {
    pub heading: String,
    pub user_name: String,
    pub domain_name: String,
    pub project_name: Option<String>,
    pub exports: String,
    pub cloud_key: String,
    pub clouds_yaml: String,
}

/// A page that only explains: an invalid, expired or used link, a refused submission.
#[derive(Debug, Clone, Serialize)]
pub struct MessagePage {
    pub heading: String,
    pub message: String,
    /// Offer to open the form again (same URL).
    pub retry: bool,
}

fn render<T: Serialize>(template: &str, cloud_name: &str, page: &T) -> Result<String, String> {
    let frame = Frame {
        cloud_name,
        style_url: STYLE_PATH,
        page,
    };
    TEMPLATES
        .get_template(template)
        .and_then(|t| t.render(minijinja::value::Value::from_serialize(&frame)))
        .map_err(|e| format!("rendering {template}: {e}"))
}

/// One of the two-factor pages (`web::mfa`), by template name.
pub fn mfa<T: Serialize>(template: &str, cloud_name: &str, page: &T) -> Result<String, String> {
    render(template, cloud_name, page)
}

pub fn form(cloud_name: &str, page: &FormPage) -> Result<String, String> {
    render("form.html", cloud_name, page)
}

pub fn done(cloud_name: &str, page: &DonePage) -> Result<String, String> {
    render("done.html", cloud_name, page)
}

pub fn message(cloud_name: &str, page: &MessagePage) -> Result<String, String> {
    render("message.html", cloud_name, page)
}

/// An HTML answer. A page that cannot be rendered is a bug: it is logged, and the browser gets
/// a plain 500 without detail.
pub fn html(status: StatusCode, rendered: Result<String, String>) -> HttpResponse {
    match rendered {
        Ok(body) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(body),
        Err(e) => {
            tracing::error!(error = %e, "account page");
            HttpResponse::InternalServerError()
                .content_type("text/html; charset=utf-8")
                .body("<!DOCTYPE html><title>Error</title><p>An unexpected error prevented the server from showing this page.</p>")
        }
    }
}

/// The headers every answer under `/account` carries, whatever produced it.
pub fn secure_headers(headers: &mut HeaderMap) {
    let set = |h: &mut HeaderMap, name: HeaderName, value: &'static str| {
        h.insert(name, HeaderValue::from_static(value));
    };
    set(headers, header::CACHE_CONTROL, "no-store");
    set(headers, header::PRAGMA, "no-cache");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        CONTENT_SECURITY_POLICY,
    );
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form_page() -> FormPage {
        FormPage {
            heading: "Set your password".into(),
            invitation: false,
            existing_user: false,
            user_name: Some("PCU-AB12CD34".into()),
            domain_name: "Default".into(),
            project_name: Some("shop".into()),
            roles: vec![],
            expires_at: "2026-12-02T04:00:00Z".into(),
            expires_at_text: "2026-12-02 04:00 UTC".into(),
            rules: vec!["It must be 6 to 32 characters long.".into()],
            min_length: 6,
            max_length: 32,
            error: None,
            csrf_token: "tok".into(),
            submit: "Set password".into(),
        }
    }

    #[test]
    fn every_value_is_escaped() {
        let evil = "<script>alert(1)</script>\"'&";
        let mut p = form_page();
        p.user_name = Some(evil.into());
        p.domain_name = evil.into();
        p.project_name = Some(evil.into());
        p.error = Some(evil.into());
        p.rules = vec![evil.into()];
        p.csrf_token = "\"><script>x</script>".into();
        let html = form(evil, &p).unwrap();
        assert!(!html.contains("<script"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
            "{html}"
        );
        let done_html = done(
            "c",
            &DonePage {
                heading: "Done".into(),
                user_name: evil.into(),
                domain_name: evil.into(),
                project_name: Some(evil.into()),
                exports: format!("export OS_USERNAME='{evil}'"),
                cloud_key: evil.into(),
                clouds_yaml: evil.into(),
            },
        )
        .unwrap();
        assert!(!done_html.contains("<script"), "{done_html}");
        let msg = message(
            "c",
            &MessagePage {
                heading: evil.into(),
                message: evil.into(),
                retry: true,
            },
        )
        .unwrap();
        assert!(!msg.contains("<script"), "{msg}");
    }

    #[test]
    fn the_set_password_form_has_two_fields_and_the_rules() {
        let html = form("Example Cloud", &form_page()).unwrap();
        assert!(html.contains(r#"name="password""#));
        assert!(html.contains(r#"name="confirm""#));
        assert!(html.contains(r#"<input type="hidden" name="csrf_token" value="tok">"#));
        assert!(html.contains("It must be 6 to 32 characters long."));
        assert!(html.contains("PCU-AB12CD34"));
        assert!(html.contains("Example Cloud"));
        assert!(!html.contains("action="), "the form posts to its own URL");
        assert!(!html.contains(r#"id="error""#));
    }

    #[test]
    fn an_existing_user_is_asked_for_its_current_password() {
        let mut p = form_page();
        p.invitation = true;
        p.existing_user = true;
        p.roles = vec![RoleLine {
            role: "member".into(),
            target: "project shop".into(),
        }];
        p.error = Some("The password was not accepted.".into());
        let html = form("c", &p).unwrap();
        assert!(html.contains("current-password"));
        assert!(!html.contains(r#"name="confirm""#));
        assert!(
            !html.contains("It must be 6"),
            "no policy for an existing password"
        );
        assert!(html.contains("<strong>member</strong> on project shop"));
        assert!(html.contains("The password was not accepted."));
    }

    #[test]
    fn a_new_invitee_without_a_name_is_told_one_is_made() {
        let mut p = form_page();
        p.invitation = true;
        p.user_name = None;
        let html = form("c", &p).unwrap();
        assert!(html.contains("A user name is made for you"));
        assert!(html.contains(r#"name="confirm""#));
    }

    #[test]
    fn the_headers_lock_the_page_down() {
        let mut h = HeaderMap::new();
        secure_headers(&mut h);
        assert_eq!(h.get("cache-control").unwrap(), "no-store");
        assert_eq!(h.get("referrer-policy").unwrap(), "no-referrer");
        assert_eq!(h.get("x-content-type-options").unwrap(), "nosniff");
        let csp = h.get("content-security-policy").unwrap().to_str().unwrap();
        for d in [
            "default-src 'none'",
            "style-src 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ] {
            assert!(csp.contains(d), "{csp}");
        }
        assert!(!csp.contains("script-src"), "no script may run: {csp}");
    }
}
