//! What the benchmarks share: the admin password, numbers from the environment, and the real
//! server started in this process on a fresh store. Each benchmark uses a part of it.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use ironstone::app::Application;
use ironstone::bootstrap;
use ironstone::config::Config;
use ironstone::store::Store;
use secrecy::SecretString;

pub const PASSWORD: &str = "Bench-Pass-1";

pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Migrates the store, creates the keys, bootstraps (admin password `PASSWORD`) and serves in this
/// process; returns the base URL.
pub async fn serve_in_process(config: Config) -> String {
    let store = Store::connect(&config.database_url(), config.database_pool_size).expect("store");
    store.migrate().expect("migrate");
    ironstone::cli::serve::key_repositories(&config, &store, true).expect("keys");
    let app = Application::build(config, store).expect("app");
    let state = app.state();
    bootstrap::run(
        &state,
        bootstrap::Options {
            password: Some(SecretString::from(PASSWORD)),
            ..Default::default()
        },
        chrono::Utc::now(),
    )
    .await
    .expect("bootstrap");
    let base = format!("http://127.0.0.1:{}", app.port());
    actix_web::rt::spawn(app.run_until_stopped());
    base
}

/// How long a load runs: a number of requests in all, or a time.
#[derive(Clone, Copy)]
pub enum Load {
    Count(usize),
    For(Duration),
}

/// The load generator every benchmark uses: `clients` closed-loop clients, each sending `f()`
/// again as soon as the previous answer arrived, until the load is done. Returns every
/// request's latency and the wall time.
pub async fn run_parallel<F, Fut>(load: Load, clients: usize, f: F) -> (Vec<Duration>, Duration)
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let start = Instant::now();
    let mut handles = vec![];
    for _ in 0..clients {
        let f = f.clone();
        handles.push(tokio::spawn(async move {
            let mut lat = vec![];
            loop {
                match load {
                    Load::Count(n) if lat.len() >= n.div_ceil(clients) => break,
                    Load::For(d) if start.elapsed() >= d => break,
                    _ => {}
                }
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

/// p-th percentile of sorted latencies.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

/// Requests per second, p50 and p99 of one load, as a line; returns (req/s, p50, p99).
pub fn report(
    what: &str,
    n: usize,
    mut lat: Vec<Duration>,
    wall: Duration,
) -> (f64, Duration, Duration) {
    lat.sort();
    let rate = n as f64 / wall.as_secs_f64();
    let (p50, p99) = (percentile(&lat, 0.50), percentile(&lat, 0.99));
    println!(
        "{what:<28} {n:>7} requests  {rate:>8.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
    );
    (rate, p50, p99)
}

/// A database of its own on the PostgreSQL server at `server` (a URL without database), dropped
/// with the guard.
pub struct BenchDb {
    pub server: String,
    pub name: String,
}

impl BenchDb {
    pub fn create(server: &str) -> BenchDb {
        use diesel::connection::SimpleConnection;
        use diesel::Connection;
        let name = format!("ironstone_bench_{}", std::process::id());
        let mut c = diesel::PgConnection::establish(&format!("{server}/postgres"))
            .unwrap_or_else(|e| panic!("PostgreSQL at {server}: {e}"));
        c.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\""))
            .and_then(|()| c.batch_execute(&format!("CREATE DATABASE \"{name}\"")))
            .expect("create the benchmark database");
        BenchDb {
            server: server.to_string(),
            name,
        }
    }

    pub fn url(&self) -> String {
        format!("{}/{}", self.server, self.name)
    }

    /// Runs `text` (one or more statements) in the database.
    pub fn sql(&self, text: &str) {
        use diesel::connection::SimpleConnection;
        use diesel::Connection;
        let mut c = diesel::PgConnection::establish(&self.url()).expect("bench database");
        c.batch_execute(text)
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
    }
}

impl Drop for BenchDb {
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

/// `VmRSS` and `VmHWM` of a process, in KiB (0 when unreadable).
pub fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// This package's `ironstone serve` (the release binary under `cargo bench`), run as its own
/// process on a fresh data directory; killed when dropped.
pub struct Server {
    pub child: std::process::Child,
    pub base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Runs each of `setup` (admin commands such as `["db", "sync"]`), then `serve`, all with
    /// `env` and the admin password `PASSWORD`; returns once `/v3` answers.
    pub async fn start(
        client: &reqwest::Client,
        env: &[(&str, String)],
        setup: &[&[&str]],
    ) -> Server {
        use std::process::{Command, Stdio};
        let dir = tempfile::tempdir().expect("temp dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let command = |args: &[&str]| {
            let mut c = Command::new(env!("CARGO_BIN_EXE_ironstone"));
            c.args(args)
                .env("IRONSTONE_DATA_DIR", dir.path())
                .env("IRONSTONE_BIND", format!("127.0.0.1:{port}"))
                .env("IRONSTONE_BOOTSTRAP_PASSWORD", PASSWORD)
                .env("RUST_LOG", "error")
                .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
                .stdout(Stdio::null())
                .stderr(Stdio::inherit());
            c
        };
        for args in setup {
            let ok = command(args).status().expect("admin command").success();
            assert!(ok, "ironstone {args:?} failed");
        }
        let child = command(&["serve"]).spawn().expect("start the server");
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(r) = client.get(format!("{}/v3", server.base)).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "the server did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        server
    }
}
