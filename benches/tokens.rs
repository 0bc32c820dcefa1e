//! Token throughput: how fast the real server issues and validates tokens on the embedded store.
//! Prints figures; asserts nothing about speed.
//!
//!     cargo bench --bench tokens            # defaults: 2000 validations, 200 issues, 8 clients
//!     BENCH_VALIDATIONS=20000 BENCH_CLIENTS=32 cargo bench --bench tokens

use ironstone::config::Config;
use serde_json::json;

mod common;
use common::{env_usize, report, run_parallel, serve_in_process, Load, PASSWORD};

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

    let (lat, wall) = run_parallel(Load::Count(validations), clients, validate(false)).await;
    report("validate (nocatalog)", lat.len(), lat, wall);
    let (lat, wall) = run_parallel(Load::Count(validations), clients, validate(true)).await;
    report("validate (with catalog)", lat.len(), lat, wall);
    let (lat, wall) = run_parallel(Load::Count(issues), clients, issue).await;
    report("issue (password, argon2id)", lat.len(), lat, wall);
}
