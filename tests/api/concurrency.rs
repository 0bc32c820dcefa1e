//! Writes under concurrency: 16 requests at once. A change another request did not touch is kept
//! (no lost update); the same request twice is idempotent; different requests all land.

use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};

use crate::both_backends;
use crate::fixtures::*;
use crate::helpers::*;

const N: usize = 16;

/// Fires `N` requests at once; `body(i)` and `path(i)` describe the i-th.
async fn burst(
    app: &TestApp,
    method: Method,
    token: &str,
    path: impl Fn(usize) -> String,
    body: impl Fn(usize) -> Option<Value>,
) -> Vec<u16> {
    let paths: Vec<String> = (0..N).map(path).collect();
    let reqs = paths
        .iter()
        .enumerate()
        .map(|(i, p)| app.request(method.clone(), p, Some(token), body(i)));
    join_all(reqs)
        .await
        .into_iter()
        .map(|r| r.status.as_u16())
        .collect()
}

#[track_caller]
fn all(statuses: &[u16], want: u16) {
    assert!(
        statuses.iter().all(|s| *s == want),
        "expected every answer {want}: {statuses:?}"
    );
}

both_backends!(a_disable_is_not_undone_by_a_concurrent_patch, |app| {
    let t = &app.admin_token;
    let u = create_user(&app, "default", "racer").await;
    let path = format!("/v3/users/{u}");
    // Each round: one disable among 15 description changes, then enable again.
    for round in 0..4 {
        let st = burst(
            &app,
            Method::PATCH,
            t,
            |_| path.clone(),
            |i| {
                Some(if i == N / 2 {
                    json!({"user": {"enabled": false}})
                } else {
                    json!({"user": {"description": format!("round {round} writer {i}")}})
                })
            },
        )
        .await;
        all(&st, 200);
        let r = app.get(&path, t).await.expect(200);
        assert_eq!(
            r.body["user"]["enabled"], false,
            "round {round}: the disable was lost"
        );
        app.patch(&path, t, json!({"user": {"enabled": true}}))
            .await
            .expect(200);
    }
    // Different extra attributes set at once all land.
    let st = burst(
        &app,
        Method::PATCH,
        t,
        |_| path.clone(),
        |i| Some(json!({"user": {format!("attr{i}"): i}})),
    )
    .await;
    all(&st, 200);
    let r = app.get(&path, t).await.expect(200);
    for i in 0..N {
        assert_eq!(r.body["user"][format!("attr{i}")], i, "attr{i} was lost");
    }
});

both_backends!(different_tags_added_at_once_all_land, |app| {
    let t = &app.admin_token;
    let p = create_project(&app, "default", "tagged").await;
    let st = burst(
        &app,
        Method::PUT,
        t,
        |i| format!("/v3/projects/{p}/tags/tag{i:02}"),
        |_| None,
    )
    .await;
    all(&st, 201);
    let r = app
        .get(&format!("/v3/projects/{p}/tags"), t)
        .await
        .expect(200);
    let want: Vec<String> = (0..N).map(|i| format!("tag{i:02}")).collect();
    assert_eq!(r.body["tags"], json!(want));
    // Removing different tags at once removes them all, and nothing else.
    let st = burst(
        &app,
        Method::DELETE,
        t,
        |i| format!("/v3/projects/{p}/tags/tag{:02}", i / 2 * 2),
        |_| None,
    )
    .await;
    assert!(st.iter().all(|s| *s == 204 || *s == 404), "{st:?}");
    let r = app
        .get(&format!("/v3/projects/{p}/tags"), t)
        .await
        .expect(200);
    let odd: Vec<String> = (0..N)
        .filter(|i| i % 2 == 1)
        .map(|i| format!("tag{i:02}"))
        .collect();
    assert_eq!(r.body["tags"], json!(odd));
});

both_backends!(identical_writes_at_once_are_idempotent, |app| {
    let t = &app.admin_token;
    let p = create_project(&app, "default", "twice").await;
    let u = create_user(&app, "default", "twin").await;
    let reader = app.role_id("reader").await;

    // The same grant.
    let st = burst(
        &app,
        Method::PUT,
        t,
        |_| format!("/v3/projects/{p}/users/{u}/roles/{reader}"),
        |_| None,
    )
    .await;
    all(&st, 204);
    let r = app
        .get(&format!("/v3/role_assignments?user.id={u}"), t)
        .await
        .expect(200);
    assert_eq!(r.body["role_assignments"].as_array().unwrap().len(), 1);

    // The same group membership.
    let g = app
        .post("/v3/groups", t, json!({"group": {"name": "twins"}}))
        .await
        .expect(201)
        .body["group"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let st = burst(
        &app,
        Method::PUT,
        t,
        |_| format!("/v3/groups/{g}/users/{u}"),
        |_| None,
    )
    .await;
    all(&st, 204);
    let r = app
        .get(&format!("/v3/groups/{g}/users"), t)
        .await
        .expect(200);
    assert_eq!(ids(&r.body, "users"), vec![u.clone()]);

    // The same tag.
    let st = burst(
        &app,
        Method::PUT,
        t,
        |_| format!("/v3/projects/{p}/tags/same"),
        |_| None,
    )
    .await;
    all(&st, 201);
    let r = app
        .get(&format!("/v3/projects/{p}/tags"), t)
        .await
        .expect(200);
    assert_eq!(r.body["tags"], json!(["same"]));

    // The same user option.
    let st = burst(
        &app,
        Method::PATCH,
        t,
        |_| format!("/v3/users/{u}"),
        |_| Some(json!({"user": {"options": {"ignore_lockout_failure_attempts": true}}})),
    )
    .await;
    all(&st, 200);
    let r = app.get(&format!("/v3/users/{u}"), t).await.expect(200);
    assert_eq!(
        r.body["user"]["options"],
        json!({"ignore_lockout_failure_attempts": true})
    );

    // The same role implication.
    let prior = app
        .post("/v3/roles", t, json!({"role": {"name": "prior"}}))
        .await
        .expect(201)
        .body["role"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let st = burst(
        &app,
        Method::PUT,
        t,
        |_| format!("/v3/roles/{prior}/implies/{reader}"),
        |_| None,
    )
    .await;
    all(&st, 201);
    let r = app
        .get(&format!("/v3/roles/{prior}/implies"), t)
        .await
        .expect(200);
    assert_eq!(
        r.body["role_inference"]["implies"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
});

both_backends!(identical_access_rules_at_once_are_stored_once, |app| {
    let a = customer(&app, "rules").await;
    let path = format!("/v3/users/{}/application_credentials", a.member_id);
    let st = burst(
        &app,
        Method::POST,
        &a.member_token,
        |_| path.clone(),
        |i| {
            Some(json!({"application_credential": {"name": format!("ac{i}"),
                "access_rules": [{"service": "compute", "path": "/v2.1/servers", "method": "GET"}]}}))
        },
    )
    .await;
    all(&st, 201);
    let rules = app
        .get(
            &format!("/v3/users/{}/access_rules", a.member_id),
            &a.member_token,
        )
        .await
        .expect(200);
    assert_eq!(rules.body["access_rules"].as_array().unwrap().len(), 1);
});

/// SQLite: writers wait for their turn before they take a pooled connection, so a queue of
/// writers behind a slow one leaves the connections to readers.
#[actix_web::test]
async fn sqlite_readers_are_not_starved_by_queued_writers() {
    use std::time::{Duration, Instant};
    let app = spawn_app(Backend::Sqlite).await;
    let store = app.state.store.clone();
    let slow = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .tx(|_| {
                    std::thread::sleep(Duration::from_millis(1500));
                    Ok(())
                })
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let queued: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.tx(|_| Ok(())).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let n = store
        .run(|c| Ok(ironstone::store::list_domains(c, &Default::default())?.len()))
        .await
        .unwrap();
    let waited = started.elapsed();
    assert!(n >= 1);
    assert!(
        waited < Duration::from_millis(500),
        "a read waited {waited:?} behind queued writers"
    );
    slow.await.unwrap().unwrap();
    for q in queued {
        q.await.unwrap().unwrap();
    }
}

both_backends!(identical_deletes_at_once_answer_204_or_404, |app| {
    let t = &app.admin_token;
    let p = create_project(&app, "default", "doomed").await;
    let u = create_user(&app, "default", "doomed").await;
    let reader = app.role_id("reader").await;
    app.put(&format!("/v3/projects/{p}/users/{u}/roles/{reader}"), t)
        .await
        .expect(204);
    app.put(&format!("/v3/projects/{p}/tags/gone"), t)
        .await
        .expect(201);
    for path in [
        format!("/v3/projects/{p}/tags/gone"),
        format!("/v3/projects/{p}/users/{u}/roles/{reader}"),
        format!("/v3/users/{u}"),
    ] {
        let st = burst(&app, Method::DELETE, t, |_| path.clone(), |_| None).await;
        assert!(
            st.iter().all(|s| *s == 204 || *s == 404) && st.contains(&204),
            "{path}: {st:?}"
        );
    }
    app.patch(
        &format!("/v3/projects/{p}"),
        t,
        json!({"project": {"enabled": false}}),
    )
    .await
    .expect(200);
    let path = format!("/v3/projects/{p}");
    let st = burst(&app, Method::DELETE, t, |_| path.clone(), |_| None).await;
    assert!(
        st.iter().all(|s| *s == 204 || *s == 404) && st.contains(&204),
        "{path}: {st:?}"
    );
});
