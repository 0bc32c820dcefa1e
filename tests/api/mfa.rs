//! Issue 12: MFA rules with Keystone's auth receipts; application credentials and token rescopes
//! keep working; receipts from another user, forged or expired are refused.

use serde_json::{json, Value};

use crate::fixtures::*;
use crate::helpers::*;
use crate::totp::{add_totp, code, member, totp_auth, SECRET};
use crate::{both_backends, both_backends_with};

async fn require(app: &TestApp, uid: &str, rules: Value) -> Resp {
    app.patch(
        &format!("/v3/users/{uid}"),
        &app.admin_token,
        json!({"user": {"options": {"multi_factor_auth_enabled": true,
            "multi_factor_auth_rules": rules}}}),
    )
    .await
}

async fn auth_with_receipt(app: &TestApp, body: Value, receipt: &str) -> Resp {
    let res = app
        .client
        .post(app.url("/v3/auth/tokens"))
        .header("Openstack-Auth-Receipt", receipt)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.json().await.unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        body,
    }
}

/// A password login that gets a receipt: the receipt.
async fn receipt_of(app: &TestApp, name: &str) -> String {
    let r = app
        .auth(password_auth(name, PW, Some("p")))
        .await
        .expect(401);
    r.header("openstack-auth-receipt").expect("receipt header")
}

both_backends!(rules_are_validated_when_set, |app| {
    let uid = member(&app, "ann").await;
    for bad in [
        json!([[]]),
        json!([["password", "sms"]]),
        json!(["password"]),
        json!([["password", "password"]]),
        json!("password,totp"),
    ] {
        let r = require(&app, &uid, bad.clone()).await.expect(400);
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("multi_factor_auth_rules"),
            "{bad}: {}",
            r.body
        );
    }
    // Nothing was stored: the password alone still logs in.
    app.auth(password_auth("ann", PW, Some("p")))
        .await
        .expect(201);
    require(
        &app,
        &uid,
        json!([["password", "totp"], ["application_credential"]]),
    )
    .await
    .expect(200);
});

both_backends!(a_partial_login_gets_a_receipt_that_completes_it, |app| {
    let uid = member(&app, "bob").await;
    add_totp(&app, &uid, SECRET).await;
    require(&app, &uid, json!([["password", "totp"]]))
        .await
        .expect(200);
    let r = app
        .auth(password_auth("bob", PW, Some("p")))
        .await
        .expect(401);
    let receipt = r.header("openstack-auth-receipt").expect("receipt header");
    // Keystone's body, read by keystoneauth1.
    assert_eq!(r.body["receipt"]["methods"], json!(["password"]));
    assert_eq!(r.body["receipt"]["user"]["id"], json!(uid));
    assert_eq!(r.body["receipt"]["user"]["name"], json!("bob"));
    assert_eq!(r.body["receipt"]["user"]["domain"]["id"], json!("default"));
    assert!(r.body["receipt"]["expires_at"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    assert!(r.body["receipt"]["issued_at"].is_string());
    assert_eq!(
        r.body["required_auth_methods"],
        json!([["password", "totp"]])
    );
    // A passcode alone does not do either, and gets its own receipt.
    let first = code(SECRET, 0);
    let t = app.auth(totp_auth("bob", &first)).await.expect(401);
    assert_eq!(t.body["receipt"]["methods"], json!(["totp"]));
    // The receipt plus the missing method completes the login.
    let ok = auth_with_receipt(&app, totp_auth("bob", &code(SECRET, 1)), &receipt)
        .await
        .expect(201);
    assert_eq!(ok.body["token"]["methods"], json!(["password", "totp"]));
    // Both methods in one request work too.
    let both = json!({"auth": {"identity": {"methods": ["password", "totp"],
        "password": {"user": {"name": "bob", "domain": {"id": "default"}, "password": PW}},
        "totp": {"user": {"name": "bob", "domain": {"id": "default"}, "passcode": code(SECRET, 1)}}},
        "scope": {"project": {"name": "p", "domain": {"id": "default"}}}}});
    // (step +1 was used above: this passcode is a replay and is refused)
    app.auth(both).await.expect(401);
    // The rescope of an MFA token keeps its methods.
    let token = ok.header("x-subject-token").unwrap();
    let re = app
        .auth(
            json!({"auth": {"identity": {"methods": ["token"], "token": {"id": token}},
            "scope": {"project": {"name": "p", "domain": {"id": "default"}}}}}),
        )
        .await
        .expect(201);
    assert_eq!(
        re.body["token"]["methods"],
        json!(["password", "token", "totp"])
    );
});

both_backends!(receipts_of_others_forged_or_wrong_are_refused, |app| {
    let bob = member(&app, "bob").await;
    let cy = member(&app, "cy").await;
    for id in [&bob, &cy] {
        add_totp(&app, id, SECRET).await;
        require(&app, id, json!([["password", "totp"]]))
            .await
            .expect(200);
    }
    let bobs = receipt_of(&app, "bob").await;
    // Bob's receipt does not complete Cy's login.
    let r = auth_with_receipt(&app, totp_auth("cy", &code(SECRET, 0)), &bobs)
        .await
        .expect(401);
    assert!(r.header("openstack-auth-receipt").is_none());
    // Forged receipts, and a token presented as a receipt.
    for forged in ["garbage", &bobs[..bobs.len() - 4], &app.admin_token.clone()] {
        auth_with_receipt(&app, totp_auth("bob", &code(SECRET, 1)), forged)
            .await
            .expect(401);
    }
    // A receipt is not a token.
    app.get("/v3/users", &bobs).await.expect(401);
    // A wrong passcode with a right receipt: the generic 401.
    let right = code(SECRET, 1);
    let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000);
    let r = auth_with_receipt(&app, totp_auth("bob", &wrong), &bobs)
        .await
        .expect(401);
    assert!(r.header("openstack-auth-receipt").is_none());
});

both_backends_with!(
    receipts_expire,
    |c| {
        c.receipt.expiration = 1;
    },
    |app| {
        let uid = member(&app, "dee").await;
        add_totp(&app, &uid, SECRET).await;
        require(&app, &uid, json!([["password", "totp"]]))
            .await
            .expect(200);
        let receipt = receipt_of(&app, "dee").await;
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        let r = auth_with_receipt(&app, totp_auth("dee", &code(SECRET, 0)), &receipt)
            .await
            .expect(401);
        assert!(r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("receipt"));
    }
);

both_backends!(application_credentials_are_not_subject_to_mfa, |app| {
    let uid = member(&app, "eve").await;
    add_totp(&app, &uid, SECRET).await;
    require(&app, &uid, json!([["password", "totp"]]))
        .await
        .expect(200);
    let receipt = receipt_of(&app, "eve").await;
    let token = auth_with_receipt(&app, totp_auth("eve", &code(SECRET, 0)), &receipt)
        .await
        .expect(201)
        .header("x-subject-token")
        .unwrap();
    let ac = app
        .post(
            &format!("/v3/users/{uid}/application_credentials"),
            &token,
            json!({"application_credential": {"name": "ci"}}),
        )
        .await
        .expect(201);
    let (id, secret) = (
        ac.body["application_credential"]["id"].as_str().unwrap(),
        ac.body["application_credential"]["secret"]
            .as_str()
            .unwrap(),
    );
    let r = app
        .auth(
            json!({"auth": {"identity": {"methods": ["application_credential"],
            "application_credential": {"id": id, "secret": secret}}}}),
        )
        .await
        .expect(201);
    assert_eq!(
        r.body["token"]["methods"],
        json!(["application_credential"])
    );
    // Its token rescopes too.
    let t = r.header("x-subject-token").unwrap();
    app.auth(json!({"auth": {"identity": {"methods": ["token"], "token": {"id": t}}}}))
        .await
        .expect(201);
    // A password-only token from before MFA was required does not bypass the rules.
    let fay = member(&app, "fay").await;
    let old = app.password_token("fay", PW, "p").await;
    add_totp(&app, &fay, SECRET).await;
    require(&app, &fay, json!([["password", "totp"]]))
        .await
        .expect(200);
    let r = app
        .auth(json!({"auth": {"identity": {"methods": ["token"], "token": {"id": old}}}}))
        .await
        .expect(401);
    assert!(r.header("openstack-auth-receipt").is_some());
});

both_backends!(a_rule_of_totp_alone_and_alternatives, |app| {
    let uid = member(&app, "gus").await;
    add_totp(&app, &uid, SECRET).await;
    require(
        &app,
        &uid,
        json!([["totp"], ["password", "application_credential"]]),
    )
    .await
    .expect(200);
    app.auth(totp_auth("gus", &code(SECRET, 0)))
        .await
        .expect(201);
    let r = app
        .auth(password_auth("gus", PW, Some("p")))
        .await
        .expect(401);
    assert_eq!(
        r.body["required_auth_methods"],
        json!([["totp"], ["password", "application_credential"]])
    );
    // Turning MFA off lifts the rules.
    app.patch(
        &format!("/v3/users/{uid}"),
        &app.admin_token,
        json!({"user": {"options": {"multi_factor_auth_enabled": false}}}),
    )
    .await
    .expect(200);
    app.auth(password_auth("gus", PW, Some("p")))
        .await
        .expect(201);
});
