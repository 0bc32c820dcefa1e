//! The mailer against a real SMTP server over TCP (the test sink): what arrives, and what a
//! refusing server does.

use std::time::Duration;

use ironstone::config::{SmtpConfig, SmtpTls};
use ironstone::mail::{Mailer, Template};
use serde_json::json;

use crate::smtp::{link_in, Sink};

fn mailer(sink: &Sink) -> Mailer {
    Mailer::from_config(&SmtpConfig {
        host: Some("127.0.0.1".into()),
        port: Some(sink.port()),
        tls: SmtpTls::None,
        from: "Test Cloud <noreply@cloud.test>".into(),
        cloud_name: "Test Cloud".into(),
        ..Default::default()
    })
    .unwrap()
}

#[tokio::test]
async fn a_set_password_message_arrives_with_its_link_in_text_and_html() {
    let sink = Sink::start();
    let m = mailer(&sink);
    assert!(m.configured());
    let url = "http://127.0.0.1:5000/account/link/s3cr3t-AbC_d";
    m.send(
        "ada@example.org",
        Template::SetPassword,
        &json!({"user_name": "PCU-ABCDEFGH", "domain_name": "Default",
                "project_name": "web", "link_url": url, "expires_at": "2026-12-02T10:00:00Z"}),
    )
    .await
    .unwrap();
    let got = sink
        .wait_for("ada@example.org", Duration::from_secs(5))
        .expect("the message arrives");
    assert_eq!(got.from, "noreply@cloud.test");
    assert!(got.subject.contains("PCU-ABCDEFGH"), "{}", got.subject);
    assert!(got.subject.contains("Test Cloud"), "{}", got.subject);
    assert_eq!(link_in(&got.text).as_deref(), Some(url), "{}", got.text);
    assert!(got.html.contains("PCU-ABCDEFGH"), "{}", got.html);
    assert!(got.raw.contains("multipart/alternative"), "text and HTML");
}

#[tokio::test]
async fn a_refused_recipient_is_reported_without_the_message() {
    let sink = Sink::start();
    sink.set_refusing(true);
    let secret = "never-in-an-error-0123456789";
    let err = mailer(&sink)
        .send(
            "nobody@example.org",
            Template::Invitation,
            &json!({"link_url": format!("http://x/account/link/{secret}"), "roles": []}),
        )
        .await
        .unwrap_err();
    assert!(err.0.contains("550"), "the server's answer: {err}");
    assert!(!err.0.contains(secret), "no link in the error: {err}");
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn an_unreachable_server_is_reported_not_waited_for_forever() {
    // A port nothing listens on: connection refused, reported in words.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let m = Mailer::from_config(&SmtpConfig {
        host: Some("127.0.0.1".into()),
        port: Some(port),
        tls: SmtpTls::None,
        timeout_seconds: 2,
        ..Default::default()
    })
    .unwrap();
    let err = m
        .send(
            "a@example.org",
            Template::AccessGranted,
            &json!({"roles": []}),
        )
        .await
        .unwrap_err();
    assert!(err.0.contains("did not take the message"), "{err}");
}

#[tokio::test]
async fn without_a_host_nothing_is_sent() {
    let m = Mailer::from_config(&SmtpConfig::default()).unwrap();
    assert!(!m.configured());
    let err = m
        .send("a@example.org", Template::SetPassword, &json!({}))
        .await
        .unwrap_err();
    assert!(err.0.contains("no mail server"), "{err}");
}

#[test]
fn the_operator_command_sends_a_test_message_through_the_settings() {
    let sink = Sink::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("ironstone.toml");
    std::fs::write(
        &config,
        format!(
            "[smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nfrom = \"ops@cloud.test\"\n",
            sink.port()
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_ironstone"))
            .args(["--config", config.to_str().unwrap(), "mail", "test"])
            .args(args)
            .env("IRONSTONE_DATA_DIR", dir.path())
            .env_remove("IRONSTONE_CONFIG")
            .output()
            .unwrap()
    };
    let out = run(&["--to", "ops-check@example.org", "--template", "invitation"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = sink
        .wait_for("ops-check@example.org", Duration::from_secs(5))
        .expect("the test message arrives");
    assert!(got.subject.contains("invited"), "{}", got.subject);

    let out = run(&["--to", "x@example.org", "--template", "nope"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("set_password"), "names the templates: {err}");
}
