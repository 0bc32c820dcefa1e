//! Project-bound users (issue 11), tried from the attacker's side: every path that would give a
//! bound user a role beyond its project, binding by the wrong people, tokens and application
//! credentials elsewhere, a grant racing a bind; and the one-call project user.

use futures_util::future::join;
use serde_json::{json, Value};

use crate::fixtures::*;
use crate::helpers::*;
use crate::{both_backends, both_backends_with};

const BOUND: &str = "OS-PCU:bound_project_id";

/// A user of `domain_id` bound to `project_id` holding `member` there, made by the cloud admin.
async fn bound_user(app: &TestApp, domain_id: &str, project_id: &str, name: &str) -> String {
    let r = app
        .post(
            "/v3/users",
            &app.admin_token,
            json!({"user": {"name": name, "domain_id": domain_id, "password": PW, BOUND: project_id}}),
        )
        .await
        .expect(201);
    assert_eq!(r.body["user"][BOUND], project_id);
    let id = r.body["user"]["id"].as_str().unwrap().to_string();
    grant(app, project_id, &id, "member").await;
    id
}

#[track_caller]
fn conflict_names_rule(r: Resp) {
    let r = r.expect(409);
    let msg = r.body["error"]["message"].as_str().unwrap_or_default();
    assert!(msg.contains("bound to project"), "message: {msg}");
}

async fn user_count(app: &TestApp, domain_id: &str) -> usize {
    let r = app
        .get(
            &format!("/v3/users?domain_id={domain_id}"),
            &app.admin_token,
        )
        .await
        .expect(200);
    r.body["users"].as_array().unwrap().len()
}

both_backends!(binding_is_shown_filtered_and_a_managers_business, |app| {
    let a = customer(&app, "alpha").await;
    let b = customer(&app, "beta").await;
    let second = create_project(&app, &a.domain_id, "second").await;
    // A manager binds a new user of its domain to a project of its domain.
    let r = app
        .post(
            "/v3/users",
            &a.manager_token,
            json!({"user": {"name": "pinned", "password": PW, BOUND: a.project_id}}),
        )
        .await
        .expect(201);
    assert_eq!(r.body["user"][BOUND], a.project_id.as_str());
    let pinned = r.body["user"]["id"].as_str().unwrap().to_string();
    // Unbound users carry no such attribute.
    let r = app
        .get(&format!("/v3/users/{}", a.member_id), &app.admin_token)
        .await
        .expect(200);
    assert!(r.body["user"].get(BOUND).is_none(), "{}", r.body);
    // The filter, in SQL.
    let r = app
        .get(
            &format!("/v3/users?{BOUND}={}", a.project_id),
            &app.admin_token,
        )
        .await
        .expect(200);
    assert_eq!(ids(&r.body, "users"), vec![pinned.clone()]);
    let r = app
        .get(&format!("/v3/users?{BOUND}={second}"), &app.admin_token)
        .await
        .expect(200);
    assert!(ids(&r.body, "users").is_empty());
    // A manager of another domain can neither bind into it nor unbind its users.
    app.post(
        "/v3/users",
        &b.manager_token,
        json!({"user": {"name": "intruder", "domain_id": a.domain_id, "password": PW, BOUND: a.project_id}}),
    )
    .await
    .expect(403);
    app.patch(
        &format!("/v3/users/{pinned}"),
        &b.manager_token,
        json!({"user": {BOUND: null}}),
    )
    .await
    .expect(403);
    app.patch(
        &format!("/v3/users/{}", a.member_id),
        &b.manager_token,
        json!({"user": {BOUND: a.project_id}}),
    )
    .await
    .expect(403);
    // Nor bind its own users to the other domain's project: unknown in the user's domain.
    app.post(
        "/v3/users",
        &b.manager_token,
        json!({"user": {"name": "stray", "password": PW, BOUND: a.project_id}}),
    )
    .await
    .expect(400);
    app.patch(
        &format!("/v3/users/{}", b.member_id),
        &app.admin_token,
        json!({"user": {BOUND: a.project_id}}),
    )
    .await
    .expect(400);
    // A member cannot unbind itself or anyone; the bound user cannot unbind itself.
    app.patch(
        &format!("/v3/users/{pinned}"),
        &a.member_token,
        json!({"user": {BOUND: null}}),
    )
    .await
    .expect(403);
    grant(&app, &a.project_id, &pinned, "member").await;
    let own = token_in(&app, &a.domain_id, "pinned", PW, "main").await;
    app.patch(
        &format!("/v3/users/{pinned}"),
        &own,
        json!({"user": {BOUND: null}}),
    )
    .await
    .expect(403);
    // Without a scope, a bound user lands on its project, whatever its default project says.
    app.patch(
        &format!("/v3/users/{pinned}"),
        &a.manager_token,
        json!({"user": {"default_project_id": second}}),
    )
    .await
    .expect(200);
    let r = app
        .auth(
            json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": "pinned", "domain": {"id": a.domain_id}, "password": PW}}}}}),
        )
        .await
        .expect(201);
    assert_eq!(r.body["token"]["project"]["id"], a.project_id.as_str());
    // The manager of the domain unbinds; the attribute goes.
    let r = app
        .patch(
            &format!("/v3/users/{pinned}"),
            &a.manager_token,
            json!({"user": {BOUND: null}}),
        )
        .await
        .expect(200);
    assert!(r.body["user"].get(BOUND).is_none(), "{}", r.body);
    // A manager of a customer project cannot bind to the operator's admin project.
    let helpdesk_project = create_project(&app, "default", "support").await;
    let helpdesk = create_user(&app, "default", "helpdesk").await;
    grant(&app, &helpdesk_project, &helpdesk, "manager").await;
    let h = token_in(&app, "default", "helpdesk", PW, "support").await;
    app.post(
        "/v3/users",
        &h,
        json!({"user": {"name": "mole", "password": PW, BOUND: app.admin_project_id}}),
    )
    .await
    .expect(403);
});

both_backends!(the_bound_users_own_token_is_its_projects_only, |app| {
    let a = customer(&app, "alpha").await;
    let pinned = bound_user(&app, &a.domain_id, &a.project_id, "pinned").await;
    // Without a scope, its project.
    let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "pinned", "domain": {"id": a.domain_id}, "password": PW}}}}});
    let r = app.auth(body).await.expect(201);
    assert_eq!(r.body["token"]["project"]["id"], a.project_id.as_str());
    // A role elsewhere that predates the rule (written past the API): still no token there.
    let second = create_project(&app, &a.domain_id, "second").await;
    let member = app.role_id("member").await;
    let (u, p) = (pinned.clone(), second.clone());
    app.state
        .store
        .run(move |c| {
            ironstone::store::insert_assignment(
                c,
                &ironstone::store::Assignment {
                    actor_type: ironstone::store::ACTOR_USER.into(),
                    actor_id: u,
                    target_type: ironstone::store::TARGET_PROJECT.into(),
                    target_id: p,
                    role_id: member,
                    inherited: false,
                },
            )
        })
        .await
        .unwrap();
    let body = json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": "pinned", "domain": {"id": a.domain_id}, "password": PW}}},
        "scope": {"project": {"id": second}}}});
    let r = app.auth(body).await.expect(401);
    let unknown = json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": "pinned", "domain": {"id": a.domain_id}, "password": PW}}},
        "scope": {"project": {"id": "no-such-project"}}}});
    let same = app.auth(unknown).await.expect(401);
    assert_eq!(
        r.body, same.body,
        "the same answer as for an unknown project"
    );
    // Its application credentials are for its project.
    let own = token_in(&app, &a.domain_id, "pinned", PW, "main").await;
    let r = app
        .post(
            &format!("/v3/users/{pinned}/application_credentials"),
            &own,
            json!({"application_credential": {"name": "ci"}}),
        )
        .await
        .expect(201);
    assert_eq!(
        r.body["application_credential"]["project_id"],
        a.project_id.as_str()
    );
});

both_backends!(no_grant_reaches_a_bound_user_beyond_its_project, |app| {
    let a = customer(&app, "alpha").await;
    let second = create_project(&app, &a.domain_id, "second").await;
    let r = app
        .post(
            "/v3/projects",
            &app.admin_token,
            json!({"project": {"name": "child", "domain_id": a.domain_id, "parent_id": a.project_id}}),
        )
        .await
        .expect(201);
    let child = r.body["project"]["id"].as_str().unwrap().to_string();
    let u = bound_user(&app, &a.domain_id, &child, "pinned").await;
    let member = app.role_id("member").await;
    let d = &a.domain_id;
    for token in [&a.manager_token, &app.admin_token] {
        // A direct grant on another project.
        conflict_names_rule(
            app.put(
                &format!("/v3/projects/{second}/users/{u}/roles/{member}"),
                token,
            )
            .await,
        );
        // A domain grant, inherited or not.
        conflict_names_rule(
            app.put(&format!("/v3/domains/{d}/users/{u}/roles/{member}"), token)
                .await,
        );
        conflict_names_rule(
            app.put(
                &format!(
                    "/v3/OS-INHERIT/domains/{d}/users/{u}/roles/{member}/inherited_to_projects"
                ),
                token,
            )
            .await,
        );
        // Inherited from the parent project, and even on its own project (it reaches the subtree).
        conflict_names_rule(
            app.put(
                &format!(
                    "/v3/OS-INHERIT/projects/{}/users/{u}/roles/{member}/inherited_to_projects",
                    a.project_id
                ),
                token,
            )
            .await,
        );
        conflict_names_rule(
            app.put(
                &format!("/v3/OS-INHERIT/projects/{child}/users/{u}/roles/{member}/inherited_to_projects"),
                token,
            )
            .await,
        );
    }
    // A system grant, by the only one who could make one.
    conflict_names_rule(
        app.put(
            &format!("/v3/system/users/{u}/roles/{member}"),
            &app.admin_token,
        )
        .await,
    );
    // Its own project, directly: fine.
    let reader = app.role_id("reader").await;
    app.put(
        &format!("/v3/projects/{child}/users/{u}/roles/{reader}"),
        &a.manager_token,
    )
    .await
    .expect(204);
    let r = app
        .get(&format!("/v3/users/{u}/projects"), &app.admin_token)
        .await
        .expect(200);
    assert_eq!(ids(&r.body, "projects"), vec![child.clone()]);
});

both_backends!(
    no_group_path_reaches_a_bound_user_beyond_its_project,
    |app| {
        let a = customer(&app, "alpha").await;
        let second = create_project(&app, &a.domain_id, "second").await;
        let u = bound_user(&app, &a.domain_id, &a.project_id, "pinned").await;
        let member = app.role_id("member").await;
        let t = &a.manager_token;
        // A group holding a grant elsewhere: the bound user cannot join it.
        let elsewhere = create_group(&app, t, &a.domain_id, "elsewhere").await;
        app.put(
            &format!("/v3/projects/{second}/groups/{elsewhere}/roles/{member}"),
            t,
        )
        .await
        .expect(204);
        conflict_names_rule(
            app.put(&format!("/v3/groups/{elsewhere}/users/{u}"), t)
                .await,
        );
        // A group inheriting on the bound project itself reaches its subtree: refused too.
        let inheriting = create_group(&app, t, &a.domain_id, "inheriting").await;
        app.put(
            &format!(
            "/v3/OS-INHERIT/projects/{}/groups/{inheriting}/roles/{member}/inherited_to_projects",
            a.project_id
        ),
            t,
        )
        .await
        .expect(204);
        conflict_names_rule(
            app.put(&format!("/v3/groups/{inheriting}/users/{u}"), t)
                .await,
        );
        // A group with a direct grant on its project: it may join.
        let team = create_group(&app, t, &a.domain_id, "team").await;
        app.put(
            &format!("/v3/projects/{}/groups/{team}/roles/{member}", a.project_id),
            t,
        )
        .await
        .expect(204);
        app.put(&format!("/v3/groups/{team}/users/{u}"), t)
            .await
            .expect(204);
        // Then no role may go to that group elsewhere, by the manager or the cloud admin.
        for token in [t, &app.admin_token] {
            conflict_names_rule(
                app.put(
                    &format!("/v3/projects/{second}/groups/{team}/roles/{member}"),
                    token,
                )
                .await,
            );
            conflict_names_rule(
                app.put(
                    &format!(
                    "/v3/OS-INHERIT/domains/{}/groups/{team}/roles/{member}/inherited_to_projects",
                    a.domain_id
                ),
                    token,
                )
                .await,
            );
        }
        // A group with no grant at all: joining is fine, and it then takes no grant elsewhere.
        let empty = create_group(&app, t, &a.domain_id, "empty").await;
        app.put(&format!("/v3/groups/{empty}/users/{u}"), t)
            .await
            .expect(204);
        conflict_names_rule(
            app.put(
                &format!("/v3/domains/{}/groups/{empty}/roles/{member}", a.domain_id),
                t,
            )
            .await,
        );
        let r = app
            .get(&format!("/v3/users/{u}/projects"), &app.admin_token)
            .await
            .expect(200);
        assert_eq!(ids(&r.body, "projects"), vec![a.project_id.clone()]);
    }
);

both_backends!(a_user_with_roles_elsewhere_cannot_be_bound, |app| {
    let a = customer(&app, "alpha").await;
    let second = create_project(&app, &a.domain_id, "second").await;
    let member = app.role_id("member").await;
    let t = &a.manager_token;
    let bind = |uid: String| {
        let (app, t, pid) = (&app, t.clone(), a.project_id.clone());
        async move {
            app.patch(
                &format!("/v3/users/{uid}"),
                &t,
                json!({"user": {BOUND: pid}}),
            )
            .await
        }
    };
    // A direct role on another project.
    let direct = create_user(&app, &a.domain_id, "direct").await;
    grant(&app, &second, &direct, "member").await;
    conflict_names_rule(bind(direct.clone()).await);
    // An inherited role on its own project (it reaches the subtree).
    let inherits = create_user(&app, &a.domain_id, "inherits").await;
    app.put(
        &format!(
            "/v3/OS-INHERIT/projects/{}/users/{inherits}/roles/{member}/inherited_to_projects",
            a.project_id
        ),
        t,
    )
    .await
    .expect(204);
    conflict_names_rule(bind(inherits.clone()).await);
    // A role through a group.
    let grouped = create_user(&app, &a.domain_id, "grouped").await;
    let g = create_group(&app, t, &a.domain_id, "elsewhere").await;
    app.put(
        &format!("/v3/projects/{second}/groups/{g}/roles/{member}"),
        t,
    )
    .await
    .expect(204);
    app.put(&format!("/v3/groups/{g}/users/{grouped}"), t)
        .await
        .expect(204);
    conflict_names_rule(bind(grouped.clone()).await);
    for uid in [&direct, &inherits, &grouped] {
        let r = app
            .get(&format!("/v3/users/{uid}"), &app.admin_token)
            .await
            .expect(200);
        assert!(r.body["user"].get(BOUND).is_none(), "nothing written");
    }
    // The member of the project (a direct role there only) can be bound.
    let r = bind(a.member_id.clone()).await.expect(200);
    assert_eq!(r.body["user"][BOUND], a.project_id.as_str());
});

both_backends!(a_grant_racing_a_bind_never_both_land, |app| {
    let a = customer(&app, "alpha").await;
    let second = create_project(&app, &a.domain_id, "second").await;
    let member = app.role_id("member").await;
    let t = &a.manager_token;
    for round in 0..6 {
        let u = create_user(&app, &a.domain_id, &format!("racer{round}")).await;
        grant(&app, &a.project_id, &u, "member").await;
        let grant_path = format!("/v3/projects/{second}/users/{u}/roles/{member}");
        let bind_path = format!("/v3/users/{u}");
        let (g, b) = join(
            app.put(&grant_path, t),
            app.patch(&bind_path, t, json!({"user": {BOUND: a.project_id}})),
        )
        .await;
        let (g, b) = (g.status.as_u16(), b.status.as_u16());
        assert!(
            (g == 204 && b == 409) || (g == 409 && b == 200),
            "round {round}: grant {g}, bind {b}"
        );
        // What is stored agrees with who won.
        let r = app
            .get(&format!("/v3/users/{u}"), &app.admin_token)
            .await
            .expect(200);
        let bound = r.body["user"].get(BOUND).is_some();
        let r = app
            .get(&format!("/v3/users/{u}/projects"), &app.admin_token)
            .await
            .expect(200);
        let elsewhere = ids(&r.body, "projects").contains(&second);
        assert!(
            bound != elsewhere,
            "round {round}: bound {bound}, role elsewhere {elsewhere}"
        );
    }
});

both_backends!(deleting_the_project_deletes_its_bound_users, |app| {
    let a = customer(&app, "alpha").await;
    let doomed = create_project(&app, &a.domain_id, "doomed").await;
    let u = bound_user(&app, &a.domain_id, &doomed, "pinned").await;
    let token = token_in(&app, &a.domain_id, "pinned", PW, "doomed").await;
    let r = app
        .post(
            &format!("/v3/users/{u}/application_credentials"),
            &token,
            json!({"application_credential": {"name": "ci"}}),
        )
        .await
        .expect(201);
    let secret = r.body["application_credential"]["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let ac = r.body["application_credential"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.validate(&token).await.expect(200);
    app.delete(&format!("/v3/projects/{doomed}"), &a.manager_token)
        .await
        .expect(204);
    app.get(&format!("/v3/users/{u}"), &app.admin_token)
        .await
        .expect(404);
    app.validate(&token).await.expect(404);
    let body = json!({"auth": {"identity": {"methods": ["application_credential"],
        "application_credential": {"id": ac, "secret": secret}}}});
    // The application credential went with its user (Keystone answers an unknown one with 404).
    app.auth(body).await.expect(404);
    // Users of the domain who were not bound to it stay.
    app.get(&format!("/v3/users/{}", a.member_id), &app.admin_token)
        .await
        .expect(200);
});

// ----------------------------------------------------------------------- the one-call user

fn pcu_path(project_id: &str) -> String {
    format!("/v3/OS-PCU/projects/{project_id}/users")
}

async fn login(app: &TestApp, domain_id: &str, name: &str, password: &str) -> Resp {
    app.auth(
        json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": name, "domain": {"id": domain_id}, "password": password}}}}}),
    )
    .await
}

async fn role_names_on(app: &TestApp, project_id: &str, user_id: &str) -> Vec<String> {
    let r = app
        .get(
            &format!("/v3/projects/{project_id}/users/{user_id}/roles"),
            &app.admin_token,
        )
        .await
        .expect(200);
    let mut names: Vec<String> = r.body["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

both_backends!(one_call_makes_a_bound_user_with_its_roles, |app| {
    let a = customer(&app, "alpha").await;
    let t = &a.manager_token;
    // Given password, given name, default role member.
    let r = app
        .post(
            &pcu_path(&a.project_id),
            t,
            json!({"user": {"name": "alice", "email": "alice@example.com", "password_mode": "given", "password": "Alice-Pass-1"}}),
        )
        .await
        .expect(201);
    let user = &r.body["user"];
    assert_eq!(user["name"], "alice");
    assert_eq!(user["domain_id"], a.domain_id.as_str());
    assert_eq!(user[BOUND], a.project_id.as_str());
    assert_eq!(user["email"], "alice@example.com");
    assert!(user.get("password").is_none());
    let alice = user["id"].as_str().unwrap().to_string();
    assert_eq!(
        role_names_on(&app, &a.project_id, &alice).await,
        vec!["member"]
    );
    let r = login(&app, &a.domain_id, "alice", "Alice-Pass-1")
        .await
        .expect(201);
    assert_eq!(r.body["token"]["project"]["id"], a.project_id.as_str());
    // Generated password and name; roles by name and by id.
    let reader = app.role_id("reader").await;
    let r = app
        .post(
            &pcu_path(&a.project_id),
            t,
            json!({"user": {"password_mode": "generated", "roles": ["manager", reader]}}),
        )
        .await
        .expect(201);
    let user = r.body["user"].clone();
    let name = user["name"].as_str().unwrap().to_string();
    assert!(name.starts_with("PCU-"), "generated name: {name}");
    let password = user["password"].as_str().unwrap().to_string();
    assert!(user.get("OS-PCU:generated_password").is_none());
    let id = user["id"].as_str().unwrap().to_string();
    assert_eq!(
        role_names_on(&app, &a.project_id, &id).await,
        vec!["manager", "reader"]
    );
    login(&app, &a.domain_id, &name, &password)
        .await
        .expect(201);
    // The password is shown once.
    let r = app
        .get(&format!("/v3/users/{id}"), &app.admin_token)
        .await
        .expect(200);
    assert!(r.body["user"].get("password").is_none());
    // A change can be required, as on POST /v3/users.
    app.post(
        &pcu_path(&a.project_id),
        t,
        json!({"user": {"name": "carol", "password_mode": "given", "password": "Carol-Pass-1", "OS-PCU:password_change_required": true}}),
    )
    .await
    .expect(201);
    login(&app, &a.domain_id, "carol", "Carol-Pass-1")
        .await
        .expect(401);
});

both_backends!(one_call_refuses_bad_requests_and_writes_nothing, |app| {
    let a = customer(&app, "alpha").await;
    let b = customer(&app, "beta").await;
    let t = &a.manager_token;
    let before = user_count(&app, &a.domain_id).await;
    let cases: Vec<(Value, u16)> = vec![
        // An unknown role, after a good one: nothing half-written.
        (
            json!({"name": "x1", "password_mode": "generated", "roles": ["member", "no-such-role"]}),
            404,
        ),
        // A role a manager may not grant.
        (
            json!({"name": "x2", "password_mode": "generated", "roles": ["admin"]}),
            403,
        ),
        (json!({"name": "x3", "password_mode": "given"}), 400),
        (
            json!({"name": "x4", "password_mode": "generated", "password": "Given-Pass-1"}),
            400,
        ),
        (json!({"name": "x5", "password_mode": "link"}), 400),
        (json!({"name": "x6", "password_mode": "sometimes"}), 400),
        (json!({"name": "x7"}), 400),
        (
            json!({"name": "x8", "password_mode": "generated", "roles": []}),
            400,
        ),
        // The password policy binds here too.
        (
            json!({"name": "x9", "password_mode": "given", "password": "short"}),
            400,
        ),
        (
            json!({"name": "x10", "password_mode": "generated", "surprise": 1}),
            400,
        ),
    ];
    for (user, status) in cases {
        let r = app
            .post(&pcu_path(&a.project_id), t, json!({"user": user.clone()}))
            .await;
        assert_eq!(r.status.as_u16(), status, "{user}: {}", r.body);
        assert!(r.body["error"]["message"].is_string(), "{}", r.body);
    }
    let r = app
        .post(
            &pcu_path(&a.project_id),
            t,
            json!({"user": {"password_mode": "link"}}),
        )
        .await
        .expect(400);
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Invalid input for field 'user.link_email': the user has no email"));
    // A manager of another domain, a member of the project.
    app.post(
        &pcu_path(&a.project_id),
        &b.manager_token,
        json!({"user": {"name": "x11", "password_mode": "generated"}}),
    )
    .await
    .expect(403);
    app.post(
        &pcu_path(&a.project_id),
        &a.member_token,
        json!({"user": {"name": "x12", "password_mode": "generated"}}),
    )
    .await
    .expect(403);
    app.post(
        &pcu_path("no-such-project"),
        t,
        json!({"user": {"password_mode": "generated"}}),
    )
    .await
    .expect(404);
    assert_eq!(user_count(&app, &a.domain_id).await, before);
    // The operator's admin project: not for a manager of the Default domain.
    let support = create_project(&app, "default", "support").await;
    let helpdesk = create_user(&app, "default", "helpdesk").await;
    grant(&app, &support, &helpdesk, "manager").await;
    let h = token_in(&app, "default", "helpdesk", PW, "support").await;
    let before = user_count(&app, "default").await;
    app.post(
        &pcu_path(&app.admin_project_id),
        &h,
        json!({"user": {"name": "mole", "password_mode": "generated"}}),
    )
    .await
    .expect(403);
    app.post(
        &pcu_path(&support),
        &h,
        json!({"user": {"name": "mole", "password_mode": "generated", "roles": ["service"]}}),
    )
    .await
    .expect(403);
    assert_eq!(user_count(&app, "default").await, before);
    // The cloud admin may.
    app.post(
        &pcu_path(&app.admin_project_id),
        &app.admin_token,
        json!({"user": {"name": "ops", "password_mode": "generated", "roles": ["reader"]}}),
    )
    .await
    .expect(201);
});

both_backends!(a_membership_racing_a_bind_never_both_land, |app| {
    let a = customer(&app, "alpha").await;
    let second = create_project(&app, &a.domain_id, "second").await;
    let member = app.role_id("member").await;
    let t = &a.manager_token;
    let g = create_group(&app, t, &a.domain_id, "elsewhere").await;
    app.put(
        &format!("/v3/projects/{second}/groups/{g}/roles/{member}"),
        t,
    )
    .await
    .expect(204);
    for round in 0..6 {
        let u = create_user(&app, &a.domain_id, &format!("joiner{round}")).await;
        let (m, b) = join(
            app.put(&format!("/v3/groups/{g}/users/{u}"), t),
            app.patch(
                &format!("/v3/users/{u}"),
                t,
                json!({"user": {BOUND: a.project_id}}),
            ),
        )
        .await;
        let (m, b) = (m.status.as_u16(), b.status.as_u16());
        assert!(
            (m == 204 && b == 409) || (m == 409 && b == 200),
            "round {round}: membership {m}, bind {b}"
        );
    }
});

both_backends!(
    a_project_user_racing_its_projects_deletion_never_outlives_it,
    |app| {
        let a = customer(&app, "alpha").await;
        for round in 0..12 {
            let p = create_project(&app, &a.domain_id, &format!("short{round}")).await;
            let (c, d) = join(
            app.post(
                &pcu_path(&p),
                &a.manager_token,
                json!({"user": {"name": format!("brief{round}"), "password_mode": "generated"}}),
            ),
            app.delete(&format!("/v3/projects/{p}"), &a.manager_token),
        )
        .await;
            d.expect(204);
            assert!(
                [201, 400, 404].contains(&c.status.as_u16()),
                "round {round}: {} {}",
                c.status,
                c.body
            );
            let r = app
                .get(&format!("/v3/users?{BOUND}={p}"), &app.admin_token)
                .await
                .expect(200);
            assert!(
                ids(&r.body, "users").is_empty(),
                "round {round}: {}",
                r.body
            );
            let r = app
                .get(
                    &format!("/v3/users?name=brief{round}&domain_id={}", a.domain_id),
                    &app.admin_token,
                )
                .await
                .expect(200);
            assert!(
                ids(&r.body, "users").is_empty(),
                "round {round}: {}",
                r.body
            );
        }
    }
);

both_backends_with!(
    one_call_follows_the_operators_first_use_rule,
    |c| {
        c.security_compliance.change_password_upon_first_use = true;
    },
    |app| {
        // Users the fixtures make would have to change their passwords first: the cloud admin
        // (exempt) calls.
        let d = create_domain(&app, "alpha").await;
        let p = create_project(&app, &d, "main").await;
        let r = app
            .post(
                &pcu_path(&p),
                &app.admin_token,
                json!({"user": {"password_mode": "generated"}}),
            )
            .await
            .expect(201);
        let name = r.body["user"]["name"].as_str().unwrap().to_string();
        let password = r.body["user"]["password"].as_str().unwrap().to_string();
        let r = login(&app, &d, &name, &password).await.expect(401);
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("expired"),
            "{}",
            r.body
        );
        // A request cannot waive the operator's rule.
        app.post(
            &pcu_path(&p),
            &app.admin_token,
            json!({"user": {"password_mode": "generated", "OS-PCU:password_change_required": false}}),
        )
        .await
        .expect(400);
    }
);
