//! Version discovery, health, error shapes, request ids.

use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::helpers::*;

both_backends!(root_lists_versions_with_300, |app| {
    let r = app.request(Method::GET, "/", None, None).await.expect(300);
    let v = &r.body["versions"]["values"][0];
    assert_eq!(v["id"], "v3.14");
    assert_eq!(v["status"], "stable");
    assert_eq!(v["links"][0]["href"], app.url("/v3/"));
});

both_backends!(v3_document, |app| {
    let r = app
        .request(Method::GET, "/v3", None, None)
        .await
        .expect(200);
    assert_eq!(r.body["version"]["id"], "v3.14");
    assert_eq!(
        r.body["version"]["media-types"][0]["type"],
        "application/vnd.openstack.identity-v3+json"
    );
    let id = r.header("x-openstack-request-id").unwrap();
    assert!(id.starts_with("req-") && id.len() == 40, "{id}");
});

both_backends!(healthcheck_answers_while_db_answers, |app| {
    let r = app
        .request(Method::GET, "/healthcheck", None, None)
        .await
        .expect(200);
    assert_eq!(r.body["status"], "ok");
});

both_backends!(errors_are_keystone_shaped, |app| {
    let r = app
        .request(Method::GET, "/v3/nothing-here", None, None)
        .await
        .expect(404);
    assert_eq!(r.body["error"]["code"], 404);
    assert_eq!(r.body["error"]["title"], "Not Found");

    let r = app
        .request(Method::PUT, "/v3", None, None)
        .await
        .expect(405);
    assert_eq!(r.body["error"]["code"], 405);

    let res = app
        .client
        .post(app.url("/v3/auth/tokens"))
        .header("Content-Type", "application/json")
        .body("{\"auth\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Malformed JSON"),
        "{body}"
    );

    let r = app
        .auth(json!({"auth": {"identity": {}}}))
        .await
        .expect(400);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("methods"),
        "{}",
        r.body
    );

    let big = "x".repeat(200_000);
    let r = app
        .auth(json!({"auth": {"identity": {"methods": [big]}}}))
        .await
        .expect(413);
    assert_eq!(r.body["error"]["code"], 413);
});

both_backends!(bootstrap_is_idempotent, |app| {
    use secrecy::SecretString;
    let report = ironstone::bootstrap::run(
        &app.state,
        ironstone::bootstrap::Options {
            password: Some(SecretString::from(ADMIN_PASSWORD)),
            ..Default::default()
        },
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    assert!(
        report.created.is_empty(),
        "second bootstrap created {:?}",
        report.created
    );
    assert!(!report.password_reset);
    // The admin token from before still stands.
    app.validate(&app.admin_token).await.expect(200);
});
