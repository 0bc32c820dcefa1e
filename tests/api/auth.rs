//! POST/GET/HEAD /v3/auth/tokens: methods, scope rules, validation and its policy.

use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::helpers::*;

both_backends!(password_token_has_keystone_body, |app| {
    let r = app
        .auth(password_auth("admin", ADMIN_PASSWORD, Some("admin")))
        .await
        .expect(201);
    let t = &r.body["token"];
    assert_eq!(t["methods"], json!(["password"]));
    assert_eq!(t["user"]["name"], "admin");
    assert_eq!(
        t["user"]["domain"],
        json!({"id": "default", "name": "Default"})
    );
    assert!(t["user"]
        .as_object()
        .unwrap()
        .contains_key("password_expires_at"));
    assert_eq!(t["project"]["id"], app.admin_project_id);
    assert_eq!(t["project"]["domain"]["name"], "Default");
    assert_eq!(t["is_domain"], false);
    let roles: Vec<&str> = t["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    for implied in ["admin", "manager", "member", "reader"] {
        assert!(roles.contains(&implied), "{roles:?}");
    }
    assert_eq!(
        t["audit_ids"].as_array().unwrap()[0]
            .as_str()
            .unwrap()
            .len(),
        22
    );
    let re = regex_like_time(t["expires_at"].as_str().unwrap());
    assert!(re, "{}", t["expires_at"]);
    let identity = t["catalog"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["type"] == "identity")
        .unwrap();
    assert_eq!(identity["endpoints"].as_array().unwrap().len(), 3);
    assert!(identity["endpoints"][0]["url"]
        .as_str()
        .unwrap()
        .ends_with("/v3"));
});

fn regex_like_time(s: &str) -> bool {
    s.len() == 27 && s.ends_with(".000000Z") && s.as_bytes()[10] == b'T'
}

both_backends!(password_by_user_id_and_domain_name, |app| {
    let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"id": app.admin_user_id, "password": ADMIN_PASSWORD}}},
        "scope": {"project": {"id": app.admin_project_id}}}});
    app.auth(body).await.expect(201);
    let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"name": "Default"}, "password": ADMIN_PASSWORD}}},
        "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}});
    app.auth(body).await.expect(201);
});

both_backends!(failures_are_one_generic_401, |app| {
    let wrong = app
        .auth(password_auth("admin", "not-the-password", Some("admin")))
        .await
        .expect(401);
    let unknown = app
        .auth(password_auth("nobody", "whatever", Some("admin")))
        .await
        .expect(401);
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(
        wrong.body["error"]["message"],
        "The request you have made requires authentication."
    );
    let www = wrong.header("www-authenticate").unwrap();
    assert_eq!(www, format!("Keystone uri=\"{}\"", app.base));
    // Disabled user: same answer.
    let id = app.admin_user_id.clone();
    app.state
        .store
        .run(move |c| {
            let mut u = ironstone::store::get_user(c, &id)?.unwrap();
            u.enabled = false;
            ironstone::store::update_user(c, &u)
        })
        .await
        .unwrap();
    let disabled = app
        .auth(password_auth("admin", ADMIN_PASSWORD, Some("admin")))
        .await
        .expect(401);
    assert_eq!(disabled.body, unknown.body);
    // ... and its existing token no longer stands.
    let r = app
        .request(
            Method::GET,
            "/v3/auth/catalog",
            Some(&app.admin_token),
            None,
        )
        .await;
    assert_eq!(r.status, 401);
});

both_backends!(unscoped_request_lands_in_default_project, |app| {
    let r = app
        .auth(password_auth("admin", ADMIN_PASSWORD, None))
        .await
        .expect(201);
    assert_eq!(r.body["token"]["project"]["id"], app.admin_project_id);
});

both_backends!(other_scopes_are_refused_with_a_clear_message, |app| {
    for scope in [
        json!({"domain": {"id": "default"}}),
        json!({"system": {"all": true}}),
        json!({"OS-TRUST:trust": {"id": "x"}}),
        json!("unscoped"),
    ] {
        let mut body = password_auth("admin", ADMIN_PASSWORD, None);
        body["auth"]["scope"] = scope.clone();
        let r = app.auth(body).await.expect(401);
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("project-scoped tokens only"),
            "{scope}: {}",
            r.body
        );
    }
    let mut body = password_auth("admin", ADMIN_PASSWORD, None);
    body["auth"]["scope"] =
        json!({"project": {"name": "no-such-project", "domain": {"id": "default"}}});
    app.auth(body).await.expect(401);
});

both_backends!(unsupported_methods_are_refused, |app| {
    let r = app
        .auth(json!({"auth": {"identity": {"methods": ["oauth1"], "oauth1": {}}}}))
        .await
        .expect(401);
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("unsupported method"));
    let r = app
        .auth(json!({"auth": {"identity": {"methods": ["password"]}}}))
        .await
        .expect(400);
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("password"));
});

both_backends!(token_method_rescopes_without_outliving, |app| {
    let body = json!({"auth": {"identity": {"methods": ["token"], "token": {"id": app.admin_token}},
        "scope": {"project": {"id": app.admin_project_id}}}});
    let r = app.auth(body).await.expect(201);
    let original = app.validate(&app.admin_token).await.expect(200);
    let t = &r.body["token"];
    assert_eq!(t["methods"], json!(["password", "token"]));
    assert_eq!(t["expires_at"], original.body["token"]["expires_at"]);
    let audit = t["audit_ids"].as_array().unwrap();
    assert_eq!(audit.len(), 2);
    assert_eq!(audit[1], original.body["token"]["audit_ids"][0]);
    // A bad token gets no new token.
    let body =
        json!({"auth": {"identity": {"methods": ["token"], "token": {"id": "gAAAAAbogus"}}}});
    app.auth(body).await.expect(404);
});

both_backends!(validation_check_and_nocatalog, |app| {
    let subject = app.password_token("admin", ADMIN_PASSWORD, "admin").await;
    let r = app.validate(&subject).await.expect(200);
    assert_eq!(r.header("x-subject-token").unwrap(), subject);
    assert!(r.body["token"]["catalog"].is_array());
    let res = app
        .client
        .get(app.url("/v3/auth/tokens?nocatalog"))
        .header("X-Auth-Token", &app.admin_token)
        .header("X-Subject-Token", &subject)
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(body["token"].get("catalog").is_none(), "{body}");
    let head = app
        .client
        .head(app.url("/v3/auth/tokens"))
        .header("X-Auth-Token", &app.admin_token)
        .header("X-Subject-Token", &subject)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    // A tampered token: 404 to validate, 401 to use.
    let mut bad = subject.clone();
    bad.replace_range(40..44, "AAAA");
    app.validate(&bad).await.expect(404);
    app.request(Method::GET, "/v3/auth/catalog", Some(&bad), None)
        .await
        .expect(401);
    app.request(Method::GET, "/v3/auth/catalog", None, None)
        .await
        .expect(401);
});

both_backends!(expired_tokens_fail_unless_allowed, |app| {
    let later = chrono::Utc::now() + chrono::Duration::hours(2);
    let err = ironstone::auth::validate(&app.state, &app.admin_token, later, false)
        .await
        .err()
        .unwrap();
    assert_eq!(err.status().as_u16(), 404);
    ironstone::auth::validate(&app.state, &app.admin_token, later, true)
        .await
        .unwrap();
    let much_later = chrono::Utc::now() + chrono::Duration::days(3);
    assert!(
        ironstone::auth::validate(&app.state, &app.admin_token, much_later, true)
            .await
            .is_err()
    );
});

both_backends!(auth_catalog_projects_domains, |app| {
    let r = app
        .get("/v3/auth/catalog", &app.admin_token)
        .await
        .expect(200);
    assert_eq!(r.body["catalog"][0]["type"], "identity");
    let r = app
        .get("/v3/auth/projects", &app.admin_token)
        .await
        .expect(200);
    assert_eq!(r.body["projects"][0]["name"], "admin");
    assert!(r.body["links"]["self"]
        .as_str()
        .unwrap()
        .ends_with("/v3/auth/projects"));
    let r = app
        .get("/v3/auth/domains", &app.admin_token)
        .await
        .expect(200);
    assert!(r.body["domains"].is_array());
});
