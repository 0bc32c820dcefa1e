//! Prometheus metrics, served at `/metrics` on a listener of its own (`[metrics] bind`), never on
//! the public API port. Recording goes through the `metrics` facade; the recorder (from
//! `metrics-exporter-prometheus`) is installed once per process, when a metrics listener is
//! configured, and is a no-op otherwise.
//!
//! Labels only ever hold values from small fixed sets (route patterns, known methods, status
//! codes, outcome names): never ids, names, secrets or anything else a client chooses.

use std::sync::OnceLock;
use std::time::Duration;

use actix_web::http::Method;
use actix_web::{web, HttpResponse};
use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::error::{Error, Result};
use crate::state::State;

pub const HTTP_REQUESTS: &str = "ironstone_http_requests_total";
pub const HTTP_DURATION: &str = "ironstone_http_request_duration_seconds";
pub const TOKEN_VALIDATIONS: &str = "ironstone_token_validations_total";
pub const AUTH_ATTEMPTS: &str = "ironstone_auth_attempts_total";
pub const HASHING_QUEUED: &str = "ironstone_password_hashing_queued";
pub const HASHING_RUNNING: &str = "ironstone_password_hashing_running";
pub const POOL_IN_USE: &str = "ironstone_db_pool_connections_in_use";
pub const POOL_IDLE: &str = "ironstone_db_pool_connections_idle";

/// The route label of a request that matched no route.
pub const UNMATCHED: &str = "unmatched";

/// Latency buckets (seconds): from a cached validation to a slow login.
const DURATION_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Notification lag buckets (seconds): a few milliseconds normally, the 1 s bound at worst.
const LAG_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the Prometheus recorder, once per process (tests build many servers in one process),
/// and returns the handle that renders it.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.into()), DURATION_BUCKETS)
                .expect("buckets are not empty")
                .set_buckets_for_metric(
                    Matcher::Full(crate::store::changes::NOTIFICATION_LAG.into()),
                    LAG_BUCKETS,
                )
                .expect("buckets are not empty")
                .build_recorder();
            let handle = recorder.handle();
            if let Err(e) = metrics::set_global_recorder(recorder) {
                tracing::warn!(error = %e, "another metrics recorder is installed; /metrics stays empty");
            }
            describe();
            // Histogram samples wait in buffers until drained: drain them even if nobody scrapes.
            let upkeep = handle.clone();
            let _ = std::thread::Builder::new()
                .name("ironstone-metrics-upkeep".into())
                .spawn(move || loop {
                    std::thread::sleep(Duration::from_secs(5));
                    upkeep.run_upkeep();
                });
            handle
        })
        .clone()
}

fn describe() {
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by route pattern, method and status"
    );
    describe_histogram!(
        HTTP_DURATION,
        metrics::Unit::Seconds,
        "Time to answer an HTTP request (until the response starts), by route pattern and method"
    );
    describe_counter!(
        TOKEN_VALIDATIONS,
        "Tokens checked (X-Auth-Token, X-Subject-Token, the token auth method), by result"
    );
    describe_counter!(
        AUTH_ATTEMPTS,
        "Authentications (POST /v3/auth/tokens, EC2/S3 token exchanges), by method and result"
    );
    describe_gauge!(
        HASHING_QUEUED,
        "Password hashing runs waiting for a hashing thread"
    );
    describe_gauge!(HASHING_RUNNING, "Password hashing runs in progress");
    describe_gauge!(POOL_IN_USE, "Database connections checked out of the pool");
    describe_gauge!(POOL_IDLE, "Database connections open and idle in the pool");
    use crate::cache::{CACHE_BYPASSED, CACHE_ENTRIES, CACHE_HITS, CACHE_MISSES};
    use crate::store::changes::{CACHE_INVALIDATIONS, FEED_READS_FAILED, NOTIFICATION_LAG};
    describe_counter!(
        CACHE_HITS,
        "Validation cache lookups answered from the cache, by cache (token, extras, project, domain, roles)"
    );
    describe_counter!(
        CACHE_MISSES,
        "Validation cache lookups that had to read the database, by cache (token, extras, project, domain, roles)"
    );
    describe_counter!(
        CACHE_BYPASSED,
        "Validations that bypassed the cache because the change feed could not vouch for it"
    );
    describe_counter!(
        CACHE_INVALIDATIONS,
        "Times this node saw the change counter move and dropped its cache"
    );
    describe_counter!(
        FEED_READS_FAILED,
        "Failed reads or connections of the change feed (the cache is bypassed meanwhile)"
    );
    describe_histogram!(
        NOTIFICATION_LAG,
        metrics::Unit::Seconds,
        "Time from a change's commit to this node receiving its notification (PostgreSQL)"
    );
    describe_gauge!(
        CACHE_ENTRIES,
        "Entries held by the validation cache, by cache"
    );
}

/// The method label: the standard methods, anything else as `other` (a client may send any token).
pub fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// One answered request. `route` is the matched route pattern (`/v3/users/{user_id}`), never the
/// path, or [`UNMATCHED`].
pub fn record_request(route: String, method: &'static str, status: u16, elapsed: Duration) {
    counter!(HTTP_REQUESTS, "route" => route.clone(), "method" => method, "status" => status.to_string())
        .increment(1);
    histogram!(HTTP_DURATION, "route" => route, "method" => method).record(elapsed.as_secs_f64());
}

/// The outcome of one token validation: `valid`, `invalid` (unreadable, revoked, or its user,
/// project or roles no longer stand), `expired`, or `error` (the store failed: nothing is known).
pub fn record_validation<T>(r: &Result<T>) {
    let result = match r {
        Ok(_) => "valid",
        Err(Error::Unavailable(_) | Error::Internal(_)) => "error",
        Err(Error::NotFoundMsg(m)) if m == crate::auth::TOKEN_EXPIRED => "expired",
        Err(_) => "invalid",
    };
    counter!(TOKEN_VALIDATIONS, "result" => result).increment(1);
}

/// The outcome of one authentication: `success`, `failure` (refused: wrong or unusable
/// credentials, or a scope the user cannot have), `bad_request`, or `error` (503/500, e.g. the
/// hashing queue is full or the store failed).
pub fn record_auth_attempt<T>(method: String, r: &Result<T>) {
    let result = match r {
        Ok(_) => "success",
        Err(Error::Validation(_)) => "bad_request",
        Err(Error::Unavailable(_) | Error::Internal(_)) => "error",
        Err(_) => "failure",
    };
    counter!(AUTH_ATTEMPTS, "method" => method, "result" => result).increment(1);
}

/// Reads the gauges that describe the present (hashing pool, database pool) and renders every
/// metric in Prometheus' text format.
pub fn render(state: &State) -> String {
    let handle = install();
    gauge!(HASHING_QUEUED).set(state.hasher.queued() as f64);
    gauge!(HASHING_RUNNING).set(state.hasher.running() as f64);
    let (in_use, idle) = state.store.pool_usage();
    gauge!(POOL_IN_USE).set(f64::from(in_use));
    gauge!(POOL_IDLE).set(f64::from(idle));
    for (kind, entries) in state.cache.entries() {
        gauge!(crate::cache::CACHE_ENTRIES, "cache" => kind).set(entries as f64);
    }
    handle.render()
}

/// `GET /metrics` on the metrics listener.
pub async fn scrape(state: web::Data<State>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(render(&state))
}

/// The metrics listener's routes: `/metrics`, nothing else.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/metrics").route(web::get().to(scrape)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_non_standard_method_is_not_a_label() {
        assert_eq!(method_label(&Method::HEAD), "HEAD");
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        let odd = Method::from_bytes(b"X-SECRET-abc123").unwrap();
        assert_eq!(method_label(&odd), "other");
    }
}
