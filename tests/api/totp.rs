//! Issue 12: TOTP credentials, the `totp` auth method, replay and lockout, self-service
//! enrolment, `OS-PCU:mfa_enabled` and its filter, from the user's and the attacker's side.

use ironstone::auth::totp::{passcode_at_step, step_of};
use serde_json::{json, Value};

use crate::fixtures::*;
use crate::helpers::*;
use crate::{both_backends, both_backends_with};

/// A valid secret (160 bits) and its bytes.
pub const SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

pub fn secret_bytes(s: &str) -> Vec<u8> {
    base32::decode(base32::Alphabet::Rfc4648 { padding: false }, s).unwrap()
}

/// The passcode `offset` steps from now.
pub fn code(secret: &str, offset: i64) -> String {
    let step = step_of(chrono::Utc::now().timestamp()) as i64 + offset;
    passcode_at_step(&secret_bytes(secret), step as u64)
}

/// A member of project `p` in the Default domain, with a password; its id.
pub async fn member(app: &TestApp, name: &str) -> String {
    let p = match app.get("/v3/projects?name=p", &app.admin_token).await.body["projects"][0]["id"]
        .as_str()
    {
        Some(p) => p.to_string(),
        None => create_project(app, "default", "p").await,
    };
    let id = create_user(app, "default", name).await;
    grant(app, &p, &id, "member").await;
    id
}

pub async fn add_totp(app: &TestApp, user_id: &str, secret: &str) -> String {
    let r = app
        .post(
            "/v3/credentials",
            &app.admin_token,
            json!({"credential": {"type": "totp", "blob": secret, "user_id": user_id}}),
        )
        .await
        .expect(201);
    r.body["credential"]["id"].as_str().unwrap().to_string()
}

pub fn totp_auth(name: &str, passcode: &str) -> Value {
    json!({"auth": {"identity": {"methods": ["totp"], "totp": {"user": {
        "name": name, "domain": {"id": "default"}, "passcode": passcode}}},
        "scope": {"project": {"name": "p", "domain": {"id": "default"}}}}})
}

fn generic(r: &Resp) -> &Value {
    &r.body["error"]["message"]
}

both_backends!(totp_credentials_need_a_base32_secret, |app| {
    let uid = member(&app, "ann").await;
    for bad in ["", "not base32!", "MZXW6YTB", "0189", "JBSWY3DPEHPK3PX1"] {
        let r = app
            .post(
                "/v3/credentials",
                &app.admin_token,
                json!({"credential": {"type": "totp", "blob": bad, "user_id": uid}}),
            )
            .await
            .expect(400);
        let msg = r.body["error"]["message"].as_str().unwrap();
        assert!(
            msg.contains("credential.blob") && msg.contains("base32"),
            "{msg}"
        );
        assert!(
            bad.is_empty() || !msg.contains(bad),
            "the secret is not echoed: {msg}"
        );
    }
    // Nothing was written.
    let list = app
        .get(&format!("/v3/credentials?user_id={uid}"), &app.admin_token)
        .await
        .expect(200);
    assert_eq!(list.body["credentials"], json!([]));
    let id = add_totp(&app, &uid, SECRET).await;
    // An update keeps the rule.
    app.patch(
        &format!("/v3/credentials/{id}"),
        &app.admin_token,
        json!({"credential": {"blob": "lowercase? no: !!"}}),
    )
    .await
    .expect(400);
    // Lower case and padding are accepted, as authenticator apps write them.
    add_totp(
        &app,
        &uid,
        &format!("{}====", "gezdgnbvgy3tqojqgezdgnbvgy3tqojq"),
    )
    .await;
});

both_backends!(totp_logs_in_once_per_passcode, |app| {
    let uid = member(&app, "bob").await;
    add_totp(&app, &uid, SECRET).await;
    let unknown = app
        .auth(totp_auth("nobody-here", &code(SECRET, 0)))
        .await
        .expect(401);
    let now = code(SECRET, 0);
    let r = app.auth(totp_auth("bob", &now)).await.expect(201);
    assert_eq!(r.body["token"]["methods"], json!(["totp"]));
    assert_eq!(r.body["token"]["user"]["id"], json!(uid));
    // The same passcode again: refused, and the refusal looks like any other.
    let replay = app.auth(totp_auth("bob", &now)).await.expect(401);
    assert_eq!(generic(&replay), generic(&unknown));
    // An earlier step than the one used is refused too (the window does not reopen).
    let earlier = code(SECRET, -1);
    if earlier != now {
        app.auth(totp_auth("bob", &earlier)).await.expect(401);
    }
    // A wrong passcode: the generic 401.
    let wrong = if now == "000000" { "111111" } else { "000000" };
    let w = app.auth(totp_auth("bob", wrong)).await.expect(401);
    assert_eq!(generic(&w), generic(&unknown));
    // The next step's passcode (within the skew window) is accepted, once; by user id too.
    let next = code(SECRET, 1);
    let by_id = json!({"auth": {"identity": {"methods": ["totp"], "totp": {"user": {
        "id": uid, "passcode": next}}},
        "scope": {"project": {"name": "p", "domain": {"id": "default"}}}}});
    app.auth(by_id.clone()).await.expect(201);
    app.auth(by_id).await.expect(401);
    // Beyond the window: refused.
    let far = code(SECRET, 5);
    app.auth(totp_auth("bob", &far)).await.expect(401);
});

both_backends!(malformed_totp_requests_are_400, |app| {
    member(&app, "cy").await;
    for body in [
        json!({"auth": {"identity": {"methods": ["totp"]}}}),
        json!({"auth": {"identity": {"methods": ["totp"], "totp": {"user": {"name": "cy", "domain": {"id": "default"}}}}}}),
        json!({"auth": {"identity": {"methods": ["totp"], "totp": {"user": {"name": "cy", "domain": {"id": "default"}, "passcode": "12a456"}}}}}),
        json!({"auth": {"identity": {"methods": ["totp"], "totp": {"user": {"name": "cy", "passcode": "123456"}}}}}),
        json!({"auth": {"identity": {"methods": ["totp"], "totp": {"user": {"passcode": "123456"}}}}}),
    ] {
        let r = app.auth(body.clone()).await.expect(400);
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("auth.identity"),
            "{body}: {}",
            r.body
        );
    }
});

both_backends_with!(
    failed_passcodes_count_toward_lockout,
    |c| {
        c.security_compliance.lockout_failure_attempts = Some(2);
        c.security_compliance.lockout_duration = Some(600);
    },
    |app| {
        let uid = member(&app, "dee").await;
        add_totp(&app, &uid, SECRET).await;
        let right = code(SECRET, 0);
        let wrong = |n: u32| format!("{:06}", (right.parse::<u32>().unwrap() + n) % 1_000_000);
        app.auth(totp_auth("dee", &wrong(1))).await.expect(401);
        app.auth(totp_auth("dee", &wrong(2))).await.expect(401);
        // Locked: the right passcode and the right password are refused alike.
        app.auth(totp_auth("dee", &right)).await.expect(401);
        app.auth(password_auth("dee", PW, Some("p")))
            .await
            .expect(401);
        // An operator unlocks by enabling; the passcode that was refused while locked was not
        // spent, so it works now.
        app.patch(
            &format!("/v3/users/{uid}"),
            &app.admin_token,
            json!({"user": {"enabled": true}}),
        )
        .await
        .expect(200);
        app.auth(totp_auth("dee", &right)).await.expect(201);
    }
);

// The property the issue asks for: for many times T and offsets, a passcode made for T + offset
// steps is accepted at T only inside the skew window, and only once (the store's claim).
both_backends!(passcodes_are_accepted_inside_the_window_and_once, |app| {
    use ironstone::auth::totp::matching_step;
    use rand::{Rng, SeedableRng};
    let uid = member(&app, "eve").await;
    let cred = add_totp(&app, &uid, SECRET).await;
    let secret = secret_bytes(SECRET);
    let mut rng = rand::rngs::StdRng::seed_from_u64(12);
    let skew = 1u32;
    let mut last_claimed: Option<u64> = None;
    let mut t: i64 = 1_600_000_000;
    for _ in 0..150 {
        t += rng.gen_range(31..5_000);
        let offset: i64 = rng.gen_range(-4..=4);
        let step = step_of(t) as i64 + offset;
        let passcode = passcode_at_step(&secret, step as u64);
        let hit = matching_step(&secret, &passcode, t, skew);
        if offset.unsigned_abs() <= skew as u64 {
            assert_eq!(hit, Some(step as u64), "T={t} offset={offset}");
        } else if let Some(s) = hit {
            // Only a 6-digit collision with a step inside the window can match.
            assert!((s as i64 - step_of(t) as i64).unsigned_abs() <= skew as u64);
            assert_ne!(s as i64, step);
        }
        let Some(s) = hit else { continue };
        let (id, claim) = (cred.clone(), s as i64);
        let first = app
            .state
            .store
            .tx(move |c| ironstone::store::claim_totp_step(c, &id, claim))
            .await
            .unwrap();
        assert_eq!(first, last_claimed.is_none_or(|l| s > l), "T={t} step={s}");
        if first {
            last_claimed = Some(s);
        }
        let (id, claim) = (cred.clone(), s as i64);
        let again = app
            .state
            .store
            .tx(move |c| ironstone::store::claim_totp_step(c, &id, claim))
            .await
            .unwrap();
        assert!(!again, "a step is accepted once: T={t} step={s}");
    }
    assert!(last_claimed.is_some());
});

both_backends!(
    enrolment_switches_mfa_on_only_after_a_right_passcode,
    |app| {
        let uid = member(&app, "fay").await;
        let other = member(&app, "gus").await;
        let token = app.password_token("fay", PW, "p").await;
        let gus = app.password_token("gus", PW, "p").await;
        // Nobody enrols for someone else, not even the cloud admin (the secret would be theirs).
        app.post(&format!("/v3/OS-PCU/users/{uid}/totp"), &gus, json!({}))
            .await
            .expect(403);
        app.post(
            &format!("/v3/OS-PCU/users/{other}/totp"),
            &app.admin_token,
            json!({}),
        )
        .await
        .expect(403);
        let e = app
            .post(&format!("/v3/OS-PCU/users/{uid}/totp"), &token, json!({}))
            .await
            .expect(201);
        let t = &e.body["totp"];
        let secret = t["secret"].as_str().unwrap().to_string();
        let id = t["credential_id"].as_str().unwrap().to_string();
        assert_eq!(secret_bytes(&secret).len(), 20);
        let uri = t["otpauth_uri"].as_str().unwrap();
        assert!(
            uri.starts_with("otpauth://totp/") && uri.contains(&format!("secret={secret}")),
            "{uri}"
        );
        assert!(uri.contains(":fay?"), "{uri}");
        assert!(t["qr_svg"].as_str().unwrap().contains("<svg"));
        // The pending credential logs nobody in.
        app.auth(totp_auth("fay", &code(&secret, 0)))
            .await
            .expect(401);
        // A wrong passcode: 400, and nothing is switched on.
        let right = code(&secret, 0);
        let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000);
        let path = format!("/v3/OS-PCU/users/{uid}/totp/confirm");
        let r = app
            .post(
                &path,
                &token,
                json!({"totp": {"credential_id": id, "passcode": wrong}}),
            )
            .await
            .expect(400);
        assert!(r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("totp.passcode"));
        let u = app
            .get(&format!("/v3/users/{uid}"), &app.admin_token)
            .await
            .expect(200);
        assert_eq!(u.body["user"]["OS-PCU:mfa_enabled"], json!(false));
        assert!(u.body["user"]["options"]
            .get("multi_factor_auth_enabled")
            .is_none());
        app.auth(password_auth("fay", PW, Some("p")))
            .await
            .expect(201);
        // Someone else's confirmation is refused.
        app.post(
            &path,
            &gus,
            json!({"totp": {"credential_id": id, "passcode": right}}),
        )
        .await
        .expect(403);
        // The right one switches MFA on.
        let r = app
            .post(
                &path,
                &token,
                json!({"totp": {"credential_id": id, "passcode": right}}),
            )
            .await
            .expect(200);
        assert_eq!(r.body["user"]["OS-PCU:mfa_enabled"], json!(true));
        assert_eq!(
            r.body["user"]["options"]["multi_factor_auth_enabled"],
            json!(true)
        );
        assert_eq!(
            r.body["user"]["options"]["multi_factor_auth_rules"],
            json!([["password", "totp"]])
        );
        // Confirming twice: the enrolment is no longer pending.
        app.post(
            &path,
            &token,
            json!({"totp": {"credential_id": id, "passcode": right}}),
        )
        .await
        .expect(404);
        // A password alone no longer logs in; the passcode used to confirm cannot be replayed.
        let r = app
            .auth(password_auth("fay", PW, Some("p")))
            .await
            .expect(401);
        assert!(r.header("openstack-auth-receipt").is_some());
        app.auth(totp_auth("fay", &right)).await.expect(401);
    }
);

both_backends!(mfa_enabled_is_shown_and_filtered_in_sql, |app| {
    let on = member(&app, "hal").await;
    let half = member(&app, "ida").await;
    let off = member(&app, "jon").await;
    add_totp(&app, &on, SECRET).await;
    add_totp(&app, &half, SECRET).await; // a credential, but no rules enforced
    for id in [&on, &off] {
        // Rules without a credential (off) do not count either.
        app.patch(
            &format!("/v3/users/{id}"),
            &app.admin_token,
            json!({"user": {"options": {"multi_factor_auth_enabled": true,
                "multi_factor_auth_rules": [["password", "totp"]]}}}),
        )
        .await
        .expect(200);
    }
    let ids = |r: &Resp| -> Vec<String> {
        r.body["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap().to_string())
            .collect()
    };
    let yes = app
        .get("/v3/users?OS-PCU:mfa_enabled=true", &app.admin_token)
        .await
        .expect(200);
    assert_eq!(ids(&yes), vec![on.clone()]);
    assert!(yes.body["users"][0]["OS-PCU:mfa_enabled"]
        .as_bool()
        .unwrap());
    let no = app
        .get("/v3/users?OS-PCU:mfa_enabled=false", &app.admin_token)
        .await
        .expect(200);
    let no = ids(&no);
    assert!(no.contains(&half) && no.contains(&off) && !no.contains(&on));
    let all = app.get("/v3/users", &app.admin_token).await.expect(200);
    for u in all.body["users"].as_array().unwrap() {
        assert_eq!(u["OS-PCU:mfa_enabled"], json!(u["id"] == json!(on)), "{u}");
    }
    app.get("/v3/users?OS-PCU:mfa_enabled=maybe", &app.admin_token)
        .await
        .expect(400);
});

both_backends!(
    the_last_totp_credential_of_a_user_who_needs_it_stays,
    |app| {
        let uid = member(&app, "kim").await;
        let first = add_totp(&app, &uid, SECRET).await;
        app.patch(
            &format!("/v3/users/{uid}"),
            &app.admin_token,
            json!({"user": {"options": {"multi_factor_auth_enabled": true,
            "multi_factor_auth_rules": [["password", "totp"]]}}}),
        )
        .await
        .expect(200);
        let r = app
            .delete(&format!("/v3/credentials/{first}"), &app.admin_token)
            .await
            .expect(409);
        assert!(r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("last TOTP credential"));
        // Turning it into another type is the same removal.
        app.patch(
            &format!("/v3/credentials/{first}"),
            &app.admin_token,
            json!({"credential": {"type": "other"}}),
        )
        .await
        .expect(409);
        // With a second one, the first may go; then the second is the last.
        let second = add_totp(&app, &uid, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").await;
        app.delete(&format!("/v3/credentials/{first}"), &app.admin_token)
            .await
            .expect(204);
        app.delete(&format!("/v3/credentials/{second}"), &app.admin_token)
            .await
            .expect(409);
        // MFA off: it may go.
        app.patch(
            &format!("/v3/users/{uid}"),
            &app.admin_token,
            json!({"user": {"options": {"multi_factor_auth_enabled": false}}}),
        )
        .await
        .expect(200);
        app.delete(&format!("/v3/credentials/{second}"), &app.admin_token)
            .await
            .expect(204);
    }
);
