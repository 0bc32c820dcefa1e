//! Set-password links (issue 11): the one-call project user in mode link, password_link, and
//! redemption through `accounts::redeem` (what the web page calls), from the attacker's side:
//! forged, expired, used and replaced links, two redemptions at once, the wrong people asking.

use chrono::{Duration, Utc};
use futures_util::future::join;
use ironstone::accounts::redeem::{self, LinkKind};
use ironstone::error::{Error, LinkProblem};
use secrecy::SecretString;
use serde_json::{json, Value};

use crate::both_backends;
use crate::fixtures::*;
use crate::helpers::*;

pub const NEW_PW: &str = "Chosen-Pass-7";

/// The secret at the end of a link's URL.
pub fn secret_of(link: &Value) -> String {
    let url = link["url"].as_str().expect("link.url (no mail configured)");
    url.rsplit_once("/account/link/")
        .expect("link URL")
        .1
        .to_string()
}

pub fn pw(s: &str) -> SecretString {
    SecretString::from(s.to_string())
}

#[track_caller]
pub fn link_problem<T: std::fmt::Debug>(r: Result<T, Error>, want: LinkProblem) {
    match r {
        Err(Error::Link(p)) => assert_eq!(p, want),
        other => panic!("expected {want:?}, got {other:?}"),
    }
}

/// A project user in mode link, made by `token`; returns (user id, name, link secret).
async fn link_user(
    app: &TestApp,
    token: &str,
    project_id: &str,
    email: &str,
) -> (String, String, String) {
    let r = app
        .post(
            &format!("/v3/OS-PCU/projects/{project_id}/users"),
            token,
            json!({"user": {"password_mode": "link", "email": email}}),
        )
        .await
        .expect(201);
    let u = &r.body["user"];
    assert!(u.get("password").is_none(), "{u}");
    assert!(u["link"]["expires_at"].is_string(), "{u}");
    assert!(
        u["link"].get("sent_to").is_none(),
        "no mail server: the URL is handed over"
    );
    (
        u["id"].as_str().unwrap().to_string(),
        u["name"].as_str().unwrap().to_string(),
        secret_of(&u["link"]),
    )
}

both_backends!(a_link_user_sets_its_password_once_then_logs_in, |app| {
    let a = customer(&app, "alpha").await;
    let (id, name, secret) =
        link_user(&app, &a.manager_token, &a.project_id, "ann@example.com").await;
    assert_eq!(secret.len(), 43);
    // Pending: no password, so no login of any kind.
    let user = app
        .get(&format!("/v3/users/{id}"), &app.admin_token)
        .await
        .expect(200);
    assert_eq!(user.body["user"]["OS-PCU:status"], "pending");
    let pending = app
        .get(
            &format!("/v3/users?domain_id={}&OS-PCU:status=pending", a.domain_id),
            &app.admin_token,
        )
        .await
        .expect(200);
    assert_eq!(ids(&pending.body, "users"), vec![id.clone()]);
    let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": name, "domain": {"id": a.domain_id}, "password": ""}}}}});
    app.auth(body).await.expect(401);

    let info = redeem::inspect(&app.state, &secret, Utc::now())
        .await
        .unwrap();
    assert_eq!(info.kind, LinkKind::SetPassword);
    assert_eq!(info.user_name.as_deref(), Some(name.as_str()));
    assert_eq!(info.domain_name, "alpha");
    assert_eq!(info.project_name.as_deref(), Some("main"));
    assert_eq!(
        info.roles,
        vec![("member".to_string(), "project main".to_string())]
    );

    // The policy's reasons; the link stays usable.
    let weak = redeem::set_password(&app.state, &secret, pw("abc"), Utc::now()).await;
    match weak {
        Err(Error::Validation(m)) => assert!(m.to_lowercase().contains("character"), "{m}"),
        other => panic!("expected the policy's refusal, got {other:?}"),
    }
    let done = redeem::set_password(&app.state, &secret, pw(NEW_PW), Utc::now())
        .await
        .unwrap();
    assert_eq!(
        (done.user_id.as_str(), done.user_name.as_str()),
        (id.as_str(), name.as_str())
    );
    assert_eq!(done.project_name.as_deref(), Some("main"));
    assert_eq!(done.domain_name, "alpha");
    token_in(&app, &a.domain_id, &name, NEW_PW, "main").await;
    let user = app
        .get(&format!("/v3/users/{id}"), &app.admin_token)
        .await
        .expect(200);
    assert_eq!(user.body["user"]["OS-PCU:status"], "active");

    // Used: explained, and nothing changes.
    link_problem(
        redeem::set_password(&app.state, &secret, pw("Other-Pass-8"), Utc::now()).await,
        LinkProblem::Used,
    );
    link_problem(
        redeem::inspect(&app.state, &secret, Utc::now()).await,
        LinkProblem::Used,
    );
    token_in(&app, &a.domain_id, &name, NEW_PW, "main").await;
    // Resending for a user that set its password: 409 saying what to do instead.
    let r = app
        .post(
            &format!("/v3/OS-PCU/users/{id}/password_link"),
            &a.manager_token,
            json!({}),
        )
        .await
        .expect(409);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("PATCH"),
        "{}",
        r.body
    );
});

both_backends!(forged_expired_and_replaced_links_are_explained, |app| {
    let a = customer(&app, "alpha").await;
    let (id, _, first) = link_user(&app, &a.manager_token, &a.project_id, "bob@example.com").await;
    // Forged: well-formed or not, the same answer, and it says what to do.
    let forged = "A".repeat(43);
    link_problem(
        redeem::inspect(&app.state, &forged, Utc::now()).await,
        LinkProblem::Unknown,
    );
    link_problem(
        redeem::set_password(&app.state, "x", pw(NEW_PW), Utc::now()).await,
        LinkProblem::Unknown,
    );
    let tampered = format!(
        "{}{}",
        &first[..42],
        if first.ends_with('A') { "B" } else { "A" }
    );
    link_problem(
        redeem::set_password(&app.state, &tampered, pw(NEW_PW), Utc::now()).await,
        LinkProblem::Unknown,
    );
    let msg = Error::Link(LinkProblem::Unknown).to_string();
    assert!(
        msg.contains("not valid") && msg.contains("new one"),
        "{msg}"
    );

    // Expired (time is a parameter): explained with the moment it expired.
    let info = redeem::inspect(&app.state, &first, Utc::now())
        .await
        .unwrap();
    let later = info.expires_at + Duration::seconds(1);
    let r = redeem::set_password(&app.state, &first, pw(NEW_PW), later).await;
    link_problem(r, LinkProblem::Expired(info.expires_at));

    // Resent (short-lived, to another address): the first link is dead, the second works.
    let r = app
        .post(
            &format!("/v3/OS-PCU/users/{id}/password_link"),
            &a.manager_token,
            json!({"link": {"email": "bob.private@example.org", "expires_in": 60}}),
        )
        .await
        .expect(201);
    let expires: chrono::DateTime<Utc> = r.body["link"]["expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(expires <= Utc::now() + Duration::seconds(61), "{}", r.body);
    let second = secret_of(&r.body["link"]);
    assert_ne!(first, second);
    link_problem(
        redeem::set_password(&app.state, &first, pw(NEW_PW), Utc::now()).await,
        LinkProblem::Replaced,
    );
    redeem::set_password(&app.state, &second, pw(NEW_PW), Utc::now())
        .await
        .unwrap();
});

both_backends!(two_redemptions_at_once_exactly_one_wins, |app| {
    let a = customer(&app, "alpha").await;
    let (_, name, secret) =
        link_user(&app, &a.manager_token, &a.project_id, "cy@example.com").await;
    let (x, y) = join(
        redeem::set_password(&app.state, &secret, pw("First-Pass-1"), Utc::now()),
        redeem::set_password(&app.state, &secret, pw("Second-Pass-2"), Utc::now()),
    )
    .await;
    let (won, lost) = match (x, y) {
        (Ok(_), Err(e)) => ("First-Pass-1", e),
        (Err(e), Ok(_)) => ("Second-Pass-2", e),
        other => panic!("exactly one must win: {other:?}"),
    };
    assert!(
        matches!(lost, Error::Link(LinkProblem::Used) | Error::Conflict(_)),
        "{lost:?}"
    );
    token_in(&app, &a.domain_id, &name, won, "main").await;
});

both_backends!(who_may_send_a_password_link, |app| {
    let a = customer(&app, "alpha").await;
    let b = customer(&app, "beta").await;
    let (id, _, _) = link_user(&app, &a.manager_token, &a.project_id, "dee@example.com").await;
    let path = format!("/v3/OS-PCU/users/{id}/password_link");
    // A manager of another domain, a member, the user's own domain's member: refused.
    app.post(&path, &b.manager_token, json!({}))
        .await
        .expect(403);
    app.post(&path, &a.member_token, json!({}))
        .await
        .expect(403);
    // The cloud admin and the domain's manager may; the body is optional.
    app.request(reqwest::Method::POST, &path, Some(&app.admin_token), None)
        .await
        .expect(201);
    app.post(&path, &a.manager_token, json!({"link": {}}))
        .await
        .expect(201);
    // An unknown user: 404.
    app.post(
        "/v3/OS-PCU/users/nope/password_link",
        &app.admin_token,
        json!({}),
    )
    .await
    .expect(404);
});

both_backends!(bad_link_requests_say_what_to_fix_and_write_nothing, |app| {
    let a = customer(&app, "alpha").await;
    let path = format!("/v3/OS-PCU/projects/{}/users", a.project_id);
    let users_before = app
        .get(
            &format!("/v3/users?domain_id={}", a.domain_id),
            &app.admin_token,
        )
        .await
        .expect(200);
    for (body, field) in [
        (
            json!({"user": {"password_mode": "link"}}),
            "user.link_email",
        ),
        (
            json!({"user": {"password_mode": "link", "link_email": "not-an-address"}}),
            "user.link_email",
        ),
        (
            json!({"user": {"password_mode": "link", "email": "e@example.com", "password": NEW_PW}}),
            "user.password",
        ),
        (
            json!({"user": {"password_mode": "given", "password": NEW_PW, "link_email": "e@example.com"}}),
            "user.link_email",
        ),
    ] {
        let r = app
            .post(&path, &a.manager_token, body.clone())
            .await
            .expect(400);
        let msg = r.body["error"]["message"].as_str().unwrap();
        assert!(msg.contains(field), "{body}: {msg}");
    }
    // An unknown role after the link is planned: nothing half-written.
    app.post(
        &path,
        &a.manager_token,
        json!({"user": {"password_mode": "link", "email": "e@example.com", "roles": ["no-such-role"]}}),
    )
    .await
    .expect(404);
    let users_after = app
        .get(
            &format!("/v3/users?domain_id={}", a.domain_id),
            &app.admin_token,
        )
        .await
        .expect(200);
    assert_eq!(
        ids(&users_before.body, "users"),
        ids(&users_after.body, "users")
    );
    let (id, _, _) = link_user(&app, &a.manager_token, &a.project_id, "f@example.com").await;
    let link = format!("/v3/OS-PCU/users/{id}/password_link");
    for (body, field) in [
        (json!({"link": {"expires_in": 1}}), "link.expires_in"),
        (json!({"link": {"expires_in": 86401}}), "link.expires_in"),
        (
            json!({"link": {"email": "no spaces@example.com"}}),
            "link.email",
        ),
        (json!({"link": {"mail": "x@example.com"}}), "mail"),
    ] {
        let r = app
            .post(&link, &a.manager_token, body.clone())
            .await
            .expect(400);
        let msg = r.body["error"]["message"].as_str().unwrap();
        assert!(msg.contains(field), "{body}: {msg}");
    }
    // Malformed JSON in an optional body is still refused, never ignored.
    let r = app
        .client
        .post(app.url(&link))
        .header("X-Auth-Token", &a.manager_token)
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    // A bad status filter.
    app.get("/v3/users?OS-PCU:status=sleeping", &app.admin_token)
        .await
        .expect(400);
    app.get(
        "/v3/users?OS-PCU:status=pending&enabled=false",
        &app.admin_token,
    )
    .await
    .expect(400);
});

both_backends!(status_filter_partitions_users, |app| {
    let a = customer(&app, "alpha").await;
    let (pending, _, _) = link_user(&app, &a.manager_token, &a.project_id, "g@example.com").await;
    let off = create_user(&app, &a.domain_id, "off").await;
    app.patch(
        &format!("/v3/users/{off}"),
        &app.admin_token,
        json!({"user": {"enabled": false}}),
    )
    .await
    .expect(200);
    let list = |s: &'static str| {
        let app = &app;
        let d = a.domain_id.clone();
        async move {
            let r = app
                .get(
                    &format!("/v3/users?domain_id={d}&OS-PCU:status={s}"),
                    &app.admin_token,
                )
                .await
                .expect(200);
            let mut v = ids(&r.body, "users");
            v.sort();
            v
        }
    };
    assert_eq!(list("pending").await, vec![pending.clone()]);
    assert_eq!(list("disabled").await, vec![off.clone()]);
    let mut active = vec![a.manager_id.clone(), a.member_id.clone()];
    active.sort();
    assert_eq!(list("active").await, active);
});

both_backends!(deleting_a_user_kills_its_link, |app| {
    let a = customer(&app, "alpha").await;
    let (id, _, secret) = link_user(&app, &a.manager_token, &a.project_id, "h@example.com").await;
    app.delete(&format!("/v3/users/{id}"), &a.manager_token)
        .await
        .expect(204);
    link_problem(
        redeem::inspect(&app.state, &secret, Utc::now()).await,
        LinkProblem::Unknown,
    );
    link_problem(
        redeem::set_password(&app.state, &secret, pw(NEW_PW), Utc::now()).await,
        LinkProblem::Unknown,
    );
});
