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

use std::time::{Duration, Instant};

use ironstone::config::Config;
use serde_json::json;

mod common;
use common::{env_usize, serve_in_process, PASSWORD};

fn report(what: &str, n: usize, mut lat: Vec<Duration>, wall: Duration) {
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    println!(
        "{what:<28} {n:>6} requests  {:>8.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  RSS {:>5} MiB (peak {:>5} MiB)",
        n as f64 / wall.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        proc_status_mib("VmRSS:"),
        proc_status_mib("VmHWM:"),
    );
}

/// A `/proc/self/status` memory figure in MiB (0 where there is none).
fn proc_status_mib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))?
                .split_whitespace()
                .nth(1)?
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kib| kib / 1024)
}

/// A fresh database on the PostgreSQL server at `server`, dropped with the guard.
struct PgBenchDb {
    server: String,
    name: String,
}

impl PgBenchDb {
    fn create(server: &str) -> PgBenchDb {
        use diesel::connection::SimpleConnection;
        use diesel::Connection;
        let name = format!("ironstone_bench_{}", std::process::id());
        let mut c = diesel::PgConnection::establish(&format!("{server}/postgres"))
            .unwrap_or_else(|e| panic!("PostgreSQL at {server}: {e}"));
        c.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\""))
            .and_then(|()| c.batch_execute(&format!("CREATE DATABASE \"{name}\"")))
            .expect("create the benchmark database");
        PgBenchDb {
            server: server.to_string(),
            name,
        }
    }
}

impl Drop for PgBenchDb {
    fn drop(&mut self) {
        use diesel::connection::SimpleConnection;
        use diesel::Connection;
        if let Ok(mut c) = diesel::PgConnection::establish(&format!("{}/postgres", self.server)) {
            let _ = c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ));
        }
    }
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
    let pg = std::env::var("BENCH_POSTGRES")
        .ok()
        .map(|server| PgBenchDb::create(&server));
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        bind: "127.0.0.1:0".into(),
        database_url: pg.as_ref().map(|db| format!("{}/{}", db.server, db.name)),
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

    let (lat, wall) = run_parallel(validations, clients, check).await;
    report("check (HEAD)", lat.len(), lat, wall);
    let (lat, wall) = run_parallel(validations, clients, validate(false)).await;
    report("validate (nocatalog)", lat.len(), lat, wall);
    let (lat, wall) = run_parallel(validations, clients, validate(true)).await;
    report("validate (with catalog)", lat.len(), lat, wall);
    let (lat, wall) = run_parallel(issues, clients, issue).await;
    report("issue (password, argon2id)", lat.len(), lat, wall);
    drop(pg);
}
