//! The PostgreSQL server the tests use, shared by `tests/api` and `tests/multinode.rs` (each
//! includes this file with `#[path]`).
//!
//! On first use: when `IRONSTONE_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432`)
//! accepts us, that server is used. When nothing answers there (or the default URL refuses us,
//! e.g. Debian's own cluster with password auth), a throwaway cluster is started from the installed
//! PostgreSQL binaries in a temp dir on a free port and used for the rest of the test process.
//!
//! Cleanup: Rust runs no destructors for statics and the test harness ends with `exit`, so the
//! cluster is torn down by a watcher process instead: a small `sh` in its own process group whose
//! stdin is a pipe held open only by this process. When this process ends, however it ends
//! (normally, panic, Ctrl-C, SIGKILL), the kernel closes the pipe, the watcher's `cat` sees EOF, and
//! the watcher stops the postmaster (SIGQUIT, immediate shutdown) and removes the temp dir.
#![allow(dead_code)]

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use diesel::{Connection, PgConnection};

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432";

static SERVER: OnceLock<Result<String, String>> = OnceLock::new();
/// Write end of the watcher's stdin; never written to, only kept open for the process lifetime.
static WATCHER: Mutex<Option<ChildStdin>> = Mutex::new(None);

/// Base URL (no database) of a PostgreSQL server with trust auth for user `postgres`, which may
/// create databases. Panics with how to get one if there is none and none can be started.
pub fn server() -> String {
    match SERVER.get_or_init(find_or_start) {
        Ok(url) => url.clone(),
        Err(e) => panic!("{e}"),
    }
}

fn find_or_start() -> Result<String, String> {
    let explicit = std::env::var("IRONSTONE_TEST_POSTGRES_URL").ok();
    let url = explicit.clone().unwrap_or_else(|| DEFAULT_URL.into());
    let refusal = match PgConnection::establish(&format!("{url}/postgres?connect_timeout=10")) {
        Ok(_) => return Ok(url),
        Err(e) => e
            .to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    };
    // A server the user named explicitly that listens but refuses us is a mistake to report,
    // not to paper over with another server.
    if explicit.is_some() && listens(&url) {
        return Err(format!(
            "PostgreSQL at IRONSTONE_TEST_POSTGRES_URL={url} refuses the tests: {refusal}\n\
             The tests need a user with trust auth that may create databases. Fix that server, \
             or unset IRONSTONE_TEST_POSTGRES_URL: then the tests use \
             postgres://postgres@127.0.0.1:5432, or start a throwaway cluster themselves when \
             that does not accept them."
        ));
    }
    let started = start_cluster()?;
    let _ = writeln!(
        std::io::stderr(),
        "ironstone tests: {url} did not accept a connection ({refusal}); using a throwaway \
         PostgreSQL cluster at {started}, removed when this test process ends"
    );
    Ok(started)
}

/// Whether something accepts TCP connections at the URL's host and port.
fn listens(url: &str) -> bool {
    let Ok(u) = url::Url::parse(url) else {
        return true;
    };
    let (Some(host), port) = (u.host_str(), u.port().unwrap_or(5432)) else {
        return true;
    };
    let Ok(addrs) = std::net::ToSocketAddrs::to_socket_addrs(&(host, port)) else {
        return false;
    };
    addrs
        .into_iter()
        .any(|a| std::net::TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok())
}

/// A directory holding `initdb`, `pg_ctl` and `postgres`: `pg_config --bindir`, then Debian's
/// `/usr/lib/postgresql/<newest>/bin`, then `PATH`.
fn bindir() -> Option<PathBuf> {
    let complete = |d: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|t| d.join(t).is_file())
    };
    let mut candidates = vec![];
    if let Ok(o) = Command::new("pg_config").arg("--bindir").output() {
        if o.status.success() {
            candidates.push(PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
        }
    }
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse().ok()?;
            Some((v, e.path().join("bin")))
        })
        .collect();
    debian.sort();
    candidates.extend(debian.into_iter().rev().map(|(_, p)| p));
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path));
    }
    candidates.into_iter().find(|d| complete(d))
}

/// The unprivileged account to run PostgreSQL as when we are root (initdb and pg_ctl refuse
/// root): `postgres` if it exists (Debian's package creates it), else `nobody`. (uid, gid).
fn unprivileged() -> Result<(u32, u32), String> {
    let id = |flag: &str, user: &str| -> Option<u32> {
        let o = Command::new("id").args([flag, user]).output().ok()?;
        o.status.success().then_some(())?;
        String::from_utf8_lossy(&o.stdout).trim().parse().ok()
    };
    ["postgres", "nobody"]
        .iter()
        .find_map(|u| Some((id("-u", u)?, id("-g", u)?)))
        .ok_or_else(|| {
            "running as root, and neither a `postgres` nor a `nobody` account exists to run a \
             throwaway PostgreSQL as (initdb refuses root)"
                .to_string()
        })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// Initializes and starts a cluster in a fresh temp dir; returns its base URL.
fn start_cluster() -> Result<String, String> {
    let Some(bin) = bindir() else {
        return Err(
            "no PostgreSQL answers at IRONSTONE_TEST_POSTGRES_URL (default \
             postgres://postgres@127.0.0.1:5432), and no PostgreSQL server binaries (initdb, \
             pg_ctl, postgres) were found (pg_config --bindir, /usr/lib/postgresql/*/bin, PATH) \
             to start a throwaway one.\n\
             Install them (Debian/Ubuntu: `apt-get install postgresql`; Fedora: `dnf install \
             postgresql-server`; macOS: `brew install postgresql`), or point \
             IRONSTONE_TEST_POSTGRES_URL at a server where user `postgres` has trust auth and \
             may create databases."
                .into(),
        );
    };
    let run_as = if rustix::process::getuid().is_root() {
        Some(unprivileged()?)
    } else {
        None
    };
    let dir = std::env::temp_dir().join(format!("ironstone-test-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    // The watcher first, so that whatever happens next, the dir goes when this process does.
    let data = dir.join("data");
    let script = r#"
        cat >/dev/null
        pid=$(head -n1 "$1/postmaster.pid" 2>/dev/null)
        if [ -n "$pid" ] && kill -QUIT "$pid" 2>/dev/null; then
            i=0
            while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
            kill -KILL "$pid" 2>/dev/null
        fi
        rm -rf "$2"
    "#;
    let mut watcher = Command::new("sh")
        .args(["-c", script, "ironstone-test-pg-watcher"])
        .arg(&data)
        .arg(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("starting the cleanup watcher (sh): {e}"))?;
    // Kept only once the cluster is up; dropped on any failure below, so the watcher cleans up
    // at once.
    let stdin = watcher.stdin.take();
    if let Some((uid, gid)) = run_as {
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
            .map_err(|e| format!("chown {}: {e}", dir.display()))?;
    }
    let tool = |name: &str| {
        let mut c = Command::new(bin.join(name));
        c.current_dir(&dir).stdin(Stdio::null()).process_group(0);
        if let Some((uid, gid)) = run_as {
            c.uid(uid).gid(gid);
        }
        c
    };
    let out = tool("initdb")
        .arg("-D")
        .arg(&data)
        .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C"])
        .args(["--no-sync"])
        .output()
        .map_err(|e| format!("running {}/initdb: {e}", bin.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{}/initdb failed:\n{}{}",
            bin.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let log = dir.join("server.log");
    let mut last = String::new();
    for _ in 0..3 {
        let port = free_port();
        let opts = format!(
            "-h 127.0.0.1 -p {port} -k {} -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=200",
            dir.display()
        );
        let status = tool("pg_ctl")
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(&log)
            .args(["-o", &opts, "-w", "-t", "60", "start"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("running {}/pg_ctl: {e}", bin.display()))?;
        let url = format!("postgres://postgres@127.0.0.1:{port}");
        if status.success() && ready(&url) {
            *WATCHER.lock().unwrap() = stdin;
            return Ok(url);
        }
        last = std::fs::read_to_string(&log).unwrap_or_default();
    }
    Err(format!(
        "a throwaway PostgreSQL ({}) did not start in {}; server log:\n{last}",
        bin.display(),
        dir.display()
    ))
}

fn ready(url: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if PgConnection::establish(&format!("{url}/postgres")).is_ok() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
