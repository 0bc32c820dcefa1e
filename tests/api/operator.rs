//! The operator's way back in (`ironstone user unlock|reset-password`, through the functions
//! the commands call), on both backends.

use chrono::Utc;
use ironstone::identity::operator;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use crate::fixtures::*;
use crate::helpers::*;

fn locking(c: &mut ironstone::config::Config) {
    // Locked until an operator acts: no duration.
    c.security_compliance.lockout_failure_attempts = Some(2);
}

async fn user_with_role(app: &TestApp, name: &str) -> String {
    let id = create_user(app, "default", name).await;
    grant(app, &app.admin_project_id, &id, "member").await;
    id
}

async fn login(app: &TestApp, user: &str, password: &str) -> Resp {
    app.auth(password_auth(user, password, Some("admin"))).await
}

async fn unlock_clears_a_lockout(backend: Backend) {
    let app = spawn_app_with(backend, locking).await;
    user_with_role(&app, "dana").await;
    for _ in 0..2 {
        login(&app, "dana", "Wrong-Pass-1").await.expect(401);
    }
    // Locked: even the right password is refused, with the generic answer.
    let refused = login(&app, "dana", PW).await.expect(401);
    let unknown = login(&app, "nobody", PW).await.expect(401);
    assert_eq!(refused.body, unknown.body);

    let before = operator::unlock(&app.state, "Default", "dana", Utc::now())
        .await
        .unwrap();
    assert_eq!(before.failed_auth_count, 2);
    login(&app, "dana", PW).await.expect(201);

    // By domain id too; unknown names and domains are clear errors.
    operator::unlock(&app.state, "default", "dana", Utc::now())
        .await
        .unwrap();
    let e = operator::unlock(&app.state, "Default", "nobody", Utc::now())
        .await
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(e.contains("nobody"), "{e}");
    assert!(operator::unlock(&app.state, "Nope", "dana", Utc::now())
        .await
        .is_err());
}

async fn reset_password_follows_the_policy_and_revokes(backend: Backend) {
    let app = spawn_app_with(backend, locking).await;
    let id = user_with_role(&app, "erin").await;
    let old_token = app.password_token("erin", PW, "admin").await;
    for _ in 0..2 {
        login(&app, "erin", "Wrong-Pass-1").await.expect(401);
    }

    // The policy applies to the operator too, and a refusal changes nothing.
    let weak = operator::reset_password(
        &app.state,
        "Default",
        "erin",
        Some(SecretString::from("erin")),
        false,
        Utc::now(),
    )
    .await
    .map(|_| ())
    .unwrap_err()
    .to_string();
    assert!(weak.contains("does not meet the requirements"), "{weak}");
    assert!(!weak.contains("\"erin\""), "{weak}");

    let (user, generated) = operator::reset_password(
        &app.state,
        "Default",
        "erin",
        Some(SecretString::from("Operator-Set-9")),
        false,
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(user.id, id);
    assert!(generated.is_none());
    // The lockout is lifted, the new password works, the old one and its tokens do not.
    login(&app, "erin", "Operator-Set-9").await.expect(201);
    login(&app, "erin", PW).await.expect(401);
    app.validate(&old_token).await.expect(404);

    // Generated, and required to change.
    let (_, generated) =
        operator::reset_password(&app.state, "Default", "erin", None, true, Utc::now())
            .await
            .unwrap();
    let generated = generated.expect("a generated password");
    let r = login(&app, "erin", generated.expose_secret())
        .await
        .expect(401);
    let msg = r.body["error"]["message"].as_str().unwrap();
    assert!(msg.contains("expired and needs to be changed"), "{msg}");
    app.request(
        reqwest::Method::POST,
        &format!("/v3/users/{id}/password"),
        None,
        Some(json!({"user": {"original_password": generated.expose_secret(), "password": "Chosen-By-Erin-2"}})),
    )
    .await
    .expect(204);
    login(&app, "erin", "Chosen-By-Erin-2").await.expect(201);
}

async fn the_bootstrap_admin_cannot_be_locked_out(backend: Backend) {
    let app = spawn_app_with(backend, locking).await;
    let admin = app
        .get(
            &format!("/v3/users/{}", app.admin_user_id),
            &app.admin_token,
        )
        .await
        .expect(200);
    assert_eq!(
        admin.body["user"]["options"]["ignore_lockout_failure_attempts"],
        json!(true)
    );
    for _ in 0..5 {
        login(&app, "admin", "Wrong-Pass-1").await.expect(401);
    }
    login(&app, "admin", ADMIN_PASSWORD).await.expect(201);
}

macro_rules! on_both {
    ($($name:ident),+) => {$(
        mod $name {
            use super::*;
            #[actix_web::test]
            async fn sqlite() {
                super::$name(Backend::Sqlite).await
            }
            #[actix_web::test]
            async fn postgres() {
                super::$name(Backend::Postgres).await
            }
        }
    )+};
}

on_both!(
    unlock_clears_a_lockout,
    reset_password_follows_the_policy_and_revokes,
    the_bootstrap_admin_cannot_be_locked_out
);
