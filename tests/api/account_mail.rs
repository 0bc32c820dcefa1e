//! Links and invitations through a real SMTP server over TCP (the test sink): the email arrives
//! with the link, the link in it works, and a server that refuses the message is reported in the
//! response and on the invitation, with nothing lost.

use std::sync::OnceLock;
use std::time::Duration;

use chrono::Utc;
use ironstone::accounts::redeem;
use ironstone::config::{Config, SmtpConfig, SmtpTls};
use serde_json::json;

use crate::both_backends_with;
use crate::fixtures::*;
use crate::helpers::*;
use crate::links::{pw, NEW_PW};
use crate::smtp::{link_in, Sink};

static SINK: OnceLock<Sink> = OnceLock::new();
static REFUSING: OnceLock<Sink> = OnceLock::new();

fn sink() -> &'static Sink {
    SINK.get_or_init(Sink::start)
}

fn refusing() -> &'static Sink {
    REFUSING.get_or_init(|| {
        let s = Sink::start();
        s.set_refusing(true);
        s
    })
}

fn smtp(port: u16) -> SmtpConfig {
    SmtpConfig {
        host: Some("127.0.0.1".into()),
        port: Some(port),
        tls: SmtpTls::None,
        from: "Test Cloud <noreply@cloud.test>".into(),
        cloud_name: "Test Cloud".into(),
        ..Default::default()
    }
}

fn to_sink(c: &mut Config) {
    c.smtp = smtp(sink().port());
}

/// An address no other test (or the other backend's run) uses.
fn address(app: &TestApp, who: &str) -> String {
    let port = app.base.rsplit(':').next().unwrap();
    format!("{who}-{port}@example.com")
}

/// The secret of the link in a received message.
fn secret_in(text: &str) -> String {
    let url = link_in(text).expect("a link in the message");
    url.rsplit_once("/account/link/").unwrap().1.to_string()
}

both_backends_with!(
    the_set_password_email_arrives_and_its_link_works,
    |c| { to_sink(c) },
    |app| {
        let a = customer(&app, "alpha").await;
        let to = address(&app, "ann");
        let r = app
        .post(
            &format!("/v3/OS-PCU/projects/{}/users", a.project_id),
            &a.manager_token,
            json!({"user": {"password_mode": "link", "email": "ann@example.com", "link_email": to}}),
        )
        .await
        .expect(201);
        let link = &r.body["user"]["link"];
        assert_eq!(link["sent_to"], to.as_str());
        assert!(
            link.get("url").is_none() && link.get("delivery_error").is_none(),
            "{link}"
        );
        let name = r.body["user"]["name"].as_str().unwrap().to_string();
        let got = sink()
            .wait_for(&to, Duration::from_secs(10))
            .expect("the email arrives");
        assert!(got.text.contains(&name), "{}", got.text);
        assert!(got.html.contains(&name), "{}", got.html);
        let secret = secret_in(&got.text);
        redeem::set_password(&app.state, &secret, pw(NEW_PW), Utc::now())
            .await
            .unwrap();
        token_in(&app, &a.domain_id, &name, NEW_PW, "main").await;
    }
);

both_backends_with!(
    invitation_emails_arrive_and_acceptance_is_announced,
    |c| { to_sink(c) },
    |app| {
        let a = customer(&app, "alpha").await;
        let second = create_project(&app, &a.domain_id, "second").await;
        // A new person.
        let to = address(&app, "newcomer");
        let r = app
            .post(
                "/v3/OS-PCU/invitations",
                &a.manager_token,
                json!({"invitation": {"email": to,
            "roles": [{"role": "member", "project_id": a.project_id}]}}),
            )
            .await
            .expect(201);
        let inv = &r.body["invitation"];
        assert_eq!(inv["link"]["sent_to"], to.as_str());
        assert_eq!(inv["delivery"]["sent_to"], to.as_str());
        assert!(
            inv["delivery"]["sent_at"].is_string() && inv["delivery"]["error"].is_null(),
            "{inv}"
        );
        let got = sink()
            .wait_for(&to, Duration::from_secs(10))
            .expect("the invitation arrives");
        assert!(got.text.contains("member on project main"), "{}", got.text);
        assert!(
            got.text.contains("boss"),
            "the inviter is named: {}",
            got.text
        );
        let done =
            redeem::accept_invitation(&app.state, &secret_in(&got.text), pw(NEW_PW), Utc::now())
                .await
                .unwrap();
        token_in(&app, &a.domain_id, &done.user_name, NEW_PW, "main").await;

        // An existing user: invited as itself, told when the access applies.
        let to = address(&app, "worker");
        app.patch(
            &format!("/v3/users/{}", a.member_id),
            &app.admin_token,
            json!({"user": {"email": to}}),
        )
        .await
        .expect(200);
        app.post(
            "/v3/OS-PCU/invitations",
            &a.manager_token,
            json!({"invitation": {"email": to,
        "roles": [{"role": "reader", "project_id": second}]}}),
        )
        .await
        .expect(201);
        let got = sink()
            .wait_for(&to, Duration::from_secs(10))
            .expect("the invitation arrives");
        assert!(got.text.contains("worker"), "{}", got.text);
        redeem::accept_invitation(&app.state, &secret_in(&got.text), pw(PW), Utc::now())
            .await
            .unwrap();
        let got = sink()
            .wait_for(&to, Duration::from_secs(10))
            .expect("the access-granted email");
        assert!(
            got.text.contains("reader on project second"),
            "{}",
            got.text
        );
        assert!(link_in(&got.text).is_none(), "no link in a notice");
    }
);

both_backends_with!(
    a_refused_email_is_reported_and_can_be_resent,
    |c| {
        c.smtp = smtp(refusing().port());
    },
    |app| {
        let a = customer(&app, "alpha").await;
        let to = address(&app, "bounce");
        let r = app
            .post(
                &format!("/v3/OS-PCU/projects/{}/users", a.project_id),
                &a.manager_token,
                json!({"user": {"password_mode": "link", "email": to}}),
            )
            .await
            .expect(201);
        let user_id = r.body["user"]["id"].as_str().unwrap().to_string();
        let link = &r.body["user"]["link"];
        assert_eq!(link["sent_to"], to.as_str());
        let why = link["delivery_error"].as_str().expect("delivery_error");
        assert!(!why.contains("/account/link/"), "{why}");
        // The user and its link exist; a resend is possible (and fails the same way here).
        let r = app
            .post(
                &format!("/v3/OS-PCU/users/{user_id}/password_link"),
                &a.manager_token,
                json!({}),
            )
            .await
            .expect(201);
        assert!(r.body["link"]["delivery_error"].is_string(), "{}", r.body);

        let r = app
            .post(
                "/v3/OS-PCU/invitations",
                &a.manager_token,
                json!({"invitation": {"email": to,
            "roles": [{"role": "member", "project_id": a.project_id}]}}),
            )
            .await
            .expect(201);
        let id = r.body["invitation"]["id"].as_str().unwrap().to_string();
        let v = app
            .get(&format!("/v3/OS-PCU/invitations/{id}"), &a.manager_token)
            .await
            .expect(200);
        let d = &v.body["invitation"]["delivery"];
        assert_eq!(d["sent_to"], to.as_str());
        assert!(d["sent_at"].is_null() && d["error"].is_string(), "{d}");
        assert_eq!(v.body["invitation"]["status"], "pending");
        app.post(
            &format!("/v3/OS-PCU/invitations/{id}/resend"),
            &a.manager_token,
            json!({}),
        )
        .await
        .expect(200);
    }
);
