//! `/account/2fa` (issue 12) as a browser meets it, on both backends: sign in with the password,
//! read the secret the page shows, a wrong first passcode changes nothing, the right one turns
//! MFA on (a password alone then gets a receipt), the page's sign-in is revoked, and the
//! attacker's side: no CSRF pair, no session, someone else's enrolment, a wrong password.

use reqwest::header::{HeaderMap, SET_COOKIE};
use serde_json::json;

use crate::fixtures::*;
use crate::helpers::*;
use crate::totp::code;
use crate::{both_backends, both_backends_with};

struct Page {
    status: u16,
    headers: HeaderMap,
    html: String,
}

impl Page {
    fn field(&self, name: &str) -> String {
        let needle = format!(r#"name="{name}" value=""#);
        let at = self
            .html
            .find(&needle)
            .unwrap_or_else(|| panic!("no {name} field: {}", self.html));
        let rest = &self.html[at + needle.len()..];
        rest[..rest.find('"').unwrap()].to_string()
    }

    fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .map(String::from)
    }

    /// The secret as the page shows it, without the grouping spaces.
    fn secret(&self) -> String {
        let open = r#"<pre id="totp-secret">"#;
        let at = self
            .html
            .find(open)
            .unwrap_or_else(|| panic!("no secret: {}", self.html));
        let rest = &self.html[at + open.len()..];
        rest[..rest.find("</pre>").unwrap()].replace(' ', "")
    }
}

/// A browser on the page: it keeps the cookies the page sets.
struct Browser<'a> {
    app: &'a TestApp,
    csrf: String,
    session: Option<String>,
}

impl<'a> Browser<'a> {
    async fn open(app: &'a TestApp) -> (Browser<'a>, Page) {
        let res = app
            .client
            .get(app.url("/account/2fa"))
            .send()
            .await
            .unwrap();
        let p = read(res).await;
        assert_eq!(p.status, 200, "{}", p.html);
        let csrf = p.cookie("ironstone_csrf").expect("csrf cookie");
        let csrf = csrf.split(';').next().unwrap().to_string();
        (
            Browser {
                app,
                csrf,
                session: None,
            },
            p,
        )
    }

    async fn post(&mut self, shown: &Page, fields: &[(&str, &str)]) -> Page {
        // With Referrer-Policy: no-referrer browsers send "Origin: null" for their own form.
        self.post_from("null", shown, fields).await
    }

    /// A submission whose `Origin` header is `origin`.
    async fn post_from(&mut self, origin: &str, shown: &Page, fields: &[(&str, &str)]) -> Page {
        let mut form: Vec<(&str, String)> = vec![("csrf_token", shown.field("csrf_token"))];
        form.extend(fields.iter().map(|(k, v)| (*k, v.to_string())));
        let mut cookies = vec![self.csrf.clone()];
        cookies.extend(self.session.clone());
        let res = self
            .app
            .client
            .post(self.app.url("/account/2fa"))
            .header("Cookie", cookies.join("; "))
            .header("Origin", origin)
            .form(&form)
            .send()
            .await
            .unwrap();
        let p = read(res).await;
        if let Some(c) = p.cookie("ironstone_2fa") {
            let pair = c.split(';').next().unwrap().to_string();
            self.session = (pair != "ironstone_2fa=").then_some(pair);
        }
        p
    }
}

async fn read(res: reqwest::Response) -> Page {
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    Page {
        status,
        headers,
        html: res.text().await.unwrap(),
    }
}

/// A member of project p with it as default project.
async fn user_with_project(app: &TestApp, name: &str) -> String {
    let id = crate::totp::member(app, name).await;
    let p = app.get("/v3/projects?name=p", &app.admin_token).await.body["projects"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.patch(
        &format!("/v3/users/{id}"),
        &app.admin_token,
        json!({"user": {"default_project_id": p}}),
    )
    .await
    .expect(200);
    id
}

fn login_fields<'a>(name: &'a str, password: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("step", "login"),
        ("user_name", name),
        ("domain", "Default"),
        ("password", password),
    ]
}

both_backends!(a_user_turns_on_two_factor_on_the_page, |app| {
    let id = user_with_project(&app, "ann").await;
    let (mut b, shown) = Browser::open(&app).await;
    for h in [
        "cache-control",
        "content-security-policy",
        "referrer-policy",
    ] {
        assert!(shown.headers.get(h).is_some(), "{h} on the page");
    }
    let enrol = b.post(&shown, &login_fields("ann", PW)).await;
    assert_eq!(enrol.status, 200, "{}", enrol.html);
    assert!(enrol.html.contains("<svg"), "the QR code is inline SVG");
    assert!(
        !enrol.html.contains("<?xml"),
        "no XML declaration inside HTML"
    );
    let session = enrol.cookie("ironstone_2fa").expect("the page's sign-in");
    for part in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/account/2fa",
        "Max-Age=600",
    ] {
        assert!(session.contains(part), "{session}");
    }
    let secret = enrol.secret();
    assert_eq!(
        crate::totp::secret_bytes(&secret).len(),
        20,
        "160-bit secret"
    );

    // Nothing changes before the first passcode is right.
    let wrong = if code(&secret, 0) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let again = b
        .post(
            &enrol,
            &[
                ("step", "confirm"),
                ("credential_id", &enrol.field("credential_id")),
                ("passcode", wrong),
            ],
        )
        .await;
    assert_eq!(again.status, 400, "{}", again.html);
    assert_eq!(
        again.secret(),
        secret,
        "the same secret again: the app holds it"
    );
    let user = app.get(&format!("/v3/users/{id}"), &app.admin_token).await;
    assert_eq!(user.body["user"]["OS-PCU:mfa_enabled"], false);
    app.auth(password_auth("ann", PW, Some("p")))
        .await
        .expect(201);

    let done = b
        .post(
            &again,
            &[
                ("step", "confirm"),
                ("credential_id", &again.field("credential_id")),
                ("passcode", &code(&secret, 0)),
            ],
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.html);
    assert!(done.html.contains("v3multifactor"), "{}", done.html);
    assert!(b.session.is_none(), "the page's sign-in cookie is cleared");
    let user = app.get(&format!("/v3/users/{id}"), &app.admin_token).await;
    assert_eq!(user.body["user"]["OS-PCU:mfa_enabled"], true);
    // A password alone now gets a receipt, not a token.
    let r = app
        .auth(password_auth("ann", PW, Some("p")))
        .await
        .expect(401);
    assert!(r.header("openstack-auth-receipt").is_some());
    // The page's sign-in was revoked.
    let token = session
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("ironstone_2fa=");
    app.validate(token).await.expect(404);
});

both_backends!(
    the_page_refuses_what_a_browser_of_the_user_would_not_send,
    |app| {
        user_with_project(&app, "bob").await;
        let other = user_with_project(&app, "eve").await;
        let (mut b, shown) = Browser::open(&app).await;

        // A wrong password: the API's generic words, no session.
        let p = b.post(&shown, &login_fields("bob", "Not-His-Pass-1")).await;
        assert_eq!(p.status, 401, "{}", p.html);
        assert!(b.session.is_none());
        let unknown = b
            .post(&shown, &login_fields("nobody-here", "Not-His-Pass-1"))
            .await;
        assert_eq!(unknown.status, 401);
        let message = |html: &str| {
            html[html.find("role=\"alert\"").unwrap()..]
                .split("</div>")
                .next()
                .unwrap()
                .to_string()
        };
        assert_eq!(
            message(&p.html),
            message(&unknown.html),
            "no user enumeration"
        );

        // No CSRF pair (another site's form): refused, nothing signed in.
        let res = app
            .client
            .post(app.url("/account/2fa"))
            .form(&[
                ("step", "login"),
                ("user_name", "bob"),
                ("domain", "Default"),
                ("password", PW),
            ])
            .send()
            .await
            .unwrap();
        let p = read(res).await;
        assert_eq!(p.status, 403, "{}", p.html);
        assert!(p.cookie("ironstone_2fa").is_none());

        // Confirming without the page's sign-in.
        let res = app
            .client
            .post(app.url("/account/2fa"))
            .header("Cookie", b.csrf.clone())
            .form(&[
                ("csrf_token", shown.field("csrf_token")),
                ("step", "confirm".into()),
                ("credential_id", "x".into()),
                ("passcode", "123456".into()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(read(res).await.status, 401);

        // Eve's pending enrolment cannot be confirmed from Bob's sign-in.
        let (mut eve, shown_e) = Browser::open(&app).await;
        let eve_page = eve.post(&shown_e, &login_fields("eve", PW)).await;
        assert_eq!(eve_page.status, 200);
        let enrol = b.post(&shown, &login_fields("bob", PW)).await;
        assert_eq!(enrol.status, 200);
        let p = b
            .post(
                &enrol,
                &[
                    ("step", "confirm"),
                    ("credential_id", &eve_page.field("credential_id")),
                    ("passcode", &code(&eve_page.secret(), 0)),
                ],
            )
            .await;
        assert_ne!(p.status, 200, "{}", p.html);
        let eve_user = app
            .get(&format!("/v3/users/{other}"), &app.admin_token)
            .await;
        assert_eq!(eve_user.body["user"]["OS-PCU:mfa_enabled"], false);
    }
);

/// The token of a page's sign-in cookie pair (`ironstone_2fa=...`).
fn session_token(pair: &str) -> String {
    pair.trim_start_matches("ironstone_2fa=").to_string()
}

both_backends!(
    a_sign_in_older_than_the_session_is_refused_and_revoked,
    |app| {
        let id = user_with_project(&app, "cat").await;
        let (mut b, shown) = Browser::open(&app).await;
        let enrol = b.post(&shown, &login_fields("cat", PW)).await;
        assert_eq!(enrol.status, 200, "{}", enrol.html);
        let token = session_token(b.session.as_deref().expect("the page's sign-in"));

        // The page's token lives no longer than its session (not the whole [token] expiration).
        let v = app.validate(&token).await.expect(200);
        let expires: chrono::DateTime<chrono::Utc> = v.body["token"]["expires_at"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            expires <= chrono::Utc::now() + chrono::Duration::minutes(10),
            "{}",
            v.body
        );

        // The same sign-in as if issued eleven minutes ago (a browser that kept the cookie past its
        // Max-Age, or a copied token): sealed by the server's own keys, only its time moved.
        let opened = app.state.tokens.open(&token).unwrap();
        let old = app.state.tokens.seal(
            &opened.payload,
            opened.issued_at - chrono::Duration::minutes(11),
        );
        app.validate(&old).await.expect(200);
        b.session = Some(format!("ironstone_2fa={old}"));
        let p = b
            .post(
                &enrol,
                &[
                    ("step", "confirm"),
                    ("credential_id", &enrol.field("credential_id")),
                    ("passcode", &code(&enrol.secret(), 0)),
                ],
            )
            .await;
        assert_eq!(p.status, 401, "{}", p.html);
        assert!(p.html.contains("Sign in again"), "{}", p.html);
        assert!(p.html.contains(r#"name="password""#), "the sign-in form");
        assert!(b.session.is_none(), "the page's sign-in cookie is cleared");
        let user = app.get(&format!("/v3/users/{id}"), &app.admin_token).await;
        assert_eq!(user.body["user"]["OS-PCU:mfa_enabled"], false);
        // Revoked: the old one, and the real one of the same sign-in (one audit id).
        app.validate(&old).await.expect(404);
        app.validate(&token).await.expect(404);
    }
);

both_backends!(
    someone_elses_enrolment_with_a_bad_passcode_shows_nothing,
    |app| {
        let bob = user_with_project(&app, "bob").await;
        let eve = user_with_project(&app, "eve").await;
        let (mut e, shown_e) = Browser::open(&app).await;
        let eve_page = e.post(&shown_e, &login_fields("eve", PW)).await;
        assert_eq!(eve_page.status, 200, "{}", eve_page.html);
        let eve_secret = eve_page.secret();
        let eve_cred = eve_page.field("credential_id");
        // As the page shows it: in groups of four.
        let grouped = eve_secret
            .as_bytes()
            .chunks(4)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join(" ");
        let near: Vec<String> = (-1..=1).map(|o| code(&eve_secret, o)).collect();
        let wrong = ["000000", "111111", "222222", "333333"]
            .into_iter()
            .find(|c| !near.iter().any(|n| n == c))
            .unwrap();

        let (mut b, shown) = Browser::open(&app).await;
        for passcode in ["abc", wrong] {
            let enrol = b.post(&shown, &login_fields("bob", PW)).await;
            assert_eq!(enrol.status, 200, "{}", enrol.html);
            let token = session_token(b.session.as_deref().unwrap());
            let p = b
                .post(
                    &enrol,
                    &[
                        ("step", "confirm"),
                        ("credential_id", &eve_cred),
                        ("passcode", passcode),
                    ],
                )
                .await;
            assert_ne!(p.status, 200, "{passcode}: {}", p.html);
            assert!(
                !p.html.contains(&eve_secret) && !p.html.contains(&grouped),
                "{passcode}: Eve's secret shown: {}",
                p.html
            );
            assert!(!p.html.contains("<svg"), "{passcode}: a QR code shown");
            // A dead end: Bob's page sign-in is over and revoked.
            assert!(b.session.is_none(), "{passcode}");
            app.validate(&token).await.expect(404);
        }

        // Nothing changed: neither has MFA, and Eve's enrolment still completes.
        for uid in [&bob, &eve] {
            let u = app.get(&format!("/v3/users/{uid}"), &app.admin_token).await;
            assert_eq!(u.body["user"]["OS-PCU:mfa_enabled"], false);
        }
        let done = e
            .post(
                &eve_page,
                &[
                    ("step", "confirm"),
                    ("credential_id", &eve_cred),
                    ("passcode", &code(&eve_secret, 0)),
                ],
            )
            .await;
        assert_eq!(done.status, 200, "{}", done.html);
        let u = app.get(&format!("/v3/users/{eve}"), &app.admin_token).await;
        assert_eq!(u.body["user"]["OS-PCU:mfa_enabled"], true);
    }
);

/// Where mailed links point when it is not `public_url`: the pages are served there too.
const LINKS_HOST: &str = "https://links.example";

both_backends_with!(
    the_page_accepts_forms_from_the_links_host_and_no_other,
    |cfg| {
        cfg.links.base_url = Some(format!("{LINKS_HOST}/identity"));
    },
    |app| {
        user_with_project(&app, "dan").await;
        let (mut b, shown) = Browser::open(&app).await;
        let cookie = shown.cookie("ironstone_csrf").unwrap();
        assert!(
            cookie.contains("Secure"),
            "the links host is HTTPS: {cookie}"
        );

        // Another site's form, even with the right pair: refused, nothing signed in.
        let p = b
            .post_from("https://evil.example", &shown, &login_fields("dan", PW))
            .await;
        assert_eq!(p.status, 403, "{}", p.html);
        assert!(b.session.is_none());
        // The links host under another scheme is another origin.
        let p = b
            .post_from("http://links.example", &shown, &login_fields("dan", PW))
            .await;
        assert_eq!(p.status, 403, "{}", p.html);
        assert!(b.session.is_none());

        // The page as opened from the links host: its form goes through.
        let p = b
            .post_from(LINKS_HOST, &shown, &login_fields("dan", PW))
            .await;
        assert_eq!(p.status, 200, "{}", p.html);
        assert!(p.html.contains("<svg"), "the enrolment step: {}", p.html);
        assert!(b.session.is_some(), "the page's sign-in");

        // And still from the server's public URL.
        let public = app.url("");
        let public = public.trim_end_matches('/');
        let (mut c, shown_c) = Browser::open(&app).await;
        let p = c
            .post_from(public, &shown_c, &login_fields("dan", PW))
            .await;
        assert_eq!(p.status, 200, "{public}: {}", p.html);
    }
);
