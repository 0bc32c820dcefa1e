//! PostgreSQL restarts under load: what clients see while the database is down and how fast
//! service returns. Starts a throwaway cluster from the installed binaries (Debian's
//! /usr/lib/postgresql/*/bin) on its own port, runs the real server against it, validates tokens
//! and creates projects continuously, restarts the cluster (`pg_ctl restart -m fast`, then a
//! stop/start with a pause), and prints: answers by status, the slowest answer while down, the
//! delay from "database answers" to the first 200, and acknowledged writes missing afterwards.
//! Prints figures; asserts nothing about speed.
//!
//!     cargo bench --bench db_restart          # BENCH_RESTARTS=2 BENCH_DOWN_MS=1500 BENCH_PORT=55432

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ironstone::config::Config;
use serde_json::json;

mod common;
use common::{serve_in_process, PASSWORD};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A cluster in a temp dir, run as the `postgres` OS user when we are root (initdb refuses root).
#[derive(Clone)]
struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    port: u64,
    as_postgres: bool,
}

impl Cluster {
    fn cmd(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    fn ctl(&self, args: &[&str]) {
        let opts = format!("-h 127.0.0.1 -p {} -k {}", self.port, self.data.display());
        let ok = self
            .cmd("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-l"])
            .arg(self.data.join("server.log"))
            .args(["-o", &opts])
            .args(args)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("pg_ctl")
            .success();
        assert!(ok, "pg_ctl {args:?} failed");
    }

    fn start(dir: &Path, port: u64) -> Cluster {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL binaries in /usr/lib/postgresql (apt-get install postgresql)")
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|p| p.join("initdb").exists())
            .max()
            .expect("an initdb");
        let as_postgres = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| o.stdout.starts_with(b"0"))
            .unwrap_or(false);
        let data = dir.join("pgdata");
        std::fs::create_dir_all(&data).unwrap();
        if as_postgres {
            Command::new("chown")
                .args(["-R", "postgres"])
                .arg(dir)
                .status()
                .unwrap();
        }
        let c = Cluster {
            bin,
            data,
            port,
            as_postgres,
        };
        let ok = c
            .cmd("initdb")
            .arg("-D")
            .arg(&c.data)
            .args(["-U", "postgres", "--auth=trust"])
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok, "initdb failed");
        c.ctl(&["-w", "start"]);
        c
    }
}

/// Stops the cluster when the bench ends, however it ends.
struct StopOnDrop(Cluster);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = self
            .0
            .cmd("pg_ctl")
            .arg("-D")
            .arg(&self.0.data)
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(std::process::Stdio::null())
            .status();
    }
}

#[derive(Default)]
struct Seen {
    statuses: BTreeMap<u16, usize>,
    /// (when it was sent, how long it took, status)
    answers: Vec<(Instant, Duration, u16)>,
    acknowledged: Vec<String>,
}

#[actix_web::main]
async fn main() {
    let restarts = env_u64("BENCH_RESTARTS", 2);
    let down = Duration::from_millis(env_u64("BENCH_DOWN_MS", 1500));
    let port = env_u64("BENCH_PORT", 55432);
    let dir = tempfile::tempdir().expect("temp dir");
    let cluster = Cluster::start(dir.path(), port);
    let guard = StopOnDrop(cluster.clone());
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");

    let config = Config {
        data_dir: dir.path().join("ironstone"),
        bind: "127.0.0.1:0".into(),
        database_url: Some(url.clone()),
        ..Default::default()
    };
    let base = serve_in_process(config).await;

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let auth = json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"id": "default"}, "password": PASSWORD}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}});
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
        .unwrap()
        .to_string();

    let validations = Arc::new(Mutex::new(Seen::default()));
    let writes = Arc::new(Mutex::new(Seen::default()));
    let running = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let mut clients = vec![];
    for k in 0..4 {
        let (client, base, token, running) =
            (client.clone(), base.clone(), token.clone(), running.clone());
        let seen = if k == 0 {
            writes.clone()
        } else {
            validations.clone()
        };
        clients.push(actix_web::rt::spawn(async move {
            let mut i = 0;
            while running.load(std::sync::atomic::Ordering::Relaxed) {
                i += 1;
                let t = Instant::now();
                let req = if k == 0 {
                    client
                        .post(format!("{base}/v3/projects"))
                        .json(&json!({"project": {"name": format!("p{i}")}}))
                } else {
                    client
                        .get(format!("{base}/v3/auth/tokens?nocatalog"))
                        .header("X-Subject-Token", &token)
                };
                let r = req.header("X-Auth-Token", &token).send().await;
                let (status, body) = match r {
                    Ok(r) => {
                        let s = r.status().as_u16();
                        (s, r.json::<serde_json::Value>().await.unwrap_or_default())
                    }
                    Err(_) => (0, serde_json::Value::Null),
                };
                {
                    let mut s = seen.lock().unwrap();
                    *s.statuses.entry(status).or_default() += 1;
                    s.answers.push((t, t.elapsed(), status));
                    if k == 0 && status == 201 {
                        if let Some(id) = body["project"]["id"].as_str() {
                            s.acknowledged.push(id.to_string());
                        }
                    }
                }
                if status != 200 && status != 201 {
                    actix_web::rt::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }));
    }

    let pause = |d| actix_web::rt::time::sleep(d);
    let mut outages = vec![];
    pause(Duration::from_secs(2)).await;
    for n in 0..restarts {
        let stopped = Instant::now();
        let c = cluster.clone();
        actix_web::rt::task::spawn_blocking(move || {
            if n % 2 == 0 {
                c.ctl(&["-m", "fast", "-w", "restart"]);
            } else {
                c.ctl(&["-m", "fast", "-w", "stop"]);
                std::thread::sleep(down);
                c.ctl(&["-w", "start"]);
            }
        })
        .await
        .unwrap();
        outages.push((stopped, Instant::now()));
        pause(Duration::from_secs(3)).await;
    }
    running.store(false, std::sync::atomic::Ordering::Relaxed);
    for c in clients {
        let _ = c.await;
    }

    let acknowledged = {
        let v = validations.lock().unwrap();
        let w = writes.lock().unwrap();
        println!("ironstone under PostgreSQL restarts: {restarts} restarts, 3 validating clients, 1 writing client");
        println!("validations by status: {:?}", v.statuses);
        println!("writes by status:      {:?}", w.statuses);
        for (n, (stopped, answering)) in outages.iter().enumerate() {
            let during = |s: &Seen| {
                s.answers
                    .iter()
                    .filter(|(t, _, _)| *t >= *stopped && *t < *answering)
                    .map(|(_, d, _)| *d)
                    .max()
                    .unwrap_or_default()
            };
            let back = v
                .answers
                .iter()
                .filter(|(t, _, s)| *t >= *answering && *s == 200)
                .map(|(t, d, _)| (*t + *d).saturating_duration_since(*answering))
                .min();
            println!(
            "restart {n}: database down for {:?}; slowest answer sent meanwhile: validate {:?}, write {:?}; first 200 {:?} after the database answered",
            answering.duration_since(*stopped),
            during(&v),
            during(&w),
            back
        );
        }
        w.acknowledged.clone()
    };
    let mut missing = 0;
    for id in &acknowledged {
        let r = client
            .get(format!("{base}/v3/projects/{id}"))
            .header("X-Auth-Token", &token)
            .send()
            .await
            .expect("read back");
        if r.status().as_u16() != 200 {
            missing += 1;
        }
    }
    println!(
        "acknowledged writes: {}, missing afterwards: {missing}",
        acknowledged.len()
    );
    drop(guard);
}
