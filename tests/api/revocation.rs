//! Revocation takes effect at once.

use reqwest::Method;

use crate::both_backends;
use crate::helpers::*;

async fn revoke(app: &TestApp, subject: &str) -> u16 {
    app.client
        .delete(app.url("/v3/auth/tokens"))
        .header("X-Auth-Token", &app.admin_token)
        .header("X-Subject-Token", subject)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

both_backends!(revoked_token_stops_at_once, |app| {
    let subject = app.password_token("admin", ADMIN_PASSWORD, "admin").await;
    app.validate(&subject).await.expect(200);
    assert_eq!(revoke(&app, &subject).await, 204);
    app.validate(&subject).await.expect(404);
    app.request(Method::GET, "/v3/auth/catalog", Some(&subject), None)
        .await
        .expect(401);
    // Others are untouched, and a new token in the same second is good.
    app.validate(&app.admin_token).await.expect(200);
    let fresh = app.password_token("admin", ADMIN_PASSWORD, "admin").await;
    app.validate(&fresh).await.expect(200);
});

both_backends!(rescoped_token_dies_with_its_chain, |app| {
    let body = serde_json::json!({"auth": {"identity": {"methods": ["token"], "token": {"id": app.admin_token}}}});
    let child = app
        .auth(body)
        .await
        .expect(201)
        .header("x-subject-token")
        .unwrap();
    let fresh = app.password_token("admin", ADMIN_PASSWORD, "admin").await;
    let now = chrono::Utc::now();
    let keep = ironstone::auth::revoke::retention(&app.state);
    let chain = app.validate(&app.admin_token).await.body["token"]["audit_ids"][0]
        .as_str()
        .unwrap()
        .to_string();
    app.state
        .store
        .tx(move |c| {
            ironstone::auth::revoke::record(
                c,
                ironstone::auth::revoke::Revoke {
                    audit_chain_id: Some(chain),
                    ..Default::default()
                },
                now,
                keep,
            )
        })
        .await
        .unwrap();
    app.client_validate(&fresh, &child).await.expect(404);
});
