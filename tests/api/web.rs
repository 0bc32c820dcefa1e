//! The account pages (`/account/link/{secret}`, issue 11) as a browser meets them, on both
//! backends: the form, its headers and CSRF cookie, refusals (forged, used, cross-site, policy,
//! mismatched confirmation, wrong current password) and the done page's login lines, which are
//! then used to log in.

use reqwest::header::{HeaderMap, CONTENT_TYPE, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both_backends;
use crate::fixtures::*;
use crate::helpers::*;

const GOOD_PW: &str = "Page-Chosen-9";

/// A page as the tests read it.
struct Page {
    status: StatusCode,
    headers: HeaderMap,
    html: String,
}

impl Page {
    /// The value of the form's hidden CSRF field.
    fn csrf_field(&self) -> String {
        let at = self
            .html
            .find(r#"name="csrf_token" value=""#)
            .unwrap_or_else(|| panic!("no csrf field: {}", self.html));
        let rest = &self.html[at + r#"name="csrf_token" value=""#.len()..];
        rest[..rest.find('"').unwrap()].to_string()
    }

    /// The CSRF cookie the page set (`name=value`).
    fn csrf_cookie(&self) -> String {
        let c = self
            .headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("ironstone_csrf="))
            .unwrap_or_else(|| panic!("no csrf cookie: {:?}", self.headers))
            .to_string();
        c.split(';').next().unwrap().to_string()
    }

    /// The text of the `<pre id=...>` block, unescaped the way a browser shows it.
    fn pre(&self, id: &str) -> String {
        let open = format!(r#"<pre id="{id}">"#);
        let at = self
            .html
            .find(&open)
            .unwrap_or_else(|| panic!("no #{id}: {}", self.html));
        let rest = &self.html[at + open.len()..];
        unescape(&rest[..rest.find("</pre>").unwrap()])
    }

    #[track_caller]
    fn expect(self, status: u16) -> Self {
        assert_eq!(self.status.as_u16(), status, "{}", self.html);
        self
    }
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("&amp;", "&")
}

async fn page(app: &TestApp, secret: &str) -> Page {
    let res = app
        .client
        .get(app.url(&format!("/account/link/{secret}")))
        .send()
        .await
        .unwrap();
    read(res).await
}

async fn read(res: reqwest::Response) -> Page {
    let status = res.status();
    let headers = res.headers().clone();
    let html = res.text().await.unwrap();
    Page {
        status,
        headers,
        html,
    }
}

/// Submits the form the way a browser does after `shown` was displayed.
async fn submit(app: &TestApp, secret: &str, shown: &Page, fields: &[(&str, &str)]) -> Page {
    let mut form: Vec<(&str, String)> = vec![("csrf_token", shown.csrf_field())];
    form.extend(fields.iter().map(|(k, v)| (*k, v.to_string())));
    let res = app
        .client
        .post(app.url(&format!("/account/link/{secret}")))
        .header("Cookie", shown.csrf_cookie())
        // With Referrer-Policy: no-referrer browsers send "Origin: null" for their own form.
        .header("Origin", "null")
        .form(&form)
        .send()
        .await
        .unwrap();
    read(res).await
}

#[track_caller]
fn assert_locked_down(p: &Page) {
    let h = |n: &str| {
        p.headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        h(CONTENT_TYPE.as_str()).starts_with("text/html"),
        "{:?}",
        p.headers
    );
    assert_eq!(h("cache-control"), "no-store");
    assert_eq!(h("referrer-policy"), "no-referrer");
    assert_eq!(h("x-content-type-options"), "nosniff");
    let csp = h("content-security-policy");
    assert!(
        csp.contains("default-src 'none'") && csp.contains("form-action 'self'"),
        "{csp}"
    );
    assert!(!p.html.contains("<script"), "{}", p.html);
}

fn secret_of(link: &Value) -> String {
    let url = link["url"].as_str().expect("link.url (no mail configured)");
    url.rsplit_once("/account/link/").unwrap().1.to_string()
}

/// A project user in mode link made by the customer's manager: (id, name, secret).
async fn link_user(app: &TestApp, a: &Customer, extra: Value) -> (String, String, String) {
    let mut user = json!({"password_mode": "link", "email": "ann@example.com"});
    user.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let r = app
        .post(
            &format!("/v3/OS-PCU/projects/{}/users", a.project_id),
            &a.manager_token,
            json!({ "user": user }),
        )
        .await
        .expect(201);
    let u = &r.body["user"];
    (
        u["id"].as_str().unwrap().into(),
        u["name"].as_str().unwrap().into(),
        secret_of(&u["link"]),
    )
}

async fn invite(app: &TestApp, token: &str, invitation: Value) -> Value {
    app.post(
        "/v3/OS-PCU/invitations",
        token,
        json!({ "invitation": invitation }),
    )
    .await
    .expect(201)
    .body["invitation"]
        .clone()
}

/// `export NAME=VALUE` lines as a shell reads them (values are bare or single-quoted).
fn exports(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.strip_prefix("export "))
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap();
            let v = v
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .map(|v| v.replace(r"'\''", "'"))
                .unwrap_or_else(|| v.to_string());
            (k.to_string(), v)
        })
        .collect()
}

fn export<'a>(lines: &'a [(String, String)], key: &str) -> Option<&'a str> {
    lines
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

both_backends!(
    a_link_page_sets_the_password_and_shows_how_to_log_in,
    |app| {
        let a = customer(&app, "alpha").await;
        let (id, name, secret) = link_user(&app, &a, json!({})).await;
        let shown = page(&app, &secret).await.expect(200);
        assert_locked_down(&shown);
        assert!(shown.html.contains(&name), "{}", shown.html);
        assert!(shown.html.contains("It must be 6 to 32 characters long."));
        let cookie = shown
            .headers
            .get(SET_COOKIE)
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        for part in ["HttpOnly", "SameSite=Strict", "Path=/account"] {
            assert!(cookie.contains(part), "{cookie}");
        }
        assert_eq!(
            shown.csrf_cookie(),
            format!("ironstone_csrf={}", shown.csrf_field())
        );

        // The policy's reasons, the form again, the link still usable.
        let weak = submit(
            &app,
            &secret,
            &shown,
            &[("password", "abcdefgh"), ("confirm", "abcdefgh")],
        )
        .await
        .expect(400);
        assert_locked_down(&weak);
        assert!(
            weak.html
                .contains("The password does not meet the requirements"),
            "{}",
            weak.html
        );
        assert!(weak.html.contains(r#"name="confirm""#));
        assert!(
            !weak.html.contains("abcdefgh"),
            "the password is not echoed"
        );
        let differ = submit(
            &app,
            &secret,
            &shown,
            &[("password", GOOD_PW), ("confirm", "Other-Pass-9")],
        )
        .await
        .expect(400);
        assert!(
            differ.html.contains("The two passwords differ"),
            "{}",
            differ.html
        );
        let empty = submit(&app, &secret, &shown, &[]).await.expect(400);
        assert!(empty.html.contains("Enter the password."));
        app.auth(
            json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": name, "domain": {"id": a.domain_id}, "password": GOOD_PW}}}}}),
        )
        .await
        .expect(401);

        let done = submit(
            &app,
            &secret,
            &shown,
            &[("password", GOOD_PW), ("confirm", GOOD_PW)],
        )
        .await
        .expect(200);
        assert_locked_down(&done);
        assert!(!done.html.contains(GOOD_PW), "the password is not echoed");
        let lines = exports(&done.pre("exports"));
        assert_eq!(
            export(&lines, "OS_AUTH_URL"),
            Some(format!("{}/v3", app.base).as_str())
        );
        assert_eq!(export(&lines, "OS_USERNAME"), Some(name.as_str()));
        assert_eq!(export(&lines, "OS_USER_DOMAIN_NAME"), Some("alpha"));
        assert_eq!(export(&lines, "OS_PROJECT_NAME"), Some("main"));
        assert_eq!(export(&lines, "OS_PROJECT_DOMAIN_NAME"), Some("alpha"));
        assert_eq!(export(&lines, "OS_IDENTITY_API_VERSION"), Some("3"));
        assert_eq!(export(&lines, "OS_PASSWORD"), None);
        let yaml = done.pre("clouds-yaml");
        assert!(yaml.contains(&format!("username: \"{name}\"")), "{yaml}");
        assert!(yaml.contains("project_name: \"main\""), "{yaml}");

        // What the page said logs in.
        let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": export(&lines, "OS_USERNAME").unwrap(),
        "domain": {"name": export(&lines, "OS_USER_DOMAIN_NAME").unwrap()},
        "password": GOOD_PW}}},
        "scope": {"project": {"name": export(&lines, "OS_PROJECT_NAME").unwrap(),
                              "domain": {"name": export(&lines, "OS_PROJECT_DOMAIN_NAME").unwrap()}}}}});
        let t = app.auth(body).await.expect(201);
        assert_eq!(t.body["token"]["user"]["id"], id.as_str());
        assert_eq!(t.body["token"]["project"]["id"], a.project_id.as_str());

        // Once: the page and the form both say it was used.
        let again = page(&app, &secret).await.expect(404);
        assert_locked_down(&again);
        assert!(again.html.contains("already used"), "{}", again.html);
        assert!(!again.html.contains(r#"name="password""#));
        let replay = submit(
            &app,
            &secret,
            &shown,
            &[
                ("password", "Another-Pass-9"),
                ("confirm", "Another-Pass-9"),
            ],
        )
        .await
        .expect(404);
        assert!(replay.html.contains("already used"), "{}", replay.html);
        token_in(&app, &a.domain_id, &name, GOOD_PW, "main").await;
    }
);

both_backends!(forged_links_and_forged_forms_are_refused, |app| {
    let a = customer(&app, "alpha").await;
    let (_, name, secret) = link_user(&app, &a, json!({})).await;
    // A forged secret and a withdrawn-looking one read the same.
    for forged in [
        "A".repeat(43),
        "short".to_string(),
        format!("{}x", &secret[..42]),
    ] {
        let p = page(&app, &forged).await.expect(404);
        assert_locked_down(&p);
        assert!(p.html.contains("This link is not valid."), "{}", p.html);
        assert!(
            !p.html.contains(&forged),
            "the page does not repeat the secret"
        );
    }
    let shown = page(&app, &secret).await.expect(200);
    let url = app.url(&format!("/account/link/{secret}"));
    let fields = [
        ("csrf_token", shown.csrf_field()),
        ("password", GOOD_PW.to_string()),
        ("confirm", GOOD_PW.to_string()),
    ];
    // No cookie (another site's form: SameSite=Strict keeps it home).
    let p = read(app.client.post(&url).form(&fields).send().await.unwrap())
        .await
        .expect(403);
    assert_locked_down(&p);
    // A cookie that does not match the field.
    let other = format!("ironstone_csrf={}", "B".repeat(43));
    read(
        app.client
            .post(&url)
            .header("Cookie", other)
            .form(&fields)
            .send()
            .await
            .unwrap(),
    )
    .await
    .expect(403);
    // The right pair from a page of another origin.
    read(
        app.client
            .post(&url)
            .header("Cookie", shown.csrf_cookie())
            .header("Origin", "https://attacker.example")
            .form(&fields)
            .send()
            .await
            .unwrap(),
    )
    .await
    .expect(403);
    // A body no form of ours sends.
    let huge = "x".repeat(20_000);
    read(
        app.client
            .post(&url)
            .header("Cookie", shown.csrf_cookie())
            .form(&[("csrf_token", shown.csrf_field()), ("password", huge)])
            .send()
            .await
            .unwrap(),
    )
    .await
    .expect(413);
    // Nothing of that set a password: the link still works, and only now the user logs in.
    app.auth(
        json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": name, "domain": {"id": a.domain_id}, "password": GOOD_PW}}}}}),
    )
    .await
    .expect(401);
    submit(
        &app,
        &secret,
        &shown,
        &[("password", GOOD_PW), ("confirm", GOOD_PW)],
    )
    .await
    .expect(200);
    token_in(&app, &a.domain_id, &name, GOOD_PW, "main").await;
});

both_backends!(invitations_open_the_form_they_need, |app| {
    let a = customer(&app, "alpha").await;
    // A new person: two password fields, the roles, then the login lines.
    let inv = invite(
        &app,
        &a.manager_token,
        json!({"email": "new@example.com", "name": "newcomer",
               "roles": [{"role": "member", "project_id": a.project_id}]}),
    )
    .await;
    let secret = secret_of(&inv["link"]);
    let shown = page(&app, &secret).await.expect(200);
    assert_locked_down(&shown);
    assert!(shown.html.contains(r#"name="confirm""#));
    assert!(
        shown
            .html
            .contains("<strong>member</strong> on project main"),
        "{}",
        shown.html
    );
    let done = submit(
        &app,
        &secret,
        &shown,
        &[("password", GOOD_PW), ("confirm", GOOD_PW)],
    )
    .await
    .expect(200);
    let lines = exports(&done.pre("exports"));
    assert_eq!(export(&lines, "OS_USERNAME"), Some("newcomer"));
    assert_eq!(export(&lines, "OS_PROJECT_NAME"), Some("main"));
    token_in(&app, &a.domain_id, "newcomer", GOOD_PW, "main").await;

    // An existing user: one field, its current password; a wrong one shows the form again.
    let second = create_project(&app, &a.domain_id, "second").await;
    app.patch(
        &format!("/v3/users/{}", a.member_id),
        &app.admin_token,
        json!({"user": {"email": "worker@example.com"}}),
    )
    .await
    .expect(200);
    let inv = invite(
        &app,
        &a.manager_token,
        json!({"email": "worker@example.com", "roles": [{"role": "reader", "project_id": second}]}),
    )
    .await;
    let secret = secret_of(&inv["link"]);
    let shown = page(&app, &secret).await.expect(200);
    assert!(shown.html.contains("current-password"), "{}", shown.html);
    assert!(!shown.html.contains(r#"name="confirm""#));
    assert!(shown.html.contains("worker"));
    let wrong = submit(&app, &secret, &shown, &[("password", "Wrong-Pass-1")])
        .await
        .expect(401);
    assert!(
        wrong.html.contains("The password was not accepted."),
        "{}",
        wrong.html
    );
    let done = submit(&app, &secret, &shown, &[("password", PW)])
        .await
        .expect(200);
    let lines = exports(&done.pre("exports"));
    assert_eq!(export(&lines, "OS_USERNAME"), Some("worker"));
    assert_eq!(export(&lines, "OS_PROJECT_NAME"), Some("second"));
    token_in(&app, &a.domain_id, "worker", PW, "second").await;

    // An existing user without a password (made without one): it chooses one on the page.
    let r = app
        .post(
            "/v3/users",
            &app.admin_token,
            json!({"user": {"name": "nopass", "domain_id": a.domain_id, "email": "nopass@example.com"}}),
        )
        .await
        .expect(201);
    assert_eq!(r.body["user"]["OS-PCU:status"], "pending");
    let inv = invite(
        &app,
        &a.manager_token,
        json!({"email": "nopass@example.com", "roles": [{"role": "reader", "project_id": second}]}),
    )
    .await;
    let secret = secret_of(&inv["link"]);
    let shown = page(&app, &secret).await.expect(200);
    assert!(shown.html.contains(r#"name="confirm""#), "{}", shown.html);
    assert!(!shown.html.contains("current-password"), "{}", shown.html);
    submit(
        &app,
        &secret,
        &shown,
        &[("password", GOOD_PW), ("confirm", GOOD_PW)],
    )
    .await
    .expect(200);
    token_in(&app, &a.domain_id, "nopass", GOOD_PW, "second").await;
});

both_backends!(hostile_names_are_escaped_and_quoted, |app| {
    let a = customer(&app, "alpha").await;
    let evil = r#"<b>ann</b> o'neil "$(x)""#;
    let (_, _, secret) = link_user(&app, &a, json!({ "name": evil })).await;
    let shown = page(&app, &secret).await.expect(200);
    assert!(!shown.html.contains("<b>ann</b>"), "{}", shown.html);
    assert!(
        shown.html.contains("&lt;b&gt;ann&lt;&#x2f;b&gt;"),
        "{}",
        shown.html
    );
    let done = submit(
        &app,
        &secret,
        &shown,
        &[("password", GOOD_PW), ("confirm", GOOD_PW)],
    )
    .await
    .expect(200);
    let text = done.pre("exports");
    assert!(
        text.contains(r#"export OS_USERNAME='<b>ann</b> o'\''neil "$(x)"'"#),
        "{text}"
    );
    token_in(&app, &a.domain_id, evil, GOOD_PW, "main").await;
});

both_backends!(every_account_answer_is_a_locked_down_page, |app| {
    for (method, path, status) in [
        (reqwest::Method::GET, "/account/nothing-here", 404),
        (reqwest::Method::GET, "/account/link/", 404),
        (reqwest::Method::PUT, "/account/link/abc", 405),
        (reqwest::Method::DELETE, "/account/link/abc", 405),
    ] {
        let p = read(
            app.client
                .request(method.clone(), app.url(path))
                .send()
                .await
                .unwrap(),
        )
        .await
        .expect(status);
        assert_locked_down(&p);
    }
    let css = app
        .client
        .get(app.url("/account/style.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), 200);
    assert_eq!(css.headers()["x-content-type-options"], "nosniff");
    assert!(css.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
    // The API keeps its JSON errors.
    let r = app
        .get("/v3/nothing-here", &app.admin_token)
        .await
        .expect(404);
    assert!(r.body["error"]["message"].is_string(), "{}", r.body);
});
