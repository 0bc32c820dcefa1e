//! Test application: the real server on port 0 against a fresh database of either backend.
//! SQLite: a file in a temp dir. PostgreSQL: a new database per test, copied from a template that
//! is migrated once per test run, dropped afterwards.

use std::sync::OnceLock;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use ironstone::app::Application;
use ironstone::bootstrap;
use ironstone::config::{Config, PasswordHashingConfig};
use ironstone::store::Store;
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::{json, Value};

pub const ADMIN_PASSWORD: &str = "Bootstrap-Pass-1";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub base: String,
    /// `http://127.0.0.1:PORT` of the metrics listener, when the test configured one.
    pub metrics_base: Option<String>,
    pub client: reqwest::Client,
    pub admin_token: String,
    pub admin_user_id: String,
    pub admin_project_id: String,
    pub state: actix_web::web::Data<ironstone::state::State>,
    _dir: tempfile::TempDir,
    _db: Option<PgDatabase>,
}

#[path = "../support/pg.rs"]
mod pg;

/// Base URL of the PostgreSQL server tests use (trust auth, may create databases): the one at
/// `IRONSTONE_TEST_POSTGRES_URL`, or a throwaway cluster this process starts (`tests/support/pg.rs`).
fn pg_server() -> String {
    pg::server()
}

pub struct PgDatabase {
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Dropping may wait for pooled connections of the finished test to close.
        let _ = std::thread::spawn(move || {
            if let Ok(mut c) = PgConnection::establish(&format!("{}/postgres", pg_server())) {
                let _ =
                    c.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
            }
        })
        .join();
    }
}

static TEMPLATE: OnceLock<String> = OnceLock::new();

/// Templates outlive their test run (nothing runs at process exit); drop those whose process is
/// gone, so that repeated runs do not pile them up.
fn drop_stale_templates(c: &mut PgConnection) {
    use diesel::sql_types::Text;
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Db {
        #[diesel(sql_type = Text)]
        datname: String,
    }
    let dbs: Vec<Db> =
        diesel::sql_query("SELECT datname FROM pg_database WHERE datname LIKE 'ironstone_tpl_%'")
            .load(c)
            .unwrap_or_default();
    for db in dbs {
        let alive = db
            .datname
            .strip_prefix("ironstone_tpl_")
            .is_some_and(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists());
        if !alive {
            let _ = c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                db.datname
            ));
        }
    }
}

/// A fresh, migrated PostgreSQL database.
fn pg_database() -> PgDatabase {
    let template = TEMPLATE.get_or_init(|| {
        let name = format!("ironstone_tpl_{}", std::process::id());
        let server = pg_server();
        let mut c = PgConnection::establish(&format!("{server}/postgres"))
            .unwrap_or_else(|e| panic!("PostgreSQL at {server}: {e}"));
        drop_stale_templates(&mut c);
        c.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\""))
            .unwrap();
        c.batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .unwrap();
        let store = Store::connect(&format!("{}/{name}", pg_server()), 1).unwrap();
        store.migrate().unwrap();
        drop(store);
        name
    });
    let name = format!("ironstone_test_{}", uuid::Uuid::new_v4().simple());
    let mut c = PgConnection::establish(&format!("{}/postgres", pg_server())).unwrap();
    c.batch_execute(&format!(
        "CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""
    ))
    .unwrap();
    PgDatabase { name }
}

pub fn test_config(dir: &std::path::Path) -> Config {
    Config {
        data_dir: dir.to_path_buf(),
        bind: "127.0.0.1:0".into(),
        database_pool_size: 4,
        // Cheap hashing keeps the suite fast; production parameters are tested in unit tests.
        password_hashing: PasswordHashingConfig {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
            max_password_length: 4096,
            // Tests fire bursts of password writes; tests/api/hashing.rs checks the bound.
            max_queue: 1024,
            ..Default::default()
        },
        ..Default::default()
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(backend: Backend, customize: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_bootstrapped_as(backend, customize, "admin").await
}

/// A server whose bootstrap named the admin project `admin_project`.
pub async fn spawn_app_bootstrapped_as(
    backend: Backend,
    customize: impl FnOnce(&mut Config),
    admin_project: &str,
) -> TestApp {
    if std::env::var("TEST_LOG").is_ok() {
        let _ = tracing_subscriber::fmt().with_env_filter("info").try_init();
    }
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    let db = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => {
            let db = pg_database();
            config.database_url = Some(format!("{}/{}", pg_server(), db.name));
            Some(db)
        }
    };
    customize(&mut config);
    let store = Store::connect(&config.database_url(), config.database_pool_size).unwrap();
    store.migrate().unwrap();
    ironstone::cli::serve::key_repositories(&config, &store, true).unwrap();
    let app = Application::build(config, store).unwrap();
    let state = app.state();
    let report = bootstrap::run(
        &state,
        bootstrap::Options {
            password: Some(SecretString::from(ADMIN_PASSWORD)),
            project_name: admin_project.to_string(),
            ..Default::default()
        },
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let metrics_base = app.metrics_port().map(|p| format!("http://127.0.0.1:{p}"));
    actix_web::rt::spawn(app.run_until_stopped());
    let client = reqwest::Client::new();
    let mut t = TestApp {
        base,
        metrics_base,
        client,
        admin_token: String::new(),
        admin_user_id: report.admin_user_id,
        admin_project_id: report.admin_project_id,
        state,
        _dir: dir,
        _db: db,
    };
    t.admin_token = t
        .password_token("admin", ADMIN_PASSWORD, admin_project)
        .await;
    t
}

/// A response as tests look at it.
pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    }

    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.body
        );
        self
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.header("X-Auth-Token", t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request failed");
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap_or_default();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Resp {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.request(Method::GET, path, Some(token), None).await
    }
    pub async fn post(&self, path: &str, token: &str, body: Value) -> Resp {
        self.request(Method::POST, path, Some(token), Some(body))
            .await
    }
    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Resp {
        self.request(Method::PATCH, path, Some(token), Some(body))
            .await
    }
    pub async fn put(&self, path: &str, token: &str) -> Resp {
        self.request(Method::PUT, path, Some(token), None).await
    }
    pub async fn delete(&self, path: &str, token: &str) -> Resp {
        self.request(Method::DELETE, path, Some(token), None).await
    }

    /// POST /v3/auth/tokens with any body.
    pub async fn auth(&self, body: Value) -> Resp {
        self.request(Method::POST, "/v3/auth/tokens", None, Some(body))
            .await
    }

    /// A password token for a user of the Default domain, scoped to a project of it.
    pub async fn password_token(&self, user: &str, password: &str, project: &str) -> String {
        let r = self
            .auth(password_auth(user, password, Some(project)))
            .await
            .expect(201);
        r.header("x-subject-token").expect("X-Subject-Token")
    }

    /// Validates `subject` with the admin token.
    pub async fn validate(&self, subject: &str) -> Resp {
        self.client_validate(&self.admin_token.clone(), subject)
            .await
    }

    pub async fn client_validate(&self, token: &str, subject: &str) -> Resp {
        let res = self
            .client
            .get(self.url("/v3/auth/tokens"))
            .header("X-Auth-Token", token)
            .header("X-Subject-Token", subject)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.json().await.unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            body,
        }
    }

    /// Creates a role by name (or returns the existing one's id) through the store.
    pub async fn role_id(&self, name: &str) -> String {
        let n = name.to_string();
        self.state
            .store
            .run(move |c| Ok(ironstone::store::get_role_by_name(c, &n, None)?.map(|r| r.id)))
            .await
            .unwrap()
            .expect("role exists")
    }
}

pub fn password_auth(user: &str, password: &str, project: Option<&str>) -> Value {
    let mut body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "domain": {"id": "default"}, "password": password}}}}});
    if let Some(p) = project {
        body["auth"]["scope"] = json!({"project": {"name": p, "domain": {"id": "default"}}});
    }
    body
}

/// Defines `name::sqlite` and `name::postgres`, each running `body(app)` on a fresh server.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[actix_web::test]
            async fn sqlite() {
                let $app = $crate::helpers::spawn_app($crate::helpers::Backend::Sqlite).await;
                $body
            }
            #[actix_web::test]
            async fn postgres() {
                let $app = $crate::helpers::spawn_app($crate::helpers::Backend::Postgres).await;
                $body
            }
        }
    };
}

/// Like `both_backends!`, on a server whose configuration `setup` adjusted first.
#[macro_export]
macro_rules! both_backends_with {
    ($name:ident, |$cfg:ident| $setup:block, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            fn setup($cfg: &mut ironstone::config::Config) $setup
            #[actix_web::test]
            async fn sqlite() {
                let $app =
                    $crate::helpers::spawn_app_with($crate::helpers::Backend::Sqlite, setup).await;
                $body
            }
            #[actix_web::test]
            async fn postgres() {
                let $app =
                    $crate::helpers::spawn_app_with($crate::helpers::Backend::Postgres, setup)
                        .await;
                $body
            }
        }
    };
}
