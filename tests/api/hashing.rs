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
