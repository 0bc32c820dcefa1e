//! The validation cache (issue 13): every change that affects a token is seen at once by the node
//! that made it, with the cache warm; login bookkeeping does not empty it; a revoked token never
//! comes back, even when revocation and validation race.

use reqwest::Method;
use serde_json::{json, Value};

use crate::both_backends;
use crate::fixtures::*;
use crate::helpers::*;

/// Validates `token` until the cache holds it, so that what follows is tested with it warm.
async fn warm(app: &TestApp, token: &str) -> Value {
    let first = app.validate(token).await.expect(200).body;
    let body = app.validate(token).await.expect(200).body;
    assert_eq!(first["token"]["roles"], body["token"]["roles"]);
    let cache = &app.state.cache;
    assert!(
        cache.token(cache.ticket(), token).is_some(),
        "the validation was not cached"
    );
    body
}

fn role_names(body: &Value) -> Vec<String> {
    let mut names: Vec<String> = body["token"]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

/// The customer's member also holds `reader` on its project through a group (returned).
async fn reader_through_group(app: &TestApp, a: &Customer) -> String {
    let group = create_group(app, &app.admin_token, &a.domain_id, "readers").await;
    let reader = app.role_id("reader").await;
    app.put(
        &format!(
            "/v3/projects/{}/groups/{group}/roles/{reader}",
            a.project_id
        ),
        &app.admin_token,
    )
    .await
    .expect(204);
    app.put(
        &format!("/v3/groups/{group}/users/{}", a.member_id),
        &app.admin_token,
    )
    .await
    .expect(204);
    group
}

async fn change_counter(app: &TestApp) -> i64 {
    app.state
        .store
        .run(ironstone::store::changes::read_change_counter)
        .await
        .unwrap()
}

both_backends!(revocation_is_seen_at_once_and_for_good, |app| {
    let a = customer(&app, "acme").await;
    warm(&app, &a.member_token).await;
    let r = app
        .client
        .delete(app.url("/v3/auth/tokens"))
        .header("X-Auth-Token", &app.admin_token)
        .header("X-Subject-Token", &a.member_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    // The attacker's side: the revoked token keeps failing, as subject and as caller.
    for _ in 0..10 {
        app.validate(&a.member_token).await.expect(404);
        app.get("/v3/auth/catalog", &a.member_token)
            .await
            .expect(401);
    }
    // The manager's token (same project) still stands.
    app.validate(&a.manager_token).await.expect(200);
});

both_backends!(concurrent_revoke_and_validate_never_resurrect, |app| {
    let a = customer(&app, "acme").await;
    for round in 0..5 {
        let token = token_in(&app, &a.domain_id, "worker", PW, "main").await;
        warm(&app, &token).await;
        // Validations race the revocation; each one that starts after it answered must fail.
        let mut racers = vec![];
        for _ in 0..16 {
            let (client, url, admin, subject) = (
                app.client.clone(),
                app.url("/v3/auth/tokens"),
                app.admin_token.clone(),
                token.clone(),
            );
            racers.push(actix_web::rt::spawn(async move {
                for _ in 0..5 {
                    let _ = client
                        .get(&url)
                        .header("X-Auth-Token", &admin)
                        .header("X-Subject-Token", &subject)
                        .send()
                        .await;
                }
            }));
        }
        let r = app
            .client
            .delete(app.url("/v3/auth/tokens"))
            .header("X-Auth-Token", &app.admin_token)
            .header("X-Subject-Token", &token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 204);
        for _ in 0..10 {
            app.validate(&token).await.expect(404);
        }
        for r in racers {
            r.await.unwrap();
        }
        // After the racers, whatever they stored: still revoked.
        let r = app.validate(&token).await;
        assert_eq!(r.status.as_u16(), 404, "round {round}: {}", r.body);
    }
});

both_backends!(disabling_or_deleting_the_user_is_seen_at_once, |app| {
    let a = customer(&app, "acme").await;
    warm(&app, &a.member_token).await;
    warm(&app, &a.manager_token).await;
    app.patch(
        &format!("/v3/users/{}", a.member_id),
        &app.admin_token,
        json!({"user": {"enabled": false}}),
    )
    .await
    .expect(200);
    app.validate(&a.member_token).await.expect(404);
    app.delete(&format!("/v3/users/{}", a.manager_id), &app.admin_token)
        .await
        .expect(204);
    app.validate(&a.manager_token).await.expect(404);
});

both_backends!(disabling_the_project_or_domain_is_seen_at_once, |app| {
    let a = customer(&app, "acme").await;
    warm(&app, &a.member_token).await;
    app.patch(
        &format!("/v3/projects/{}", a.project_id),
        &app.admin_token,
        json!({"project": {"enabled": false}}),
    )
    .await
    .expect(200);
    app.validate(&a.member_token).await.expect(404);

    let b = customer(&app, "bcme").await;
    warm(&app, &b.member_token).await;
    app.patch(
        &format!("/v3/domains/{}", b.domain_id),
        &app.admin_token,
        json!({"domain": {"enabled": false}}),
    )
    .await
    .expect(200);
    app.validate(&b.member_token).await.expect(404);
});

both_backends!(a_password_change_is_seen_at_once, |app| {
    let a = customer(&app, "acme").await;
    warm(&app, &a.member_token).await;
    app.request(
        Method::POST,
        &format!("/v3/users/{}/password", a.member_id),
        None,
        Some(json!({"user": {"original_password": PW, "password": "Changed-Pass-2"}})),
    )
    .await
    .expect(204);
    app.validate(&a.member_token).await.expect(404);
});

both_backends!(removing_a_grant_or_a_membership_is_seen_at_once, |app| {
    let a = customer(&app, "acme").await;
    // The member holds member directly and reader through a group.
    let group = reader_through_group(&app, &a).await;
    let member = app.role_id("member").await;
    let token = token_in(&app, &a.domain_id, "worker", PW, "main").await;
    let body = warm(&app, &token).await;
    assert!(role_names(&body).contains(&"member".to_string()));
    // The direct grant goes: reader (from the group) stays, member is gone.
    app.delete(
        &format!(
            "/v3/projects/{}/users/{}/roles/{member}",
            a.project_id, a.member_id
        ),
        &app.admin_token,
    )
    .await
    .expect(204);
    let body = app.validate(&token).await.expect(200).body;
    assert_eq!(role_names(&body), vec!["reader"]);
    warm(&app, &token).await;
    // The membership goes: no role is left, the token no longer stands.
    app.delete(
        &format!("/v3/groups/{group}/users/{}", a.member_id),
        &app.admin_token,
    )
    .await
    .expect(204);
    app.validate(&token).await.expect(404);
});

both_backends!(implied_role_and_role_changes_are_seen_at_once, |app| {
    let a = customer(&app, "acme").await;
    let custom = app
        .post(
            "/v3/roles",
            &app.admin_token,
            json!({"role": {"name": "auditor"}}),
        )
        .await
        .expect(201)
        .body["role"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let viewer = app
        .post(
            "/v3/roles",
            &app.admin_token,
            json!({"role": {"name": "viewer"}}),
        )
        .await
        .expect(201)
        .body["role"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.put(
        &format!("/v3/roles/{custom}/implies/{viewer}"),
        &app.admin_token,
    )
    .await
    .expect(201);
    grant(&app, &a.project_id, &a.member_id, "auditor").await;
    let token = token_in(&app, &a.domain_id, "worker", PW, "main").await;
    let body = warm(&app, &token).await;
    assert!(role_names(&body).contains(&"viewer".to_string()));
    app.delete(
        &format!("/v3/roles/{custom}/implies/{viewer}"),
        &app.admin_token,
    )
    .await
    .expect(204);
    let body = app.validate(&token).await.expect(200).body;
    assert!(!role_names(&body).contains(&"viewer".to_string()));
    assert!(role_names(&body).contains(&"auditor".to_string()));
    warm(&app, &token).await;
    app.delete(&format!("/v3/roles/{custom}"), &app.admin_token)
        .await
        .expect(204);
    let body = app.validate(&token).await.expect(200).body;
    assert!(!role_names(&body).contains(&"auditor".to_string()));
});

both_backends!(deleting_an_application_credential_is_seen_at_once, |app| {
    let a = customer(&app, "acme").await;
    let path = format!("/v3/users/{}/application_credentials", a.member_id);
    let created = app
        .post(
            &path,
            &a.member_token,
            json!({"application_credential": {"name": "ci", "secret": "ci-secret-value-1"}}),
        )
        .await
        .expect(201);
    let id = created.body["application_credential"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let token = app
        .auth(
            json!({"auth": {"identity": {"methods": ["application_credential"],
            "application_credential": {"id": id, "secret": "ci-secret-value-1"}}}}),
        )
        .await
        .expect(201)
        .header("x-subject-token")
        .unwrap();
    warm(&app, &token).await;
    app.delete(&format!("{path}/{id}"), &a.member_token)
        .await
        .expect(204);
    app.validate(&token).await.expect(404);
});

both_backends!(a_catalog_change_is_seen_at_once, |app| {
    let a = customer(&app, "acme").await;
    let before = warm(&app, &a.member_token).await;
    let services = before["token"]["catalog"].as_array().unwrap().len();
    let service = app
        .post(
            "/v3/services",
            &app.admin_token,
            json!({"service": {"type": "cache-test", "name": "cached"}}),
        )
        .await
        .expect(201)
        .body["service"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.post(
        "/v3/endpoints",
        &app.admin_token,
        json!({"endpoint": {"service_id": service, "interface": "public",
            "url": "http://cached.example.com"}}),
    )
    .await
    .expect(201);
    let after = app.validate(&a.member_token).await.expect(200).body;
    let catalog = after["token"]["catalog"].as_array().unwrap();
    assert_eq!(catalog.len(), services + 1, "{catalog:?}");
    let mine = app
        .get("/v3/auth/catalog", &a.member_token)
        .await
        .expect(200);
    assert!(mine.body["catalog"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["type"] == "cache-test"));
});

both_backends!(login_bookkeeping_does_not_empty_the_cache, |app| {
    let a = customer(&app, "acme").await;
    warm(&app, &a.member_token).await;
    let before = change_counter(&app).await;
    // Failed logins count failures; a successful one clears them and marks activity.
    for _ in 0..3 {
        let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": "worker", "domain": {"id": a.domain_id}, "password": "Wrong-Pass-9"}}}}});
        app.auth(body).await.expect(401);
    }
    token_in(&app, &a.domain_id, "worker", PW, "main").await;
    assert_eq!(change_counter(&app).await, before);
    let cache = &app.state.cache;
    assert!(cache.token(cache.ticket(), &a.member_token).is_some());
    // A real change does move it.
    app.patch(
        &format!("/v3/users/{}", a.member_id),
        &app.admin_token,
        json!({"user": {"description": "moved"}}),
    )
    .await
    .expect(200);
    assert!(change_counter(&app).await > before);
    assert!(cache.token(cache.ticket(), &a.member_token).is_none());
});

async fn password_hash_of(app: &TestApp, user_id: &str) -> String {
    let id = user_id.to_string();
    app.state
        .store
        .run(move |c| ironstone::store::get_user(c, &id))
        .await
        .unwrap()
        .and_then(|u| u.password_hash)
        .expect("a password")
}

both_backends!(a_rehash_on_login_does_not_empty_the_cache, |app| {
    let a = customer(&app, "acme").await;
    // The member's password as hashed under earlier parameters (more memory than the server's).
    let earlier =
        ironstone::auth::password::PasswordHasher::new(&ironstone::config::PasswordHashingConfig {
            memory_kib: 2048,
            ..app.state.config.password_hashing.clone()
        })
        .unwrap()
        .hash_blocking(&secrecy::SecretString::from(PW))
        .unwrap();
    let current = password_hash_of(&app, &a.member_id).await;
    {
        let (id, earlier) = (a.member_id.clone(), earlier.clone());
        app.state
            .store
            .tx(move |c| ironstone::store::rehash_user_password(c, &id, &current, &earlier))
            .await
            .unwrap();
    }
    warm(&app, &a.member_token).await;
    let before = change_counter(&app).await;
    // The next login re-hashes the password under the server's parameters: only the hash changes.
    token_in(&app, &a.domain_id, "worker", PW, "main").await;
    let rehashed = password_hash_of(&app, &a.member_id).await;
    assert_ne!(rehashed, earlier, "the login did not rehash");
    assert!(rehashed.contains("m=1024"), "{rehashed}");
    assert_eq!(change_counter(&app).await, before);
    let cache = &app.state.cache;
    assert!(cache.token(cache.ticket(), &a.member_token).is_some());
    token_in(&app, &a.domain_id, "worker", PW, "main").await;
    app.validate(&a.member_token).await.expect(200);

    // A real password change still moves it and refuses the earlier token.
    app.request(
        Method::POST,
        &format!("/v3/users/{}/password", a.member_id),
        None,
        Some(json!({"user": {"original_password": PW, "password": "Changed-Pass-2"}})),
    )
    .await
    .expect(204);
    let after_change = change_counter(&app).await;
    assert!(after_change > before);
    assert!(cache.token(cache.ticket(), &a.member_token).is_none());
    app.validate(&a.member_token).await.expect(404);
    token_in(&app, &a.domain_id, "worker", "Changed-Pass-2", "main").await;
    // The users trigger itself still counts a password write (not only the revocation event
    // the API records with it): a new password always comes with a new password_created_at.
    {
        let id = a.member_id.clone();
        let hash = earlier.clone();
        app.state
            .store
            .tx(move |c| {
                ironstone::store::set_user_password(
                    c,
                    &id,
                    &ironstone::store::NewPassword {
                        hash: &hash,
                        created_at: chrono::Utc::now().naive_utc(),
                        expires_at: None,
                        self_service: true,
                        keep_history: 0,
                    },
                )
            })
            .await
            .unwrap();
    }
    assert!(change_counter(&app).await > after_change);
});

both_backends!(expiry_is_checked_on_every_hit, |app| {
    let a = customer(&app, "acme").await;
    warm(&app, &a.member_token).await;
    let later = chrono::Utc::now() + chrono::Duration::days(2);
    let r = ironstone::auth::validate(&app.state, &a.member_token, later, false).await;
    assert!(
        matches!(&r, Err(ironstone::error::Error::NotFoundMsg(m)) if m == ironstone::auth::TOKEN_EXPIRED),
        "a cached token past its expiry must not validate"
    );
});

both_backends!(
    project_reads_are_cached_and_every_change_is_seen_at_once,
    |app| {
        let a = customer(&app, "acme").await;
        let b = customer(&app, "bcme").await;
        let path = format!("/v3/projects/{}", a.project_id);
        app.get(&path, &a.manager_token).await.expect(200);
        let cache = &app.state.cache;
        assert!(
            cache.project(cache.ticket(), &a.project_id).is_some(),
            "the read was not cached"
        );
        // The attacker's side: the cached project is still judged by the policy for each caller.
        app.get(&path, &b.manager_token).await.expect(403);
        app.get(&path, &b.member_token).await.expect(403);

        app.patch(
            &path,
            &app.admin_token,
            json!({"project": {"name": "renamed", "description": "new"}}),
        )
        .await
        .expect(200);
        let body = app.get(&path, &a.manager_token).await.expect(200).body;
        assert_eq!(body["project"]["name"], "renamed");
        assert_eq!(body["project"]["description"], "new");

        // Tags are part of the cached view: adding and removing one is seen at once.
        app.get(&path, &a.manager_token).await.expect(200);
        app.put(&format!("{path}/tags/blue"), &app.admin_token)
            .await
            .expect(201);
        let body = app.get(&path, &a.manager_token).await.expect(200).body;
        assert_eq!(body["project"]["tags"], json!(["blue"]));
        app.delete(&format!("{path}/tags/blue"), &app.admin_token)
            .await
            .expect(204);
        let body = app.get(&path, &a.manager_token).await.expect(200).body;
        assert_eq!(body["project"]["tags"], json!([]));

        // A project made on this node is found at once; a deleted one is gone at once.
        let c = create_project(&app, &a.domain_id, "second").await;
        let second = format!("/v3/projects/{c}");
        app.get(&second, &app.admin_token).await.expect(200);
        app.delete(&second, &app.admin_token).await.expect(204);
        app.get(&second, &app.admin_token).await.expect(404);
    }
);

both_backends!(a_new_token_never_carries_a_role_removed_before_it, |app| {
    // Issuing caches the roles of (user, project); the attacker's side is the next login
    // right after a grant, a group membership or a whole project went away.
    let a = customer(&app, "acme").await;
    let group = reader_through_group(&app, &a).await;
    let member = app.role_id("member").await;
    let login = || token_in(&app, &a.domain_id, "worker", PW, "main");
    let t = login().await;
    let body = app.validate(&t).await.expect(200).body;
    assert_eq!(role_names(&body), vec!["member", "reader"]);
    app.delete(
        &format!(
            "/v3/projects/{}/users/{}/roles/{member}",
            a.project_id, a.member_id
        ),
        &app.admin_token,
    )
    .await
    .expect(204);
    let body = app.validate(&login().await).await.expect(200).body;
    assert_eq!(role_names(&body), vec!["reader"]);

    app.delete(
        &format!("/v3/groups/{group}/users/{}", a.member_id),
        &app.admin_token,
    )
    .await
    .expect(204);
    let body = json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": "worker", "domain": {"id": a.domain_id}, "password": PW}}},
        "scope": {"project": {"name": "main", "domain": {"id": a.domain_id}}}}});
    app.auth(body).await.expect(401);

    // An application credential's token: its project disabled, then its roles gone.
    let ac = app
        .post(
            &format!("/v3/users/{}/application_credentials", a.manager_id),
            &a.manager_token,
            json!({"application_credential": {"name": "ci"}}),
        )
        .await
        .expect(201)
        .body;
    let ac_auth = json!({"auth": {"identity": {"methods": ["application_credential"],
        "application_credential": {"id": ac["application_credential"]["id"],
                                   "secret": ac["application_credential"]["secret"]}}}});
    app.auth(ac_auth.clone()).await.expect(201);
    app.auth(ac_auth.clone()).await.expect(201);
    app.patch(
        &format!("/v3/projects/{}", a.project_id),
        &app.admin_token,
        json!({"project": {"enabled": false}}),
    )
    .await
    .expect(200);
    app.auth(ac_auth.clone()).await.expect(401);
    app.patch(
        &format!("/v3/projects/{}", a.project_id),
        &app.admin_token,
        json!({"project": {"enabled": true}}),
    )
    .await
    .expect(200);
    app.auth(ac_auth.clone()).await.expect(201);
    let manager = app.role_id("manager").await;
    app.delete(
        &format!(
            "/v3/projects/{}/users/{}/roles/{manager}",
            a.project_id, a.manager_id
        ),
        &app.admin_token,
    )
    .await
    .expect(204);
    // Its user lost its last role on the project: the credential went with it (Keystone).
    app.auth(ac_auth).await.expect(404);
});

/// The entry for `id` in a list answer (`Null` when not listed).
fn listed(body: &Value, id: &str) -> Value {
    body["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == id)
        .cloned()
        .unwrap_or(Value::Null)
}

both_backends!(
    user_lists_are_cached_and_every_change_is_seen_at_once,
    |app| {
        let a = customer(&app, "acme").await;
        let b = customer(&app, "bcme").await;
        let path = format!("/v3/users?domain_id={}", a.domain_id);
        let list = app.get(&path, &a.manager_token).await.expect(200).body;
        assert_eq!(listed(&list, &a.member_id)["name"], "worker");
        let cache = &app.state.cache;
        assert!(
            cache.user(cache.ticket(), &a.member_id).is_some(),
            "the list was not cached"
        );

        // The attacker's side: cached users are listed only through the caller's own page query.
        app.get(&path, &b.manager_token).await.expect(403);
        app.get(&path, &b.member_token).await.expect(403);
        let theirs = app
            .get("/v3/users", &b.manager_token)
            .await
            .expect(200)
            .body;
        for u in theirs["users"].as_array().unwrap() {
            assert_eq!(u["domain_id"], b.domain_id.as_str(), "{u}");
        }
        let named = format!("/v3/users?name=worker&domain_id={}", b.domain_id);
        let theirs = app.get(&named, &b.manager_token).await.expect(200).body;
        assert_eq!(listed(&theirs, &a.member_id), Value::Null);

        // Every change to what a list shows is seen at once, the cache warm before each.
        let member = format!("/v3/users/{}", a.member_id);
        let changes = [
            json!({"name": "renamed", "email": "m@example.org", "description": "ops"}),
            json!({"phone": "+15551234567", "default_project_id": a.project_id, "team": "blue"}),
            json!({"team": {"nested": [1, 2]}}),
            json!({"options": {"ignore_password_expiry": true}}),
            json!({"enabled": false}),
        ];
        for change in changes {
            app.get(&path, &a.manager_token).await.expect(200);
            app.patch(&member, &app.admin_token, json!({ "user": change.clone() }))
                .await
                .expect(200);
            let list = app.get(&path, &a.manager_token).await.expect(200).body;
            let shown = listed(&list, &a.member_id);
            for (k, v) in change.as_object().unwrap() {
                assert_eq!(&shown[k], v, "{k} after {change}: {shown}");
            }
        }
        let list = app.get(&path, &a.manager_token).await.expect(200).body;
        assert_eq!(listed(&list, &a.member_id)["OS-PCU:status"], "disabled");

        // A user made without a password.
        let r = app
            .post(
                "/v3/users",
                &app.admin_token,
                json!({"user": {"name": "later", "domain_id": a.domain_id}}),
            )
            .await
            .expect(201);
        let later = r.body["user"]["id"].as_str().unwrap().to_string();
        // Pending, then active with a password, pending again without, active again.
        let status = [
            (None, "pending"),
            (Some(json!(PW)), "active"),
            (Some(Value::Null), "pending"),
            (Some(json!(PW)), "active"),
        ];
        for (password, expected) in status {
            if let Some(password) = password {
                app.patch(
                    &format!("/v3/users/{later}"),
                    &app.admin_token,
                    json!({"user": {"password": password}}),
                )
                .await
                .expect(200);
            }
            let list = app.get(&path, &a.manager_token).await.expect(200).body;
            assert_eq!(listed(&list, &later)["OS-PCU:status"], expected);
        }

        // OS-PCU:mfa_enabled: rules and a TOTP credential; the credential's removal (which does
        // not move the change feed) is seen too. (A rule without TOTP lets the last one go.)
        app.patch(
        &format!("/v3/users/{later}"),
        &app.admin_token,
        json!({"user": {"options": {"multi_factor_auth_enabled": true,
                                    "multi_factor_auth_rules": [["password", "totp"], ["password"]]}}}),
    )
    .await
    .expect(200);
        let list = app.get(&path, &a.manager_token).await.expect(200).body;
        assert_eq!(listed(&list, &later)["OS-PCU:mfa_enabled"], false);
        let cred = app
            .post(
                "/v3/credentials",
                &app.admin_token,
                json!({"credential": {"type": "totp", "user_id": later,
                                  "blob": "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"}}),
            )
            .await
            .expect(201);
        let cred = cred.body["credential"]["id"].as_str().unwrap().to_string();
        let list = app.get(&path, &a.manager_token).await.expect(200).body;
        assert_eq!(listed(&list, &later)["OS-PCU:mfa_enabled"], true);
        app.delete(&format!("/v3/credentials/{cred}"), &app.admin_token)
            .await
            .expect(204);
        let list = app.get(&path, &a.manager_token).await.expect(200).body;
        assert_eq!(listed(&list, &later)["OS-PCU:mfa_enabled"], false);

        // A deleted user is gone at once.
        app.delete(&format!("/v3/users/{later}"), &app.admin_token)
            .await
            .expect(204);
        let list = app.get(&path, &a.manager_token).await.expect(200).body;
        assert_eq!(listed(&list, &later), Value::Null);
    }
);

// Last activity moves without the change feed (login bookkeeping): a list reads it fresh, so a
// user's inactivity shows at once even while its profile is cached.
crate::both_backends_with!(
    listed_inactivity_is_read_fresh,
    |c| {
        c.security_compliance.disable_user_account_days_inactive = Some(10);
    },
    |app| {
        let a = customer(&app, "acme").await;
        let path = format!("/v3/users?domain_id={}", a.domain_id);
        let list = app.get(&path, &app.admin_token).await.expect(200).body;
        assert_eq!(listed(&list, &a.member_id)["enabled"], true);
        let cache = &app.state.cache;
        let cached = cache.user(cache.ticket(), &a.member_id).expect("cached");
        let before = change_counter(&app).await;

        let (id, at) = (
            a.member_id.clone(),
            (chrono::Utc::now() - chrono::Duration::days(11)).naive_utc(),
        );
        app.state
            .store
            .tx(move |c| {
                use diesel::prelude::*;
                use ironstone::store::schema::users;
                diesel::update(users::table.find(&id))
                    .set(users::last_active_at.eq(at))
                    .execute(c)?;
                Ok(())
            })
            .await
            .unwrap();
        assert_eq!(
            change_counter(&app).await,
            before,
            "bookkeeping moved the feed"
        );
        let list = app.get(&path, &app.admin_token).await.expect(200).body;
        let shown = listed(&list, &a.member_id);
        assert_eq!(shown["enabled"], false, "{shown}");
        assert_eq!(shown["OS-PCU:status"], "disabled");
        let still = cache.user(cache.ticket(), &a.member_id).expect("cached");
        assert!(
            std::sync::Arc::ptr_eq(&cached, &still),
            "the profile stayed cached: last activity was read with the page"
        );
    }
);

// Whether a password is set shows in lists (`OS-PCU:status`), from the cache: a hash that appears
// or goes moves the change counter by itself, on either backend (a rehash, one hash for another,
// does not: `a_rehash_on_login_does_not_empty_the_cache`).
both_backends!(
    a_password_set_or_cleared_alone_moves_the_change_counter,
    |app| {
        let a = customer(&app, "acme").await;
        let hash = password_hash_of(&app, &a.member_id).await;
        let set = |hash: Option<String>| {
            let id = a.member_id.clone();
            let store = app.state.store.clone();
            async move {
                store
                    .tx(move |c| {
                        use diesel::prelude::*;
                        use ironstone::store::schema::users;
                        diesel::update(users::table.find(&id))
                            .set(users::password_hash.eq(hash))
                            .execute(c)?;
                        Ok(())
                    })
                    .await
                    .unwrap()
            }
        };
        let before = change_counter(&app).await;
        set(None).await;
        let cleared = change_counter(&app).await;
        assert!(cleared > before, "a cleared hash did not count");
        set(Some(hash)).await;
        assert!(
            change_counter(&app).await > cleared,
            "a set hash did not count"
        );
    }
);
