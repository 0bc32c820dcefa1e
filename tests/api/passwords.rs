//! Issue 10: the password policy and Keystone's security-compliance options, from the user's,
//! the administrator's and the attacker's side. Every refusal writes nothing; every 401 that could
//! tell an attacker something is the generic one.

use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};

use crate::fixtures::*;
use crate::helpers::*;
use crate::{both_backends, both_backends_with};

const PREFIX: &str = "The password does not meet the requirements: ";
const HISTORY: &str = "The new password cannot be identical to a previous password. The total number which includes the new password must be unique is";
const MIN_AGE: &str =
    "You cannot change your password at this time due to the minimum password age.";

// ---------------------------------------------------------------------------------------------
// Helpers

/// The project every test user gets the member role on, so that logins are scoped and a 401
/// can only come from the password checks.
async fn project(app: &TestApp) -> String {
    create_project(app, "default", "p").await
}

/// POST /v3/users in the Default domain as the cloud admin; `user` is merged into the body.
async fn post_user(app: &TestApp, user: Value) -> Resp {
    let mut body = json!({"domain_id": "default"});
    for (k, v) in user.as_object().unwrap() {
        body[k] = v.clone();
    }
    app.post("/v3/users", &app.admin_token, json!({ "user": body }))
        .await
}

/// A user of the Default domain (created with `user`) holding `member` on `project_id`.
async fn member(app: &TestApp, project_id: &str, user: Value) -> (String, Resp) {
    let r = post_user(app, user).await.expect(201);
    let id = r.body["user"]["id"].as_str().unwrap().to_string();
    grant(app, project_id, &id, "member").await;
    (id, r)
}

/// A plain member with a password.
async fn plain(app: &TestApp, project_id: &str, name: &str, password: &str) -> String {
    member(app, project_id, json!({"name": name, "password": password}))
        .await
        .0
}

async fn login(app: &TestApp, name: &str, password: &str) -> Resp {
    app.auth(password_auth(name, password, Some("p"))).await
}

/// The 401 an unknown user gets: every refusal that must not tell anything looks exactly like it.
async fn generic_401(app: &TestApp) -> Resp {
    login(app, "nobody-at-all", "Whatever-Pass-1")
        .await
        .expect(401)
}

#[track_caller]
fn assert_generic(r: &Resp, generic: &Resp) {
    assert_eq!(r.status.as_u16(), 401, "{}", r.body);
    assert_eq!(r.body, generic.body, "not the generic 401");
    assert_eq!(
        r.header("www-authenticate"),
        generic.header("www-authenticate")
    );
}

fn expired_message(user_id: &str) -> String {
    format!("The password is expired and needs to be changed for user: {user_id}.")
}

#[track_caller]
fn assert_expired(r: &Resp, user_id: &str) {
    assert_eq!(r.status.as_u16(), 401, "{}", r.body);
    assert_eq!(
        r.body["error"]["message"].as_str().unwrap(),
        expired_message(user_id),
        "{}",
        r.body
    );
}

/// POST /v3/users/{id}/password without a token.
async fn change(app: &TestApp, user_id: &str, original: &str, new: &str) -> Resp {
    app.request(
        Method::POST,
        &format!("/v3/users/{user_id}/password"),
        None,
        Some(json!({"user": {"original_password": original, "password": new}})),
    )
    .await
}

async fn get_user(app: &TestApp, user_id: &str) -> Value {
    app.get(&format!("/v3/users/{user_id}"), &app.admin_token)
        .await
        .expect(200)
        .body["user"]
        .clone()
}

async fn patch_user(app: &TestApp, user_id: &str, user: Value) -> Resp {
    app.patch(
        &format!("/v3/users/{user_id}"),
        &app.admin_token,
        json!({ "user": user }),
    )
    .await
}

fn message(r: &Resp) -> String {
    r.body["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no error message in {}", r.body))
        .to_string()
}

/// A policy refusal: 400, the Keystone error shape, the prefix, `rules` broken rules listed, and
/// the password nowhere in the answer. Returns the listed rules, lower-cased.
#[track_caller]
fn refused_by_policy(r: &Resp, password: &str, rules: usize) -> Vec<String> {
    assert_eq!(r.status.as_u16(), 400, "{}", r.body);
    assert_eq!(r.body["error"]["code"], 400, "{}", r.body);
    assert_eq!(r.body["error"]["title"], "Bad Request", "{}", r.body);
    let msg = message(r);
    assert!(msg.starts_with(PREFIX), "{msg}");
    assert!(
        !r.body.to_string().contains(password),
        "the answer shows the password: {}",
        r.body
    );
    let listed: Vec<String> = msg[PREFIX.len()..]
        .split("; ")
        .map(|s| s.to_lowercase())
        .collect();
    assert_eq!(listed.len(), rules, "expected {rules} broken rules: {msg}");
    listed
}

#[track_caller]
fn mentions(listed: &[String], word: &str) {
    assert!(
        listed.iter().any(|r| r.contains(word)),
        "no listed rule mentions {word:?}: {listed:?}"
    );
}

/// No user of that name in the Default domain.
async fn absent(app: &TestApp, name: &str) {
    let r = app
        .get(
            &format!("/v3/users?name={name}&domain_id=default"),
            &app.admin_token,
        )
        .await
        .expect(200);
    assert_eq!(r.body["users"], json!([]), "user {name} was created");
}

/// (upper, lower, digit, other) counts.
fn classes(p: &str) -> [usize; 4] {
    let mut c = [0; 4];
    for ch in p.chars() {
        let i = if ch.is_ascii_uppercase() {
            0
        } else if ch.is_ascii_lowercase() {
            1
        } else if ch.is_ascii_digit() {
            2
        } else {
            3
        };
        c[i] += 1;
    }
    c
}

fn class_count(p: &str) -> usize {
    classes(p).iter().filter(|n| **n > 0).count()
}

fn generated(r: &Resp) -> String {
    r.body["user"]["OS-PCU:generated_password"]
        .as_str()
        .unwrap_or_else(|| panic!("no generated password in {}", r.body))
        .to_string()
}

fn parse_time(s: &str) -> chrono::NaiveDateTime {
    chrono::NaiveDateTime::parse_from_str(&s[..19], "%Y-%m-%dT%H:%M:%S")
        .unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// Moves the creation and the last login of `ids` to `days` ago, as if nobody had logged in
/// since (`never_logged_in`: no last login at all, only the creation).
async fn backdate(app: &TestApp, ids: Vec<String>, days: i64, never_logged_in: bool) {
    app.state
        .store
        .run(move |c| {
            use diesel::prelude::*;
            use ironstone::store::schema::users::dsl as u;
            let past = chrono::Utc::now().naive_utc() - chrono::Duration::days(days);
            let active = if never_logged_in { None } else { Some(past) };
            diesel::update(u::users.filter(u::id.eq_any(ids)))
                .set((u::last_active_at.eq(active), u::created_at.eq(past)))
                .execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// The policy

both_backends!(policy_is_published_without_a_token, |app| {
    let r = app
        .request(Method::GET, "/v3/OS-PCU/password_policy", None, None)
        .await
        .expect(200);
    let p = r.body["password_policy"]
        .as_object()
        .unwrap_or_else(|| panic!("{}", r.body));
    for key in [
        "min_length",
        "max_length",
        "min_character_classes",
        "character_classes",
        "forbid_user_name",
        "forbid_email",
        "forbid_phone",
        "generated_length",
        "password_regex",
        "password_regex_description",
        "unique_last_password_count",
        "minimum_password_age",
        "password_expires_days",
        "change_password_upon_first_use",
        "lockout_failure_attempts",
        "lockout_duration",
        "disable_user_account_days_inactive",
        "rules",
    ] {
        assert!(p.contains_key(key), "missing {key}: {}", r.body);
    }
    assert_eq!(p["min_length"], 6);
    assert_eq!(p["max_length"], 32);
    assert_eq!(p["min_character_classes"], 2);
    assert_eq!(
        p["character_classes"],
        json!(["upper", "lower", "digit", "special"])
    );
    assert_eq!(p["forbid_user_name"], true);
    assert_eq!(p["generated_length"], 16);
    assert_eq!(p["change_password_upon_first_use"], false);
    let rules = p["rules"].as_array().unwrap();
    assert!(!rules.is_empty());
    app.request(Method::HEAD, "/v3/OS-PCU/password_policy", None, None)
        .await
        .expect(200);
    assert!(rules
        .iter()
        .all(|r| r.as_str().is_some_and(|s| !s.trim().is_empty())));
});

both_backends!(policy_refusals_list_every_broken_rule, |app| {
    let long = "Qq1".repeat(12); // 36 characters
    let cases: Vec<(Value, String, usize, Vec<&str>)> = vec![
        // Too short and a single class.
        (json!({"name": "u1"}), "qqq".into(), 2, vec!["6"]),
        // Too long (three classes).
        (json!({"name": "u2"}), long.clone(), 1, vec!["32"]),
        // One class only, whichever.
        (json!({"name": "u3"}), "qqqqqqqq".into(), 1, vec![]),
        (json!({"name": "u4"}), "QQQQQQQQ".into(), 1, vec![]),
        (json!({"name": "u5"}), "98765432".into(), 1, vec![]),
        // Counted in characters, not bytes: 5 characters, 11 bytes.
        (json!({"name": "u6"}), "€€€a1".into(), 1, vec!["6"]),
        // The user name, case-insensitively, and reversed.
        (
            json!({"name": "Mallory-7"}),
            "mALLORY-7".into(),
            1,
            vec!["name"],
        ),
        (
            json!({"name": "Mallory-7"}),
            "7-YRollam".into(),
            1,
            vec!["name"],
        ),
        // Containing the email, case-insensitively.
        (
            json!({"name": "u7", "email": "bob@example.com"}),
            "XBOB@EXAMPLE.COM1".into(),
            1,
            vec!["email"],
        ),
        // Containing the phone as written, or its digits.
        (
            json!({"name": "u8", "phone": "+1 555-123-4567"}),
            "Pw+1 555-123-4567".into(),
            1,
            vec!["phone"],
        ),
        (
            json!({"name": "u9", "phone": "+1 555-123-4567"}),
            "Call15551234567".into(),
            1,
            vec!["phone"],
        ),
        // Three at once: one class, the user name, the phone.
        (
            json!({"name": "5551234567", "phone": "5551234567"}),
            "5551234567".into(),
            3,
            vec!["name", "phone"],
        ),
    ];
    for (user, password, rules, words) in cases {
        let mut body = user.clone();
        body["password"] = json!(password);
        let r = post_user(&app, body).await;
        let listed = refused_by_policy(&r, &password, rules);
        for w in words {
            mentions(&listed, w);
        }
        absent(&app, user["name"].as_str().unwrap()).await;
    }
    // What the rules allow.
    for (i, password) in [
        "€€€€a1".to_string(),              // 6 characters
        format!("{}a", "€".repeat(31)),    // 32 characters, 94 bytes
        "abc def".to_string(),             // a space is a special character
        format!("{}Qq", "Qq1".repeat(10)), // 32 characters
    ]
    .iter()
    .enumerate()
    {
        post_user(
            &app,
            json!({"name": format!("ok{i}"), "password": password}),
        )
        .await
        .expect(201);
    }
    // Containing the user name is not being it.
    post_user(&app, json!({"name": "Mallory-7", "password": "Mallory-7x"}))
        .await
        .expect(201);
    // Fewer than 6 digits: only the phone as written counts.
    post_user(
        &app,
        json!({"name": "short-phone", "phone": "1-2-3-4-5", "password": "Ab12345x"}),
    )
    .await
    .expect(201);
});

both_backends!(policy_applies_to_every_way_a_password_is_set, |app| {
    let p = project(&app).await;
    let carol = plain(&app, &p, "carol", PW).await;
    // Administrator update: refused, and nothing of the request is written.
    let r = patch_user(
        &app,
        &carol,
        json!({"password": "qqq", "description": "changed"}),
    )
    .await;
    refused_by_policy(&r, "qqq", 2);
    assert!(get_user(&app, &carol).await["description"].is_null());
    login(&app, "carol", PW).await.expect(201);
    // The email given in the same request counts.
    let r = patch_user(
        &app,
        &carol,
        json!({"email": "carol@x.org", "password": "Carol@X.org1"}),
    )
    .await;
    mentions(&refused_by_policy(&r, "Carol@X.org1", 1), "email");
    assert!(get_user(&app, &carol).await["email"].is_null());
    // So does the stored one and the stored phone.
    patch_user(
        &app,
        &carol,
        json!({"email": "carol@x.org", "phone": "0612345678"}),
    )
    .await
    .expect(200);
    let r = patch_user(&app, &carol, json!({"password": "xCAROL@X.ORG"})).await;
    mentions(&refused_by_policy(&r, "xCAROL@X.ORG", 1), "email");
    let r = patch_user(&app, &carol, json!({"password": "Tel0612345678"})).await;
    mentions(&refused_by_policy(&r, "Tel0612345678", 1), "phone");
    login(&app, "carol", PW).await.expect(201);
    // The name given in the same request counts; nothing of it is written.
    let r = patch_user(
        &app,
        &carol,
        json!({"name": "Zed-Pass-1", "password": "zED-pASS-1"}),
    )
    .await;
    mentions(&refused_by_policy(&r, "zED-pASS-1", 1), "name");
    assert_eq!(get_user(&app, &carol).await["name"], "carol");
    // Self-service change.
    let r = change(&app, &carol, PW, "qqq").await;
    refused_by_policy(&r, "qqq", 2);
    let r = change(&app, &carol, PW, "Call0612345678").await;
    mentions(&refused_by_policy(&r, "Call0612345678", 1), "phone");
    let r = change(&app, &carol, PW, "lorac").await;
    mentions(&refused_by_policy(&r, "lorac", 3), "name");
    login(&app, "carol", PW).await.expect(201);
    // A domain manager creating a user.
    let a = customer(&app, "acme").await;
    let r = app
        .post(
            "/v3/users",
            &a.manager_token,
            json!({"user": {"name": "weak", "domain_id": a.domain_id, "password": "qqqqqqq"}}),
        )
        .await;
    refused_by_policy(&r, "qqqqqqq", 1);
    // Bootstrap resetting the admin password: refused, the old one stands.
    let res = ironstone::bootstrap::run(
        &app.state,
        ironstone::bootstrap::Options {
            password: Some(secrecy::SecretString::from("qqq")),
            ..Default::default()
        },
        chrono::Utc::now(),
    )
    .await;
    match res {
        Ok(_) => panic!("bootstrap accepted a password the policy refuses"),
        Err(e) => {
            let e = e.to_string();
            assert!(e.contains(PREFIX.trim_end()), "{e}");
            assert!(!e.contains("qqq"), "{e}");
        }
    }
    app.auth(password_auth("admin", ADMIN_PASSWORD, Some("admin")))
        .await
        .expect(201);
});

both_backends_with!(
    custom_policy_is_honoured,
    |c| {
        let pp = &mut c.password_policy;
        pp.min_length = 10;
        pp.max_length = 20; // the bootstrap admin password is 16 long
        pp.min_character_classes = 3;
        pp.character_classes = ["lower", "digit", "special"].map(String::from).to_vec();
        pp.forbid_user_name = false;
        pp.forbid_email = false;
        pp.forbid_phone = false;
        pp.generated_length = 12;
    },
    |app| {
        let r = app
            .request(Method::GET, "/v3/OS-PCU/password_policy", None, None)
            .await
            .expect(200);
        let pp = &r.body["password_policy"];
        assert_eq!(pp["min_length"], 10);
        assert_eq!(pp["max_length"], 20);
        assert_eq!(pp["min_character_classes"], 3);
        assert_eq!(
            pp["character_classes"],
            json!(["lower", "digit", "special"])
        );
        assert_eq!(pp["forbid_email"], false);
        assert_eq!(pp["generated_length"], 12);

        post_user(&app, json!({"name": "a", "password": "abcdefgh1!"}))
            .await
            .expect(201);
        // Upper case does not count here: digit + special only.
        let r = post_user(&app, json!({"name": "b", "password": "ABCDEFGH1!"})).await;
        refused_by_policy(&r, "ABCDEFGH1!", 1);
        let r = post_user(&app, json!({"name": "c", "password": "abcdef1!"})).await;
        mentions(&refused_by_policy(&r, "abcdef1!", 1), "10");
        let r = post_user(
            &app,
            json!({"name": "d", "password": "abcdefghij1!abcdefghij"}),
        )
        .await;
        mentions(&refused_by_policy(&r, "abcdefghij1!abcdefghij", 1), "20");
        // Name, email and phone rules are off.
        post_user(
            &app,
            json!({"name": "name-of-1x", "password": "name-of-1x"}),
        )
        .await
        .expect(201);
        post_user(
            &app,
            json!({"name": "e", "email": "e@x.io", "phone": "123456",
                   "password": "e@x.io123456"}),
        )
        .await
        .expect(201);
        // Generated passwords follow the configured length and classes.
        let p = project(&app).await;
        let (_, r) = member(
            &app,
            &p,
            json!({"name": "g", "OS-PCU:generate_password": true}),
        )
        .await;
        let g = generated(&r);
        assert_eq!(g.chars().count(), 12, "{g}");
        let [_, lower, digit, special] = classes(&g);
        assert!(
            [lower, digit, special].iter().filter(|n| **n > 0).count() >= 3,
            "{g}"
        );
        login(&app, "g", &g).await.expect(201);
    }
);

both_backends_with!(
    password_regex_and_its_description,
    |c| {
        c.security_compliance.password_regex = Some(r"^(?=.*\d)(?=.*[A-Z]).*$".into());
        c.security_compliance.password_regex_description =
            Some("must contain a digit and an upper-case letter".into());
    },
    |app| {
        const DESC: &str = "must contain a digit and an upper-case letter";
        let r = app
            .request(Method::GET, "/v3/OS-PCU/password_policy", None, None)
            .await
            .expect(200);
        let pp = &r.body["password_policy"];
        assert_eq!(pp["password_regex"], r"^(?=.*\d)(?=.*[A-Z]).*$");
        assert_eq!(pp["password_regex_description"], DESC);
        assert!(
            pp["rules"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r.as_str().unwrap().contains(DESC)),
            "{}",
            r.body
        );
        let r = post_user(&app, json!({"name": "a", "password": "abcdefg!"})).await;
        mentions(&refused_by_policy(&r, "abcdefg!", 1), DESC);
        // With the other rules: short, one class, regex.
        let r = post_user(&app, json!({"name": "b", "password": "qqq"})).await;
        mentions(&refused_by_policy(&r, "qqq", 3), DESC);
        absent(&app, "a").await;
        post_user(&app, json!({"name": "c", "password": "Abcdefg!1"}))
            .await
            .expect(201);
        // Self-service changes too.
        let p = project(&app).await;
        let d = plain(&app, &p, "d", "Abcdefg!1").await;
        let r = change(&app, &d, "Abcdefg!1", "abcdefg!2").await;
        mentions(&refused_by_policy(&r, "abcdefg!2", 1), DESC);
        // Generated passwords satisfy the regex.
        for i in 0..3 {
            let (_, r) = member(
                &app,
                &p,
                json!({"name": format!("g{i}"), "OS-PCU:generate_password": true}),
            )
            .await;
            let g = generated(&r);
            let [upper, _, digit, _] = classes(&g);
            assert!(upper > 0 && digit > 0, "{g}");
            login(&app, &format!("g{i}"), &g).await.expect(201);
        }
    }
);

// ---------------------------------------------------------------------------------------------
// Phone

both_backends!(phone_is_set_shown_cleared_and_filtered, |app| {
    let r = post_user(
        &app,
        json!({"name": "ph1", "phone": "+1 555-0100", "password": PW}),
    )
    .await
    .expect(201);
    assert_eq!(r.body["user"]["phone"], "+1 555-0100");
    let ph1 = r.body["user"]["id"].as_str().unwrap().to_string();
    let r = post_user(&app, json!({"name": "ph2", "phone": "555-0199"}))
        .await
        .expect(201);
    let ph2 = r.body["user"]["id"].as_str().unwrap().to_string();
    let r = post_user(&app, json!({"name": "ph3"})).await.expect(201);
    assert!(r.body["user"]["phone"].is_null(), "{}", r.body);
    assert_eq!(get_user(&app, &ph1).await["phone"], "+1 555-0100");
    // Not a place for anything else.
    post_user(&app, json!({"name": "ph4", "phone": "5".repeat(1000)}))
        .await
        .expect(400);
    patch_user(&app, &ph1, json!({"phone": "5".repeat(1000)}))
        .await
        .expect(400);
    absent(&app, "ph4").await;
    assert_eq!(get_user(&app, &ph1).await["phone"], "+1 555-0100");
    // Exact and partial filters.
    let list = |q: &'static str| {
        let app = &app;
        async move {
            ids(
                &app.get(&format!("/v3/users?{q}"), &app.admin_token)
                    .await
                    .expect(200)
                    .body,
                "users",
            )
        }
    };
    assert_eq!(list("phone=555-0199").await, vec![ph2.clone()]);
    assert_eq!(list("phone=%2B1%20555-0100").await, vec![ph1.clone()]);
    let mut both = list("phone__contains=555-01").await;
    both.sort();
    let mut expected = vec![ph1.clone(), ph2.clone()];
    expected.sort();
    assert_eq!(both, expected);
    // Null clears it.
    let r = patch_user(&app, &ph1, json!({"phone": null}))
        .await
        .expect(200);
    assert!(r.body["user"]["phone"].is_null(), "{}", r.body);
    assert!(get_user(&app, &ph1).await["phone"].is_null());
    assert!(list("phone=%2B1%20555-0100").await.is_empty());
    // And PATCH sets it.
    patch_user(&app, &ph1, json!({"phone": "555-0142"}))
        .await
        .expect(200);
    assert_eq!(list("phone=555-0142").await, vec![ph1]);
});

// ---------------------------------------------------------------------------------------------
// Generated passwords

both_backends!(generated_passwords_are_shown_once_and_work, |app| {
    let p = project(&app).await;
    let mut seen = std::collections::HashSet::new();
    let (mut gen_id, mut last) = (String::new(), String::new());
    for i in 0..4 {
        let name = format!("gen{i}");
        let (id, r) = member(
            &app,
            &p,
            json!({"name": name, "OS-PCU:generate_password": true}),
        )
        .await;
        let g = generated(&r);
        assert_eq!(g.chars().count(), 16, "{g}");
        assert!(class_count(&g) >= 2, "{g}");
        assert!(!g.to_lowercase().contains(&name), "{g}");
        assert!(seen.insert(g.clone()), "the same password twice: {g}");
        login(&app, &name, &g).await.expect(201);
        // Never shown again.
        let u = get_user(&app, &id).await;
        assert!(u.get("OS-PCU:generated_password").is_none(), "{u}");
        assert!(!u.to_string().contains(&g));
        gen_id = id;
        last = g;
    }
    let list = app
        .get("/v3/users?name__startswith=gen", &app.admin_token)
        .await
        .expect(200);
    assert_eq!(list.body["users"].as_array().unwrap().len(), 4);
    for u in list.body["users"].as_array().unwrap() {
        assert!(u.get("OS-PCU:generated_password").is_none(), "{u}");
    }
    for g in &seen {
        assert!(!list.body.to_string().contains(g.as_str()));
    }
    // PATCH generates a new one; the old one stops working.
    let r = patch_user(&app, &gen_id, json!({"OS-PCU:generate_password": true}))
        .await
        .expect(200);
    let g2 = generated(&r);
    assert!(!seen.contains(&g2));
    login(&app, "gen3", &g2).await.expect(201);
    login(&app, "gen3", &last).await.expect(401);
    assert!(get_user(&app, &gen_id)
        .await
        .get("OS-PCU:generated_password")
        .is_none());
    // Together with a password: refused, nothing written.
    post_user(
        &app,
        json!({"name": "both", "password": PW, "OS-PCU:generate_password": true}),
    )
    .await
    .expect(400);
    absent(&app, "both").await;
    patch_user(
        &app,
        &gen_id,
        json!({"password": PW, "OS-PCU:generate_password": true}),
    )
    .await
    .expect(400);
    login(&app, "gen3", &g2).await.expect(201);
    login(&app, "gen3", PW).await.expect(401);
    // A generated password that must be changed: the login says so; the user changes it without
    // a token and logs in.
    let (id, r) = member(
        &app,
        &p,
        json!({"name": "temp", "OS-PCU:generate_password": true,
               "OS-PCU:password_change_required": true}),
    )
    .await;
    let g = generated(&r);
    assert_expired(&login(&app, "temp", &g).await, &id);
    change(&app, &id, &g, "Chosen-Pass-9").await.expect(204);
    login(&app, "temp", "Chosen-Pass-9").await.expect(201);
    login(&app, "temp", &g).await.expect(401);
});

// ---------------------------------------------------------------------------------------------
// Expiry and forced changes

both_backends!(expired_passwords_say_so_only_to_the_right_password, |app| {
    let p = project(&app).await;
    let generic = generic_401(&app).await;
    // Expired by an administrator's request on the current password.
    let a = plain(&app, &p, "alice", PW).await;
    patch_user(&app, &a, json!({"OS-PCU:password_change_required": true}))
        .await
        .expect(200);
    assert_expired(&login(&app, "alice", PW).await, &a);
    // The wrong password learns nothing.
    assert_generic(&login(&app, "alice", "Wrong-Pass-1").await, &generic);
    // Changing it needs no token and works although it is expired.
    change(&app, &a, "Wrong-Pass-1", "Alice-New-2")
        .await
        .expect(401);
    change(&app, &a, PW, "Alice-New-2").await.expect(204);
    login(&app, "alice", PW).await.expect(401);
    login(&app, "alice", "Alice-New-2").await.expect(201);
    // A disabled user with an expired password: the right password learns nothing either.
    let e = plain(&app, &p, "edna", PW).await;
    patch_user(
        &app,
        &e,
        json!({"enabled": false, "OS-PCU:password_change_required": true}),
    )
    .await
    .expect(200);
    assert_generic(&login(&app, "edna", PW).await, &generic);
    // Set at creation together with the password.
    let (b, _) = member(
        &app,
        &p,
        json!({"name": "bert", "password": PW, "OS-PCU:password_change_required": true}),
    )
    .await;
    assert_expired(&login(&app, "bert", PW).await, &b);
    // An administrator setting a password with it.
    patch_user(
        &app,
        &a,
        json!({"password": "Admin-Set-3", "OS-PCU:password_change_required": true}),
    )
    .await
    .expect(200);
    assert_expired(&login(&app, "alice", "Admin-Set-3").await, &a);
    // Expired by the calendar; ignore_password_expiry exempts.
    let c = plain(&app, &p, "cora", PW).await;
    let d = member(
        &app,
        &p,
        json!({"name": "dora", "password": PW, "options": {"ignore_password_expiry": true}}),
    )
    .await
    .0;
    let ids = vec![c.clone(), d.clone()];
    app.state
        .store
        .run(move |conn| {
            use diesel::prelude::*;
            use ironstone::store::schema::users::dsl as u;
            let past = chrono::Utc::now().naive_utc() - chrono::Duration::days(1);
            diesel::update(u::users.filter(u::id.eq_any(ids)))
                .set(u::password_expires_at.eq(Some(past)))
                .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
    assert_expired(&login(&app, "cora", PW).await, &c);
    assert_generic(&login(&app, "cora", "Wrong-Pass-1").await, &generic);
    login(&app, "dora", PW).await.expect(201);
    change(&app, &c, PW, "Cora-New-Pass-4").await.expect(204);
    login(&app, "cora", "Cora-New-Pass-4").await.expect(201);
});

both_backends_with!(
    password_expires_days_sets_the_expiry,
    |c| {
        c.security_compliance.password_expires_days = Some(90);
    },
    |app| {
        let p = project(&app).await;
        let (id, r) = member(&app, &p, json!({"name": "exp", "password": PW})).await;
        let near_90_days = |v: &Value| {
            let at = parse_time(v.as_str().unwrap_or_else(|| panic!("no expiry: {v}")));
            let want = chrono::Utc::now().naive_utc() + chrono::Duration::days(90);
            assert!(
                (at - want).num_minutes().abs() < 60,
                "expires at {at}, expected about {want}"
            );
        };
        near_90_days(&r.body["user"]["password_expires_at"]);
        near_90_days(&get_user(&app, &id).await["password_expires_at"]);
        let t = login(&app, "exp", PW).await.expect(201);
        near_90_days(&t.body["token"]["user"]["password_expires_at"]);
        change(&app, &id, PW, "Exp-New-Pass-5").await.expect(204);
        near_90_days(&get_user(&app, &id).await["password_expires_at"]);
        let t = login(&app, "exp", "Exp-New-Pass-5").await.expect(201);
        near_90_days(&t.body["token"]["user"]["password_expires_at"]);
    }
);

both_backends_with!(
    change_password_upon_first_use,
    |c| {
        c.security_compliance.change_password_upon_first_use = true;
    },
    |app| {
        let p = project(&app).await;
        let generic = generic_401(&app).await;
        // Created by an administrator: must be changed.
        let a = plain(&app, &p, "ann", PW).await;
        assert_expired(&login(&app, "ann", PW).await, &a);
        assert_generic(&login(&app, "ann", "Wrong-Pass-1").await, &generic);
        change(&app, &a, PW, "Ann-Own-Pass-1").await.expect(204);
        // A self-service change is not expired; unrelated admin updates do not expire it.
        login(&app, "ann", "Ann-Own-Pass-1").await.expect(201);
        patch_user(&app, &a, json!({"description": "x"}))
            .await
            .expect(200);
        login(&app, "ann", "Ann-Own-Pass-1").await.expect(201);
        // An administrator setting the password: expired again.
        patch_user(&app, &a, json!({"password": "Admin-Set-2"}))
            .await
            .expect(200);
        assert_expired(&login(&app, "ann", "Admin-Set-2").await, &a);
        // The administrator cannot waive the operator's rule.
        let r = post_user(
            &app,
            json!({"name": "ben", "password": PW, "OS-PCU:password_change_required": false}),
        )
        .await
        .expect(400);
        assert!(
            message(&r).contains("password_change_required"),
            "{}",
            r.body
        );
        absent(&app, "ben").await;
        patch_user(
            &app,
            &a,
            json!({"password": "Admin-Set-3", "OS-PCU:password_change_required": false}),
        )
        .await
        .expect(400);
        assert_expired(&login(&app, "ann", "Admin-Set-2").await, &a);
        login(&app, "ann", "Admin-Set-3").await.expect(401);
        // ignore_change_password_upon_first_use exempts, at creation or later.
        let c = member(
            &app,
            &p,
            json!({"name": "cid", "password": PW,
                   "options": {"ignore_change_password_upon_first_use": true}}),
        )
        .await
        .0;
        login(&app, "cid", PW).await.expect(201);
        patch_user(
            &app,
            &c,
            json!({"password": "Admin-Set-4", "OS-PCU:password_change_required": false}),
        )
        .await
        .expect(200);
        login(&app, "cid", "Admin-Set-4").await.expect(201);
        patch_user(
            &app,
            &a,
            json!({"options": {"ignore_change_password_upon_first_use": true}}),
        )
        .await
        .expect(200);
        patch_user(&app, &a, json!({"password": "Admin-Set-5"}))
            .await
            .expect(200);
        login(&app, "ann", "Admin-Set-5").await.expect(201);
        // A generated password at creation must be changed too.
        let (g, r) = member(
            &app,
            &p,
            json!({"name": "gus", "OS-PCU:generate_password": true}),
        )
        .await;
        let pw = generated(&r);
        assert_expired(&login(&app, "gus", &pw).await, &g);
        change(&app, &g, &pw, "Gus-Own-Pass-1").await.expect(204);
        login(&app, "gus", "Gus-Own-Pass-1").await.expect(201);
        // A domain manager is an administrator too.
        let d = create_domain(&app, "acme").await;
        let dp = create_project(&app, &d, "main").await;
        let boss = app
            .post(
                "/v3/users",
                &app.admin_token,
                json!({"user": {"name": "boss", "domain_id": d, "password": PW,
                       "options": {"ignore_change_password_upon_first_use": true}}}),
            )
            .await
            .expect(201)
            .body["user"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        grant(&app, &dp, &boss, "manager").await;
        let mt = token_in(&app, &d, "boss", PW, "main").await;
        let r = app
            .post(
                "/v3/users",
                &mt,
                json!({"user": {"name": "hire", "domain_id": d, "password": PW}}),
            )
            .await
            .expect(201);
        let hire = r.body["user"]["id"].as_str().unwrap().to_string();
        grant(&app, &dp, &hire, "member").await;
        let r = app
            .auth(
                json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
                "name": "hire", "domain": {"id": d}, "password": PW}}},
                "scope": {"project": {"id": dp}}}}),
            )
            .await;
        assert_expired(&r, &hire);
        // The bootstrap admin still logs in (spawning the app did) and so do its new tokens.
        app.auth(password_auth("admin", ADMIN_PASSWORD, Some("admin")))
            .await
            .expect(201);
    }
);

// ---------------------------------------------------------------------------------------------
// History and minimum age

both_backends_with!(
    password_history,
    |c| {
        c.security_compliance.unique_last_password_count = 2;
    },
    |app| {
        let p = project(&app).await;
        let id = plain(&app, &p, "hist", "History-Pass-0").await;
        let reuse = |r: Resp| {
            let r = r.expect(400);
            let msg = message(&r);
            assert!(msg.starts_with(HISTORY), "{msg}");
            assert!(msg.contains("is 2."), "{msg}");
        };
        // The current password.
        reuse(change(&app, &id, "History-Pass-0", "History-Pass-0").await);
        login(&app, "hist", "History-Pass-0").await.expect(201);
        change(&app, &id, "History-Pass-0", "History-Pass-1")
            .await
            .expect(204);
        // The previous one, within the count; nothing written by the refusal.
        reuse(change(&app, &id, "History-Pass-1", "History-Pass-0").await);
        login(&app, "hist", "History-Pass-1").await.expect(201);
        login(&app, "hist", "History-Pass-0").await.expect(401);
        change(&app, &id, "History-Pass-1", "History-Pass-2")
            .await
            .expect(204);
        // Beyond the count: allowed again.
        change(&app, &id, "History-Pass-2", "History-Pass-0")
            .await
            .expect(204);
        // An administrator is not checked: the same password again.
        patch_user(&app, &id, json!({"password": "History-Pass-0"}))
            .await
            .expect(200);
        login(&app, "hist", "History-Pass-0").await.expect(201);
        // But what it sets is recorded.
        patch_user(&app, &id, json!({"password": "Admin-Reset-X1"}))
            .await
            .expect(200);
        reuse(change(&app, &id, "Admin-Reset-X1", "Admin-Reset-X1").await);
        reuse(change(&app, &id, "Admin-Reset-X1", "History-Pass-0").await);
        login(&app, "hist", "Admin-Reset-X1").await.expect(201);
        change(&app, &id, "Admin-Reset-X1", "History-Pass-3")
            .await
            .expect(204);
        reuse(change(&app, &id, "History-Pass-3", "Admin-Reset-X1").await);
        login(&app, "hist", "History-Pass-3").await.expect(201);
    }
);

both_backends_with!(
    minimum_password_age,
    |c| {
        c.security_compliance.minimum_password_age = 1;
    },
    |app| {
        let p = project(&app).await;
        let id = plain(&app, &p, "aged", "Aged-Pass-0").await;
        // An administrator-set password can be changed at once.
        change(&app, &id, "Aged-Pass-0", "Aged-Pass-1")
            .await
            .expect(204);
        // The user's own choice must be kept a day.
        let r = change(&app, &id, "Aged-Pass-1", "Aged-Pass-2")
            .await
            .expect(400);
        assert!(message(&r).starts_with(MIN_AGE), "{}", r.body);
        login(&app, "aged", "Aged-Pass-1").await.expect(201);
        login(&app, "aged", "Aged-Pass-2").await.expect(401);
        // A wrong original is still the 401, not the age rule.
        change(&app, &id, "Wrong-Pass-1", "Aged-Pass-2")
            .await
            .expect(401);
        // An administrator may reset it, and then the user may change at once.
        patch_user(&app, &id, json!({"password": "Aged-Pass-3"}))
            .await
            .expect(200);
        change(&app, &id, "Aged-Pass-3", "Aged-Pass-4")
            .await
            .expect(204);
        change(&app, &id, "Aged-Pass-4", "Aged-Pass-5")
            .await
            .expect(400);
        login(&app, "aged", "Aged-Pass-4").await.expect(201);
    }
);

// ---------------------------------------------------------------------------------------------
// Lockout

both_backends_with!(
    lockout_after_failures,
    |c| {
        c.security_compliance.lockout_failure_attempts = Some(2);
        c.security_compliance.lockout_duration = Some(2);
    },
    |app| {
        let p = project(&app).await;
        let generic = generic_401(&app).await;
        let w = plain(&app, &p, "wendy", PW).await;
        for _ in 0..2 {
            assert_generic(&login(&app, "wendy", "Wrong-Pass-1").await, &generic);
        }
        // Locked: the right password gets the very same answer as an unknown user.
        assert_generic(&login(&app, "wendy", PW).await, &generic);
        // Nor can the password be changed while locked.
        change(&app, &w, PW, "Wendy-New-1").await.expect(401);
        tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
        login(&app, "wendy", PW).await.expect(201);

        // Locked with an expired password: the right password must not learn that it is right.
        let (x, _) = member(
            &app,
            &p,
            json!({"name": "xena", "password": PW, "OS-PCU:password_change_required": true}),
        )
        .await;
        assert_expired(&login(&app, "xena", PW).await, &x);
        for _ in 0..2 {
            login(&app, "xena", "Wrong-Pass-1").await.expect(401);
        }
        assert_generic(&login(&app, "xena", PW).await, &generic);

        // A success resets the count.
        let s = plain(&app, &p, "sam", PW).await;
        login(&app, "sam", "Wrong-Pass-1").await.expect(401);
        login(&app, "sam", PW).await.expect(201);
        login(&app, "sam", "Wrong-Pass-1").await.expect(401);
        login(&app, "sam", PW).await.expect(201);

        // Wrong originals on the password change count; policy refusals do not.
        for _ in 0..2 {
            refused_by_policy(&change(&app, &s, PW, "qqq").await, "qqq", 2);
        }
        login(&app, "sam", PW).await.expect(201);
        for _ in 0..2 {
            change(&app, &s, "Wrong-Pass-1", "Sam-New-Pass-1")
                .await
                .expect(401);
        }
        assert_generic(&login(&app, "sam", PW).await, &generic);
        // Enabling the user clears the counter.
        patch_user(&app, &s, json!({"enabled": true}))
            .await
            .expect(200);
        login(&app, "sam", PW).await.expect(201);

        // ignore_lockout_failure_attempts exempts.
        member(
            &app,
            &p,
            json!({"name": "ivy", "password": PW,
                   "options": {"ignore_lockout_failure_attempts": true}}),
        )
        .await;
        for _ in 0..4 {
            login(&app, "ivy", "Wrong-Pass-1").await.expect(401);
        }
        login(&app, "ivy", PW).await.expect(201);

        // So is the bootstrap admin, and its options say so.
        let opts = &get_user(&app, &app.admin_user_id).await["options"];
        assert_eq!(opts["ignore_lockout_failure_attempts"], true, "{opts}");
        assert_eq!(opts["ignore_user_inactivity"], true, "{opts}");
        for _ in 0..4 {
            app.auth(password_auth("admin", "Wrong-Pass-1", Some("admin")))
                .await
                .expect(401);
        }
        app.auth(password_auth("admin", ADMIN_PASSWORD, Some("admin")))
            .await
            .expect(201);
    }
);

both_backends_with!(
    concurrent_failures_are_all_counted,
    |c| {
        c.security_compliance.lockout_failure_attempts = Some(10);
        c.security_compliance.lockout_duration = Some(600);
    },
    |app| {
        let p = project(&app).await;
        let generic = generic_401(&app).await;
        plain(&app, &p, "many", PW).await;
        plain(&app, &p, "fewer", PW).await;
        let attempts = |name: &'static str, n: usize| {
            let app = &app;
            join_all((0..n).map(move |_| login(app, name, "Wrong-Pass-1")))
        };
        let (many, fewer) = tokio::join!(attempts("many", 10), attempts("fewer", 9));
        for r in many.iter().chain(fewer.iter()) {
            assert_eq!(r.status.as_u16(), 401, "{}", r.body);
        }
        // Ten failures, however simultaneous, lock; nine do not.
        assert_generic(&login(&app, "many", PW).await, &generic);
        login(&app, "fewer", PW).await.expect(201);
    }
);

// ---------------------------------------------------------------------------------------------
// lock_password

both_backends!(lock_password_stops_only_the_user, |app| {
    let p = project(&app).await;
    let (id, _) = member(
        &app,
        &p,
        json!({"name": "locked", "password": PW, "options": {"lock_password": true}}),
    )
    .await;
    change(&app, &id, PW, "Locked-New-1").await.expect(403);
    login(&app, "locked", PW).await.expect(201);
    login(&app, "locked", "Locked-New-1").await.expect(401);
    patch_user(&app, &id, json!({"password": "Admin-Set-6"}))
        .await
        .expect(200);
    login(&app, "locked", "Admin-Set-6").await.expect(201);
    let r = patch_user(&app, &id, json!({"OS-PCU:generate_password": true}))
        .await
        .expect(200);
    login(&app, "locked", &generated(&r)).await.expect(201);
});

// ---------------------------------------------------------------------------------------------
// Inactivity

both_backends_with!(
    inactive_users_are_disabled,
    |c| {
        c.security_compliance.disable_user_account_days_inactive = Some(1);
    },
    |app| {
        let p = project(&app).await;
        let generic = generic_401(&app).await;
        let w = plain(&app, &p, "idle", PW).await;
        let never = plain(&app, &p, "never", PW).await;
        let (x, _) = member(
            &app,
            &p,
            json!({"name": "exempt", "password": PW,
                   "options": {"ignore_user_inactivity": true}}),
        )
        .await;
        let fresh = plain(&app, &p, "fresh", PW).await;
        // An application credential made while active.
        let t = login(&app, "idle", PW)
            .await
            .expect(201)
            .header("x-subject-token")
            .unwrap();
        app.post(
            &format!("/v3/users/{w}/application_credentials"),
            &t,
            json!({"application_credential": {"name": "ci", "secret": "ci-secret-value-1"}}),
        )
        .await
        .expect(201);
        let by_app_cred = json!({"auth": {"identity": {"methods": ["application_credential"],
            "application_credential": {"name": "ci", "user": {"id": w}, "secret": "ci-secret-value-1"}}}});
        app.auth(by_app_cred.clone()).await.expect(201);

        backdate(
            &app,
            vec![w.clone(), x.clone(), app.admin_user_id.clone()],
            2,
            false,
        )
        .await;
        backdate(&app, vec![never.clone()], 2, true).await;

        for (name, id) in [("idle", &w), ("never", &never)] {
            assert_generic(&login(&app, name, PW).await, &generic);
            assert_eq!(get_user(&app, id).await["enabled"], false, "{name}");
        }
        assert_generic(&app.auth(by_app_cred.clone()).await, &generic);
        // Expired as well: the right password still learns nothing, and cannot be changed.
        patch_user(
            &app,
            &never,
            json!({"OS-PCU:password_change_required": true}),
        )
        .await
        .expect(200);
        assert_generic(&login(&app, "never", PW).await, &generic);
        change(&app, &never, PW, "Never-New-Pass-1")
            .await
            .expect(401);
        // The exempt, the bootstrap admin and the recently created are fine.
        login(&app, "exempt", PW).await.expect(201);
        assert_eq!(get_user(&app, &x).await["enabled"], true);
        app.auth(password_auth("admin", ADMIN_PASSWORD, Some("admin")))
            .await
            .expect(201);
        login(&app, "fresh", PW).await.expect(201);
        assert_eq!(get_user(&app, &fresh).await["enabled"], true);
        // Enabling revives.
        let r = patch_user(&app, &w, json!({"enabled": true}))
            .await
            .expect(200);
        assert_eq!(r.body["user"]["enabled"], true);
        assert_eq!(get_user(&app, &w).await["enabled"], true);
        login(&app, "idle", PW).await.expect(201);
        patch_user(&app, &never, json!({"enabled": true}))
            .await
            .expect(200);
        assert_expired(&login(&app, "never", PW).await, &never);
        change(&app, &never, PW, "Never-New-Pass-1")
            .await
            .expect(204);
        login(&app, "never", "Never-New-Pass-1").await.expect(201);
    }
);

// ---------------------------------------------------------------------------------------------
// Self-service change

both_backends!(self_service_change_needs_no_token, |app| {
    let p = project(&app).await;
    let id = plain(&app, &p, "self", PW).await;
    let old = login(&app, "self", PW)
        .await
        .expect(201)
        .header("x-subject-token")
        .unwrap();
    let r = change(&app, &id, "Wrong-Pass-1", "Self-New-Pass-1").await;
    assert_eq!(r.status.as_u16(), 401, "{}", r.body);
    assert!(!r.body.to_string().contains("Self-New-Pass-1"));
    login(&app, "self", PW).await.expect(201);
    change(&app, &id, PW, "Self-New-Pass-1").await.expect(204);
    app.validate(&old).await.expect(404);
    login(&app, "self", PW).await.expect(401);
    login(&app, "self", "Self-New-Pass-1").await.expect(201);
});

both_backends_with!(
    the_change_endpoint_is_no_oracle,
    |c| {
        c.security_compliance.unique_last_password_count = 3;
    },
    |app| {
        let p = project(&app).await;
        let id = member(
            &app,
            &p,
            json!({"name": "olga", "password": PW, "email": "olga@corp.example",
                   "phone": "+33 6 12 34 56 78"}),
        )
        .await
        .0;
        let wrong = change(&app, &id, "Wrong-Pass-1", "Fresh-Pass-1")
            .await
            .expect(401);
        // An unknown user id answers exactly as a wrong original password.
        let unknown = change(&app, "0123456789abcdef0123456789abcdef", PW, "Fresh-Pass-1")
            .await
            .expect(401);
        assert_eq!(unknown.body, wrong.body);
        // Without the original password, nothing about the user's history, name, email or phone
        // can be learnt by proposing candidates.
        for candidate in [PW, "xolga@corp.example", "Tel33612345678", "aglo"] {
            let r = change(&app, &id, "Wrong-Pass-1", candidate).await;
            assert_eq!(r.status.as_u16(), 401, "{candidate}: {}", r.body);
            assert_eq!(r.body, wrong.body, "{candidate}");
        }
        login(&app, "olga", PW).await.expect(201);
    }
);

both_backends!(
    simultaneous_changes_with_one_original_only_one_stands,
    |app| {
        let p = project(&app).await;
        let id = plain(&app, &p, "twin", PW).await;
        let news: Vec<String> = (0..4).map(|i| format!("Twin-New-Pass-{i}")).collect();
        let results = join_all(news.iter().map(|n| change(&app, &id, PW, n))).await;
        let won: Vec<&String> = news
            .iter()
            .zip(&results)
            .filter(|(_, r)| r.status.as_u16() == 204)
            .map(|(n, _)| n)
            .collect();
        assert_eq!(
            won.len(),
            1,
            "{:?}",
            results.iter().map(|r| r.status).collect::<Vec<_>>()
        );
        for r in &results {
            assert!(
                [204, 401, 409].contains(&r.status.as_u16()),
                "{} {}",
                r.status,
                r.body
            );
        }
        for n in &news {
            let r = login(&app, "twin", n).await;
            assert_eq!(
                r.status.as_u16(),
                if n == won[0] { 201 } else { 401 },
                "{n}"
            );
        }
        login(&app, "twin", PW).await.expect(401);
    }
);

/// Regression: the lockout was read before the password was hashed and not looked at again, so
/// guesses sent together were all evaluated however many of them failed. With production-like
/// hashing cost and one hashing thread, 20 wrong guesses and the right one sent at once: the
/// right one (hashed last, after 20 recorded failures) must be refused.
mod parallel_guesses_do_not_outrun_the_lockout {
    use super::*;

    async fn check(backend: Backend) {
        let app = spawn_app_with(backend, |c| {
            c.security_compliance.lockout_failure_attempts = Some(2);
            c.security_compliance.lockout_duration = Some(600);
            c.password_hashing.memory_kib = 19_456;
            c.password_hashing.iterations = 2;
            c.password_hashing.max_concurrent = 1;
        })
        .await;
        let p = project(&app).await;
        plain(&app, &p, "victim", PW).await;
        let mut guesses: Vec<String> = (0..20).map(|i| format!("Wrong-Guess-{i}")).collect();
        guesses.push(PW.to_string());
        let results = join_all(guesses.iter().map(|g| login(&app, "victim", g))).await;
        assert_eq!(
            results.last().unwrap().status.as_u16(),
            401,
            "the right password, tried alongside 20 wrong ones, got in past a lockout of 2"
        );
    }

    #[actix_web::test]
    async fn sqlite() {
        check(Backend::Sqlite).await
    }

    #[actix_web::test]
    async fn postgres() {
        check(Backend::Postgres).await
    }
}

// ---------------------------------------------------------------------------------------------
// The operator's commands, run as the real binary against the running server's database.

struct Cli {
    dir: tempfile::TempDir,
    config: std::path::PathBuf,
}

struct CliOut {
    ok: bool,
    status: std::process::ExitStatus,
    stdout: String,
    stderr: String,
}

impl CliOut {
    #[track_caller]
    fn assert_ok(&self) {
        assert!(
            self.ok,
            "{:?}\nstdout: {}\nstderr: {}",
            self.status, self.stdout, self.stderr
        );
    }
}

impl Cli {
    /// A configuration for the `ironstone` binary pointing at `app`'s database, with the same
    /// security-compliance settings.
    fn new(app: &TestApp) -> Cli {
        let dir = tempfile::tempdir().unwrap();
        let c = &app.state.config;
        let sc = &c.security_compliance;
        let mut toml = format!(
            "data_dir = {:?}\ndatabase_url = {:?}\n\n[password_hashing]\nmemory_kib = 1024\niterations = 1\nparallelism = 1\n\n[security_compliance]\n",
            c.data_dir.display().to_string(),
            c.database_url(),
        );
        if let Some(n) = sc.lockout_failure_attempts {
            toml += &format!("lockout_failure_attempts = {n}\n");
        }
        if let Some(n) = sc.lockout_duration {
            toml += &format!("lockout_duration = {n}\n");
        }
        if let Some(n) = sc.disable_user_account_days_inactive {
            toml += &format!("disable_user_account_days_inactive = {n}\n");
        }
        let config = dir.path().join("ironstone.toml");
        std::fs::write(&config, toml).unwrap();
        Cli { dir, config }
    }

    async fn run(&self, args: &[&str], stdin: Option<&str>) -> CliOut {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ironstone"));
        cmd.arg("--config").arg(&self.config).args(args);
        for (k, _) in std::env::vars() {
            if k.starts_with("IRONSTONE_") {
                cmd.env_remove(k);
            }
        }
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let input = stdin.map(String::from);
        let out = tokio::task::spawn_blocking(move || {
            let mut child = cmd.spawn().expect("run ironstone");
            {
                let mut pipe = child.stdin.take().unwrap();
                if let Some(i) = input {
                    let _ = pipe.write_all(i.as_bytes());
                }
            }
            child.wait_with_output().unwrap()
        })
        .await
        .unwrap();
        CliOut {
            ok: out.status.success(),
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// A file holding `password` on its first line.
    fn password_file(&self, password: &str) -> String {
        let path = self.dir.path().join(format!("pw-{}", uuid::Uuid::new_v4()));
        std::fs::write(&path, format!("{password}\n")).unwrap();
        path.display().to_string()
    }
}

/// The real binary's commands against the server's database. On PostgreSQL this is also the
/// regression test for commands that died of SIGSEGV at exit after doing their work (OpenSSL's
/// clean-up at exit ran while pool workers were still opening connections).
mod operator_unlock_and_reset_password {
    use super::*;

    fn setup(c: &mut ironstone::config::Config) {
        c.security_compliance.lockout_failure_attempts = Some(2);
        c.security_compliance.lockout_duration = Some(600);
        c.security_compliance.disable_user_account_days_inactive = Some(1);
    }

    #[actix_web::test]
    async fn sqlite() {
        check(spawn_app_with(Backend::Sqlite, setup).await).await
    }

    #[actix_web::test]
    async fn postgres() {
        check(spawn_app_with(Backend::Postgres, setup).await).await
    }

    async fn check(app: TestApp) {
        let cli = Cli::new(&app);
        let p = project(&app).await;
        let generic = generic_401(&app).await;
        let lena = plain(&app, &p, "lena", PW).await;

        // A password the policy refuses: nothing changes, and the password is not echoed.
        let f = cli.password_file("qqq");
        let out = cli
            .run(
                &["user", "reset-password", "lena", "--password-file", &f],
                None,
            )
            .await;
        assert!(!out.ok, "{}", out.stdout);
        assert!(out.stderr.contains(PREFIX.trim_end()), "{}", out.stderr);
        assert!(!out.stderr.contains("qqq") && !out.stdout.contains("qqq"));
        login(&app, "lena", PW).await.expect(201);

        // Unlock lifts a lockout.
        for _ in 0..2 {
            login(&app, "lena", "Wrong-Pass-1").await.expect(401);
        }
        assert_generic(&login(&app, "lena", PW).await, &generic);
        let out = cli.run(&["user", "unlock", "lena"], None).await;
        out.assert_ok();
        login(&app, "lena", PW).await.expect(201);

        // And inactivity.
        backdate(&app, vec![lena.clone()], 2, false).await;
        assert_generic(&login(&app, "lena", PW).await, &generic);
        let out = cli
            .run(&["user", "unlock", "lena", "--domain", "default"], None)
            .await;
        out.assert_ok();
        login(&app, "lena", PW).await.expect(201);

        // Reset from a file: the old tokens are revoked (by another process), the lockout lifted.
        let old = login(&app, "lena", PW)
            .await
            .expect(201)
            .header("x-subject-token")
            .unwrap();
        for _ in 0..2 {
            login(&app, "lena", "Wrong-Pass-1").await.expect(401);
        }
        let f = cli.password_file("Operator-Set-1");
        let out = cli
            .run(
                &["user", "reset-password", "lena", "--password-file", &f],
                None,
            )
            .await;
        out.assert_ok();
        assert!(!out.stdout.contains("Operator-Set-1"));
        app.validate(&old).await.expect(404);
        login(&app, "lena", PW).await.expect(401);
        login(&app, "lena", "Operator-Set-1").await.expect(201);

        // From standard input when it is not a terminal.
        let out = cli
            .run(
                &["user", "reset-password", "lena"],
                Some("Operator-Set-2\n"),
            )
            .await;
        out.assert_ok();
        login(&app, "lena", "Operator-Set-2").await.expect(201);

        // Generated, to be changed at first use.
        let out = cli
            .run(
                &[
                    "user",
                    "reset-password",
                    "lena",
                    "--generate",
                    "--require-change",
                ],
                None,
            )
            .await;
        out.assert_ok();
        let line = out
            .stdout
            .lines()
            .find(|l| l.contains("shown only this once"))
            .unwrap_or_else(|| panic!("{}", out.stdout));
        let g = line.rsplit(": ").next().unwrap().trim().to_string();
        assert_eq!(g.chars().count(), 16, "{line}");
        assert_expired(&login(&app, "lena", &g).await, &lena);
        change(&app, &lena, &g, "Lena-Own-Pass-1").await.expect(204);
        login(&app, "lena", "Lena-Own-Pass-1").await.expect(201);

        // Another domain, by name; an unknown user is an error.
        let a = customer(&app, "acme").await;
        let f = cli.password_file("Acme-Reset-1");
        let out = cli
            .run(
                &[
                    "user",
                    "reset-password",
                    "worker",
                    "--domain",
                    "acme",
                    "--password-file",
                    &f,
                ],
                None,
            )
            .await;
        out.assert_ok();
        token_in(&app, &a.domain_id, "worker", "Acme-Reset-1", "main").await;
        let out = cli.run(&["user", "unlock", "nobody-here"], None).await;
        assert!(!out.ok, "{}", out.stdout);
        assert!(out.stderr.contains("nobody-here"), "{}", out.stderr);
    }
}

/// The `enabled` filter of `GET /v3/users` agrees with what the users show: an inactive user is
/// listed under `?enabled=false`, not `?enabled=true`.
mod inactive_users_are_listed_as_disabled {
    use super::*;

    async fn check(backend: Backend) {
        let app = spawn_app_with(backend, |c| {
            c.security_compliance.disable_user_account_days_inactive = Some(1);
        })
        .await;
        let p = project(&app).await;
        let idle = plain(&app, &p, "idle", PW).await;
        backdate(&app, vec![idle.clone()], 2, false).await;
        assert_eq!(get_user(&app, &idle).await["enabled"], false);
        for (filter, want) in [("true", true), ("false", false)] {
            let r = app
                .get(&format!("/v3/users?enabled={filter}"), &app.admin_token)
                .await
                .expect(200);
            for u in r.body["users"].as_array().unwrap() {
                assert_eq!(u["enabled"], want, "?enabled={filter} lists {u}");
            }
            let listed = ids(&r.body, "users").contains(&idle);
            assert_eq!(listed, !want, "?enabled={filter}");
        }
    }

    #[actix_web::test]
    async fn sqlite() {
        check(Backend::Sqlite).await
    }

    #[actix_web::test]
    async fn postgres() {
        check(Backend::Postgres).await
    }
}

/// Regression: a password the user chose, which an administrator then marks as to be changed
/// (`OS-PCU:password_change_required: true`), could neither log in (expired) nor be changed
/// (minimum age). The change endpoint must work for must-change passwords.
mod a_password_that_must_be_changed_escapes_the_minimum_age {
    use super::*;

    async fn check(backend: Backend) {
        let app = spawn_app_with(backend, |c| {
            c.security_compliance.minimum_password_age = 1;
        })
        .await;
        let p = project(&app).await;
        let id = plain(&app, &p, "aged", "Aged-Pass-0").await;
        change(&app, &id, "Aged-Pass-0", "Aged-Pass-1")
            .await
            .expect(204);
        patch_user(&app, &id, json!({"OS-PCU:password_change_required": true}))
            .await
            .expect(200);
        assert_expired(&login(&app, "aged", "Aged-Pass-1").await, &id);
        change(&app, &id, "Aged-Pass-1", "Aged-Pass-2")
            .await
            .expect(204);
        login(&app, "aged", "Aged-Pass-2").await.expect(201);
    }

    #[actix_web::test]
    async fn sqlite() {
        check(Backend::Sqlite).await
    }

    #[actix_web::test]
    async fn postgres() {
        check(Backend::Postgres).await
    }
}
