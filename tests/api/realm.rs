//! The operator's realm, tried as an attacker would: a manager of an ordinary project of the
//! Default domain (support staff, a reseller) must not reach the admin project or anyone who
//! does, by renaming, deleting, inherited grants, group paths or revoking tokens.

use serde_json::json;

use crate::both_backends;
use crate::fixtures::*;
use crate::helpers::*;

/// A manager of an ordinary project of the Default domain, the realm's own domain.
struct Helpdesk {
    project_id: String,
    user_id: String,
    token: String,
}

async fn helpdesk(app: &TestApp) -> Helpdesk {
    let project_id = create_project(app, "default", "support").await;
    let user_id = create_user(app, "default", "helpdesk").await;
    grant(app, &project_id, &user_id, "manager").await;
    let token = token_in(app, "default", "helpdesk", PW, "support").await;
    Helpdesk {
        project_id,
        user_id,
        token,
    }
}

/// True when `token` can do what only the cloud's readers can: list every domain.
async fn is_cloud_reader(app: &TestApp, token: &str) -> bool {
    app.get("/v3/domains", token).await.status.as_u16() == 200
}

both_backends!(
    manager_cannot_rename_delete_or_disable_the_admin_project,
    |app| {
        let h = helpdesk(&app).await;
        let admin_project = format!("/v3/projects/{}", app.admin_project_id);
        app.patch(
            &admin_project,
            &h.token,
            json!({"project": {"name": "not-admin"}}),
        )
        .await
        .expect(403);
        app.patch(
            &admin_project,
            &h.token,
            json!({"project": {"description": "mine now"}}),
        )
        .await
        .expect(403);
        app.patch(
            &admin_project,
            &h.token,
            json!({"project": {"enabled": false}}),
        )
        .await
        .expect(403);
        app.put(&format!("{admin_project}/tags/pwned"), &h.token)
            .await
            .expect(403);
        app.delete(&admin_project, &h.token).await.expect(403);
        // Nor may it create projects under the admin project.
        app.post(
        "/v3/projects",
        &h.token,
        json!({"project": {"name": "inside", "domain_id": "default", "parent_id": app.admin_project_id}}),
    )
    .await
    .expect(403);
        // Its own project stays its own to manage.
        app.patch(
            &format!("/v3/projects/{}", h.project_id),
            &h.token,
            json!({"project": {"description": "ours"}}),
        )
        .await
        .expect(200);
        // The cloud admin still is one.
        assert!(is_cloud_reader(&app, &app.admin_token).await);
    }
);

both_backends!(the_cloud_admin_is_decided_by_id_not_by_name, |app| {
    let h = helpdesk(&app).await;
    // The operator renames its own project: it stays the realm.
    app.patch(
        &format!("/v3/projects/{}", app.admin_project_id),
        &app.admin_token,
        json!({"project": {"name": "operations"}}),
    )
    .await
    .expect(200);
    assert!(is_cloud_reader(&app, &app.admin_token).await);
    let renamed = app
        .password_token("admin", ADMIN_PASSWORD, "operations")
        .await;
    assert!(is_cloud_reader(&app, &renamed).await);
    // A manager names its own project "admin": that grants nothing.
    app.patch(
        &format!("/v3/projects/{}", h.project_id),
        &h.token,
        json!({"project": {"name": "admin"}}),
    )
    .await
    .expect(200);
    let fake = token_in(&app, "default", "helpdesk", PW, "admin").await;
    assert!(!is_cloud_reader(&app, &fake).await);
    app.get("/v3/credentials", &fake).await.expect(200);
    let other = customer(&app, "victim").await;
    app.get(&format!("/v3/users/{}", other.member_id), &fake)
        .await
        .expect(403);
    app.delete(&format!("/v3/projects/{}", app.admin_project_id), &fake)
        .await
        .expect(403);
    // And the real admin can still log in to the real admin project.
    app.password_token("admin", ADMIN_PASSWORD, "operations")
        .await;
});

mod custom_bootstrap_project_name {
    use super::*;

    async fn check(backend: Backend) {
        let app = spawn_app_bootstrapped_as(backend, |_| {}, "cloud-ops").await;
        assert!(is_cloud_reader(&app, &app.admin_token).await);
        // A project named "admin" elsewhere in the Default domain means nothing.
        let p = create_project(&app, "default", "admin").await;
        let u = create_user(&app, "default", "impostor").await;
        grant(&app, &p, &u, "admin").await;
        let t = token_in(&app, "default", "impostor", PW, "admin").await;
        assert!(!is_cloud_reader(&app, &t).await);
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

both_backends!(inherited_grants_cannot_reach_the_admin_project, |app| {
    let h = helpdesk(&app).await;
    for role in ["reader", "member", "manager"] {
        let role_id = app.role_id(role).await;
        app.put(
            &format!(
                "/v3/OS-INHERIT/domains/default/users/{}/roles/{role_id}/inherited_to_projects",
                h.user_id
            ),
            &h.token,
        )
        .await
        .expect(403);
    }
    // Not through a group either.
    let gid = create_group(&app, &h.token, "default", "helpers").await;
    let reader = app.role_id("reader").await;
    app.put(
        &format!(
            "/v3/OS-INHERIT/domains/default/groups/{gid}/roles/{reader}/inherited_to_projects"
        ),
        &h.token,
    )
    .await
    .expect(403);
    // Nor directly on the admin project.
    app.put(
        &format!(
            "/v3/projects/{}/users/{}/roles/{reader}",
            app.admin_project_id, h.user_id
        ),
        &h.token,
    )
    .await
    .expect(403);
    // Inherited grants on its own project stay possible.
    app.put(
        &format!(
            "/v3/OS-INHERIT/projects/{}/groups/{gid}/roles/{reader}/inherited_to_projects",
            h.project_id
        ),
        &h.token,
    )
    .await
    .expect(204);
    let t = token_in(&app, "default", "helpdesk", PW, "support").await;
    let scoped = app
        .auth(json!({"auth": {
            "identity": {"methods": ["token"], "token": {"id": t}},
            "scope": {"project": {"id": app.admin_project_id}}}}))
        .await;
    assert_eq!(scoped.status.as_u16(), 401, "{}", scoped.body);
});

both_backends!(
    users_who_reach_the_realm_are_out_of_a_managers_reach,
    |app| {
        let h = helpdesk(&app).await;
        // An auditor whose only access is an inherited reader grant on the Default domain.
        let auditor = create_user(&app, "default", "auditor").await;
        let reader = app.role_id("reader").await;
        app.put(
        &format!("/v3/OS-INHERIT/domains/default/users/{auditor}/roles/{reader}/inherited_to_projects"),
        &app.admin_token,
    )
    .await
    .expect(204);
        let user = format!("/v3/users/{auditor}");
        app.patch(
            &user,
            &h.token,
            json!({"user": {"password": "Reset-By-Helpdesk-1"}}),
        )
        .await
        .expect(403);
        app.patch(&user, &h.token, json!({"user": {"enabled": false}}))
            .await
            .expect(403);
        app.patch(
            &user,
            &h.token,
            json!({"user": {"default_project_id": h.project_id}}),
        )
        .await
        .expect(403);
        app.delete(&user, &h.token).await.expect(403);
        // A member of a group that reaches the admin project is protected the same way.
        let gid = create_group(&app, &app.admin_token, "default", "operators").await;
        let member = app.role_id("member").await;
        app.put(
            &format!(
                "/v3/projects/{}/groups/{gid}/roles/{member}",
                app.admin_project_id
            ),
            &app.admin_token,
        )
        .await
        .expect(204);
        let operator = create_user(&app, "default", "operator").await;
        app.put(
            &format!("/v3/groups/{gid}/users/{operator}"),
            &app.admin_token,
        )
        .await
        .expect(204);
        app.patch(
            &format!("/v3/users/{operator}"),
            &h.token,
            json!({"user": {"password": "Reset-By-Helpdesk-1"}}),
        )
        .await
        .expect(403);
        // The manager may not join the group, rename it, empty it or delete it.
        app.put(&format!("/v3/groups/{gid}/users/{}", h.user_id), &h.token)
            .await
            .expect(403);
        app.patch(
            &format!("/v3/groups/{gid}"),
            &h.token,
            json!({"group": {"name": "renamed"}}),
        )
        .await
        .expect(403);
        app.delete(&format!("/v3/groups/{gid}/users/{operator}"), &h.token)
            .await
            .expect(403);
        app.delete(&format!("/v3/groups/{gid}"), &h.token)
            .await
            .expect(403);
        // Nor give the group's members other roles, nor revoke the cloud admin's.
        app.put(
            &format!("/v3/projects/{}/groups/{gid}/roles/{member}", h.project_id),
            &h.token,
        )
        .await
        .expect(403);
        let admin_role = app.role_id("admin").await;
        app.delete(
            &format!(
                "/v3/projects/{}/users/{}/roles/{admin_role}",
                app.admin_project_id, app.admin_user_id
            ),
            &h.token,
        )
        .await
        .expect(403);
        // An ordinary user of its domain stays manageable.
        let clerk = create_user(&app, "default", "clerk").await;
        app.patch(
            &format!("/v3/users/{clerk}"),
            &h.token,
            json!({"user": {"description": "front desk"}}),
        )
        .await
        .expect(200);
    }
);

both_backends!(default_project_stays_in_the_users_domain, |app| {
    let a = customer(&app, "acme").await;
    let b = customer(&app, "globex").await;
    let user = format!("/v3/users/{}", a.member_id);
    let other = app
        .patch(
            &user,
            &a.manager_token,
            json!({"user": {"default_project_id": b.project_id}}),
        )
        .await
        .expect(400);
    let unknown = app
        .patch(
            &user,
            &a.manager_token,
            json!({"user": {"default_project_id": "0123456789abcdef0123456789abcdef"}}),
        )
        .await
        .expect(400);
    // Existing elsewhere and not existing at all look the same.
    assert_eq!(
        other.body["error"]["message"]
            .as_str()
            .unwrap()
            .replace(&b.project_id, "X"),
        unknown.body["error"]["message"]
            .as_str()
            .unwrap()
            .replace("0123456789abcdef0123456789abcdef", "X")
    );
    app.post(
        "/v3/users",
        &a.manager_token,
        json!({"user": {"name": "new", "domain_id": a.domain_id, "default_project_id": b.project_id}}),
    )
    .await
    .expect(400);
    // Its own domain's project is fine.
    app.patch(
        &user,
        &a.manager_token,
        json!({"user": {"default_project_id": a.project_id}}),
    )
    .await
    .expect(200);
    // A Default-domain manager cannot point anyone at the admin project.
    let h = helpdesk(&app).await;
    let clerk = create_user(&app, "default", "clerk").await;
    let r = app
        .patch(
            &format!("/v3/users/{clerk}"),
            &h.token,
            json!({"user": {"default_project_id": app.admin_project_id}}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 403, "{}", r.body);
});

both_backends!(only_admin_service_or_owner_revoke_tokens, |app| {
    let auditor = create_user(&app, "default", "auditor").await;
    grant(&app, &app.admin_project_id, &auditor, "reader").await;
    let auditor_token = token_in(&app, "default", "auditor", PW, "admin").await;
    assert!(is_cloud_reader(&app, &auditor_token).await);
    let victim = app.password_token("admin", ADMIN_PASSWORD, "admin").await;
    let r = app
        .client
        .delete(app.url("/v3/auth/tokens"))
        .header("X-Auth-Token", &auditor_token)
        .header("X-Subject-Token", &victim)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    app.validate(&victim).await.expect(200);
    // A reader may still look at it, and revoke its own.
    app.client_validate(&auditor_token, &victim)
        .await
        .expect(200);
    let own = token_in(&app, "default", "auditor", PW, "admin").await;
    let r = app
        .client
        .delete(app.url("/v3/auth/tokens"))
        .header("X-Auth-Token", &auditor_token)
        .header("X-Subject-Token", &own)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    // A service may revoke.
    let svc_project = create_project(&app, "default", "service").await;
    let svc = create_user(&app, "default", "nova").await;
    grant(&app, &svc_project, &svc, "service").await;
    let svc_token = token_in(&app, "default", "nova", PW, "service").await;
    let r = app
        .client
        .delete(app.url("/v3/auth/tokens"))
        .header("X-Auth-Token", &svc_token)
        .header("X-Subject-Token", &victim)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    app.validate(&victim).await.expect(404);
});

both_backends!(an_upgrade_never_bootstraps_again, |app| {
    // The operator renamed its admin user; an upgrade must not bring back a second "admin".
    app.patch(
        &format!("/v3/users/{}", app.admin_user_id),
        &app.admin_token,
        json!({"user": {"name": "root"}}),
    )
    .await
    .expect(200);
    // Back to a store from before the realm was recorded, as an older release left it.
    let facts_exist = |store: ironstone::store::Store| async move {
        store
            .run(|c| ironstone::store::get_fact(c, "admin_project_id"))
            .await
            .is_ok()
    };
    for _ in 0..20 {
        if !facts_exist(app.state.store.clone()).await {
            break;
        }
        app.state.store.revert_last_migration().unwrap();
    }
    assert!(!facts_exist(app.state.store.clone()).await);
    // Start as `serve` does: the pending migrations run, bootstrap does not.
    let mut config = (*app.state.config).clone();
    config.bind = "127.0.0.1:0".into();
    let upgraded = ironstone::cli::serve::prepare(config, false).await.unwrap();
    let state = upgraded.state();
    assert_eq!(
        state.realm.admin_project_id().as_deref(),
        Some(app.admin_project_id.as_str())
    );
    let second_admin = state
        .store
        .run(|c| ironstone::store::get_user_by_name(c, "default", "admin"))
        .await
        .unwrap();
    assert!(second_admin.is_none(), "bootstrap ran again on upgrade");
    // The renamed cloud admin still administers the cloud.
    let t = app.password_token("root", ADMIN_PASSWORD, "admin").await;
    assert!(is_cloud_reader(&app, &t).await);
});

both_backends!(concurrent_attempts_on_the_realm_all_fail, |app| {
    let h = helpdesk(&app).await;
    let reader = app.role_id("reader").await;
    let member = app.role_id("member").await;
    let inherited = format!(
        "/v3/OS-INHERIT/domains/default/users/{}/roles/{reader}/inherited_to_projects",
        h.user_id
    );
    let direct = format!(
        "/v3/projects/{}/users/{}/roles/{member}",
        app.admin_project_id, h.user_id
    );
    let rename = format!("/v3/projects/{}", app.admin_project_id);
    let mut attempts = vec![];
    for i in 0..16 {
        let (inherited, direct, rename, h) = (&inherited, &direct, &rename, &h);
        let app = &app;
        attempts.push(async move {
            let (a, b) = (
                app.put(inherited, &h.token).await,
                app.put(direct, &h.token).await,
            );
            let c = app
                .patch(
                    rename,
                    &h.token,
                    json!({"project": {"name": format!("taken-{i}")}}),
                )
                .await;
            [a.status.as_u16(), b.status.as_u16(), c.status.as_u16()]
        });
    }
    for statuses in futures_util::future::join_all(attempts).await {
        assert_eq!(statuses, [403, 403, 403]);
    }
    let t = app
        .auth(json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": "helpdesk", "domain": {"id": "default"}, "password": PW}}},
            "scope": {"project": {"id": app.admin_project_id}}}}))
        .await;
    assert_eq!(t.status.as_u16(), 401);
});

both_backends!(
    default_principals_reaching_other_domains_are_out_of_reach,
    |app| {
        let h = helpdesk(&app).await;
        let c = customer(&app, "client").await;
        // The operator's support group lives in Default and reads the client's domain.
        let gid = create_group(&app, &app.admin_token, "default", "support-staff").await;
        let reader = app.role_id("reader").await;
        app.put(
            &format!(
                "/v3/OS-INHERIT/domains/{}/groups/{gid}/roles/{reader}/inherited_to_projects",
                c.domain_id
            ),
            &app.admin_token,
        )
        .await
        .expect(204);
        app.put(&format!("/v3/groups/{gid}/users/{}", h.user_id), &h.token)
            .await
            .expect(403);
        // A Default user who manages the client's project.
        let agent = create_user(&app, "default", "agent").await;
        grant(&app, &c.project_id, &agent, "manager").await;
        app.patch(
            &format!("/v3/users/{agent}"),
            &h.token,
            json!({"user": {"password": "Taken-Over-1"}}),
        )
        .await
        .expect(403);
        app.delete(&format!("/v3/users/{agent}"), &h.token)
            .await
            .expect(403);
    }
);

both_backends!(projects_holding_service_grants_are_protected, |app| {
    let h = helpdesk(&app).await;
    let service = create_project(&app, "default", "service").await;
    let nova = create_user(&app, "default", "nova").await;
    grant(&app, &service, &nova, "service").await;
    let member = app.role_id("member").await;
    app.put(
        &format!("/v3/projects/{service}/users/{}/roles/{member}", h.user_id),
        &h.token,
    )
    .await
    .expect(403);
    let p = format!("/v3/projects/{service}");
    app.patch(&p, &h.token, json!({"project": {"enabled": false}}))
        .await
        .expect(403);
    app.delete(&p, &h.token).await.expect(403);
    // The service user itself is out of reach too.
    app.patch(
        &format!("/v3/users/{nova}"),
        &h.token,
        json!({"user": {"enabled": false}}),
    )
    .await
    .expect(403);
});

both_backends!(
    application_credential_tokens_see_only_their_own_keys,
    |app| {
        let a = customer(&app, "acme").await;
        let ec2 = format!("/v3/users/{}/credentials/OS-EC2", a.member_id);
        let r = app
            .post(&ec2, &a.member_token, json!({"tenant_id": a.project_id}))
            .await
            .expect(201);
        let access = r.body["credential"]["access"].as_str().unwrap().to_string();
        for unrestricted in [false, true] {
            let name = format!("ci-{unrestricted}");
            let r = app
                .post(
                    &format!("/v3/users/{}/application_credentials", a.member_id),
                    &a.member_token,
                    json!({"application_credential": {"name": name, "secret": "ci-secret-value",
                    "unrestricted": unrestricted}}),
                )
                .await
                .expect(201);
            let ac = r.body["application_credential"]["id"]
                .as_str()
                .unwrap()
                .to_string();
            let t = app
                .auth(
                    json!({"auth": {"identity": {"methods": ["application_credential"],
                "application_credential": {"id": ac, "secret": "ci-secret-value"}}}}),
                )
                .await
                .expect(201)
                .header("x-subject-token")
                .unwrap();
            let listed = app.get("/v3/credentials", &t).await.expect(200);
            assert!(
                !listed.body.to_string().contains(&access),
                "{}",
                listed.body
            );
            let listed = app.get(&ec2, &t).await.expect(200);
            assert!(!listed.body.to_string().contains(&access));
            let one = app.get(&format!("{ec2}/{access}"), &t).await;
            assert_eq!(one.status.as_u16(), 403, "{}", one.body);
        }
    }
);

both_backends!(bootstrap_never_adopts_another_users_name, |app| {
    let h = helpdesk(&app).await;
    app.patch(
        &format!("/v3/users/{}", app.admin_user_id),
        &app.admin_token,
        json!({"user": {"name": "root"}}),
    )
    .await
    .expect(200);
    // The manager plants an "admin" user and waits for the operator to re-run bootstrap.
    let r = app
        .post(
            "/v3/users",
            &h.token,
            json!({"user": {"name": "admin", "domain_id": "default", "password": PW}}),
        )
        .await
        .expect(201);
    let planted = r.body["user"]["id"].as_str().unwrap().to_string();
    let err = ironstone::bootstrap::run(
        &app.state,
        ironstone::bootstrap::Options::default(),
        chrono::Utc::now(),
    )
    .await;
    assert!(err.is_err());
    let roles = app
        .get(
            &format!("/v3/role_assignments?user.id={planted}"),
            &app.admin_token,
        )
        .await
        .expect(200);
    assert_eq!(roles.body["role_assignments"], json!([]));
});

both_backends!(scoping_tells_nothing_about_which_projects_exist, |app| {
    let a = customer(&app, "acme").await;
    let b = customer(&app, "globex").await;
    let scoped = |project: serde_json::Value| {
        json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": "worker", "domain": {"id": a.domain_id}, "password": PW}}},
            "scope": {"project": project}}})
    };
    let unknown_id = app
        .auth(scoped(json!({"id": "0123456789abcdef0123456789abcdef"})))
        .await
        .expect(401);
    let foreign_id = app
        .auth(scoped(json!({"id": b.project_id})))
        .await
        .expect(401);
    let unknown_name = app
        .auth(scoped(
            json!({"name": "nope", "domain": {"id": b.domain_id}}),
        ))
        .await
        .expect(401);
    let foreign_name = app
        .auth(scoped(
            json!({"name": "main", "domain": {"id": b.domain_id}}),
        ))
        .await
        .expect(401);
    // A disabled project of one's own looks the same too.
    app.patch(
        &format!("/v3/projects/{}", a.project_id),
        &app.admin_token,
        json!({"project": {"enabled": false}}),
    )
    .await
    .expect(200);
    let disabled = app
        .auth(scoped(json!({"id": a.project_id})))
        .await
        .expect(401);
    let first = unknown_id.body["error"]["message"].clone();
    for r in [foreign_id, unknown_name, foreign_name, disabled] {
        assert_eq!(r.body["error"]["message"], first);
    }
});

both_backends!(the_write_transaction_decides_on_what_is_committed, |app| {
    // The check inside the write transaction (after the realm lock) sees a grant that was
    // committed after the request's first check: a manager joining a group at the moment the
    // operator makes it privileged cannot slip in between.
    let h = helpdesk(&app).await;
    let gid = create_group(&app, &app.admin_token, "default", "late-operators").await;
    let caller = ironstone::auth::validate(&app.state, &h.token, chrono::Utc::now(), false)
        .await
        .unwrap();
    let guard = ironstone::context::Ctx::new(&app.state, &caller).realm_guard("add_user_to_group");
    let check = |guard: ironstone::context::RealmGuard, gid: String| async {
        app.state
            .store
            .tx(move |c| {
                guard.check(
                    c,
                    ironstone::policy::Target {
                        domain_id: Some("default"),
                        ..Default::default()
                    },
                    |reach, c| reach.group_privileged(c, &gid),
                )
            })
            .await
    };
    assert!(check(guard.clone(), gid.clone()).await.is_ok());
    let member = app.role_id("member").await;
    app.put(
        &format!(
            "/v3/projects/{}/groups/{gid}/roles/{member}",
            app.admin_project_id
        ),
        &app.admin_token,
    )
    .await
    .expect(204);
    let refused = check(guard, gid).await.unwrap_err();
    assert_eq!(refused.status().as_u16(), 403);
});
