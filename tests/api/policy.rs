//! Least privilege: each rule below has a test that fails if the rule is missing.

use serde_json::json;

use crate::both_backends;
use crate::fixtures::*;
use crate::helpers::*;

both_backends!(manager_cannot_see_or_touch_another_domain, |app| {
    let a = customer(&app, "acme").await;
    let b = customer(&app, "globex").await;
    // Own domain: allowed.
    let own = app
        .get(
            &format!("/v3/users?domain_id={}", a.domain_id),
            &a.manager_token,
        )
        .await
        .expect(200);
    assert!(ids(&own.body, "users").contains(&a.member_id));
    // Without a filter a manager sees its own domain only.
    let all = app.get("/v3/users", &a.manager_token).await.expect(200);
    let seen = ids(&all.body, "users");
    assert!(
        seen.contains(&a.member_id) && !seen.contains(&b.member_id),
        "{seen:?}"
    );
    assert!(!seen.contains(&app.admin_user_id));
    // Another domain: refused, naming the action.
    let r = app
        .get(
            &format!("/v3/users?domain_id={}", b.domain_id),
            &a.manager_token,
        )
        .await
        .expect(403);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("identity:list_users"),
        "{}",
        r.body
    );
    app.get(&format!("/v3/users/{}", b.member_id), &a.manager_token)
        .await
        .expect(403);
    app.patch(
        &format!("/v3/users/{}", b.member_id),
        &a.manager_token,
        json!({"user": {"enabled": false}}),
    )
    .await
    .expect(403);
    app.delete(&format!("/v3/users/{}", b.member_id), &a.manager_token)
        .await
        .expect(403);
    app.post(
        "/v3/projects",
        &a.manager_token,
        json!({"project": {"name": "x", "domain_id": b.domain_id}}),
    )
    .await
    .expect(403);
    app.post(
        "/v3/users",
        &a.manager_token,
        json!({"user": {"name": "x", "domain_id": b.domain_id}}),
    )
    .await
    .expect(403);
    app.get(&format!("/v3/projects/{}", b.project_id), &a.manager_token)
        .await
        .expect(403);
    let member = app.role_id("member").await;
    app.put(
        &format!(
            "/v3/projects/{}/users/{}/roles/{member}",
            b.project_id, a.member_id
        ),
        &a.manager_token,
    )
    .await
    .expect(403);
    // Cross-domain grants into its own project are refused too.
    app.put(
        &format!(
            "/v3/projects/{}/users/{}/roles/{member}",
            a.project_id, b.member_id
        ),
        &a.manager_token,
    )
    .await
    .expect(403);
    // In its own domain the manager administers users and projects.
    let created = app
        .post(
            "/v3/users",
            &a.manager_token,
            json!({"user": {"password": "Pass-word-123"}}),
        )
        .await
        .expect(201);
    assert_eq!(created.body["user"]["domain_id"], a.domain_id.as_str());
    app.post(
        "/v3/projects",
        &a.manager_token,
        json!({"project": {"name": "second"}}),
    )
    .await
    .expect(201);
});

both_backends!(manager_grants_only_manager_member_reader, |app| {
    let a = customer(&app, "acme").await;
    let admin_role = app.role_id("admin").await;
    let reader = app.role_id("reader").await;
    // Managers find the roles they may grant.
    app.get(&format!("/v3/roles/{reader}"), &a.manager_token)
        .await
        .expect(200);
    app.get("/v3/roles?name=member", &a.manager_token)
        .await
        .expect(200);
    app.get(&format!("/v3/roles/{reader}"), &a.member_token)
        .await
        .expect(403);
    let r = app
        .put(
            &format!(
                "/v3/projects/{}/users/{}/roles/{admin_role}",
                a.project_id, a.member_id
            ),
            &a.manager_token,
        )
        .await
        .expect(403);
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("identity:create_grant"));
    let service = app.role_id("service").await;
    app.put(
        &format!(
            "/v3/projects/{}/users/{}/roles/{service}",
            a.project_id, a.member_id
        ),
        &a.manager_token,
    )
    .await
    .expect(403);
    app.put(
        &format!(
            "/v3/projects/{}/users/{}/roles/{reader}",
            a.project_id, a.member_id
        ),
        &a.manager_token,
    )
    .await
    .expect(204);
    // Nor can it take away a role it could not give.
    grant(&app, &a.project_id, &a.member_id, "admin").await;
    app.delete(
        &format!(
            "/v3/projects/{}/users/{}/roles/{admin_role}",
            a.project_id, a.member_id
        ),
        &a.manager_token,
    )
    .await
    .expect(403);
    // The cloud admin can.
    app.delete(
        &format!(
            "/v3/projects/{}/users/{}/roles/{admin_role}",
            a.project_id, a.member_id
        ),
        &app.admin_token,
    )
    .await
    .expect(204);
});

both_backends!(
    manager_in_default_domain_cannot_take_over_the_cloud_admin,
    |app| {
        let p = create_project(&app, "default", "tenant").await;
        let m = create_user(&app, "default", "tenant-boss").await;
        grant(&app, &p, &m, "manager").await;
        let t = token_in(&app, "default", "tenant-boss", PW, "tenant").await;
        app.patch(
            &format!("/v3/users/{}", app.admin_user_id),
            &t,
            json!({"user": {"password": "owned"}}),
        )
        .await
        .expect(403);
        app.delete(&format!("/v3/users/{}", app.admin_user_id), &t)
            .await
            .expect(403);
        let admin_role = app.role_id("admin").await;
        app.delete(
            &format!(
                "/v3/projects/{}/users/{}/roles/{admin_role}",
                app.admin_project_id, app.admin_user_id
            ),
            &t,
        )
        .await
        .expect(403);
        let member = app.role_id("member").await;
        app.put(
            &format!(
                "/v3/projects/{}/users/{m}/roles/{member}",
                app.admin_project_id
            ),
            &t,
        )
        .await
        .expect(403);
        app.patch(
            &format!("/v3/projects/{}", app.admin_project_id),
            &t,
            json!({"project": {"enabled": false}}),
        )
        .await
        .expect(403);
        // The admin still logs in.
        app.password_token("admin", ADMIN_PASSWORD, "admin").await;
    }
);

both_backends!(application_credentials_only_for_oneself, |app| {
    let a = customer(&app, "acme").await;
    let body = json!({"application_credential": {"name": "ci"}});
    let r = app
        .post(
            &format!("/v3/users/{}/application_credentials", a.member_id),
            &a.manager_token,
            body.clone(),
        )
        .await
        .expect(403);
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("identity:create_application_credential"));
    app.post(
        &format!("/v3/users/{}/application_credentials", a.member_id),
        &app.admin_token,
        body.clone(),
    )
    .await
    .expect(403);
    let mine = app
        .post(
            &format!("/v3/users/{}/application_credentials", a.member_id),
            &a.member_token,
            body,
        )
        .await
        .expect(201);
    let id = mine.body["application_credential"]["id"].as_str().unwrap();
    // Someone else's: not listed, not shown, not deleted.
    app.get(
        &format!("/v3/users/{}/application_credentials", a.member_id),
        &a.manager_token,
    )
    .await
    .expect(403);
    app.get(
        &format!("/v3/users/{}/application_credentials/{id}", a.member_id),
        &a.manager_token,
    )
    .await
    .expect(403);
    app.delete(
        &format!("/v3/users/{}/application_credentials/{id}", a.member_id),
        &a.manager_token,
    )
    .await
    .expect(403);
});

both_backends!(member_cannot_administer, |app| {
    let a = customer(&app, "acme").await;
    let r = app.get("/v3/users", &a.member_token).await.expect(403);
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("identity:list_users"));
    app.get(
        &format!("/v3/users?domain_id={}", a.domain_id),
        &a.member_token,
    )
    .await
    .expect(403);
    app.get("/v3/groups", &a.member_token).await.expect(403);
    app.post(
        "/v3/projects",
        &a.member_token,
        json!({"project": {"name": "mine"}}),
    )
    .await
    .expect(403);
    app.patch(
        &format!("/v3/users/{}", a.manager_id),
        &a.member_token,
        json!({"user": {"enabled": false}}),
    )
    .await
    .expect(403);
    app.post(
        "/v3/roles",
        &a.member_token,
        json!({"role": {"name": "god"}}),
    )
    .await
    .expect(403);
    app.post(
        "/v3/domains",
        &a.manager_token,
        json!({"domain": {"name": "mine"}}),
    )
    .await
    .expect(403);
    app.get("/v3/domains", &a.manager_token).await.expect(403);
    app.post(
        "/v3/services",
        &a.manager_token,
        json!({"service": {"type": "x"}}),
    )
    .await
    .expect(403);
    // A member sees itself and its project.
    let me = app
        .get(&format!("/v3/users/{}", a.member_id), &a.member_token)
        .await
        .expect(200);
    assert_eq!(me.body["user"]["id"], a.member_id.as_str());
    app.get(&format!("/v3/projects/{}", a.project_id), &a.member_token)
        .await
        .expect(200);
    let mine = app
        .get(
            &format!("/v3/role_assignments?user.id={}", a.member_id),
            &a.member_token,
        )
        .await
        .expect(200);
    assert_eq!(mine.body["role_assignments"].as_array().unwrap().len(), 1);
    app.get(
        &format!("/v3/role_assignments?user.id={}", a.manager_id),
        &a.member_token,
    )
    .await
    .expect(403);
});

both_backends!(managers_read_role_implications_members_do_not, |app| {
    let a = customer(&app, "acme").await;
    let (admin, manager) = (app.role_id("admin").await, app.role_id("manager").await);
    app.get("/v3/role_inferences", &a.manager_token)
        .await
        .expect(200);
    app.get(&format!("/v3/roles/{admin}/implies"), &a.manager_token)
        .await
        .expect(200);
    app.get(
        &format!("/v3/roles/{admin}/implies/{manager}"),
        &a.manager_token,
    )
    .await
    .expect(200);
    app.get("/v3/role_inferences", &a.member_token)
        .await
        .expect(403);
    // Reading is all: changing implications stays the cloud admin's.
    app.put(
        &format!("/v3/roles/{manager}/implies/{admin}"),
        &a.manager_token,
    )
    .await
    .expect(403);
});
