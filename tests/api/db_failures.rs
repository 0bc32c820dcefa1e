//! The database failing under the server (PostgreSQL only: its connections can be killed).
//! A store failure is a 503 with Retry-After, fast; never a 500, never "invalid token"; service
//! comes back as soon as the database does; no acknowledged write is lost.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use serde_json::json;

use crate::helpers::*;

/// The server's database name and an admin connection to the cluster.
fn cluster(app: &TestApp) -> (String, PgConnection) {
    let url = app.state.config.database_url();
    let (server, db) = url.rsplit_once('/').expect("postgres URL with a database");
    let admin = PgConnection::establish(&format!("{server}/postgres")).expect("cluster answers");
    (db.to_string(), admin)
}

fn kill_backends(admin: &mut PgConnection, db: &str) {
    admin
        .batch_execute(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{db}' AND pid <> pg_backend_pid()"
        ))
        .expect("terminate backends");
}

#[actix_web::test]
async fn killed_connections_answer_200_or_503_and_lose_no_acknowledged_write() {
    let app = spawn_app(Backend::Postgres).await;
    let (db, mut admin) = cluster(&app);
    let subject = app.password_token("admin", ADMIN_PASSWORD, "admin").await;

    let stop = Arc::new(AtomicBool::new(false));
    let killer = {
        let (stop, db) = (stop.clone(), db.clone());
        std::thread::spawn(move || {
            let mut kills = 0;
            while !stop.load(Ordering::Relaxed) {
                kill_backends(&mut admin, &db);
                kills += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            (kills, admin)
        })
    };

    let mut validations = std::collections::BTreeMap::<u16, usize>::new();
    let mut writes = std::collections::BTreeMap::<u16, usize>::new();
    let mut acknowledged = Vec::new();
    let end = Instant::now() + Duration::from_secs(3);
    let mut i = 0;
    while Instant::now() < end {
        let r = app.validate(&subject).await;
        let s = r.status.as_u16();
        *validations.entry(s).or_default() += 1;
        assert!(s == 200 || s == 503, "validation answered {s}: {}", r.body);
        if s == 503 {
            assert_eq!(r.headers.get("retry-after").unwrap(), "1");
        }
        i += 1;
        let r = app
            .post(
                "/v3/projects",
                &app.admin_token,
                json!({"project": {"name": format!("p{i}")}}),
            )
            .await;
        let s = r.status.as_u16();
        *writes.entry(s).or_default() += 1;
        assert!(s == 201 || s == 503, "a write answered {s}: {}", r.body);
        if s == 201 {
            acknowledged.push(r.body["project"]["id"].as_str().unwrap().to_string());
        }
    }
    stop.store(true, Ordering::Relaxed);
    let (kills, _) = killer.join().unwrap();
    println!("{kills} kills; validations {validations:?}; writes {writes:?}");
    assert!(validations.get(&200).copied().unwrap_or(0) > 0);
    assert!(!acknowledged.is_empty());
    for id in &acknowledged {
        app.get(&format!("/v3/projects/{id}"), &app.admin_token)
            .await
            .expect(200);
    }
}

#[actix_web::test]
async fn a_database_that_refuses_connections_answers_503_fast_and_service_returns_at_once() {
    let app = spawn_app(Backend::Postgres).await;
    let (db, mut admin) = cluster(&app);
    let subject = app.password_token("admin", ADMIN_PASSWORD, "admin").await;
    app.validate(&subject).await.expect(200);

    // The database goes away: no new connection, the existing ones closed.
    admin
        .batch_execute(&format!(
            "ALTER DATABASE \"{db}\" WITH ALLOW_CONNECTIONS false"
        ))
        .unwrap();
    kill_backends(&mut admin, &db);
    // The validation cache answers until the node notices that it can no longer tell whether
    // the cache is current (at once when its change feed's connection dies, at most the 1 s trust
    // window): from then on, 503 fast.
    let down = Instant::now();
    while app.validate(&subject).await.status.as_u16() == 200 {
        assert!(
            down.elapsed() < Duration::from_secs(1),
            "cache trusted for {:?} after the database went away",
            down.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!(
        "cache distrusted {:?} after the database went away",
        down.elapsed()
    );
    let mut slowest = Duration::ZERO;
    for _ in 0..10 {
        let started = Instant::now();
        let r = app.validate(&subject).await;
        slowest = slowest.max(started.elapsed());
        assert_eq!(r.status.as_u16(), 503, "{}", r.body);
        assert_eq!(r.headers.get("retry-after").unwrap(), "1");
        let r = app
            .post(
                "/v3/projects",
                &app.admin_token,
                json!({"project": {"name": "while-down"}}),
            )
            .await;
        assert_eq!(r.status.as_u16(), 503, "{}", r.body);
    }
    println!("slowest answer while the database is down: {slowest:?}");
    assert!(slowest < Duration::from_secs(1), "{slowest:?}");

    // It comes back: service resumes within a second.
    admin
        .batch_execute(&format!(
            "ALTER DATABASE \"{db}\" WITH ALLOW_CONNECTIONS true"
        ))
        .unwrap();
    let back = Instant::now();
    loop {
        let r = app.validate(&subject).await;
        if r.status.as_u16() == 200 {
            break;
        }
        assert_eq!(r.status.as_u16(), 503, "{}", r.body);
        assert!(
            back.elapsed() < Duration::from_secs(1),
            "not back after {:?}",
            back.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!("service back {:?} after the database", back.elapsed());
}

#[actix_web::test]
async fn a_store_error_while_computing_roles_is_not_an_invalid_token() {
    let app = spawn_app(Backend::Postgres).await;
    let (db, _) = cluster(&app);
    let subject = app.password_token("admin", ADMIN_PASSWORD, "admin").await;
    app.validate(&subject).await.expect(200);
    // A token the validation cache has not seen, so that its roles must be read; a change
    // (a new role) empties the node's caches, which also held the roles of that scope.
    let subject = app.password_token("admin", ADMIN_PASSWORD, "admin").await;
    app.post(
        "/v3/roles",
        &app.admin_token,
        serde_json::json!({"role": {"name": "emptied-the-cache"}}),
    )
    .await
    .expect(201);
    // The user, its domain and its project still read fine; the roles cannot be read.
    let url = app.state.config.database_url();
    let mut c = PgConnection::establish(&url).unwrap();
    c.batch_execute("ALTER TABLE role_assignments RENAME TO role_assignments_away")
        .unwrap();
    let r = app.validate(&subject).await;
    c.batch_execute("ALTER TABLE role_assignments_away RENAME TO role_assignments")
        .unwrap();
    let s = r.status.as_u16();
    assert!(s >= 500, "{db}: a store failure answered {s}: {}", r.body);
    assert!(!r.body.to_string().contains("Failed to validate token"));
    app.validate(&subject).await.expect(200);
}

crate::both_backends!(no_in_list_exceeds_the_bind_parameter_limit, |app| {
    use ironstone::store::{self, AssignmentFilter, UserFilter};
    // More ids than either backend binds in one query (SQLite 32,766, PostgreSQL 65,535),
    // with a real one among them.
    let mut ids: Vec<String> = (0..70_000).map(|i| format!("missing-{i:05}")).collect();
    ids.push(app.admin_user_id.clone());
    let (users, grants) = app
        .state
        .store
        .run(move |c| {
            let users = store::list_users(
                c,
                &UserFilter {
                    ids: Some(ids.clone()),
                    limit: Some(5),
                    ..Default::default()
                },
            )?;
            let grants = store::list_assignments(
                c,
                &AssignmentFilter {
                    actor_ids: Some(ids.clone()),
                    target_ids: Some(ids),
                    ..Default::default()
                },
            )?;
            Ok((users, grants))
        })
        .await
        .expect("a long id list is a list, not an error");
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].id, app.admin_user_id);
    assert!(grants.is_empty());
});
