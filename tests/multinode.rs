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
