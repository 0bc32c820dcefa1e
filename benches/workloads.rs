//! Issue 13's workloads against the real server on PostgreSQL: starts this package's release
//! binary (`ironstone serve`) on a fresh database, drives each workload with closed-loop clients
//! (the load generator of `common`, shared with `tokens`), and prints req/s, p50/p99 and the
//! server's peak RSS during each. Prints figures; asserts nothing about speed.
//!
//!     cargo bench --bench workloads                        # 64 clients, 10 s per workload
//!     BENCH_SECONDS=3 BENCH_CLIENTS=16 cargo bench --bench workloads
//!     BENCH_ONLY=list cargo bench --bench workloads         # only workloads named *list*
//!     cargo bench --bench workloads -- --scale             # 100 users vs 1,000,000 users
//!
//! Workloads: validate (GET /v3/auth/tokens, with catalog), check (HEAD), get-project,
//! list-users (a domain of 200 users), issue with an application credential (generated secret),
//! and for comparison the same with a secret the user chose (Argon2id).
//!
//! `--scale` seeds a domain straight into PostgreSQL with generate_series (users, one project
//! per 10 users, a member assignment per user, one revocation event per 10 users), measures
//! validate, get-user, list-users?limit=100, role_assignments?user.id= and auth/projects at 100
//! users, grows the same domain to BENCH_SCALE_USERS (default 1,000,000) and measures again.
//!
//! The database: BENCH_DATABASE_URL (a PostgreSQL server URL without database, default
//! postgres://postgres@127.0.0.1:5432); a database of its own is created and dropped.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod common;
use common::{env_usize, memory_kib, report, run_parallel, BenchDb, Load, Server, PASSWORD};

/// Resets the process's peak RSS (VmHWM) to its current RSS (Linux `clear_refs`, value 5).
fn reset_peak(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

/// `ironstone serve` on the database: the first start migrates, makes the keys and bootstraps.
async fn start_server(client: &reqwest::Client, db: &BenchDb) -> Server {
    Server::start(client, &[("IRONSTONE_DATABASE_URL", db.url())], &[]).await
}

async fn token(client: &reqwest::Client, base: &str, auth: Value) -> (String, Value) {
    let r = client
        .post(format!("{base}/v3/auth/tokens"))
        .json(&auth)
        .send()
        .await
        .expect("issue");
    assert_eq!(r.status().as_u16(), 201, "token refused");
    let t = r
        .headers()
        .get("x-subject-token")
        .expect("X-Subject-Token")
        .to_str()
        .expect("ascii")
        .to_string();
    (t, r.json().await.expect("token body"))
}

fn admin_auth() -> Value {
    json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"id": "default"}, "password": PASSWORD}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}})
}

/// One request shape, sent again and again; the answer must have `status`.
#[derive(Clone)]
struct Req {
    client: reqwest::Client,
    method: reqwest::Method,
    url: String,
    headers: Vec<(&'static str, String)>,
    body: Option<Value>,
    status: u16,
}

impl Req {
    fn get(client: &reqwest::Client, url: String, token: &str) -> Req {
        Req {
            client: client.clone(),
            method: reqwest::Method::GET,
            url,
            headers: vec![("X-Auth-Token", token.to_string())],
            body: None,
            status: 200,
        }
    }

    async fn send(self) {
        let mut r = self.client.request(self.method, &self.url);
        for (k, v) in &self.headers {
            r = r.header(*k, v);
        }
        if let Some(b) = &self.body {
            r = r.json(b);
        }
        let r = r.send().await.expect("request");
        let status = r.status().as_u16();
        let _ = r.bytes().await;
        assert_eq!(status, self.status, "{}", self.url);
    }
}

/// Runs one workload and prints its line with the server's peak RSS during it.
/// `BENCH_ONLY=list` runs only the workloads whose name contains `list` (for profiling one).
async fn measure(what: &str, req: Req, pid: u32, load: Load, clients: usize) -> (f64, Duration) {
    if std::env::var("BENCH_ONLY").is_ok_and(|only| !what.contains(only.as_str())) {
        return (f64::NAN, Duration::ZERO);
    }
    // One request first: a workload that fails says so before the timed run.
    req.clone().send().await;
    reset_peak(pid);
    let (lat, wall) = run_parallel(load, clients, move || req.clone().send()).await;
    let n = lat.len();
    let (rate, _, p99) = report(what, n, lat, wall);
    let (rss, peak) = memory_kib(pid);
    println!(
        "{:<28} server RSS {:>6.1} MiB now, {:>6.1} MiB peak during the run",
        "",
        rss as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    (rate, p99)
}

/// Users `su<n>` in `domain` for n in `from..=to`, a project `sp<n/10>` per ten users, a member
/// assignment per user, and a revocation event per ten users (half by user, half by audit id,
/// all older than the tokens measured).
fn seed(db: &BenchDb, domain: &str, member_role: &str, from: usize, to: usize) {
    let id = |prefix: &str, expr: &str| format!("'{prefix}' || lpad(({expr})::text, 8, '0')");
    let (u, p) = (id("su", "g"), id("sp", "g / 10"));
    db.sql(&format!(
        "INSERT INTO projects (id, name, domain_id, enabled, extra, created_at)
           SELECT {pid}, 'sp' || g, '{domain}', TRUE, '{{}}', now()
           FROM generate_series({pf}, {pt}) g ON CONFLICT DO NOTHING;
         INSERT INTO users (id, name, domain_id, enabled, extra, created_at)
           SELECT {u}, 'su' || g, '{domain}', TRUE, '{{}}', now()
           FROM generate_series({from}, {to}) g;
         INSERT INTO role_assignments (actor_type, actor_id, target_type, target_id, role_id, inherited)
           SELECT 'user', {u}, 'project', {p}, '{member_role}', FALSE
           FROM generate_series({from}, {to}) g;
         INSERT INTO revocation_events (id, user_id, audit_id, issued_before, revoked_at)
           SELECT 'sr' || g,
                  CASE WHEN g % 2 = 0 THEN {u} END,
                  CASE WHEN g % 2 = 1 THEN substr(md5(g::text), 1, 22) END,
                  now() - interval '1 hour', now() - interval '1 hour'
           FROM generate_series({from}, {to}) g WHERE g % 10 = 0;
         ANALYZE;",
        pid = id("sp", "g"),
        pf = from / 10,
        pt = to / 10,
    ));
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let scale = std::env::args().any(|a| a == "--scale");
    let secs = env_usize("BENCH_SECONDS", 10) as u64;
    let clients = env_usize("BENCH_CLIENTS", 64);
    let load = Load::For(Duration::from_secs(secs));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()
        .expect("client");
    let db = BenchDb::create(
        &std::env::var("BENCH_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into()),
    );
    let server = start_server(&client, &db).await;
    let pid = server.child.id();
    let base = server.base.clone();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "ironstone workloads: PostgreSQL, release server pid {pid}, {clients} clients, {secs} s each, {cpus} CPUs (load generator on the same machine)"
    );
    let (admin, body) = token(&client, &base, admin_auth()).await;
    let admin_project = body["token"]["project"]["id"].as_str().unwrap().to_string();
    let admin_user = body["token"]["user"]["id"].as_str().unwrap().to_string();
    let (rss, _) = memory_kib(pid);
    println!("server RSS after start: {:.1} MiB", rss as f64 / 1024.0);

    if scale {
        return scale_run(&client, &db, &server, &admin, load, clients).await;
    }

    let validate = Req {
        headers: vec![
            ("X-Auth-Token", admin.clone()),
            ("X-Subject-Token", admin.clone()),
        ],
        ..Req::get(&client, format!("{base}/v3/auth/tokens"), &admin)
    };
    measure(
        "validate (with catalog)",
        validate.clone(),
        pid,
        load,
        clients,
    )
    .await;
    let check = Req {
        method: reqwest::Method::HEAD,
        ..validate
    };
    measure("check (HEAD)", check, pid, load, clients).await;
    let project = Req::get(
        &client,
        format!("{base}/v3/projects/{admin_project}"),
        &admin,
    );
    measure("get-project", project, pid, load, clients).await;

    // A domain of 200 users.
    let r = client
        .post(format!("{base}/v3/domains"))
        .header("X-Auth-Token", &admin)
        .json(&json!({"domain": {"name": "bench200"}}))
        .send()
        .await
        .expect("domain");
    let d: Value = r.json().await.expect("domain body");
    let domain = d["domain"]["id"].as_str().expect("domain id").to_string();
    db.sql(&format!(
        "INSERT INTO users (id, name, domain_id, enabled, extra, created_at)
           SELECT md5('bench200' || g), 'bench-' || g, '{domain}', TRUE, '{{}}', now()
           FROM generate_series(1, 200) g; ANALYZE users;"
    ));
    let list = Req::get(
        &client,
        format!("{base}/v3/users?domain_id={domain}"),
        &admin,
    );
    let r = client
        .get(&list.url)
        .header("X-Auth-Token", &admin)
        .send()
        .await
        .expect("list");
    let listed: Value = r.json().await.expect("list body");
    assert_eq!(listed["users"].as_array().map(Vec::len), Some(200));
    measure("list-users (200 users)", list, pid, load, clients).await;

    // An application credential with a generated secret.
    let r = client
        .post(format!(
            "{base}/v3/users/{admin_user}/application_credentials"
        ))
        .header("X-Auth-Token", &admin)
        .json(&json!({"application_credential": {"name": "bench"}}))
        .send()
        .await
        .expect("app cred");
    let ac: Value = r.json().await.expect("app cred body");
    let issue = Req {
        client: client.clone(),
        method: reqwest::Method::POST,
        url: format!("{base}/v3/auth/tokens"),
        headers: vec![],
        body: Some(
            json!({"auth": {"identity": {"methods": ["application_credential"],
            "application_credential": {"id": ac["application_credential"]["id"],
                                       "secret": ac["application_credential"]["secret"]}}}}),
        ),
        status: 201,
    };
    measure("issue (app credential)", issue, pid, load, clients).await;
    // The same with a secret the user chose: Argon2id, as every secret was before (comparison).
    let r = client
        .post(format!(
            "{base}/v3/users/{admin_user}/application_credentials"
        ))
        .header("X-Auth-Token", &admin)
        .json(&json!({"application_credential": {"name": "bench-chosen",
                                                 "secret": "bench-chosen-secret-1"}}))
        .send()
        .await
        .expect("app cred");
    let chosen: Value = r.json().await.expect("app cred body");
    let issue_chosen = Req {
        client: client.clone(),
        method: reqwest::Method::POST,
        url: format!("{base}/v3/auth/tokens"),
        headers: vec![],
        body: Some(
            json!({"auth": {"identity": {"methods": ["application_credential"],
            "application_credential": {"id": chosen["application_credential"]["id"],
                                       "secret": "bench-chosen-secret-1"}}}}),
        ),
        status: 201,
    };
    measure(
        "issue (chosen secret, argon2)",
        issue_chosen,
        pid,
        load,
        clients,
    )
    .await;
    let (_, peak) = memory_kib(pid);
    println!(
        "server peak RSS since the last reset: {:.1} MiB",
        peak as f64 / 1024.0
    );
    drop(server);
}

async fn scale_run(
    client: &reqwest::Client,
    db: &BenchDb,
    server: &Server,
    admin: &str,
    load: Load,
    clients: usize,
) {
    let base = &server.base;
    let pid = server.child.id();
    let users = env_usize("BENCH_SCALE_USERS", 1_000_000);
    let r = client
        .post(format!("{base}/v3/domains"))
        .header("X-Auth-Token", admin)
        .json(&json!({"domain": {"name": "scale"}}))
        .send()
        .await
        .expect("domain");
    let d: Value = r.json().await.expect("domain body");
    let domain = d["domain"]["id"].as_str().expect("domain id").to_string();
    let r = client
        .get(format!("{base}/v3/roles?name=member"))
        .header("X-Auth-Token", admin)
        .send()
        .await
        .expect("roles");
    let roles: Value = r.json().await.expect("roles body");
    let member = roles["roles"][0]["id"]
        .as_str()
        .expect("member role")
        .to_string();

    let mut rows: Vec<(String, Vec<(f64, Duration)>)> = vec![];
    let mut at = 0;
    for (i, target) in [100, users].into_iter().enumerate() {
        let t = Instant::now();
        seed(db, &domain, &member, at + 1, target);
        at = target;
        // The measured user su00000001 logs in with the admin's password.
        db.sql(
            "UPDATE users SET password_hash = (SELECT password_hash FROM users
                 WHERE name = 'admin' AND domain_id = 'default'), password_created_at = now()
             WHERE id = 'su00000001'",
        );
        println!(
            "--- {target} users (seeded in {:.1} s)",
            t.elapsed().as_secs_f64()
        );
        let (user_token, _) = token(
            client,
            base,
            json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
                "id": "su00000001", "password": PASSWORD}}},
                "scope": {"project": {"id": "sp00000000"}}}}),
        )
        .await;
        let validate = Req {
            headers: vec![
                ("X-Auth-Token", admin.to_string()),
                ("X-Subject-Token", user_token.clone()),
            ],
            ..Req::get(client, format!("{base}/v3/auth/tokens"), admin)
        };
        let work = [
            ("validate", validate),
            (
                "get-user",
                Req::get(client, format!("{base}/v3/users/su00000001"), admin),
            ),
            (
                "list-users?limit=100",
                Req::get(
                    client,
                    format!("{base}/v3/users?domain_id={domain}&limit=100"),
                    admin,
                ),
            ),
            (
                "role_assignments?user.id=",
                Req::get(
                    client,
                    format!("{base}/v3/role_assignments?user.id=su00000001"),
                    admin,
                ),
            ),
            (
                "auth/projects",
                Req::get(client, format!("{base}/v3/auth/projects"), &user_token),
            ),
        ];
        for (j, (what, req)) in work.into_iter().enumerate() {
            let figures = measure(what, req, pid, load, clients).await;
            if i == 0 {
                rows.push((what.to_string(), vec![figures]));
            } else {
                rows[j].1.push(figures);
            }
        }
    }
    println!("--- cost at {users} users relative to 100 users (goal: within 1.5x)");
    for (what, f) in rows {
        let (small, big) = (f[0], f[1]);
        println!(
            "{what:<28} {:>8.0} -> {:>8.0} req/s ({:.2}x slower)   p99 {:>7.2} -> {:>7.2} ms",
            small.0,
            big.0,
            small.0 / big.0,
            small.1.as_secs_f64() * 1e3,
            big.1.as_secs_f64() * 1e3,
        );
    }
}
