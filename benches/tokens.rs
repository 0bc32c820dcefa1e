//! Token throughput: how fast the real server issues and validates tokens on the embedded store.
//! Prints figures; asserts nothing about speed.
//!
//!     cargo bench --bench tokens            # defaults: 2000 validations, 200 issues, 8 clients
//!     BENCH_VALIDATIONS=20000 BENCH_CLIENTS=32 cargo bench --bench tokens

use std::time::{Duration, Instant};

use ironstone::config::Config;
use serde_json::json;

mod common;
use common::{env_usize, serve_in_process, PASSWORD};

fn report(what: &str, n: usize, mut lat: Vec<Duration>, wall: Duration) {
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    println!(
        "{what:<28} {n:>6} requests  {:>8.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms",
        n as f64 / wall.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
    );
}

async fn run_parallel<F, Fut>(n: usize, clients: usize, f: F) -> (Vec<Duration>, Duration)
where
    F: Fn() -> Fut + Clone + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let start = Instant::now();
    let per = n.div_ceil(clients);
    let mut handles = vec![];
    for _ in 0..clients {
        let f = f.clone();
        handles.push(actix_web::rt::spawn(async move {
            let mut lat = Vec::with_capacity(per);
            for _ in 0..per {
                let t = Instant::now();
                f().await;
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut all = vec![];
    for h in handles {
        all.extend(h.await.expect("client task"));
    }
    (all, start.elapsed())
}

#[actix_web::main]
async fn main() {
    let validations = env_usize("BENCH_VALIDATIONS", 2000);
    let issues = env_usize("BENCH_ISSUES", 200);
    let clients = env_usize("BENCH_CLIENTS", 8);
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        bind: "127.0.0.1:0".into(),
        ..Default::default()
    };
    let hashing = config.password_hashing.clone();
    let base = serve_in_process(config).await;
    println!(
        "ironstone token benchmark: SQLite, {clients} clients, argon2id m={} KiB t={} p={}",
        hashing.memory_kib, hashing.iterations, hashing.parallelism
    );

    let client = reqwest::Client::new();
    let auth = json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"id": "default"}, "password": PASSWORD}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}});
    let issue = {
        let (client, base, auth) = (client.clone(), base.clone(), auth.clone());
        move || {
            let (client, base, auth) = (client.clone(), base.clone(), auth.clone());
            async move {
                let r = client
                    .post(format!("{base}/v3/auth/tokens?nocatalog"))
                    .json(&auth)
                    .send()
                    .await
                    .expect("issue");
                assert_eq!(r.status().as_u16(), 201);
            }
        }
    };
    let token = client
        .post(format!("{base}/v3/auth/tokens"))
        .json(&auth)
        .send()
        .await
        .expect("token")
        .headers()
        .get("x-subject-token")
        .expect("X-Subject-Token")
        .to_str()
        .expect("ascii")
        .to_string();
    let validate = |catalog: bool| {
        let (client, base, token) = (client.clone(), base.clone(), token.clone());
        move || {
            let (client, base, token) = (client.clone(), base.clone(), token.clone());
            async move {
                let q = if catalog { "" } else { "?nocatalog" };
                let r = client
                    .get(format!("{base}/v3/auth/tokens{q}"))
                    .header("X-Auth-Token", &token)
                    .header("X-Subject-Token", &token)
                    .send()
                    .await
                    .expect("validate");
                assert_eq!(r.status().as_u16(), 200);
            }
        }
    };

    let (lat, wall) = run_parallel(validations, clients, validate(false)).await;
    report("validate (nocatalog)", lat.len(), lat, wall);
    let (lat, wall) = run_parallel(validations, clients, validate(true)).await;
    report("validate (with catalog)", lat.len(), lat, wall);
    let (lat, wall) = run_parallel(issues, clients, issue).await;
    report("issue (password, argon2id)", lat.len(), lat, wall);
}
