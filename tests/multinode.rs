//! Several nodes from the first start: three real `ironstone serve` processes started at once on
//! one empty PostgreSQL database, sharing the fernet and credential key repositories.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use serde_json::{json, Value};

const PASSWORD: &str = "Multi-Node-Pass-1";

#[path = "support/pg.rs"]
mod pg;

/// The PostgreSQL server of `IRONSTONE_TEST_POSTGRES_URL`, or a throwaway one (`tests/support/pg.rs`).
fn pg_server() -> String {
    pg::server()
}

/// A new, empty database, dropped with the guard.
struct Database {
    name: String,
}

impl Database {
    fn create() -> Database {
        let name = format!("ironstone_multi_{}", uuid::Uuid::new_v4().simple());
        let server = pg_server();
        let mut c = PgConnection::establish(&format!("{server}/postgres"))
            .unwrap_or_else(|e| panic!("PostgreSQL at {server}: {e}"));
        c.batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .unwrap();
        Database { name }
    }

    fn url(&self) -> String {
        format!("{}/{}", pg_server(), self.name)
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Ok(mut c) = PgConnection::establish(&format!("{}/postgres", pg_server())) {
            let _ = c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// A server process, killed with the guard.
struct Node {
    child: Child,
    base: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn command(db: &Database, data: &Path, fernet: &Path, credential: &Path, port: u16) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ironstone"));
    cmd.arg("serve")
        .env_remove("IRONSTONE_CONFIG")
        .env("IRONSTONE_DATA_DIR", data)
        .env("IRONSTONE_DATABASE_URL", db.url())
        .env("IRONSTONE_BIND", format!("127.0.0.1:{port}"))
        .env("IRONSTONE_KEY_REPOSITORY", fernet)
        .env("IRONSTONE_CREDENTIAL_KEY_REPOSITORY", credential)
        .env("IRONSTONE_BOOTSTRAP_PASSWORD", PASSWORD)
        .env("IRONSTONE_LOG", "warn");
    cmd
}

async fn healthy(client: &reqwest::Client, node: &mut Node) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = node.child.try_wait().unwrap() {
            let mut err = String::new();
            if let Some(mut e) = node.child.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            panic!(
                "node {} exited ({status}) before it was healthy:\n{err}",
                node.base
            );
        }
        if let Ok(r) = client
            .get(format!("{}/healthcheck", node.base))
            .send()
            .await
        {
            if r.status() == 200 {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "node {} not healthy after 60 s",
            node.base
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Issues a project-scoped admin token on `base`: (token, user id, project id).
async fn login(client: &reqwest::Client, base: &str) -> (String, String, String) {
    let r = client
        .post(format!("{base}/v3/auth/tokens"))
        .json(&json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": "admin", "domain": {"id": "default"}, "password": PASSWORD}}},
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "login on {base}");
    let token = r.headers()["x-subject-token"].to_str().unwrap().to_string();
    let body: Value = r.json().await.unwrap();
    (
        token,
        body["token"]["user"]["id"].as_str().unwrap().to_string(),
        body["token"]["project"]["id"].as_str().unwrap().to_string(),
    )
}

/// Runs `cmd` to its end (it must stop by itself) and returns its status and standard error.
fn run_to_end(mut cmd: Command) -> (std::process::ExitStatus, String) {
    let out = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut node = Node {
        child: out,
        base: String::new(),
    };
    loop {
        if let Some(status) = node.child.try_wait().unwrap() {
            let mut err = String::new();
            if let Some(mut e) = node.child.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            return (status, err);
        }
        assert!(
            Instant::now() < deadline,
            "a node without its key repositories kept running"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_start_at_once_on_an_empty_postgres() {
    let db = Database::create();
    let dir = tempfile::tempdir().unwrap();
    let fernet = dir.path().join("fernet-keys");
    let credential = dir.path().join("credential-keys");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();

    let mut nodes: Vec<Node> = (0..3)
        .map(|i| {
            let port = free_port();
            let data = dir.path().join(format!("node{i}"));
            let child = command(&db, &data, &fernet, &credential, port)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            Node {
                child,
                base: format!("http://127.0.0.1:{port}"),
            }
        })
        .collect();
    for node in nodes.iter_mut() {
        healthy(&client, node).await;
    }

    // A token issued on one node validates on the others.
    let (token, user_id, project_id) = login(&client, &nodes[0].base).await;
    for node in &nodes[1..] {
        let r = client
            .get(format!("{}/v3/auth/tokens", node.base))
            .header("X-Auth-Token", &token)
            .header("X-Subject-Token", &token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "token from node 1 on {}", node.base);
    }

    // An EC2 credential made through node 1 is read, blob decrypted, through the others.
    let blob = json!({"access": "multi-access", "secret": "multi-secret"}).to_string();
    let r = client
        .post(format!("{}/v3/credentials", nodes[0].base))
        .header("X-Auth-Token", &token)
        .json(
            &json!({"credential": {"user_id": user_id, "type": "ec2", "blob": blob,
                                      "project_id": project_id}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let id = created["credential"]["id"].as_str().unwrap().to_string();
    for node in &nodes[1..] {
        let r = client
            .get(format!("{}/v3/credentials/{id}", node.base))
            .header("X-Auth-Token", &token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "credential from node 1 on {}", node.base);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["credential"]["blob"], blob.as_str());
    }
    drop(nodes);

    // A node started on the bootstrapped store without the shared repositories stops, naming
    // the one that is missing, instead of inventing keys of its own.
    let lone = dir.path().join("lone");
    let (missing_fernet, missing_credential) =
        (lone.join("fernet-keys"), lone.join("credential-keys"));
    let (status, err) = run_to_end(command(
        &db,
        &lone,
        &missing_fernet,
        &missing_credential,
        free_port(),
    ));
    assert!(!status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "fernet key repository {} is missing",
            missing_fernet.display()
        )),
        "{err}"
    );
    let (status, err) = run_to_end(command(
        &db,
        &lone,
        &fernet,
        &missing_credential,
        free_port(),
    ));
    assert!(!status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "credential key repository {} is missing",
            missing_credential.display()
        )),
        "{err}"
    );
    assert!(!missing_fernet.exists() && !missing_credential.exists());
}

/// Three nodes with their caches warm: each kind of change that affects a token, made through one
/// node, is reflected by the other two within a second. Measures and prints the delay per kind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_on_one_node_are_seen_by_the_others_within_a_second() {
    let db = Database::create();
    let dir = tempfile::tempdir().unwrap();
    let fernet = dir.path().join("fernet-keys");
    let credential = dir.path().join("credential-keys");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut nodes: Vec<Node> = vec![];
    let mut metrics: Vec<String> = vec![];
    for i in 0..3 {
        let (port, metrics_port) = (free_port(), free_port());
        let data = dir.path().join(format!("node{i}"));
        let child = command(&db, &data, &fernet, &credential, port)
            .env(
                "IRONSTONE_METRICS_BIND",
                format!("127.0.0.1:{metrics_port}"),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        nodes.push(Node {
            child,
            base: format!("http://127.0.0.1:{port}"),
        });
        metrics.push(format!("http://127.0.0.1:{metrics_port}/metrics"));
    }
    for node in nodes.iter_mut() {
        healthy(&client, node).await;
    }
    let bases: Vec<String> = nodes.iter().map(|n| n.base.clone()).collect();
    let (admin, _, _) = login(&client, &bases[0]).await;
    let w = World {
        client: client.clone(),
        base: bases[0].clone(),
        admin: admin.clone(),
    };
    let others = &bases[1..];

    // Subjects: one user (and token) per kind of change, so that each change is measured alone.
    let domain = w
        .create("/v3/domains", "domain", json!({"name": "multi"}))
        .await;
    let project = w
        .create(
            "/v3/projects",
            "project",
            json!({"name": "main", "domain_id": domain}),
        )
        .await;
    let member = w.role_id("member").await;
    let mut report: Vec<(String, Vec<Duration>)> = vec![];
    let mut dead: Vec<String> = vec![];

    // A token issued on node 1 validates on the others (cached there from now on).
    let (_, token) = w.subject(&domain, &project, &member, "revoked").await;
    for base in others {
        assert_eq!(w.validate_on(base, &token).await.0, 200);
    }

    // 1. Revocation of the token.
    warm(&w, others, &token).await;
    w.send(
        reqwest::Method::DELETE,
        "/v3/auth/tokens",
        Some(&token),
        None,
    )
    .await;
    report.push(("token revoked".into(), {
        dead.push(token.clone());
        refused(&w, others, &token).await
    }));

    // 2. User disabled; 3. user deleted; 4. password changed.
    let (user, token) = w.subject(&domain, &project, &member, "disabled").await;
    warm(&w, others, &token).await;
    w.patch(
        &format!("/v3/users/{user}"),
        json!({"user": {"enabled": false}}),
    )
    .await;
    report.push(("user disabled".into(), {
        dead.push(token.clone());
        refused(&w, others, &token).await
    }));

    let (user, token) = w.subject(&domain, &project, &member, "deleted").await;
    warm(&w, others, &token).await;
    w.send(
        reqwest::Method::DELETE,
        &format!("/v3/users/{user}"),
        None,
        None,
    )
    .await;
    report.push(("user deleted".into(), {
        dead.push(token.clone());
        refused(&w, others, &token).await
    }));

    let (user, token) = w.subject(&domain, &project, &member, "rotating").await;
    warm(&w, others, &token).await;
    let r = client
        .post(format!("{}/v3/users/{user}/password", w.base))
        .json(&json!({"user": {"original_password": SUBJECT_PW, "password": "Rotated-Pass-7"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    report.push(("password changed".into(), {
        dead.push(token.clone());
        refused(&w, others, &token).await
    }));

    // 5. Grant removed (its only role).
    let (user, token) = w.subject(&domain, &project, &member, "ungranted").await;
    warm(&w, others, &token).await;
    w.send(
        reqwest::Method::DELETE,
        &format!("/v3/projects/{project}/users/{user}/roles/{member}"),
        None,
        None,
    )
    .await;
    report.push(("grant removed".into(), {
        dead.push(token.clone());
        refused(&w, others, &token).await
    }));

    // 6. Group membership removed (the role came through the group only).
    let group = w
        .create(
            "/v3/groups",
            "group",
            json!({"name": "team", "domain_id": domain}),
        )
        .await;
    w.send(
        reqwest::Method::PUT,
        &format!("/v3/projects/{project}/groups/{group}/roles/{member}"),
        None,
        None,
    )
    .await;
    let user = w.user(&domain, "grouped").await;
    w.send(
        reqwest::Method::PUT,
        &format!("/v3/groups/{group}/users/{user}"),
        None,
        None,
    )
    .await;
    let token = w.token(&domain, "grouped").await;
    warm(&w, others, &token).await;
    w.send(
        reqwest::Method::DELETE,
        &format!("/v3/groups/{group}/users/{user}"),
        None,
        None,
    )
    .await;
    report.push(("group membership removed".into(), {
        dead.push(token.clone());
        refused(&w, others, &token).await
    }));

    // 7. Implied role removed: the token stands but no longer shows the implied role.
    let prior = w
        .create("/v3/roles", "role", json!({"name": "operator"}))
        .await;
    let implied = w
        .create("/v3/roles", "role", json!({"name": "observer"}))
        .await;
    w.send(
        reqwest::Method::PUT,
        &format!("/v3/roles/{prior}/implies/{implied}"),
        None,
        None,
    )
    .await;
    let (_, token) = w.subject(&domain, &project, &prior, "implied").await;
    warm(&w, others, &token).await;
    assert!(has_role(
        &w.validate_on(&others[0], &token).await.1,
        "observer"
    ));
    w.send(
        reqwest::Method::DELETE,
        &format!("/v3/roles/{prior}/implies/{implied}"),
        None,
        None,
    )
    .await;
    report.push((
        "implied role removed".into(),
        seen(&w, others, &token, |s, b| {
            s == 200 && !has_role(b, "observer")
        })
        .await,
    ));

    // 8. Role deleted (the token's only role).
    let only = w
        .create("/v3/roles", "role", json!({"name": "ephemeral"}))
        .await;
    let (_, token) = w.subject(&domain, &project, &only, "roleless").await;
    warm(&w, others, &token).await;
    w.send(
        reqwest::Method::DELETE,
        &format!("/v3/roles/{only}"),
        None,
        None,
    )
    .await;
    report.push(("role deleted".into(), {
        dead.push(token.clone());
        refused(&w, others, &token).await
    }));

    // 9. Application credential deleted.
    let (user, user_token) = w.subject(&domain, &project, &member, "automation").await;
    let r = client
        .post(format!(
            "{}/v3/users/{user}/application_credentials",
            w.base
        ))
        .header("X-Auth-Token", &user_token)
        .json(&json!({"application_credential": {"name": "ci", "secret": "ci-secret-multi-1"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let ac: Value = r.json().await.unwrap();
    let ac_id = ac["application_credential"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = client
        .post(format!("{}/v3/auth/tokens", w.base))
        .json(
            &json!({"auth": {"identity": {"methods": ["application_credential"],
            "application_credential": {"id": ac_id, "secret": "ci-secret-multi-1"}}}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let token = r.headers()["x-subject-token"].to_str().unwrap().to_string();
    warm(&w, others, &token).await;
    w.send(
        reqwest::Method::DELETE,
        &format!("/v3/users/{user}/application_credentials/{ac_id}"),
        None,
        None,
    )
    .await;
    report.push(("application credential deleted".into(), {
        dead.push(token.clone());
        refused(&w, others, &token).await
    }));

    // 10. Catalog change: a new service with an endpoint shows in the token body.
    let (_, token) = w.subject(&domain, &project, &member, "catalogued").await;
    warm(&w, others, &token).await;
    let service = w
        .create(
            "/v3/services",
            "service",
            json!({"type": "multi-type", "name": "multi"}),
        )
        .await;
    w.create(
        "/v3/endpoints",
        "endpoint",
        json!({"service_id": service, "interface": "public", "url": "http://multi.example.com"}),
    )
    .await;
    report.push((
        "catalog changed".into(),
        seen(&w, others, &token, |s, b| {
            s == 200
                && b["token"]["catalog"]
                    .as_array()
                    .is_some_and(|c| c.iter().any(|s| s["type"] == "multi-type"))
        })
        .await,
    ));

    // A user renamed: the other nodes' user lists (their cached profiles) show the new name.
    let renamed = w.user(&domain, "before-rename").await;
    let list = format!("/v3/users?domain_id={domain}");
    for base in others {
        for _ in 0..2 {
            assert!(
                listed_name(&w, base, &list, &renamed).await.as_deref() == Some("before-rename")
            );
        }
    }
    w.patch(
        &format!("/v3/users/{renamed}"),
        json!({"user": {"name": "after-rename"}}),
    )
    .await;
    report.push((
        "user renamed (user lists)".into(),
        listed_seen(&w, others, &list, &renamed, "after-rename").await,
    ));

    // 11. Project disabled; 12. project deleted; 13. domain disabled.
    let second = w
        .create(
            "/v3/projects",
            "project",
            json!({"name": "second", "domain_id": domain}),
        )
        .await;
    let (_, token) = w.subject(&domain, &second, &member, "in-second").await;
    warm(&w, others, &token).await;
    w.patch(
        &format!("/v3/projects/{second}"),
        json!({"project": {"enabled": false}}),
    )
    .await;
    report.push(("project disabled".into(), {
        dead.push(token.clone());
        refused(&w, others, &token).await
    }));

    let third = w
        .create(
            "/v3/projects",
            "project",
            json!({"name": "third", "domain_id": domain}),
        )
        .await;
    let (_, token) = w.subject(&domain, &third, &member, "in-third").await;
    warm(&w, others, &token).await;
    w.send(
        reqwest::Method::DELETE,
        &format!("/v3/projects/{third}"),
        None,
        None,
    )
    .await;
    report.push(("project deleted".into(), {
        dead.push(token.clone());
        refused(&w, others, &token).await
    }));

    // 14. The listening connections die (as in a database failover): a change made meanwhile
    // is still seen, through the reconnect's re-read or the periodic one.
    let (_, token) = w.subject(&domain, &project, &member, "failover").await;
    warm(&w, others, &token).await;
    {
        use diesel::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct Killed {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut c = PgConnection::establish(&db.url()).unwrap();
        // Every session of the nodes: pools and the change feeds' listeners alike.
        let killed: Killed = diesel::sql_query(
            "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .get_result(&mut c)
        .unwrap();
        assert!(killed.n >= 3, "only {} sessions to kill", killed.n);
    }
    w.send(
        reqwest::Method::DELETE,
        "/v3/auth/tokens",
        Some(&token),
        None,
    )
    .await;
    report.push(("revoked while listeners died".into(), {
        dead.push(token.clone());
        refused(&w, others, &token).await
    }));

    let (_, token) = w.subject(&domain, &project, &member, "in-domain").await;
    warm(&w, others, &token).await;
    w.patch(
        &format!("/v3/domains/{domain}"),
        json!({"domain": {"enabled": false}}),
    )
    .await;
    report.push(("domain disabled".into(), {
        dead.push(token.clone());
        refused(&w, others, &token).await
    }));

    // The attacker's side: no refused token came back on any node, caches warm or not.
    for token in &dead {
        for base in &bases {
            let (status, body) = w.validate_on(base, token).await;
            assert_eq!(status, 404, "a refused token came back on {base}: {body}");
        }
    }

    // The caches were in use: the other nodes answered from them (tokens, and listed users).
    for m in &metrics[1..] {
        let text = client.get(m).send().await.unwrap().text().await.unwrap();
        for kind in ["token", "user"] {
            let series = format!("ironstone_cache_hits_total{{cache=\"{kind}\"}}");
            let hits: f64 = text
                .lines()
                .filter(|l| l.starts_with(&series))
                .filter_map(|l| l.rsplit(" ").next()?.parse::<f64>().ok())
                .sum();
            assert!(hits > 0.0, "no {kind} cache hits on {m}:\n{text}");
        }
    }

    println!("change seen by the other nodes (node 2, node 3):");
    let mut worst = Duration::ZERO;
    for (kind, delays) in &report {
        let shown: Vec<String> = delays
            .iter()
            .map(|d| format!("{:>6.1} ms", d.as_secs_f64() * 1e3))
            .collect();
        println!("  {kind:<32} {}", shown.join("  "));
        worst = worst.max(delays.iter().copied().max().unwrap_or_default());
    }
    println!("  worst: {:.1} ms", worst.as_secs_f64() * 1e3);
    for (kind, delays) in &report {
        for d in delays {
            assert!(
                *d <= Duration::from_secs(1),
                "{kind}: seen after {d:?}, more than 1 s"
            );
        }
    }
}

const SUBJECT_PW: &str = "Subject-Pass-1";

/// Node 1 as the admin drives it.
struct World {
    client: reqwest::Client,
    base: String,
    admin: String,
}

impl World {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        subject: Option<&str>,
        body: Option<Value>,
    ) -> Value {
        let mut req = self
            .client
            .request(method.clone(), format!("{}{path}", self.base))
            .header("X-Auth-Token", &self.admin);
        if let Some(s) = subject {
            req = req.header("X-Subject-Token", s);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{method} {path}: {status} {body}");
        body
    }

    async fn create(&self, path: &str, key: &str, attrs: Value) -> String {
        let body = self
            .send(
                reqwest::Method::POST,
                path,
                None,
                Some(json!({ key: attrs })),
            )
            .await;
        body[key]["id"].as_str().unwrap().to_string()
    }

    async fn patch(&self, path: &str, body: Value) {
        self.send(reqwest::Method::PATCH, path, None, Some(body))
            .await;
    }

    async fn role_id(&self, name: &str) -> String {
        let body = self
            .send(
                reqwest::Method::GET,
                &format!("/v3/roles?name={name}"),
                None,
                None,
            )
            .await;
        body["roles"][0]["id"].as_str().unwrap().to_string()
    }

    async fn user(&self, domain: &str, name: &str) -> String {
        self.create(
            "/v3/users",
            "user",
            json!({"name": name, "domain_id": domain, "password": SUBJECT_PW}),
        )
        .await
    }

    /// A token of `name` (domain `domain`), scoped to its only project.
    async fn token(&self, domain: &str, name: &str) -> String {
        let r = self
            .client
            .post(format!("{}/v3/auth/tokens", self.base))
            .json(
                &json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
                "name": name, "domain": {"id": domain}, "password": SUBJECT_PW}}},
                "scope": {"project": {"name": self.project_of(name), "domain": {"id": domain}}}}}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "login of {name}");
        r.headers()["x-subject-token"].to_str().unwrap().to_string()
    }

    fn project_of(&self, user: &str) -> &'static str {
        match user {
            "in-second" => "second",
            "in-third" => "third",
            _ => "main",
        }
    }

    /// A new user holding `role` on `project`, and a token of it.
    async fn subject(
        &self,
        domain: &str,
        project: &str,
        role: &str,
        name: &str,
    ) -> (String, String) {
        let user = self.user(domain, name).await;
        self.send(
            reqwest::Method::PUT,
            &format!("/v3/projects/{project}/users/{user}/roles/{role}"),
            None,
            None,
        )
        .await;
        let token = self.token(domain, name).await;
        (user, token)
    }

    async fn validate_on(&self, base: &str, subject: &str) -> (u16, Value) {
        let r = self
            .client
            .get(format!("{base}/v3/auth/tokens"))
            .header("X-Auth-Token", &self.admin)
            .header("X-Subject-Token", subject)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

fn has_role(body: &Value, name: &str) -> bool {
    body["token"]["roles"]
        .as_array()
        .is_some_and(|roles| roles.iter().any(|r| r["name"] == name))
}

/// Validates `token` on each node until it is cached there (two good answers).
async fn warm(w: &World, nodes: &[String], token: &str) {
    for base in nodes {
        for _ in 0..2 {
            let (status, body) = w.validate_on(base, token).await;
            assert_eq!(status, 200, "warming on {base}: {body}");
        }
    }
}

/// How long after now each node at `nodes` takes until `done(node)` holds (polled every 2 ms,
/// given up after 5 s so that a failure still reports a figure).
async fn until(nodes: &[String], done: impl AsyncFn(&str) -> bool) -> Vec<Duration> {
    let start = Instant::now();
    let mut delays: Vec<Option<Duration>> = vec![None; nodes.len()];
    while delays.iter().any(Option::is_none) && start.elapsed() < Duration::from_secs(5) {
        for (i, base) in nodes.iter().enumerate() {
            if delays[i].is_none() && done(base).await {
                delays[i] = Some(start.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    delays
        .into_iter()
        .map(|d| d.unwrap_or(Duration::from_secs(5)))
        .collect()
}

/// How long each node takes to answer `token` as `done` says.
async fn seen(
    w: &World,
    nodes: &[String],
    token: &str,
    done: impl Fn(u16, &Value) -> bool,
) -> Vec<Duration> {
    until(nodes, async |base: &str| {
        let (status, body) = w.validate_on(base, token).await;
        done(status, &body)
    })
    .await
}

/// The name `user` has in the list at `path` on node `base` (as the admin sees it).
async fn listed_name(w: &World, base: &str, path: &str, user: &str) -> Option<String> {
    let r = w
        .client
        .get(format!("{base}{path}"))
        .header("X-Auth-Token", &w.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    body["users"]
        .as_array()?
        .iter()
        .find(|u| u["id"] == user)
        .and_then(|u| u["name"].as_str().map(String::from))
}

/// How long each node takes to list `user` as `name`.
async fn listed_seen(
    w: &World,
    nodes: &[String],
    path: &str,
    user: &str,
    name: &str,
) -> Vec<Duration> {
    until(nodes, async |base: &str| {
        listed_name(w, base, path, user).await.as_deref() == Some(name)
    })
    .await
}

async fn refused(w: &World, nodes: &[String], token: &str) -> Vec<Duration> {
    seen(w, nodes, token, |status, _| status == 404).await
}
