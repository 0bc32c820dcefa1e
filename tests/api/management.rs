//! The management API: answers, cascades and revocation, as Keystone gives them.

use serde_json::json;

use crate::both_backends;
use crate::fixtures::*;
use crate::helpers::*;

both_backends!(users_get_generated_names_filters_and_links, |app| {
    let t = &app.admin_token;
    let a = app
        .post(
            "/v3/users",
            t,
            json!({"user": {"password": "Secret-123", "email": "a@example.com"}}),
        )
        .await
        .expect(201);
    let b = app
        .post("/v3/users", t, json!({"user": {}}))
        .await
        .expect(201);
    let (na, nb) = (
        a.body["user"]["name"].as_str().unwrap(),
        b.body["user"]["name"].as_str().unwrap(),
    );
    assert!(na.starts_with("PCU-") && na.len() == 12, "{na}");
    assert_ne!(na, nb);
    assert!(!na[4..].contains(['0', 'O', '1', 'I', 'L']), "{na}");
    assert_eq!(a.body["user"]["domain_id"], "default");
    assert!(a.body["user"]["links"]["self"]
        .as_str()
        .unwrap()
        .ends_with(a.body["user"]["id"].as_str().unwrap()));
    assert!(a.body["user"].get("password").is_none());
    // The generated name logs in.
    let id_a = a.body["user"]["id"].as_str().unwrap().to_string();
    let p = create_project(&app, "default", "p1").await;
    grant(&app, &p, &id_a, "member").await;
    app.password_token(na, "Secret-123", "p1").await;
    // Duplicate names: 409.
    app.post("/v3/users", t, json!({"user": {"name": na}}))
        .await
        .expect(409);
    // Filters.
    let r = app
        .get("/v3/users?name__startswith=PCU-", t)
        .await
        .expect(200);
    assert_eq!(ids(&r.body, "users").len(), 2);
    let r = app
        .get("/v3/users?email=a@example.com", t)
        .await
        .expect(200);
    assert_eq!(ids(&r.body, "users"), vec![id_a.clone()]);
    let r = app
        .get("/v3/users?name__icontains=pcu", t)
        .await
        .expect(200);
    assert_eq!(ids(&r.body, "users").len(), 2);
    let r = app.get("/v3/users?name=admin", t).await.expect(200);
    assert_eq!(ids(&r.body, "users"), vec![app.admin_user_id.clone()]);
    // Pages: limit and marker, with a next link.
    let first = app.get("/v3/users?limit=2", t).await.expect(200);
    assert_eq!(ids(&first.body, "users").len(), 2);
    let next = first.body["links"]["next"]
        .as_str()
        .expect("next link")
        .to_string();
    let rest = app.get(&next.replace(&app.base, ""), t).await.expect(200);
    assert_eq!(ids(&rest.body, "users").len(), 1);
    assert!(rest.body["links"]["next"].is_null());
    assert!(first.body["links"]["self"]
        .as_str()
        .unwrap()
        .contains("/v3/users?limit=2"));
    app.get("/v3/users?limit=abc", t).await.expect(400);
    app.get("/v3/users?enabled=maybe", t).await.expect(400);
    // Update and show.
    let u = app
        .patch(&format!("/v3/users/{id_a}"), t, json!({"user": {"email": "new@example.com", "description": "ops", "enabled": false, "team": "red"}}))
        .await
        .expect(200);
    assert_eq!(u.body["user"]["email"], "new@example.com");
    assert_eq!(u.body["user"]["enabled"], false);
    assert_eq!(u.body["user"]["team"], "red");
    let r = app.get("/v3/users?enabled=false", t).await.expect(200);
    assert_eq!(ids(&r.body, "users"), vec![id_a.clone()]);
    // Bad input: clear 400s naming the field.
    let r = app
        .post("/v3/users", t, json!({"user": {"name": 5}}))
        .await
        .expect(400);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("user.name"),
        "{}",
        r.body
    );
    let r = app
        .post(
            "/v3/users",
            t,
            json!({"user": {"options": {"bogus": true}}}),
        )
        .await
        .expect(400);
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("bogus"));
    app.post(
        "/v3/users",
        t,
        json!({"user": {"name": "x", "domain_id": "nope"}}),
    )
    .await
    .expect(404);
    // Delete.
    app.delete(&format!("/v3/users/{id_a}"), t)
        .await
        .expect(204);
    app.get(&format!("/v3/users/{id_a}"), t).await.expect(404);
    app.delete(&format!("/v3/users/{id_a}"), t)
        .await
        .expect(404);
});

both_backends!(deleting_or_disabling_a_user_revokes_at_once, |app| {
    let a = customer(&app, "acme").await;
    let cred = app
        .post(
            &format!("/v3/users/{}/application_credentials", a.member_id),
            &a.member_token,
            json!({"application_credential": {"name": "ci"}}),
        )
        .await
        .expect(201);
    let cred_id = cred.body["application_credential"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.validate(&a.member_token).await.expect(200);
    app.patch(
        &format!("/v3/users/{}", a.member_id),
        &app.admin_token,
        json!({"user": {"enabled": false}}),
    )
    .await
    .expect(200);
    app.validate(&a.member_token).await.expect(404);
    // Disabling removed the user's application credentials.
    let list = app
        .get(
            &format!("/v3/users/{}/application_credentials", a.member_id),
            &app.admin_token,
        )
        .await
        .expect(200);
    assert!(!ids(&list.body, "application_credentials").contains(&cred_id));
    // Re-enabled, the old token stays dead; a new one works. Deleting kills it.
    app.patch(
        &format!("/v3/users/{}", a.member_id),
        &app.admin_token,
        json!({"user": {"enabled": true}}),
    )
    .await
    .expect(200);
    app.validate(&a.member_token).await.expect(404);
    let fresh = token_in(&app, &a.domain_id, "worker", PW, "main").await;
    app.validate(&fresh).await.expect(200);
    app.delete(&format!("/v3/users/{}", a.member_id), &a.manager_token)
        .await
        .expect(204);
    app.validate(&fresh).await.expect(404);
    let r = app.get("/v3/auth/catalog", &fresh).await.expect(401);
    assert!(r.header("www-authenticate").is_some());
});

both_backends!(users_change_their_own_password, |app| {
    let a = customer(&app, "acme").await;
    let path = format!("/v3/users/{}/password", a.member_id);
    let wrong = json!({"user": {"original_password": "nope", "password": "New-pass-1"}});
    let r = app.post(&path, &a.member_token, wrong).await.expect(401);
    assert!(r.header("www-authenticate").is_some());
    app.post(&path, &a.member_token, json!({"user": {"password": "x"}}))
        .await
        .expect(400);
    app.post(
        &path,
        &a.member_token,
        json!({"user": {"original_password": PW, "password": "New-pass-1"}}),
    )
    .await
    .expect(204);
    // Old tokens die, the old password fails, the new one works.
    app.validate(&a.member_token).await.expect(404);
    let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "worker", "domain": {"id": a.domain_id}, "password": PW}}}}});
    app.auth(body).await.expect(401);
    token_in(&app, &a.domain_id, "worker", "New-pass-1", "main").await;
});

both_backends!(projects_tags_disable_and_delete, |app| {
    let t = &app.admin_token;
    let r = app
        .post(
            "/v3/projects",
            t,
            json!({"project": {"name": "web", "description": "d", "tags": ["prod", "eu"]}}),
        )
        .await
        .expect(201);
    let p = r.body["project"]["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["project"]["parent_id"], "default");
    assert_eq!(r.body["project"]["is_domain"], false);
    assert_eq!(r.body["project"]["tags"], json!(["prod", "eu"]));
    app.post("/v3/projects", t, json!({"project": {"name": "web"}}))
        .await
        .expect(409);
    app.post(
        "/v3/projects",
        t,
        json!({"project": {"name": "bad", "tags": ["a/b"]}}),
    )
    .await
    .expect(400);
    let r = app.get("/v3/projects?tags=prod,eu", t).await.expect(200);
    assert_eq!(ids(&r.body, "projects"), vec![p.clone()]);
    let r = app
        .get("/v3/projects?not-tags-any=prod", t)
        .await
        .expect(200);
    assert!(!ids(&r.body, "projects").contains(&p));
    app.put(&format!("/v3/projects/{p}/tags/blue"), t)
        .await
        .expect(201);
    app.request(
        reqwest::Method::HEAD,
        &format!("/v3/projects/{p}/tags/blue"),
        Some(t),
        None,
    )
    .await
    .expect(204);
    let r = app
        .get(&format!("/v3/projects/{p}/tags"), t)
        .await
        .expect(200);
    assert_eq!(r.body["tags"], json!(["blue", "eu", "prod"]));
    app.delete(&format!("/v3/projects/{p}/tags/eu"), t)
        .await
        .expect(204);
    app.delete(&format!("/v3/projects/{p}/tags/eu"), t)
        .await
        .expect(404);
    // A child makes the parent undeletable.
    let r = app
        .post(
            "/v3/projects",
            t,
            json!({"project": {"name": "child", "parent_id": p}}),
        )
        .await
        .expect(201);
    let child = r.body["project"]["id"].as_str().unwrap().to_string();
    app.delete(&format!("/v3/projects/{p}"), t)
        .await
        .expect(403);
    app.delete(&format!("/v3/projects/{child}"), t)
        .await
        .expect(204);
    // Disabling a project revokes the tokens scoped to it.
    let u = create_user(&app, "default", "dev").await;
    grant(&app, &p, &u, "member").await;
    let tok = app.password_token("dev", PW, "web").await;
    app.validate(&tok).await.expect(200);
    app.patch(
        &format!("/v3/projects/{p}"),
        t,
        json!({"project": {"enabled": false}}),
    )
    .await
    .expect(200);
    app.validate(&tok).await.expect(404);
    app.auth(password_auth("dev", PW, Some("web")))
        .await
        .expect(401);
    app.patch(
        &format!("/v3/projects/{p}"),
        t,
        json!({"project": {"enabled": true}}),
    )
    .await
    .expect(200);
    let tok = app.password_token("dev", PW, "web").await;
    // Deleting removes its assignments and revokes its tokens.
    app.delete(&format!("/v3/projects/{p}"), t)
        .await
        .expect(204);
    app.validate(&tok).await.expect(404);
    let r = app
        .get(&format!("/v3/role_assignments?user.id={u}"), t)
        .await
        .expect(200);
    assert_eq!(r.body["role_assignments"], json!([]));
    app.get(&format!("/v3/projects/{p}"), t).await.expect(404);
    app.delete(&format!("/v3/projects/{}", app.admin_project_id), t)
        .await
        .expect(403);
});

both_backends!(groups_give_roles_and_take_them_back, |app| {
    let t = &app.admin_token;
    let p = create_project(&app, "default", "shared").await;
    let u = create_user(&app, "default", "g-user").await;
    let r = app
        .post(
            "/v3/groups",
            t,
            json!({"group": {"name": "devs", "description": "developers"}}),
        )
        .await
        .expect(201);
    let g = r.body["group"]["id"].as_str().unwrap().to_string();
    app.post("/v3/groups", t, json!({"group": {"name": "devs"}}))
        .await
        .expect(409);
    let member = app.role_id("member").await;
    app.put(&format!("/v3/projects/{p}/groups/{g}/roles/{member}"), t)
        .await
        .expect(204);
    app.auth(password_auth("g-user", PW, Some("shared")))
        .await
        .expect(401);
    app.put(&format!("/v3/groups/{g}/users/{u}"), t)
        .await
        .expect(204);
    app.request(
        reqwest::Method::HEAD,
        &format!("/v3/groups/{g}/users/{u}"),
        Some(t),
        None,
    )
    .await
    .expect(204);
    let tok = app.password_token("g-user", PW, "shared").await;
    let v = app.validate(&tok).await.expect(200);
    let names: Vec<&str> = v.body["token"]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"member") && names.contains(&"reader"),
        "{names:?}"
    );
    let r = app
        .get(&format!("/v3/users/{u}/groups"), t)
        .await
        .expect(200);
    assert_eq!(ids(&r.body, "groups"), vec![g.clone()]);
    let r = app
        .get(&format!("/v3/groups/{g}/users"), t)
        .await
        .expect(200);
    assert_eq!(ids(&r.body, "users"), vec![u.clone()]);
    let r = app
        .get(&format!("/v3/users/{u}/projects"), t)
        .await
        .expect(200);
    assert_eq!(ids(&r.body, "projects"), vec![p.clone()]);
    // Effective assignments expand the group and the implied roles, with names.
    let r = app
        .get(
            &format!("/v3/role_assignments?user.id={u}&effective&include_names=true"),
            t,
        )
        .await
        .expect(200);
    let lines = r.body["role_assignments"].as_array().unwrap();
    assert_eq!(lines.len(), 2, "{}", r.body);
    assert!(lines
        .iter()
        .all(|l| l["user"]["name"] == "g-user" && l["scope"]["project"]["name"] == "shared"));
    assert!(lines.iter().all(|l| l["links"]["membership"].is_string()));
    // Leaving the group ends its token there.
    app.delete(&format!("/v3/groups/{g}/users/{u}"), t)
        .await
        .expect(204);
    app.validate(&tok).await.expect(404);
    app.delete(&format!("/v3/groups/{g}/users/{u}"), t)
        .await
        .expect(404);
    app.delete(&format!("/v3/groups/{g}"), t).await.expect(204);
    app.get(&format!("/v3/groups/{g}"), t).await.expect(404);
});

both_backends!(roles_implications_and_grants, |app| {
    let t = &app.admin_token;
    let r = app
        .post("/v3/roles", t, json!({"role": {"name": "auditor"}}))
        .await
        .expect(201);
    let auditor = r.body["role"]["id"].as_str().unwrap().to_string();
    app.post("/v3/roles", t, json!({"role": {"name": "auditor"}}))
        .await
        .expect(409);
    let reader = app.role_id("reader").await;
    let r = app
        .request(
            reqwest::Method::PUT,
            &format!("/v3/roles/{auditor}/implies/{reader}"),
            Some(t),
            None,
        )
        .await
        .expect(201);
    assert_eq!(r.body["role_inference"]["implies"]["id"], reader.as_str());
    // Cycles are refused (auditor -> reader -> auditor).
    app.request(
        reqwest::Method::PUT,
        &format!("/v3/roles/{reader}/implies/{auditor}"),
        Some(t),
        None,
    )
    .await
    .expect(400);
    let r = app.get("/v3/role_inferences", t).await.expect(200);
    assert!(r.body["role_inferences"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["prior_role"]["id"] == auditor.as_str()));
    let r = app.get("/v3/roles?name=auditor", t).await.expect(200);
    assert_eq!(ids(&r.body, "roles"), vec![auditor.clone()]);
    // Grant, check, list; the last role's removal ends tokens and application credentials there.
    let p = create_project(&app, "default", "audit").await;
    let u = create_user(&app, "default", "aud").await;
    let grant_path = format!("/v3/projects/{p}/users/{u}/roles/{auditor}");
    app.put(&grant_path, t).await.expect(204);
    app.request(reqwest::Method::HEAD, &grant_path, Some(t), None)
        .await
        .expect(204);
    let r = app
        .get(&format!("/v3/projects/{p}/users/{u}/roles"), t)
        .await
        .expect(200);
    assert_eq!(ids(&r.body, "roles"), vec![auditor.clone()]);
    let tok = app.password_token("aud", PW, "audit").await;
    let cred = app
        .post(
            &format!("/v3/users/{u}/application_credentials"),
            &tok,
            json!({"application_credential": {"name": "bot"}}),
        )
        .await
        .expect(201);
    let roles: Vec<&str> = cred.body["application_credential"]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(roles, vec!["auditor", "reader"]);
    app.delete(&grant_path, t).await.expect(204);
    app.delete(&grant_path, t).await.expect(404);
    app.validate(&tok).await.expect(404);
    let list = app
        .get(&format!("/v3/users/{u}/application_credentials"), t)
        .await
        .expect(200);
    assert_eq!(list.body["application_credentials"], json!([]));
    // Deleting a role removes its grants.
    app.put(&grant_path, t).await.expect(204);
    app.delete(&format!("/v3/roles/{auditor}"), t)
        .await
        .expect(204);
    app.get(&format!("/v3/roles/{auditor}"), t)
        .await
        .expect(404);
    let r = app
        .get(&format!("/v3/role_assignments?user.id={u}"), t)
        .await
        .expect(200);
    assert_eq!(r.body["role_assignments"], json!([]));
    app.put(&format!("/v3/projects/{p}/users/{u}/roles/nope"), t)
        .await
        .expect(404);
    app.put(&format!("/v3/projects/nope/users/{u}/roles/{reader}"), t)
        .await
        .expect(404);
    // System grants are stored and listed (tempest makes them).
    app.put(&format!("/v3/system/users/{u}/roles/{reader}"), t)
        .await
        .expect(204);
    let r = app
        .get(&format!("/v3/system/users/{u}/roles"), t)
        .await
        .expect(200);
    assert_eq!(ids(&r.body, "roles"), vec![reader.clone()]);
});

both_backends!(
    domains_must_be_disabled_before_delete_and_take_their_contents,
    |app| {
        let t = &app.admin_token;
        let a = customer(&app, "acme").await;
        let r = app
            .get(&format!("/v3/domains/{}", a.domain_id), &a.member_token)
            .await
            .expect(200);
        assert_eq!(r.body["domain"]["name"], "acme");
        app.post("/v3/domains", t, json!({"domain": {"name": "acme"}}))
            .await
            .expect(409);
        app.delete(&format!("/v3/domains/{}", a.domain_id), t)
            .await
            .expect(403);
        app.patch(
            &format!("/v3/domains/{}", a.domain_id),
            t,
            json!({"domain": {"enabled": false}}),
        )
        .await
        .expect(200);
        app.validate(&a.manager_token).await.expect(404);
        app.delete(&format!("/v3/domains/{}", a.domain_id), t)
            .await
            .expect(204);
        app.get(&format!("/v3/domains/{}", a.domain_id), t)
            .await
            .expect(404);
        app.get(&format!("/v3/users/{}", a.member_id), t)
            .await
            .expect(404);
        app.get(&format!("/v3/projects/{}", a.project_id), t)
            .await
            .expect(404);
        app.delete("/v3/domains/default", t).await.expect(403);
        app.patch(
            "/v3/domains/default",
            t,
            json!({"domain": {"enabled": false}}),
        )
        .await
        .expect(403);
    }
);

both_backends!(catalog_crud_reaches_tokens, |app| {
    let t = &app.admin_token;
    app.post(
        "/v3/regions",
        t,
        json!({"region": {"id": "RegionTwo", "description": "2"}}),
    )
    .await
    .expect(201);
    app.post("/v3/regions", t, json!({"region": {"id": "RegionTwo"}}))
        .await
        .expect(409);
    let r = app
        .post(
            "/v3/services",
            t,
            json!({"service": {"type": "compute", "name": "nova"}}),
        )
        .await
        .expect(201);
    let s = r.body["service"]["id"].as_str().unwrap().to_string();
    app.post("/v3/services", t, json!({"service": {"name": "typeless"}}))
        .await
        .expect(400);
    let e = app
        .post("/v3/endpoints", t, json!({"endpoint": {"service_id": s, "interface": "public", "url": "https://nova.example.com/v2.1/$(project_id)s", "region_id": "RegionTwo"}}))
        .await
        .expect(201);
    let eid = e.body["endpoint"]["id"].as_str().unwrap().to_string();
    app.post(
        "/v3/endpoints",
        t,
        json!({"endpoint": {"service_id": s, "interface": "sideways", "url": "https://x"}}),
    )
    .await
    .expect(400);
    // As in Keystone, an unknown `region_id` is refused; the legacy `region` field creates it.
    app.post("/v3/endpoints", t, json!({"endpoint": {"service_id": s, "interface": "public", "url": "https://x", "region_id": "Elsewhere"}}))
        .await
        .expect(400);
    app.post("/v3/endpoints", t, json!({"endpoint": {"service_id": s, "interface": "public", "url": "https://x", "region": "Elsewhere"}}))
        .await
        .expect(201);
    app.get("/v3/regions/Elsewhere", t).await.expect(200);
    app.post(
        "/v3/endpoints",
        t,
        json!({"endpoint": {"service_id": "nope", "interface": "public", "url": "https://x"}}),
    )
    .await
    .expect(400);
    let r = app
        .get(
            &format!("/v3/endpoints?service_id={s}&region_id=RegionTwo"),
            t,
        )
        .await
        .expect(200);
    assert_eq!(ids(&r.body, "endpoints"), vec![eid.clone()]);
    let tok = app.password_token("admin", ADMIN_PASSWORD, "admin").await;
    let v = app.validate(&tok).await.expect(200);
    let nova = v.body["token"]["catalog"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "compute")
        .expect("compute in catalog")
        .clone();
    let ep = nova["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == eid.as_str())
        .expect("endpoint in catalog");
    assert_eq!(
        ep["url"],
        format!("https://nova.example.com/v2.1/{}", app.admin_project_id)
    );
    assert_eq!(ep["region_id"], "RegionTwo");
    app.delete("/v3/regions/RegionTwo", t).await.expect(403);
    app.delete(&format!("/v3/endpoints/{eid}"), t)
        .await
        .expect(204);
    app.delete(&format!("/v3/services/{s}"), t)
        .await
        .expect(204);
    app.delete("/v3/regions/RegionTwo", t).await.expect(204);
    let v = app.validate(&tok).await.expect(200);
    assert!(!v.body["token"]["catalog"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["type"] == "compute"));
});

both_backends!(application_credentials_follow_keystone, |app| {
    let a = customer(&app, "acme").await;
    let path = format!("/v3/users/{}/application_credentials", a.member_id);
    // Roles must be within the token's.
    let r = app
        .post(
            &path,
            &a.member_token,
            json!({"application_credential": {"name": "x", "roles": [{"name": "admin"}]}}),
        )
        .await
        .expect(400);
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("admin"));
    app.post(
        &path,
        &a.member_token,
        json!({"application_credential": {"name": "x", "expires_at": "2001-01-01T00:00:00Z"}}),
    )
    .await
    .expect(400);
    let r = app
        .post(&path, &a.member_token, json!({"application_credential": {"name": "ro", "roles": [{"name": "reader"}], "expires_at": "2099-01-01T00:00:00Z",
            "access_rules": [{"service": "compute", "path": "/v2.1/servers", "method": "GET"}]}}))
        .await
        .expect(201);
    let c = &r.body["application_credential"];
    let (id, secret) = (
        c["id"].as_str().unwrap().to_string(),
        c["secret"].as_str().unwrap().to_string(),
    );
    assert!(secret.len() >= 64);
    assert_eq!(c["unrestricted"], false);
    assert_eq!(c["project_id"], a.project_id.as_str());
    app.post(
        &path,
        &a.member_token,
        json!({"application_credential": {"name": "ro"}}),
    )
    .await
    .expect(409);
    // The secret is shown once.
    let g = app
        .get(&format!("{path}/{id}"), &a.member_token)
        .await
        .expect(200);
    assert!(g.body["application_credential"].get("secret").is_none());
    let r = app
        .get(&format!("{path}?name=ro"), &a.member_token)
        .await
        .expect(200);
    assert_eq!(ids(&r.body, "application_credentials"), vec![id.clone()]);
    let rules = app
        .get(
            &format!("/v3/users/{}/access_rules", a.member_id),
            &a.member_token,
        )
        .await
        .expect(200);
    assert_eq!(rules.body["access_rules"][0]["path"], "/v2.1/servers");
    // Login: roles are the credential's, intersected with the user's.
    let login = json!({"auth": {"identity": {"methods": ["application_credential"], "application_credential": {"id": id, "secret": secret}}}});
    let r = app.auth(login.clone()).await.expect(201);
    let roles: Vec<&str> = r.body["token"]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(roles, vec!["reader"]);
    let block = &r.body["token"]["application_credential"];
    assert_eq!(block["restricted"], true);
    assert_eq!(block["access_rules"][0]["service"], "compute");
    let tok = r.header("x-subject-token").unwrap();
    // A restricted credential cannot make more.
    app.post(
        &path,
        &tok,
        json!({"application_credential": {"name": "more"}}),
    )
    .await
    .expect(403);
    // Deleting it revokes its tokens.
    app.delete(&format!("{path}/{id}"), &a.member_token)
        .await
        .expect(204);
    app.validate(&tok).await.expect(404);
    app.auth(login).await.expect(404);
    app.get(&format!("{path}/{id}"), &a.member_token)
        .await
        .expect(404);
});

both_backends!(concurrent_writes_all_land, |app| {
    // SQLite has one writer: parallel requests must queue, not fail with "database is locked".
    let p = create_project(&app, "default", "busy").await;
    let member = app.role_id("member").await;
    let mut tasks = vec![];
    for i in 0..48 {
        let (client, url, token, p, member) = (
            app.client.clone(),
            app.url(""),
            app.admin_token.clone(),
            p.clone(),
            member.clone(),
        );
        tasks.push(actix_web::rt::spawn(async move {
            let r = client
                .post(format!("{url}/v3/users"))
                .header("X-Auth-Token", &token)
                .json(&json!({"user": {"name": format!("u{i}"), "password": "Pass-1234"}}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 201);
            let body: serde_json::Value = r.json().await.unwrap();
            let id = body["user"]["id"].as_str().unwrap().to_string();
            let r = client
                .put(format!("{url}/v3/projects/{p}/users/{id}/roles/{member}"))
                .header("X-Auth-Token", &token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 204);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let r = app
        .get(
            &format!("/v3/role_assignments?scope.project.id={p}"),
            &app.admin_token,
        )
        .await
        .expect(200);
    assert_eq!(r.body["role_assignments"].as_array().unwrap().len(), 48);
});

both_backends!(domain_roles_count_only_through_what_they_imply, |app| {
    let t = &app.admin_token;
    let d = create_domain(&app, "acme").await;
    let r = app
        .post(
            "/v3/roles",
            t,
            json!({"role": {"name": "operator", "domain_id": d}}),
        )
        .await
        .expect(201);
    let dr = r.body["role"]["id"].as_str().unwrap().to_string();
    let member = app.role_id("member").await;
    let admin = app.role_id("admin").await;
    // Global roles cannot imply domain roles; nothing may imply admin.
    app.put(&format!("/v3/roles/{member}/implies/{dr}"), t)
        .await
        .expect(403);
    app.put(&format!("/v3/roles/{dr}/implies/{admin}"), t)
        .await
        .expect(403);
    app.put(&format!("/v3/roles/{dr}/implies/{member}"), t)
        .await
        .expect(201);
    let p = create_project(&app, &d, "ops").await;
    let u = create_user(&app, &d, "op").await;
    app.put(&format!("/v3/projects/{p}/users/{u}/roles/{dr}"), t)
        .await
        .expect(204);
    let tok = token_in(&app, &d, "op", PW, "ops").await;
    let v = app.validate(&tok).await.expect(200);
    let names: Vec<&str> = v.body["token"]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["member", "reader"]);
    let r = app
        .get(&format!("/v3/role_assignments?user.id={u}&effective"), t)
        .await
        .expect(200);
    let roles: Vec<&str> = r.body["role_assignments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["role"]["id"].as_str().unwrap())
        .collect();
    assert!(
        !roles.contains(&dr.as_str()) && roles.contains(&member.as_str()),
        "{roles:?}"
    );
    // Updates may echo the id, not change it.
    app.patch(
        &format!("/v3/users/{u}"),
        t,
        json!({"user": {"id": u, "description": "x"}}),
    )
    .await
    .expect(200);
    app.patch(
        &format!("/v3/users/{u}"),
        t,
        json!({"user": {"id": "other"}}),
    )
    .await
    .expect(400);
    app.post(
        "/v3/projects",
        t,
        json!({"project": {"name": "x".repeat(65)}}),
    )
    .await
    .expect(400);
});
