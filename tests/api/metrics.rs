//! `/metrics`: served on its own listener only, labelled by route pattern (never by path).

use crate::both_backends_with;
use crate::helpers::password_auth;

/// Is there a sample of `metric` whose labels include every one of `labels` (`key="value"`)?
fn has(scrape: &str, metric: &str, labels: &[&str]) -> bool {
    scrape.lines().any(|l| {
        l.strip_prefix(metric)
            .and_then(|rest| rest.strip_prefix('{'))
            .and_then(|rest| rest.rsplit_once('}'))
            .is_some_and(|(ls, _)| {
                let ls: Vec<&str> = ls.split(',').collect();
                labels.iter().all(|want| ls.contains(want))
            })
    })
}

both_backends_with!(
    metrics_listener_labels_requests_by_route_pattern,
    |c| {
        c.metrics.bind = Some("127.0.0.1:0".into());
    },
    |app| {
        let metrics = app.metrics_base.clone().expect("a metrics listener");
        // A token issue, a failed login, a user read, a 404 on a route and one off every route.
        app.password_token("admin", crate::helpers::ADMIN_PASSWORD, "admin")
            .await;
        app.auth(password_auth("admin", "wrong-Password-1", Some("admin")))
            .await
            .expect(401);
        let uid = app.admin_user_id.clone();
        app.get(&format!("/v3/users/{uid}"), &app.admin_token)
            .await
            .expect(200);
        let missing = "d0e5c0ffee0000000000000000000404";
        app.get(&format!("/v3/users/{missing}"), &app.admin_token)
            .await
            .expect(404);
        app.get(&format!("/no/such/{missing}"), &app.admin_token)
            .await
            .expect(404);

        // Never on the public API port.
        app.get("/metrics", &app.admin_token).await.expect(404);

        let res = app
            .client
            .get(format!("{metrics}/metrics"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200);
        let ctype = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(ctype.starts_with("text/plain"), "{ctype}");
        let scrape = res.text().await.unwrap();

        let requests = "ironstone_http_requests_total";
        for labels in [
            &[
                "route=\"/v3/users/{user_id}\"",
                "method=\"GET\"",
                "status=\"200\"",
            ][..],
            &[
                "route=\"/v3/users/{user_id}\"",
                "method=\"GET\"",
                "status=\"404\"",
            ],
            &[
                "route=\"/v3/auth/tokens\"",
                "method=\"POST\"",
                "status=\"201\"",
            ],
            &[
                "route=\"/v3/auth/tokens\"",
                "method=\"POST\"",
                "status=\"401\"",
            ],
            &["route=\"unmatched\"", "method=\"GET\"", "status=\"404\""],
        ] {
            assert!(
                has(&scrape, requests, labels),
                "no {labels:?} in:\n{scrape}"
            );
        }
        assert!(
            has(
                &scrape,
                "ironstone_http_request_duration_seconds_bucket",
                &["route=\"/v3/users/{user_id}\"", "method=\"GET\""]
            ),
            "{scrape}"
        );
        // Ids, raw paths and the metrics path itself never become labels.
        for leaked in [uid.as_str(), missing, "/no/such", "route=\"/metrics\""] {
            assert!(!scrape.contains(leaked), "{leaked} leaked into:\n{scrape}");
        }
        assert!(has(
            &scrape,
            "ironstone_token_validations_total",
            &["result=\"valid\""]
        ));
        assert!(has(
            &scrape,
            "ironstone_auth_attempts_total",
            &["method=\"password\"", "result=\"success\""]
        ));
        assert!(has(
            &scrape,
            "ironstone_auth_attempts_total",
            &["method=\"password\"", "result=\"failure\""]
        ));
        for gauge in [
            "ironstone_password_hashing_queued",
            "ironstone_password_hashing_running",
            "ironstone_db_pool_connections_in_use",
            "ironstone_db_pool_connections_idle",
        ] {
            assert!(
                scrape.lines().any(|l| l.starts_with(&format!("{gauge} "))),
                "no {gauge} in:\n{scrape}"
            );
        }
        // The validation cache answered the repeated validations.
        assert!(
            has(&scrape, "ironstone_cache_hits_total", &["cache=\"token\""]),
            "{scrape}"
        );
        assert!(
            has(&scrape, "ironstone_cache_entries", &["cache=\"token\""]),
            "{scrape}"
        );

        // The metrics listener serves /metrics and nothing else.
        let other = app
            .client
            .get(format!("{metrics}/v3/users/{uid}"))
            .send()
            .await
            .unwrap();
        assert_eq!(other.status().as_u16(), 404);
    }
);
