//! Bounded password hashing: a flood of logins and password changes (no token needed) cannot
//! make hashing runs pile up; beyond the queue the server answers 503 with Retry-After at once.

use futures_util::future::join_all;
use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

/// One hashing thread, two waiting runs, and runs slow enough that a burst overlaps them.
async fn spawn_small_pool(backend: Backend) -> TestApp {
    spawn_app_with(backend, |c| {
        c.password_hashing.memory_kib = 8192;
        c.password_hashing.iterations = 4;
        c.password_hashing.max_concurrent = 1;
        c.password_hashing.max_queue = 2;
    })
    .await
}

async fn flood_gets_503_with_retry_after_then_serves(backend: Backend) {
    let app = spawn_small_pool(backend).await;
    let logins = (0..30).map(|i| {
        app.auth(password_auth(
            &format!("nobody-{i}"),
            "Wrong-Pass-1",
            Some("admin"),
        ))
    });
    let path = format!("/v3/users/{}/password", app.admin_user_id);
    let changes = (0..10).map(|_| {
        app.request(
            Method::POST,
            &path,
            None,
            Some(
                json!({"user": {"original_password": "Wrong-Pass-1", "password": "New-Pass-123"}}),
            ),
        )
    });
    let (logins, changes) = tokio::join!(join_all(logins), join_all(changes));
    let mut unavailable = 0;
    for r in logins.iter().chain(changes.iter()) {
        match r.status.as_u16() {
            401 => {}
            503 => {
                unavailable += 1;
                assert_eq!(r.header("retry-after").as_deref(), Some("1"), "{}", r.body);
                assert_eq!(r.body["error"]["code"], 503);
            }
            other => panic!("unexpected status {other}: {}", r.body),
        }
    }
    assert!(
        unavailable > 0,
        "40 concurrent hashing requests against 1 thread and a queue of 2: expected some 503"
    );
    assert!(unavailable < 40, "some requests must have been served");
    // The flood is over: logins work again.
    app.auth(password_auth("admin", ADMIN_PASSWORD, Some("admin")))
        .await
        .expect(201);
}

mod flood_gets_503_with_retry_after_then_serves {
    use super::*;
    #[actix_web::test]
    async fn sqlite() {
        flood_gets_503_with_retry_after_then_serves(Backend::Sqlite).await
    }
    #[actix_web::test]
    async fn postgres() {
        flood_gets_503_with_retry_after_then_serves(Backend::Postgres).await
    }
}

/// Generated application-credential secrets are checked by a keyed hash, without a hashing
/// thread: automation keeps logging in while a flood of password guesses fills the queue.
async fn generated_secrets_log_in_through_a_full_hashing_queue(backend: Backend) {
    let app = spawn_small_pool(backend).await;
    let r = app
        .post(
            &format!("/v3/users/{}/application_credentials", app.admin_user_id),
            &app.admin_token,
            json!({"application_credential": {"name": "ci"}}),
        )
        .await
        .expect(201);
    let ac = json!({"auth": {"identity": {"methods": ["application_credential"],
        "application_credential": {"id": r.body["application_credential"]["id"],
                                   "secret": r.body["application_credential"]["secret"]}}}});
    let guesses = (0..30).map(|i| {
        app.auth(password_auth(
            &format!("nobody-{i}"),
            "Wrong-Pass-1",
            Some("admin"),
        ))
    });
    let automation = (0..30).map(|_| app.auth(ac.clone()));
    let (guesses, automation) = tokio::join!(join_all(guesses), join_all(automation));
    assert!(
        guesses.iter().any(|r| r.status.as_u16() == 503),
        "the flood did not fill the queue"
    );
    for r in automation {
        assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    }
}

mod generated_secrets_log_in_through_a_full_hashing_queue {
    use super::*;
    #[actix_web::test]
    async fn sqlite() {
        generated_secrets_log_in_through_a_full_hashing_queue(Backend::Sqlite).await
    }
    #[actix_web::test]
    async fn postgres() {
        generated_secrets_log_in_through_a_full_hashing_queue(Backend::Postgres).await
    }
}
