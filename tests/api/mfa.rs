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

/// A domain with `settings`, a project `dp` in it and a member `name` of it; (domain, user).
async fn domain_member(app: &TestApp, settings: Value, name: &str) -> (String, String) {
    let mut body = json!({"name": format!("d-{name}")});
    for (k, v) in settings.as_object().unwrap() {
        body[k] = v.clone();
    }
    let d = app
        .post("/v3/domains", &app.admin_token, json!({ "domain": body }))
        .await
        .expect(201);
    let did = d.body["domain"]["id"].as_str().unwrap().to_string();
    let p = match app
        .get(
            &format!("/v3/projects?name=dp&domain_id={did}"),
            &app.admin_token,
        )
        .await
        .body["projects"][0]["id"]
        .as_str()
    {
        Some(p) => p.to_string(),
        None => create_project(app, &did, "dp").await,
    };
    let uid = create_user(app, &did, name).await;
    grant(app, &p, &uid, "member").await;
    (did, uid)
}

fn login_in(domain: &str, name: &str, password: &str) -> Value {
    json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": name, "domain": {"id": domain}, "password": password}}},
        "scope": {"project": {"name": "dp", "domain": {"id": domain}}}}})
}

fn totp_in(domain: &str, name: &str, passcode: &str) -> Value {
    json!({"auth": {"identity": {"methods": ["totp"], "totp": {"user": {
        "name": name, "domain": {"id": domain}, "passcode": passcode}}},
        "scope": {"project": {"name": "dp", "domain": {"id": domain}}}}})
}

async fn post_with_receipt(app: &TestApp, path: &str, receipt: &str, body: Value) -> Resp {
    let res = app
        .client
        .post(app.url(path))
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

both_backends!(a_domain_can_require_mfa_of_every_user, |app| {
    let (did, uid) = domain_member(&app, json!({"OS-PCU:mfa_required": true}), "hal").await;
    let d = app
        .get(&format!("/v3/domains/{did}"), &app.admin_token)
        .await
        .expect(200);
    assert_eq!(d.body["domain"]["OS-PCU:mfa_required"], json!(true));
    // No rules of its own: the domain's rule applies, and the password alone gets a receipt.
    let r = app.auth(login_in(&did, "hal", PW)).await.expect(401);
    assert_eq!(
        r.body["required_auth_methods"],
        json!([["password", "totp"]])
    );
    let receipt = r.header("openstack-auth-receipt").unwrap();
    // Not enrolled yet: the receipt (no token) starts and confirms a first enrolment.
    app.request(
        reqwest::Method::POST,
        &format!("/v3/OS-PCU/users/{uid}/totp"),
        None,
        None,
    )
    .await
    .expect(401);
    let e = post_with_receipt(
        &app,
        &format!("/v3/OS-PCU/users/{uid}/totp"),
        &receipt,
        json!({}),
    )
    .await
    .expect(201);
    let secret = e.body["totp"]["secret"].as_str().unwrap().to_string();
    let cred = e.body["totp"]["credential_id"]
        .as_str()
        .unwrap()
        .to_string();
    // A wrong password gets no receipt; a receipt enrols its own user only.
    let wrong = app
        .auth(login_in(&did, "hal", "Wrong-Pass-1"))
        .await
        .expect(401);
    assert!(wrong.header("openstack-auth-receipt").is_none());
    let ivy = create_user(&app, &did, "ivy").await;
    post_with_receipt(
        &app,
        &format!("/v3/OS-PCU/users/{ivy}/totp"),
        &receipt,
        json!({}),
    )
    .await
    .expect(403);
    let path = format!("/v3/OS-PCU/users/{uid}/totp/confirm");
    post_with_receipt(
        &app,
        &path,
        &receipt,
        json!({"totp": {"credential_id": cred, "passcode": code(&secret, 0)}}),
    )
    .await
    .expect(204);
    // Enrolled: a receipt no longer enrols anything (a token, which needs the passcode, does).
    post_with_receipt(
        &app,
        &format!("/v3/OS-PCU/users/{uid}/totp"),
        &receipt,
        json!({}),
    )
    .await
    .expect(403);
    let u = app
        .get(&format!("/v3/users/{uid}"), &app.admin_token)
        .await
        .expect(200);
    assert_eq!(u.body["user"]["OS-PCU:mfa_enabled"], json!(true));
    let on = app
        .get("/v3/users?OS-PCU:mfa_enabled=true", &app.admin_token)
        .await
        .expect(200);
    assert!(on.body["users"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["id"] == json!(uid)));
    let ok = auth_with_receipt(&app, totp_in(&did, "hal", &code(&secret, 1)), &receipt)
        .await
        .expect(201);
    assert_eq!(ok.body["token"]["methods"], json!(["password", "totp"]));
    // An explicit exemption: multi_factor_auth_enabled false.
    let jo = create_user(&app, &did, "jo").await;
    let p = app
        .get(
            &format!("/v3/projects?name=dp&domain_id={did}"),
            &app.admin_token,
        )
        .await
        .body["projects"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    grant(&app, &p, &jo, "member").await;
    app.auth(login_in(&did, "jo", PW)).await.expect(401);
    app.patch(
        &format!("/v3/users/{jo}"),
        &app.admin_token,
        json!({"user": {"options": {"multi_factor_auth_enabled": false}}}),
    )
    .await
    .expect(200);
    app.auth(login_in(&did, "jo", PW)).await.expect(201);
    // Lifting the requirement lifts it for the users who inherited it, not for those who
    // enrolled (enrolment switched MFA on for the user itself).
    let kay = create_user(&app, &did, "kay").await;
    grant(&app, &p, &kay, "member").await;
    app.auth(login_in(&did, "kay", PW)).await.expect(401);
    app.patch(
        &format!("/v3/domains/{did}"),
        &app.admin_token,
        json!({"domain": {"OS-PCU:mfa_required": false}}),
    )
    .await
    .expect(200);
    app.auth(login_in(&did, "kay", PW)).await.expect(201);
    app.auth(login_in(&did, "hal", PW)).await.expect(401);
    let u = app
        .get(&format!("/v3/users/{uid}"), &app.admin_token)
        .await
        .expect(200);
    assert_eq!(
        u.body["user"]["OS-PCU:mfa_enabled"],
        json!(true),
        "enrolment set its own rules"
    );
});

both_backends!(
    login_by_email_keeps_emails_unique_and_answers_like_any_login,
    |app| {
        let (did, ann) = domain_member(&app, json!({}), "ann").await;
        let bob = create_user(&app, &did, "bob").await;
        let p = app
            .get(
                &format!("/v3/projects?name=dp&domain_id={did}"),
                &app.admin_token,
            )
            .await
            .body["projects"][0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        grant(&app, &p, &bob, "member").await;
        for (id, email) in [(&ann, "ann@example.com"), (&bob, "ANN@example.com")] {
            app.patch(
                &format!("/v3/users/{id}"),
                &app.admin_token,
                json!({"user": {"email": email}}),
            )
            .await
            .expect(200);
        }
        // Without the setting, an email is no user name.
        let unknown = app.auth(login_in(&did, "nobody", PW)).await.expect(401);
        app.auth(login_in(&did, "ann@example.com", PW))
            .await
            .expect(401);
        // Duplicates (case-insensitively) block the setting.
        let r = app
            .patch(
                &format!("/v3/domains/{did}"),
                &app.admin_token,
                json!({"domain": {"OS-PCU:login_by_email": true}}),
            )
            .await
            .expect(409);
        assert!(r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ann@example.com"));
        let d = app
            .get(&format!("/v3/domains/{did}"), &app.admin_token)
            .await
            .expect(200);
        assert_eq!(d.body["domain"]["OS-PCU:login_by_email"], json!(false));
        app.patch(
            &format!("/v3/users/{bob}"),
            &app.admin_token,
            json!({"user": {"email": "bob@example.com"}}),
        )
        .await
        .expect(200);
        app.patch(
            &format!("/v3/domains/{did}"),
            &app.admin_token,
            json!({"domain": {"OS-PCU:login_by_email": true}}),
        )
        .await
        .expect(200);
        // Now an address names its user, whatever its case; a name still works.
        let t = app
            .auth(login_in(&did, "Ann@Example.com", PW))
            .await
            .expect(201);
        assert_eq!(t.body["token"]["user"]["id"], json!(ann));
        app.auth(login_in(&did, "ann", PW)).await.expect(201);
        // Failures look like any other.
        let wrong = app
            .auth(login_in(&did, "ann@example.com", "Wrong-Pass-1"))
            .await
            .expect(401);
        let nobody = app
            .auth(login_in(&did, "nobody@example.com", PW))
            .await
            .expect(401);
        assert_eq!(wrong.body, unknown.body);
        assert_eq!(nobody.body, unknown.body);
        // No new duplicates: create and update are refused, and nothing is written.
        let r = app
            .post(
                "/v3/users",
                &app.admin_token,
                json!({"user": {"name": "cy", "domain_id": did, "email": "BOB@example.com"}}),
            )
            .await
            .expect(409);
        assert!(r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("email"));
        let cy = app
            .get(
                &format!("/v3/users?name=cy&domain_id={did}"),
                &app.admin_token,
            )
            .await
            .expect(200);
        assert_eq!(cy.body["users"], json!([]));
        app.patch(
            &format!("/v3/users/{ann}"),
            &app.admin_token,
            json!({"user": {"email": "bob@EXAMPLE.com"}}),
        )
        .await
        .expect(409);
        // The same address in another domain is no conflict.
        app.post(
            "/v3/users",
            &app.admin_token,
            json!({"user": {"name": "cy", "domain_id": "default", "email": "bob@example.com"}}),
        )
        .await
        .expect(201);
        // TOTP accepts the address too.
        add_totp(&app, &bob, SECRET).await;
        let t = app
            .auth(totp_in(&did, "bob@example.com", &code(SECRET, 0)))
            .await
            .expect(201);
        assert_eq!(t.body["token"]["user"]["id"], json!(bob));
    }
);

both_backends!(
    a_receipt_from_before_a_password_reset_enrols_nothing,
    |app| {
        // Someone who knew the old password got a receipt; the administrator reset the password.
        // The old receipt must not enrol the attacker's TOTP (it would own the account after).
        let (did, uid) = domain_member(&app, json!({"OS-PCU:mfa_required": true}), "hal").await;
        let r = app.auth(login_in(&did, "hal", PW)).await.expect(401);
        let old = r.header("openstack-auth-receipt").unwrap();
        // Receipts and password times count whole seconds: the reset comes in a later one.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        app.patch(
            &format!("/v3/users/{uid}"),
            &app.admin_token,
            json!({"user": {"password": "Reset-Pass-22"}}),
        )
        .await
        .expect(200);
        let path = format!("/v3/OS-PCU/users/{uid}/totp");
        post_with_receipt(&app, &path, &old, json!({}))
            .await
            .expect(401);
        // The user, with the new password, enrols.
        let r = app
            .auth(login_in(&did, "hal", "Reset-Pass-22"))
            .await
            .expect(401);
        let fresh = r.header("openstack-auth-receipt").unwrap();
        post_with_receipt(&app, &path, &fresh, json!({}))
            .await
            .expect(201);
    }
);
