//! The remaining authentication rules of issue 3: who may validate whose token, application
//! credential login forms and expiry, no-default-project refusal, revocation causes, purging.

use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::fixtures::*;
use crate::helpers::*;

async fn validate_as(app: &TestApp, token: &str, subject: &str, method: Method) -> u16 {
    app.client
        .request(method, app.url("/v3/auth/tokens"))
        .header("X-Auth-Token", token)
        .header("X-Subject-Token", subject)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

both_backends!(only_owners_readers_and_services_validate_tokens, |app| {
    let a = customer(&app, "acme").await;
    // Its own token: yes. Someone else's: 403.
    assert_eq!(
        validate_as(&app, &a.member_token, &a.member_token, Method::GET).await,
        200
    );
    assert_eq!(
        validate_as(&app, &a.member_token, &a.member_token, Method::HEAD).await,
        200
    );
    assert_eq!(
        validate_as(&app, &a.member_token, &a.manager_token, Method::GET).await,
        403
    );
    assert_eq!(
        validate_as(&app, &a.manager_token, &app.admin_token, Method::HEAD).await,
        403
    );
    assert_eq!(
        validate_as(&app, &a.member_token, &a.manager_token, Method::DELETE).await,
        403
    );
    // A service user (role `service`) validates anyone's.
    let svc = create_user(&app, "default", "nova").await;
    let p = create_project(&app, "default", "service").await;
    grant(&app, &p, &svc, "service").await;
    let st = app.password_token("nova", PW, "service").await;
    assert_eq!(
        validate_as(&app, &st, &a.member_token, Method::GET).await,
        200
    );
    // A reader on the admin project too.
    let auditor = create_user(&app, "default", "auditor").await;
    grant(&app, &app.admin_project_id.clone(), &auditor, "reader").await;
    let rt = app.password_token("auditor", PW, "admin").await;
    assert_eq!(
        validate_as(&app, &rt, &a.manager_token, Method::GET).await,
        200
    );
    // A user revokes its own token.
    assert_eq!(
        validate_as(&app, &a.member_token, &a.member_token, Method::DELETE).await,
        204
    );
    app.validate(&a.member_token).await.expect(404);
    // A missing subject header is a clear 400.
    let r = app
        .get("/v3/auth/tokens", &app.admin_token)
        .await
        .expect(400);
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("X-Subject-Token"));
});

both_backends!(no_scope_and_no_default_project_is_a_clear_401, |app| {
    let a = customer(&app, "acme").await;
    let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "id": a.member_id, "password": PW}}}}});
    let r = app.auth(body.clone()).await.expect(401);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("default project"),
        "{}",
        r.body
    );
    // With a default project it holds a role on, the same request lands there.
    app.patch(
        &format!("/v3/users/{}", a.member_id),
        &app.admin_token,
        json!({"user": {"default_project_id": a.project_id}}),
    )
    .await
    .expect(200);
    let r = app.auth(body).await.expect(201);
    assert_eq!(r.body["token"]["project"]["id"], a.project_id.as_str());
});

both_backends!(application_credential_login_forms_and_expiry, |app| {
    let a = customer(&app, "acme").await;
    let path = format!("/v3/users/{}/application_credentials", a.member_id);
    let r = app
        .post(
            &path,
            &a.member_token,
            json!({"application_credential": {"name": "deploy", "secret": "my-own-secret-value"}}),
        )
        .await
        .expect(201);
    assert_eq!(
        r.body["application_credential"]["secret"],
        "my-own-secret-value"
    );
    let id = r.body["application_credential"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let by = |user: serde_json::Value, secret: &str| {
        json!({"auth": {"identity": {"methods": ["application_credential"], "application_credential": {
            "name": "deploy", "user": user, "secret": secret}}}})
    };
    // By name with the user by id, and by name with the user by name and domain.
    let r = app
        .auth(by(json!({"id": a.member_id}), "my-own-secret-value"))
        .await
        .expect(201);
    assert_eq!(r.body["token"]["application_credential"]["id"], id.as_str());
    assert_eq!(
        r.body["token"]["methods"],
        json!(["application_credential"])
    );
    app.auth(by(
        json!({"name": "worker", "domain": {"name": "acme"}}),
        "my-own-secret-value",
    ))
    .await
    .expect(201);
    // A wrong secret is the generic 401.
    app.auth(by(json!({"id": a.member_id}), "wrong"))
        .await
        .expect(401);
    // The token cannot be moved to another project.
    let other = create_project(&app, &a.domain_id, "other").await;
    let tok = r.header("x-subject-token").unwrap();
    let rescope = json!({"auth": {"identity": {"methods": ["token"], "token": {"id": tok}},
        "scope": {"project": {"id": other}}}});
    app.auth(rescope).await.expect(401);
    // Expired: refused, and its token stops.
    let (cid, past) = (
        id.clone(),
        chrono::Utc::now().naive_utc() - chrono::Duration::seconds(5),
    );
    app.state
        .store
        .run(move |c| {
            use diesel::prelude::*;
            use ironstone::store::schema::application_credentials::dsl as ac;
            diesel::update(ac::application_credentials.find(cid))
                .set(ac::expires_at.eq(Some(past)))
                .execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
    app.auth(by(json!({"id": a.member_id}), "my-own-secret-value"))
        .await
        .expect(401);
});

both_backends!(admin_password_reset_and_role_loss_revoke, |app| {
    let a = customer(&app, "acme").await;
    // An administrator setting the password ends the user's tokens.
    app.patch(
        &format!("/v3/users/{}", a.member_id),
        &a.manager_token,
        json!({"user": {"password": "Reset-pass-1"}}),
    )
    .await
    .expect(200);
    app.validate(&a.member_token).await.expect(404);
    token_in(&app, &a.domain_id, "worker", "Reset-pass-1", "main").await;
    // Removing a role that is not the last keeps the token; removing the last ends it.
    grant(&app, &a.project_id, &a.member_id, "reader").await;
    let tok = token_in(&app, &a.domain_id, "worker", "Reset-pass-1", "main").await;
    let member = app.role_id("member").await;
    let reader = app.role_id("reader").await;
    app.delete(
        &format!(
            "/v3/projects/{}/users/{}/roles/{member}",
            a.project_id, a.member_id
        ),
        &app.admin_token,
    )
    .await
    .expect(204);
    let v = app.validate(&tok).await.expect(200);
    assert_eq!(v.body["token"]["roles"].as_array().unwrap().len(), 1);
    app.delete(
        &format!(
            "/v3/projects/{}/users/{}/roles/{reader}",
            a.project_id, a.member_id
        ),
        &app.admin_token,
    )
    .await
    .expect(204);
    app.validate(&tok).await.expect(404);
});

both_backends!(expired_revocation_records_are_purged, |app| {
    let keep = ironstone::auth::revoke::retention(&app.state);
    let long_ago = chrono::Utc::now() - keep - chrono::Duration::seconds(60);
    let count = |app: &TestApp| {
        let store = app.state.store.clone();
        async move {
            store
                .run(|c| {
                    use diesel::prelude::*;
                    use ironstone::store::schema::revocation_events::dsl as r;
                    Ok(r::revocation_events.count().get_result::<i64>(c)?)
                })
                .await
                .unwrap()
        }
    };
    app.state
        .store
        .tx(move |c| {
            ironstone::auth::revoke::record(
                c,
                ironstone::auth::revoke::Revoke::user("old"),
                long_ago,
                keep,
            )
        })
        .await
        .unwrap();
    let before = count(&app).await;
    assert!(before >= 1);
    // Any new event purges what no token could still need.
    let subject = app.password_token("admin", ADMIN_PASSWORD, "admin").await;
    assert_eq!(
        validate_as(&app, &app.admin_token, &subject, Method::DELETE).await,
        204
    );
    assert_eq!(count(&app).await, before);
    let old_left = app
        .state
        .store
        .run(|c| {
            use diesel::prelude::*;
            use ironstone::store::schema::revocation_events::dsl as e;
            Ok(e::revocation_events
                .filter(e::user_id.eq("old"))
                .count()
                .get_result::<i64>(c)?)
        })
        .await
        .unwrap();
    assert_eq!(old_left, 0);
});

/// Lockout applies to logins and to the password-change call alike, so that neither can be used
/// to guess a password.
async fn lockout_case(backend: Backend) {
    let app = spawn_app_with(backend, |c| {
        c.security_compliance.lockout_failure_attempts = Some(2);
        c.security_compliance.lockout_duration = Some(600);
    })
    .await;
    let a = customer(&app, "acme").await;
    let path = format!("/v3/users/{}/password", a.member_id);
    for _ in 0..2 {
        app.request(
            Method::POST,
            &path,
            None,
            Some(json!({"user": {"original_password": "guess", "password": "New-pass-1"}})),
        )
        .await
        .expect(401);
    }
    // Locked: even the right password fails, at login and at the change call, with the same 401.
    let right = json!({"user": {"original_password": PW, "password": "New-pass-1"}});
    app.request(Method::POST, &path, None, Some(right))
        .await
        .expect(401);
    let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "id": a.member_id, "password": PW}}}, "scope": {"project": {"id": a.project_id}}}});
    app.auth(body).await.expect(401);
}

#[actix_web::test]
async fn lockout_covers_password_change_sqlite() {
    lockout_case(Backend::Sqlite).await;
}

#[actix_web::test]
async fn lockout_covers_password_change_postgres() {
    lockout_case(Backend::Postgres).await;
}
