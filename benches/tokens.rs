//! Token throughput: how fast the real server issues, validates and checks tokens. Prints req/s,
//! p50/p99 and this process's resident memory (server and load generator share it); asserts
//! nothing about speed.
//!
//!     cargo bench --bench tokens            # defaults: SQLite, 2000 validations, 200 issues, 8 clients
//!     BENCH_VALIDATIONS=20000 BENCH_CLIENTS=32 cargo bench --bench tokens
//!     # PostgreSQL (a fresh database is created on that server and dropped afterwards):
//!     BENCH_POSTGRES=postgres://postgres@127.0.0.1:5432 cargo bench --bench tokens
//!     # without the validation cache, to compare:
//!     BENCH_CACHE=off BENCH_POSTGRES=... cargo bench --bench tokens

use ironstone::config::Config;
use serde_json::json;

mod common;
use common::{env_usize, report, run_parallel, serve_in_process, BenchDb, Load, PASSWORD};

#[actix_web::main]
async fn main() {
    let validations = env_usize("BENCH_VALIDATIONS", 2000);
    let issues = env_usize("BENCH_ISSUES", 200);
    let clients = env_usize("BENCH_CLIENTS", 8);
    let dir = tempfile::tempdir().expect("temp dir");
    let pg = std::env::var("BENCH_POSTGRES")
        .ok()
        .map(|server| BenchDb::create(&server));
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        bind: "127.0.0.1:0".into(),
        database_url: pg.as_ref().map(BenchDb::url),
        ..Default::default()
    };
    config.cache.enabled = std::env::var("BENCH_CACHE").map_or(true, |v| v != "off");
    let hashing = config.password_hashing.clone();
    let cache = if config.cache.enabled { "on" } else { "off" };
    let base = serve_in_process(config).await;
    println!(
        "ironstone token benchmark: {}, cache {cache}, {clients} clients, {} cores, argon2id m={} KiB t={} p={}",
        if pg.is_some() { "PostgreSQL" } else { "SQLite" },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        hashing.memory_kib,
        hashing.iterations,
        hashing.parallelism
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

    let check = {
        let (client, base, token) = (client.clone(), base.clone(), token.clone());
        move || {
            let (client, base, token) = (client.clone(), base.clone(), token.clone());
            async move {
                let r = client
                    .head(format!("{base}/v3/auth/tokens"))
                    .header("X-Auth-Token", &token)
                    .header("X-Subject-Token", &token)
                    .send()
                    .await
                    .expect("check");
                assert_eq!(r.status().as_u16(), 200);
            }
        }
    };

    let (lat, wall) = run_parallel(Load::Count(validations), clients, check).await;
    report("check (HEAD)", lat.len(), lat, wall);
    let (lat, wall) = run_parallel(Load::Count(validations), clients, validate(false)).await;
    report("validate (nocatalog)", lat.len(), lat, wall);
    let (lat, wall) = run_parallel(Load::Count(validations), clients, validate(true)).await;
    report("validate (with catalog)", lat.len(), lat, wall);
    let (lat, wall) = run_parallel(Load::Count(issues), clients, issue).await;
    report("issue (password, argon2id)", lat.len(), lat, wall);
    drop(pg);
}
