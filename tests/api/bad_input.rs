//! Bad input, table-driven over every endpoint family: wrong types, missing and unknown fields,
//! huge strings and arrays, NUL and control characters, deep nesting, bad ids, bad limit/marker,
//! bad Content-Type, trailing bytes, wrong methods, garbage tokens. Every case must be refused
//! with a 4xx in Keystone's error shape (never a 2xx, never a 5xx), and nothing may be half-written.

use reqwest::Method;
use serde_json::{json, Value};

use crate::both_backends;
use crate::fixtures::*;
use crate::helpers::*;

/// What a case sends as its body.
#[derive(Clone)]
enum Body {
    None,
    Json(Value),
    Raw(Vec<u8>, &'static str),
}

#[derive(Clone, Copy)]
enum Tok {
    Admin,
    None,
    Garbage(&'static str),
}

struct Case {
    what: String,
    method: Method,
    path: String,
    token: Tok,
    body: Body,
    /// The exact status wanted, when one is; otherwise any 4xx.
    want: Option<u16>,
}

fn case(what: impl Into<String>, method: Method, path: impl Into<String>, body: Body) -> Case {
    Case {
        what: what.into(),
        method,
        path: path.into(),
        token: Tok::Admin,
        body,
        want: None,
    }
}

/// Sends a request exactly as given (raw body bytes, any Content-Type).
async fn send(app: &TestApp, c: &Case) -> Resp {
    let mut req = app.client.request(c.method.clone(), app.url(&c.path));
    req = match c.token {
        Tok::Admin => req.header("X-Auth-Token", &app.admin_token),
        Tok::None => req,
        Tok::Garbage(t) => req.header("X-Auth-Token", t),
    };
    // Token validation routes need a subject; it is harmless elsewhere.
    req = req.header("X-Subject-Token", &app.admin_token);
    req = match &c.body {
        Body::None => req,
        Body::Json(v) => req
            .header("Content-Type", "application/json")
            .body(serde_json::to_vec(v).unwrap()),
        Body::Raw(bytes, ct) => {
            let r = req.body(bytes.clone());
            if ct.is_empty() {
                r
            } else {
                r.header("Content-Type", *ct)
            }
        }
    };
    let res = req.send().await.expect("request failed");
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Resp {
        status,
        headers,
        body,
    }
}

/// Checks the refusal: a 4xx (or the exact status wanted) with Keystone's error body.
async fn refused(app: &TestApp, c: &Case) -> Result<(), String> {
    let r = send(app, c).await;
    let code = r.status.as_u16();
    let label = format!("{} {:.120} [{}]", c.method, c.path, c.what);
    if !(400..500).contains(&code) {
        return Err(format!(
            "{label}: expected a 4xx refusal, got {code}: {:.300}",
            r.body.to_string()
        ));
    }
    if let Some(w) = c.want {
        if code != w {
            return Err(format!(
                "{label}: expected {w}, got {code}: {:.300}",
                r.body.to_string()
            ));
        }
    }
    if c.method != Method::HEAD {
        let e = &r.body["error"];
        let shaped = e["code"] == code
            && e["title"].as_str().is_some_and(|t| !t.is_empty())
            && e["message"].as_str().is_some_and(|m| !m.is_empty());
        if !shaped {
            return Err(format!(
                "{label}: not Keystone's error body: {:.300}",
                r.body.to_string()
            ));
        }
    }
    Ok(())
}

/// The things a family's cases refer to, created before the cases run.
struct World {
    domain: String,
    project: String,
    user: String,
    group: String,
    role: String,
    role2: String,
    region: String,
    service: String,
    endpoint: String,
    credential: String,
    app_cred: String,
    access_rule: String,
    ec2_access: String,
}

async fn world(app: &TestApp) -> World {
    let t = &app.admin_token;
    let domain = create_domain(app, "bi-dom").await;
    let project = create_project(app, &domain, "bi-proj").await;
    let user = create_user(app, &domain, "bi-user").await;
    let group = app
        .post(
            "/v3/groups",
            t,
            json!({"group": {"name": "bi-grp", "domain_id": domain}}),
        )
        .await
        .expect(201)
        .body["group"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mk_role = |name: &'static str| async move {
        app.post(
            "/v3/roles",
            &app.admin_token,
            json!({"role": {"name": name}}),
        )
        .await
        .expect(201)
        .body["role"]["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let role = mk_role("bi-role").await;
    let role2 = mk_role("bi-role2").await;
    app.put(&format!("/v3/roles/{role}/implies/{role2}"), t)
        .await
        .expect(201);
    app.put(
        &format!("/v3/projects/{project}/users/{user}/roles/{role}"),
        t,
    )
    .await
    .expect(204);
    let region = app
        .post("/v3/regions", t, json!({"region": {"id": "bi-region"}}))
        .await
        .expect(201)
        .body["region"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let service = app
        .post(
            "/v3/services",
            t,
            json!({"service": {"type": "bi-type", "name": "bi-svc"}}),
        )
        .await
        .expect(201)
        .body["service"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let endpoint = app
        .post(
            "/v3/endpoints",
            t,
            json!({"endpoint": {"service_id": service, "interface": "public",
                "url": "http://bi.example.com", "region_id": region}}),
        )
        .await
        .expect(201)
        .body["endpoint"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let credential = app
        .post(
            "/v3/credentials",
            t,
            json!({"credential": {"user_id": app.admin_user_id, "type": "cert", "blob": "bi-blob"}}),
        )
        .await
        .expect(201)
        .body["credential"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let ac = app
        .post(
            &format!("/v3/users/{}/application_credentials", app.admin_user_id),
            t,
            json!({"application_credential": {"name": "bi-ac", "access_rules": [
                {"service": "compute", "path": "/servers", "method": "GET"}]}}),
        )
        .await
        .expect(201);
    let app_cred = ac.body["application_credential"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let access_rule = ac.body["application_credential"]["access_rules"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let ec2_access = app
        .post(
            &format!("/v3/users/{}/credentials/OS-EC2", app.admin_user_id),
            t,
            json!({"tenant_id": app.admin_project_id}),
        )
        .await
        .expect(201)
        .body["credential"]["access"]
        .as_str()
        .unwrap()
        .to_string();
    World {
        domain,
        project,
        user,
        group,
        role,
        role2,
        region,
        service,
        endpoint,
        credential,
        app_cred,
        access_rule,
        ec2_access,
    }
}

/// Every GET route of the API, with the world's ids in it.
fn get_routes(app: &TestApp, w: &World) -> Vec<String> {
    let (a, ap) = (&app.admin_user_id, &app.admin_project_id);
    vec![
        "/".into(),
        "/v3".into(),
        "/v3/".into(),
        "/healthcheck".into(),
        "/v3/auth/tokens".into(),
        "/v3/auth/catalog".into(),
        "/v3/auth/projects".into(),
        "/v3/auth/domains".into(),
        "/v3/users".into(),
        format!("/v3/users/{}", w.user),
        format!("/v3/users/{}/groups", w.user),
        format!("/v3/users/{}/projects", w.user),
        "/v3/groups".into(),
        format!("/v3/groups/{}", w.group),
        format!("/v3/groups/{}/users", w.group),
        "/v3/projects".into(),
        format!("/v3/projects/{}", w.project),
        format!("/v3/projects/{}/tags", w.project),
        "/v3/domains".into(),
        format!("/v3/domains/{}", w.domain),
        "/v3/roles".into(),
        format!("/v3/roles/{}", w.role),
        format!("/v3/roles/{}/implies", w.role),
        format!("/v3/roles/{}/implies/{}", w.role, w.role2),
        "/v3/role_inferences".into(),
        "/v3/role_assignments".into(),
        format!("/v3/projects/{}/users/{}/roles", w.project, w.user),
        format!(
            "/v3/projects/{}/users/{}/roles/{}",
            w.project, w.user, w.role
        ),
        format!("/v3/domains/{}/groups/{}/roles", w.domain, w.group),
        format!(
            "/v3/OS-INHERIT/domains/{}/users/{}/roles/inherited_to_projects",
            w.domain, w.user
        ),
        "/v3/regions".into(),
        format!("/v3/regions/{}", w.region),
        "/v3/services".into(),
        format!("/v3/services/{}", w.service),
        "/v3/endpoints".into(),
        format!("/v3/endpoints/{}", w.endpoint),
        "/v3/credentials".into(),
        format!("/v3/credentials/{}", w.credential),
        format!("/v3/users/{a}/application_credentials"),
        format!("/v3/users/{a}/application_credentials/{}", w.app_cred),
        format!("/v3/users/{a}/access_rules"),
        format!("/v3/users/{a}/access_rules/{}", w.access_rule),
        format!("/v3/users/{a}/credentials/OS-EC2"),
        format!("/v3/users/{a}/credentials/OS-EC2/{}", w.ec2_access),
        format!("/v3/projects/{ap}/users/{a}/roles"),
    ]
}

/// The lists whose lengths must not change when bad input is refused, and the items whose
/// bodies must not change.
async fn snapshot(app: &TestApp, w: &World) -> Vec<(String, Value)> {
    let a = &app.admin_user_id;
    let lists = [
        ("/v3/users".to_string(), "users"),
        ("/v3/groups".into(), "groups"),
        ("/v3/projects".into(), "projects"),
        ("/v3/domains".into(), "domains"),
        ("/v3/roles".into(), "roles"),
        ("/v3/role_inferences".into(), "role_inferences"),
        ("/v3/role_assignments".into(), "role_assignments"),
        ("/v3/regions".into(), "regions"),
        ("/v3/services".into(), "services"),
        ("/v3/endpoints".into(), "endpoints"),
        ("/v3/credentials".into(), "credentials"),
        (
            format!("/v3/users/{a}/application_credentials"),
            "application_credentials",
        ),
        (format!("/v3/users/{a}/access_rules"), "access_rules"),
        (format!("/v3/users/{a}/credentials/OS-EC2"), "credentials"),
        (format!("/v3/groups/{}/users", w.group), "users"),
    ];
    let mut out = vec![];
    for (path, key) in lists {
        let r = app.get(&path, &app.admin_token).await.expect(200);
        let n = r.body[key].as_array().map(Vec::len).unwrap_or(usize::MAX);
        out.push((path, json!(n)));
    }
    for path in [
        format!("/v3/users/{}", w.user),
        format!("/v3/groups/{}", w.group),
        format!("/v3/projects/{}", w.project),
        format!("/v3/projects/{}/tags", w.project),
        format!("/v3/domains/{}", w.domain),
        format!("/v3/roles/{}", w.role),
        format!("/v3/regions/{}", w.region),
        format!("/v3/services/{}", w.service),
        format!("/v3/endpoints/{}", w.endpoint),
        format!("/v3/credentials/{}", w.credential),
    ] {
        let r = app.get(&path, &app.admin_token).await.expect(200);
        out.push((path, r.body));
    }
    out
}

/// A family: where it is created and updated, a valid body, and its own invalid bodies.
struct Family {
    name: &'static str,
    create: String,
    update: Option<String>,
    /// `None` for bodies without an envelope (OS-EC2).
    envelope: Option<&'static str>,
    valid: Value,
    invalid: Vec<(&'static str, Value)>,
}

fn long(n: usize) -> String {
    "x".repeat(n)
}

fn deep(n: usize) -> String {
    format!("{}1{}", "[".repeat(n), "]".repeat(n))
}

fn families(app: &TestApp, w: &World) -> Vec<Family> {
    let a = &app.admin_user_id;
    let many_tags: Vec<String> = (0..10_000).map(|i| format!("t{i}")).collect();
    let many_ids: Vec<Value> = (0..5_000).map(|i| json!({"id": format!("r{i}")})).collect();
    vec![
        Family {
            name: "users",
            create: "/v3/users".into(),
            update: Some(format!("/v3/users/{}", w.user)),
            envelope: Some("user"),
            valid: json!({"name": "bi-new-user", "domain_id": w.domain, "password": "Bi-Pass-12345", "enabled": true}),
            invalid: vec![
                ("empty name", json!({"name": ""})),
                ("blank name", json!({"name": "   "})),
                ("long name", json!({"name": long(256)})),
                ("huge name", json!({"name": long(100_000)})),
                (
                    "long email",
                    json!({"name": "bi-e", "email": format!("{}@x.org", long(300))}),
                ),
                (
                    "long password",
                    json!({"name": "bi-p", "password": long(5_000)}),
                ),
                (
                    "unknown domain",
                    json!({"name": "bi-d", "domain_id": long(300)}),
                ),
                (
                    "unknown option",
                    json!({"name": "bi-o", "options": {"bogus_option": true}}),
                ),
                (
                    "options not an object",
                    json!({"name": "bi-o", "options": [1, 2]}),
                ),
                (
                    "reserved attribute",
                    json!({"name": "bi-r", "password_expires_at": "2030-01-01T00:00:00Z"}),
                ),
                (
                    "bound to an unknown project",
                    json!({"name": "bi-b", "OS-PCU:bound_project_id": "nope"}),
                ),
                (
                    "bound project not a string",
                    json!({"name": "bi-b", "OS-PCU:bound_project_id": 7}),
                ),
            ],
        },
        Family {
            name: "project users",
            create: format!("/v3/OS-PCU/projects/{}/users", w.project),
            update: None,
            envelope: Some("user"),
            valid: json!({"name": "bi-new-pcu", "password_mode": "generated", "roles": ["member"]}),
            invalid: vec![
                ("no password mode", json!({"name": "bi-m"})),
                (
                    "unknown password mode",
                    json!({"name": "bi-m", "password_mode": "maybe"}),
                ),
                (
                    "link without an address",
                    json!({"name": "bi-m", "password_mode": "link"}),
                ),
                (
                    "given without password",
                    json!({"name": "bi-m", "password_mode": "given"}),
                ),
                (
                    "unknown role",
                    json!({"name": "bi-m", "password_mode": "generated", "roles": ["member", "bogus"]}),
                ),
                (
                    "no roles",
                    json!({"name": "bi-m", "password_mode": "generated", "roles": []}),
                ),
                (
                    "roles not a list",
                    json!({"name": "bi-m", "password_mode": "generated", "roles": "member"}),
                ),
                (
                    "long name",
                    json!({"name": long(256), "password_mode": "generated"}),
                ),
                (
                    "bad email",
                    json!({"name": "bi-m", "password_mode": "generated", "email": "nope"}),
                ),
                (
                    "unknown field",
                    json!({"name": "bi-m", "password_mode": "generated", "domain_id": "default"}),
                ),
            ],
        },
        Family {
            name: "groups",
            create: "/v3/groups".into(),
            update: Some(format!("/v3/groups/{}", w.group)),
            envelope: Some("group"),
            valid: json!({"name": "bi-new-group", "domain_id": w.domain, "description": "d"}),
            invalid: vec![
                ("empty name", json!({"name": "", "domain_id": w.domain})),
                (
                    "long name",
                    json!({"name": long(65), "domain_id": w.domain}),
                ),
                (
                    "unknown domain",
                    json!({"name": "bi-g", "domain_id": "nope"}),
                ),
            ],
        },
        Family {
            name: "projects",
            create: "/v3/projects".into(),
            update: Some(format!("/v3/projects/{}", w.project)),
            envelope: Some("project"),
            valid: json!({"name": "bi-new-proj", "domain_id": w.domain, "enabled": true, "tags": ["a"]}),
            invalid: vec![
                ("empty name", json!({"name": "", "domain_id": w.domain})),
                (
                    "long name",
                    json!({"name": long(65), "domain_id": w.domain}),
                ),
                (
                    "81 tags",
                    json!({"name": "bi-t", "domain_id": w.domain, "tags": (0..81).map(|i| format!("t{i}")).collect::<Vec<_>>()}),
                ),
                (
                    "10,000 tags",
                    json!({"name": "bi-t", "domain_id": w.domain, "tags": many_tags}),
                ),
                (
                    "tag with /",
                    json!({"name": "bi-t", "domain_id": w.domain, "tags": ["a/b"]}),
                ),
                (
                    "tag with ,",
                    json!({"name": "bi-t", "domain_id": w.domain, "tags": ["a,b"]}),
                ),
                (
                    "long tag",
                    json!({"name": "bi-t", "domain_id": w.domain, "tags": [long(256)]}),
                ),
                (
                    "unknown parent",
                    json!({"name": "bi-t", "domain_id": w.domain, "parent_id": long(300)}),
                ),
                (
                    "is_domain",
                    json!({"name": "bi-t", "domain_id": w.domain, "is_domain": true}),
                ),
                (
                    "unknown option",
                    json!({"name": "bi-t", "domain_id": w.domain, "options": {"bogus_option": true}}),
                ),
                (
                    "unenforced option",
                    json!({"name": "bi-t", "domain_id": w.domain, "options": {"immutable": true}}),
                ),
            ],
        },
        Family {
            name: "domains",
            create: "/v3/domains".into(),
            update: Some(format!("/v3/domains/{}", w.domain)),
            envelope: Some("domain"),
            valid: json!({"name": "bi-new-dom", "description": "d", "enabled": true}),
            invalid: vec![
                ("empty name", json!({"name": ""})),
                ("long name", json!({"name": long(65)})),
                (
                    "81 tags",
                    json!({"name": "bi-dt", "tags": (0..81).map(|i| format!("t{i}")).collect::<Vec<_>>()}),
                ),
                ("10,000 tags", json!({"name": "bi-dt", "tags": many_tags})),
                ("tag with /", json!({"name": "bi-dt", "tags": ["a/b"]})),
                ("long tag", json!({"name": "bi-dt", "tags": [long(256)]})),
                (
                    "unknown option",
                    json!({"name": "bi-do", "options": {"bogus_option": true}}),
                ),
                (
                    "bad explicit id (create)",
                    json!({"name": "bi-dx", "explicit_domain_id": "not-hex"}),
                ),
            ],
        },
        Family {
            name: "roles",
            create: "/v3/roles".into(),
            update: Some(format!("/v3/roles/{}", w.role)),
            envelope: Some("role"),
            valid: json!({"name": "bi-new-role", "description": "d"}),
            invalid: vec![
                ("empty name", json!({"name": ""})),
                ("long name", json!({"name": long(256)})),
                (
                    "unknown domain",
                    json!({"name": "bi-rd", "domain_id": "nope"}),
                ),
                (
                    "unknown option",
                    json!({"name": "bi-ro", "options": {"x": true}}),
                ),
                (
                    "unenforced option",
                    json!({"name": "bi-ro", "options": {"immutable": true}}),
                ),
            ],
        },
        Family {
            name: "regions",
            create: "/v3/regions".into(),
            update: Some(format!("/v3/regions/{}", w.region)),
            envelope: Some("region"),
            valid: json!({"description": "d"}),
            invalid: vec![
                ("id with /", json!({"id": "a/b"})),
                ("long id", json!({"id": long(256)})),
                ("unknown parent", json!({"parent_region_id": "nope"})),
            ],
        },
        Family {
            name: "services",
            create: "/v3/services".into(),
            update: Some(format!("/v3/services/{}", w.service)),
            envelope: Some("service"),
            valid: json!({"type": "bi-new-type", "name": "bi-new-svc", "enabled": true}),
            invalid: vec![
                ("empty type", json!({"type": ""})),
                ("long type", json!({"type": long(256)})),
                ("empty name", json!({"type": "bi-t", "name": ""})),
                ("long name", json!({"type": "bi-t", "name": long(1_000)})),
            ],
        },
        Family {
            name: "endpoints",
            create: "/v3/endpoints".into(),
            update: Some(format!("/v3/endpoints/{}", w.endpoint)),
            envelope: Some("endpoint"),
            valid: json!({"service_id": w.service, "interface": "internal", "url": "http://bi2.example.com", "region_id": w.region}),
            invalid: vec![
                (
                    "bad interface",
                    json!({"service_id": w.service, "interface": "private", "url": "http://x"}),
                ),
                (
                    "bad url",
                    json!({"service_id": w.service, "interface": "public", "url": "ftp://x"}),
                ),
                (
                    "unknown service",
                    json!({"service_id": "nope", "interface": "public", "url": "http://x"}),
                ),
                (
                    "unknown region_id",
                    json!({"service_id": w.service, "interface": "public", "url": "http://x", "region_id": "bi-no-such-region"}),
                ),
                (
                    "long region_id",
                    json!({"service_id": w.service, "interface": "public", "url": "http://x", "region_id": long(1_000)}),
                ),
                (
                    "long legacy region",
                    json!({"service_id": w.service, "interface": "public", "url": "http://x", "region": long(1_000)}),
                ),
            ],
        },
        Family {
            name: "credentials",
            create: "/v3/credentials".into(),
            update: Some(format!("/v3/credentials/{}", w.credential)),
            envelope: Some("credential"),
            valid: json!({"user_id": a, "type": "cert", "blob": "bi-new-blob"}),
            invalid: vec![
                ("empty type", json!({"user_id": a, "type": "", "blob": "b"})),
                (
                    "long type",
                    json!({"user_id": a, "type": long(1_000), "blob": "b"}),
                ),
                (
                    "ec2 blob not JSON",
                    json!({"user_id": a, "type": "ec2", "blob": "nope", "project_id": app.admin_project_id}),
                ),
                (
                    "ec2 blob deep",
                    json!({"user_id": a, "type": "ec2", "blob": deep(10_000), "project_id": app.admin_project_id}),
                ),
                (
                    "other owner",
                    json!({"user_id": "nope", "type": "cert", "blob": "b"}),
                ),
            ],
        },
        Family {
            name: "application credentials",
            create: format!("/v3/users/{a}/application_credentials"),
            update: None,
            envelope: Some("application_credential"),
            valid: json!({"name": "bi-new-ac", "description": "d"}),
            invalid: vec![
                ("empty name", json!({"name": ""})),
                ("long name", json!({"name": long(256)})),
                (
                    "bad expiry",
                    json!({"name": "bi-x", "expires_at": "tomorrow"}),
                ),
                (
                    "unknown role",
                    json!({"name": "bi-x", "roles": [{"id": "nope"}]}),
                ),
                (
                    "5,000 unknown roles",
                    json!({"name": "bi-x", "roles": many_ids}),
                ),
                (
                    "long rule service",
                    json!({"name": "bi-x", "access_rules": [{"service": long(65), "path": "/x", "method": "GET"}]}),
                ),
                (
                    "long rule path",
                    json!({"name": "bi-x", "access_rules": [{"service": "compute", "path": format!("/{}", long(1_000)), "method": "GET"}]}),
                ),
                (
                    "rule path without /",
                    json!({"name": "bi-x", "access_rules": [{"service": "compute", "path": "x", "method": "GET"}]}),
                ),
                (
                    "bad rule method",
                    json!({"name": "bi-x", "access_rules": [{"service": "compute", "path": "/x", "method": long(100)}]}),
                ),
                (
                    "rule not an object",
                    json!({"name": "bi-x", "access_rules": ["GET /x"]}),
                ),
            ],
        },
        Family {
            name: "OS-EC2",
            create: format!("/v3/users/{a}/credentials/OS-EC2"),
            update: None,
            envelope: None,
            valid: json!({"tenant_id": app.admin_project_id}),
            invalid: vec![
                ("unknown project", json!({"tenant_id": "nope"})),
                ("long project", json!({"tenant_id": long(1_000)})),
                ("no project", json!({})),
            ],
        },
        Family {
            name: "tags",
            create: format!("/v3/projects/{}/tags", w.project),
            update: None,
            envelope: Some("tags"),
            valid: json!(["bi-a", "bi-b"]),
            invalid: vec![
                (
                    "81 tags",
                    json!((0..81).map(|i| format!("t{i}")).collect::<Vec<_>>()),
                ),
                ("tag with /", json!(["a/b"])),
                ("empty tag", json!([""])),
                ("long tag", json!([long(256)])),
                ("tag not a string", json!([1])),
            ],
        },
        Family {
            name: "auth",
            create: "/v3/auth/tokens".into(),
            update: None,
            envelope: Some("auth"),
            valid: password_auth("admin", ADMIN_PASSWORD, Some("admin"))["auth"].clone(),
            invalid: vec![
                ("no identity", json!({"scope": "unscoped"})),
                (
                    "unknown method",
                    json!({"identity": {"methods": ["bogus"]}}),
                ),
                (
                    "methods not a list",
                    json!({"identity": {"methods": "password"}}),
                ),
                (
                    "unknown field",
                    json!({"identity": {"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"id": "default"}, "password": "x"}}}, "bogus": 1}),
                ),
            ],
        },
    ]
}

/// Every string leaf of `v`, by path, so that each can be replaced in turn.
fn string_paths(v: &Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match v {
        Value::String(_) => out.push(prefix.clone()),
        Value::Object(m) => {
            for (k, x) in m {
                prefix.push(k.clone());
                string_paths(x, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(items) => {
            for (i, x) in items.iter().enumerate() {
                prefix.push(i.to_string());
                string_paths(x, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

fn set_at(v: &mut Value, path: &[String], new: Value) {
    let mut cur = v;
    for p in path {
        cur = match cur {
            Value::Object(m) => m.get_mut(p).unwrap(),
            Value::Array(a) => &mut a[p.parse::<usize>().unwrap()],
            _ => unreachable!(),
        };
    }
    *cur = new;
}

fn wrap(f: &Family, inner: Value) -> Value {
    match f.envelope {
        Some(e) => json!({ e: inner }),
        None => inner,
    }
}

/// The generic malformations of a body, and the family's own invalid bodies.
fn body_cases(f: &Family, method: Method, path: &str) -> Vec<Case> {
    let valid = wrap(f, f.valid.clone());
    let text = serde_json::to_string(&valid).unwrap();
    let raw = |b: Vec<u8>, ct: &'static str| Body::Raw(b, ct);
    let mut cases = vec![
        case(
            "trailing bytes",
            method.clone(),
            path,
            raw(format!("{text} trailing").into_bytes(), "application/json"),
        ),
        case(
            "second JSON value",
            method.clone(),
            path,
            raw(format!("{text}{text}").into_bytes(), "application/json"),
        ),
        case(
            "top-level array",
            method.clone(),
            path,
            Body::Json(json!([valid.clone()])),
        ),
        case(
            "top-level number",
            method.clone(),
            path,
            Body::Json(json!(42)),
        ),
        case(
            "top-level string",
            method.clone(),
            path,
            Body::Json(json!("x")),
        ),
        case(
            "top-level null",
            method.clone(),
            path,
            Body::Json(Value::Null),
        ),
        case(
            "empty body",
            method.clone(),
            path,
            raw(vec![], "application/json"),
        ),
        case(
            "whitespace body",
            method.clone(),
            path,
            raw(b"  \n ".to_vec(), "application/json"),
        ),
        case(
            "malformed JSON",
            method.clone(),
            path,
            raw(b"{\"a\": ".to_vec(), "application/json"),
        ),
        case(
            "text/plain",
            method.clone(),
            path,
            raw(text.clone().into_bytes(), "text/plain"),
        ),
        case(
            "form content type",
            method.clone(),
            path,
            raw(
                text.clone().into_bytes(),
                "application/x-www-form-urlencoded",
            ),
        ),
        case(
            "invalid UTF-8",
            method.clone(),
            path,
            raw(
                {
                    let mut b = text.clone().into_bytes();
                    b.insert(2, 0xff);
                    b
                },
                "application/json",
            ),
        ),
        case(
            "NUL key",
            method.clone(),
            path,
            Body::Json({
                let mut v = valid.clone();
                if let Some(m) = v.as_object_mut() {
                    m.insert("a\u{0}b".into(), json!(1));
                }
                v
            }),
        ),
        case(
            "deep nesting (10,000)",
            method.clone(),
            path,
            raw(
                format!("{{\"x\": {}}}", deep(10_000)).into_bytes(),
                "application/json",
            ),
        ),
    ];
    // The generic envelope malformations.
    if let Some(e) = f.envelope {
        cases.push(case(
            "missing envelope",
            method.clone(),
            path,
            Body::Json(json!({})),
        ));
        cases.push(case(
            "wrong envelope",
            method.clone(),
            path,
            Body::Json(json!({"bogus": f.valid})),
        ));
        let mut extra = valid.clone();
        extra["bogus"] = json!({});
        cases.push(case(
            "extra envelope",
            method.clone(),
            path,
            Body::Json(extra),
        ));
        for (what, v) in [
            ("a string", json!("x")),
            ("a number", json!(1)),
            ("null", Value::Null),
            ("a boolean", json!(true)),
        ] {
            cases.push(case(
                format!("envelope is {what}"),
                method.clone(),
                path,
                Body::Json(json!({ e: v })),
            ));
        }
        if f.valid.is_object() {
            cases.push(case(
                "envelope is an array",
                method.clone(),
                path,
                Body::Json(json!({ e: [f.valid] })),
            ));
            // Deep nesting inside an extra attribute.
            let mut d = f.valid.clone();
            d["bi_deep"] = serde_json::from_str(&deep(60)).unwrap();
            cases.push(case(
                "deep extra attribute",
                method.clone(),
                path,
                Body::Json(wrap(f, d)),
            ));
            // Wrong types for each field.
            for (k, v) in f.valid.as_object().unwrap() {
                let wrongs = match v {
                    Value::String(_) => vec![json!(12345), json!(["x"]), json!({"x": 1})],
                    Value::Bool(_) => vec![json!("maybe"), json!(2)],
                    Value::Array(_) => vec![json!("x"), json!({"x": 1})],
                    Value::Object(_) => vec![json!("x"), json!([1])],
                    _ => vec![],
                };
                for wv in wrongs {
                    let mut b = f.valid.clone();
                    b[k.as_str()] = wv.clone();
                    cases.push(case(
                        format!("field {k} is {wv}"),
                        method.clone(),
                        path,
                        Body::Json(wrap(f, b)),
                    ));
                }
            }
        }
    }
    // NUL and control characters in every string of the valid body.
    let mut paths = vec![];
    string_paths(&valid, &mut vec![], &mut paths);
    for p in paths {
        let mut b = valid.clone();
        set_at(&mut b, &p, json!("bi\u{0}nul"));
        cases.push(case(
            format!("NUL in {}", p.join(".")),
            method.clone(),
            path,
            Body::Json(b),
        ));
    }
    // The family's own invalid bodies.
    for (what, inner) in &f.invalid {
        if method == Method::PATCH && what.ends_with("(create)") {
            continue;
        }
        cases.push(case(
            *what,
            method.clone(),
            path,
            Body::Json(wrap(f, inner.clone())),
        ));
    }
    cases
}

/// Path ids, queries, methods and tokens no route may accept.
fn request_line_cases(app: &TestApp, w: &World) -> Vec<Case> {
    let mut cases = vec![];
    let bad_ids = [
        ("NUL id", "a%00b"),
        ("control id", "a%01b"),
        ("tab id", "a%09b"),
        ("invalid UTF-8 id", "a%FFb"),
        ("long id", "x"),
    ];
    let long_id = long(5_000);
    for (what, id) in bad_ids {
        let id = if what == "long id" {
            long_id.as_str()
        } else {
            id
        };
        for base in [
            "/v3/users",
            "/v3/groups",
            "/v3/projects",
            "/v3/domains",
            "/v3/roles",
            "/v3/regions",
            "/v3/services",
            "/v3/endpoints",
            "/v3/credentials",
        ] {
            cases.push(case(what, Method::GET, format!("{base}/{id}"), Body::None));
            cases.push(case(
                what,
                Method::DELETE,
                format!("{base}/{id}"),
                Body::None,
            ));
            cases.push(case(
                what,
                Method::PATCH,
                format!("{base}/{id}"),
                Body::Json(json!({"x": {}})),
            ));
        }
        let (a, p, u, r) = (&app.admin_user_id, &w.project, &w.user, &w.role);
        for path in [
            format!("/v3/projects/{p}/tags/{id}"),
            format!("/v3/projects/{id}/tags"),
            format!("/v3/roles/{r}/implies/{id}"),
            format!("/v3/roles/{id}/implies"),
            format!("/v3/projects/{p}/users/{id}/roles/{r}"),
            format!("/v3/projects/{p}/users/{u}/roles/{id}"),
            format!("/v3/domains/{id}/groups/{}/roles/{r}", w.group),
            format!("/v3/OS-INHERIT/projects/{p}/users/{u}/roles/{id}/inherited_to_projects"),
            format!("/v3/groups/{}/users/{id}", w.group),
            format!("/v3/users/{a}/application_credentials/{id}"),
            format!("/v3/users/{a}/access_rules/{id}"),
            format!("/v3/users/{a}/credentials/OS-EC2/{id}"),
            format!("/v3/users/{id}/application_credentials"),
        ] {
            cases.push(case(what, Method::GET, path.clone(), Body::None));
            cases.push(case(what, Method::PUT, path.clone(), Body::None));
            cases.push(case(what, Method::DELETE, path, Body::None));
        }
        cases.push(case(
            what,
            Method::POST,
            format!("/v3/users/{id}/password"),
            Body::Json(json!({"user": {"password": "New-Pass-123", "original_password": "x"}})),
        ));
    }
    // Queries.
    let lists = [
        "/v3/users",
        "/v3/groups",
        "/v3/projects",
        "/v3/domains",
        "/v3/roles",
        "/v3/regions",
        "/v3/services",
        "/v3/endpoints",
        "/v3/credentials",
        "/v3/role_assignments",
    ];
    for list in lists {
        for q in [
            "name=a%00b",
            "name=a%01b",
            "name__contains=%00",
            "marker=%00",
            "domain_id=%00",
            "%00=1",
            "name=%FF",
            "user.id=%00",
            "type=%0A",
        ] {
            cases.push(case(
                format!("query {q}"),
                Method::GET,
                format!("{list}?{q}"),
                Body::None,
            ));
        }
    }
    // Paged lists: a limit is a positive integer.
    for list in [
        "/v3/users",
        "/v3/groups",
        "/v3/projects",
        "/v3/domains",
        "/v3/roles",
    ] {
        for q in [
            "limit=0",
            "limit=-1",
            "limit=abc",
            "limit=1.5",
            "limit=99999999999999999999999",
            "limit=",
        ] {
            cases.push(case(
                format!("query {q}"),
                Method::GET,
                format!("{list}?{q}"),
                Body::None,
            ));
        }
    }
    for list in ["/v3/users", "/v3/projects", "/v3/domains"] {
        cases.push(case(
            "query enabled=maybe",
            Method::GET,
            format!("{list}?enabled=maybe"),
            Body::None,
        ));
    }
    for q in [
        format!(
            "scope.project.id={}&scope.domain.id={}",
            w.project, w.domain
        ),
        format!("user.id={}&group.id={}", w.user, w.group),
        format!("group.id={}&effective", w.group),
        "include_subtree=true".to_string(),
        "effective=maybe".to_string(),
    ] {
        cases.push(case(
            format!("query {q}"),
            Method::GET,
            format!("/v3/role_assignments?{q}"),
            Body::None,
        ));
    }
    for q in [
        "tags=%00",
        "not-tags=a%01",
        &format!(
            "tags={}",
            (0..200)
                .map(|i| format!("t{i}"))
                .collect::<Vec<_>>()
                .join(",")
        ),
        &format!("tags-any={}", long(300)),
    ] {
        cases.push(case(
            format!("query {q}"),
            Method::GET,
            format!("/v3/projects?{q}"),
            Body::None,
        ));
    }
    // Other refusals on nested resources.
    let (a, u, r) = (&app.admin_user_id, &w.user, &w.role);
    for (what, m, path, body) in [
        (
            "self implication",
            Method::PUT,
            format!("/v3/roles/{r}/implies/{r}"),
            Body::None,
        ),
        (
            "unknown implied",
            Method::PUT,
            format!("/v3/roles/{r}/implies/nope"),
            Body::None,
        ),
        (
            "unknown member",
            Method::PUT,
            format!("/v3/groups/{}/users/nope", w.group),
            Body::None,
        ),
        (
            "unknown grant role",
            Method::PUT,
            format!("/v3/projects/{}/users/{u}/roles/nope", w.project),
            Body::None,
        ),
        (
            "unknown grant target",
            Method::PUT,
            format!("/v3/projects/nope/users/{u}/roles/{r}"),
            Body::None,
        ),
        (
            "bad target kind",
            Method::PUT,
            format!("/v3/OS-INHERIT/users/{u}/users/{u}/roles/{r}/inherited_to_projects"),
            Body::None,
        ),
        (
            "wrong original password",
            Method::POST,
            format!("/v3/users/{a}/password"),
            Body::Json(json!({"user": {"password": "New-Pass-123", "original_password": "wrong"}})),
        ),
        (
            "long new password",
            Method::POST,
            format!("/v3/users/{a}/password"),
            Body::Json(
                json!({"user": {"password": long(5_000), "original_password": ADMIN_PASSWORD}}),
            ),
        ),
        (
            "empty new password",
            Method::POST,
            format!("/v3/users/{a}/password"),
            Body::Json(json!({"user": {"password": "", "original_password": ADMIN_PASSWORD}})),
        ),
        (
            "region id differs from the URL",
            Method::PUT,
            "/v3/regions/bi-r1".to_string(),
            Body::Json(json!({"region": {"id": "bi-r2"}})),
        ),
        (
            "region id with /",
            Method::PUT,
            "/v3/regions/a%2Fb".to_string(),
            Body::Json(json!({"region": {}})),
        ),
        (
            "10,000 access rules",
            Method::POST,
            format!("/v3/users/{a}/application_credentials"),
            Body::Json(
                json!({"application_credential": {"name": "bi-many", "access_rules":
                (0..10_000).map(|i| json!({"service": "s", "path": format!("/{i}"), "method": "PATCH"})).collect::<Vec<_>>()}}),
            ),
        ),
    ] {
        cases.push(case(what, m, path, body));
    }
    // Wrong methods.
    for (m, path) in [
        (Method::PATCH, "/v3/users".to_string()),
        (Method::PUT, "/v3/groups".into()),
        (Method::DELETE, "/v3/projects".into()),
        (Method::PATCH, "/v3/domains".into()),
        (Method::PUT, "/v3/roles".into()),
        (Method::PATCH, "/v3/regions".into()),
        (Method::PUT, "/v3/services".into()),
        (Method::DELETE, "/v3/endpoints".into()),
        (Method::PUT, "/v3/credentials".into()),
        (Method::POST, "/v3/role_assignments".into()),
        (Method::POST, "/v3/role_inferences".into()),
        (Method::PATCH, "/v3/auth/tokens".into()),
        (Method::POST, format!("/v3/users/{}", w.user)),
        (Method::PUT, format!("/v3/groups/{}", w.group)),
        (Method::POST, format!("/v3/projects/{}/tags/x", w.project)),
        (Method::POST, format!("/v3/roles/{}/implies", w.role)),
        (
            Method::PATCH,
            format!(
                "/v3/users/{}/application_credentials/{}",
                app.admin_user_id, w.app_cred
            ),
        ),
        (
            Method::POST,
            format!("/v3/users/{}/access_rules", app.admin_user_id),
        ),
        (
            Method::PUT,
            format!(
                "/v3/users/{}/credentials/OS-EC2/{}",
                app.admin_user_id, w.ec2_access
            ),
        ),
        (Method::POST, "/healthcheck".into()),
    ] {
        let mut c = case("wrong method", m, path, Body::None);
        c.want = Some(405);
        cases.push(c);
    }
    // Garbage tokens.
    let garbage: &[&'static str] = &[
        "garbage",
        "gAAAAABgarbagegarbagegarbagegarbagegarbagegarbagegarbagegarbage",
        "",
        "%00",
        Box::leak(long(8_000).into_boxed_str()),
    ];
    for t in garbage {
        for path in [
            "/v3/users",
            "/v3/projects",
            "/v3/auth/tokens",
            "/v3/role_assignments",
            "/v3/credentials",
        ] {
            let mut c = case(format!("token {:.20}", t), Method::GET, path, Body::None);
            c.token = Tok::Garbage(t);
            c.want = Some(401);
            cases.push(c);
        }
        let mut c = case(
            "garbage token on a write",
            Method::POST,
            "/v3/users",
            Body::Json(json!({"user": {"name": "bi-gt"}})),
        );
        c.token = Tok::Garbage(t);
        c.want = Some(401);
        cases.push(c);
    }
    let mut c = case(
        "no token on a write",
        Method::POST,
        "/v3/projects",
        Body::Json(json!({"project": {"name": "bi-nt"}})),
    );
    c.token = Tok::None;
    c.want = Some(401);
    cases.push(c);
    cases
}

both_backends!(every_family_refuses_bad_input_and_writes_nothing, |app| {
    let w = world(&app).await;
    let before = snapshot(&app, &w).await;
    let mut n = 0;
    let mut failures: Vec<String> = vec![];
    for f in families(&app, &w) {
        let mut all = body_cases(&f, Method::POST, &f.create);
        if f.name == "tags" {
            all = body_cases(&f, Method::PUT, &f.create);
        }
        if let Some(u) = &f.update {
            all.extend(body_cases(&f, Method::PATCH, u));
        }
        for c in all {
            failures.extend(refused(&app, &c).await.err());
            n += 1;
        }
    }
    for c in request_line_cases(&app, &w) {
        failures.extend(refused(&app, &c).await.err());
        n += 1;
    }
    assert!(n > 500, "only {n} cases");
    assert!(
        failures.is_empty(),
        "{} of {n} bad requests were not refused properly:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let after = snapshot(&app, &w).await;
    for ((path, b), (_, a)) in before.iter().zip(after.iter()) {
        assert_eq!(b, a, "{path} changed after refused requests");
    }
    // The admin can still log in: nothing broke the realm.
    app.auth(password_auth("admin", ADMIN_PASSWORD, Some("admin")))
        .await
        .expect(201);
});

both_backends!(head_is_answered_wherever_get_is, |app| {
    let w = world(&app).await;
    for path in get_routes(&app, &w) {
        let get = send(&app, &case("GET", Method::GET, path.clone(), Body::None)).await;
        let head = send(&app, &case("HEAD", Method::HEAD, path.clone(), Body::None)).await;
        if path.contains("/implies/") {
            continue; // a check: 204 (below)
        }
        assert_eq!(head.status, get.status, "HEAD {path}: {}", get.body);
        assert!(
            get.status.as_u16() < 400,
            "GET {path}: {} {}",
            get.status,
            get.body
        );
        assert_eq!(
            head.body,
            Value::String(String::new()),
            "HEAD {path} sent a body"
        );
        if path == "/v3/auth/tokens" {
            continue; // Keystone's own token check: 200 and the token headers, no body
        }
        for h in ["content-type", "content-length"] {
            assert_eq!(head.header(h), get.header(h), "HEAD {path}: {h}");
        }
    }
    // Where Keystone's HEAD answer differs from GET's (a check), the resource's own HEAD wins.
    let implied = format!("/v3/roles/{}/implies/{}", w.role, w.role2);
    let r = send(
        &app,
        &case("HEAD", Method::HEAD, implied.clone(), Body::None),
    )
    .await;
    assert_eq!(r.status.as_u16(), 204);
    app.get(&implied, &app.admin_token).await.expect(200);
    // A route without GET still refuses HEAD.
    let r = send(
        &app,
        &case(
            "HEAD",
            Method::HEAD,
            format!("/v3/users/{}/password", w.user),
            Body::None,
        ),
    )
    .await;
    assert_eq!(r.status.as_u16(), 405);
});

both_backends!(nul_is_refused_before_the_store, |app| {
    // The login's user name, without a token.
    let mut body = password_auth("ad\u{0}min", ADMIN_PASSWORD, Some("admin"));
    let r = app.auth(body.clone()).await.expect(400);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("auth.identity.password.user.name"),
        "{}",
        r.body
    );
    body["auth"]["identity"]["password"]["user"]["name"] = json!("admin");
    app.auth(body).await.expect(201);
    let t = &app.admin_token;
    app.get("/v3/users/a%00b", t).await.expect(400);
    app.get("/v3/users?name=a%00b", t).await.expect(400);
    app.put(
        &format!("/v3/projects/{}/tags/a%00b", app.admin_project_id),
        t,
    )
    .await
    .expect(400);
    app.post("/v3/groups", t, json!({"group": {"name": "a\u{0}b"}}))
        .await
        .expect(400);
});

both_backends!(a_body_is_exactly_one_object_of_its_envelope, |app| {
    let t = &app.admin_token;
    let raw = |method: Method, path: String, body: &'static str, ct: &'static str| {
        let c = case("raw", method, path, Body::Raw(body.as_bytes().to_vec(), ct));
        let app = &app;
        async move { send(app, &c).await }
    };
    let r = raw(
        Method::POST,
        "/v3/groups".into(),
        r#"{"group": {"name": "g1"}} trailing"#,
        "application/json",
    )
    .await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.body);
    let r = raw(
        Method::POST,
        "/v3/groups".into(),
        r#"[{"name": "g2"}]"#,
        "application/json",
    )
    .await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.body);
    let r = raw(
        Method::POST,
        "/v3/groups".into(),
        r#"{"group": {"name": "g3"}, "project": {}}"#,
        "application/json",
    )
    .await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.body);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("'project'"),
        "{}",
        r.body
    );
    let r = raw(
        Method::POST,
        "/v3/groups".into(),
        r#"{"group": {"name": "g4"}}"#,
        "text/plain",
    )
    .await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.body);
    // Without a Content-Type the body is still read as JSON (Keystone does the same).
    let r = raw(
        Method::POST,
        "/v3/groups".into(),
        r#"{"group": {"name": "g5"}}"#,
        "",
    )
    .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    let r = raw(
        Method::POST,
        "/v3/groups".into(),
        r#"{"group": {"name": "g6"}}"#,
        "application/json; charset=utf-8",
    )
    .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    // On PATCH, an array around the body must not be stored as an attribute.
    let gid = r.body["group"]["id"].as_str().unwrap().to_string();
    let r = raw(
        Method::PATCH,
        format!("/v3/groups/{gid}"),
        r#"[{"group": {"description": "x"}}]"#,
        "application/json",
    )
    .await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.body);
    let g = app.get(&format!("/v3/groups/{gid}"), t).await.expect(200);
    assert!(g.body["group"].get("group").is_none(), "{}", g.body);
    let groups = app.get("/v3/groups", t).await.expect(200);
    let names: Vec<&str> = groups.body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|g| g["name"].as_str())
        .collect();
    assert!(
        !names.iter().any(|n| ["g1", "g2", "g3", "g4"].contains(n)),
        "{names:?}"
    );
});

both_backends!(field_limits_are_checked_before_the_store, |app| {
    let t = &app.admin_token;
    let a = &app.admin_user_id;
    for rule in [
        json!({"service": long(65), "path": "/x", "method": "GET"}),
        json!({"service": "compute", "path": format!("/{}", long(300)), "method": "GET"}),
    ] {
        let r = app
            .post(
                &format!("/v3/users/{a}/application_credentials"),
                t,
                json!({"application_credential": {"name": "bi-ac", "access_rules": [rule]}}),
            )
            .await
            .expect(400);
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("access_rules"),
            "{}",
            r.body
        );
    }
    let tags: Vec<String> = (0..81).map(|i| format!("t{i}")).collect();
    app.post(
        "/v3/domains",
        t,
        json!({"domain": {"name": "bi-d", "tags": tags}}),
    )
    .await
    .expect(400);
    app.post(
        "/v3/services",
        t,
        json!({"service": {"type": "x", "name": ""}}),
    )
    .await
    .expect(400);
    app.post(
        "/v3/services",
        t,
        json!({"service": {"type": "x", "name": long(1_000)}}),
    )
    .await
    .expect(400);
    let sid = app
        .post(
            "/v3/services",
            t,
            json!({"service": {"type": "x", "name": "ok"}}),
        )
        .await
        .expect(201)
        .body["service"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.patch(
        &format!("/v3/services/{sid}"),
        t,
        json!({"service": {"name": long(1_000)}}),
    )
    .await
    .expect(400);
    let cid = app
        .post(
            "/v3/credentials",
            t,
            json!({"credential": {"user_id": a, "type": "cert", "blob": "b"}}),
        )
        .await
        .expect(201)
        .body["credential"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.patch(
        &format!("/v3/credentials/{cid}"),
        t,
        json!({"credential": {"type": long(1_000)}}),
    )
    .await
    .expect(400);
});

both_backends!(
    endpoint_region_id_must_exist_legacy_region_is_created,
    |app| {
        let t = &app.admin_token;
        let sid = app
            .post(
                "/v3/services",
                t,
                json!({"service": {"type": "x", "name": "ok"}}),
            )
            .await
            .expect(201)
            .body["service"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let r = app
            .post(
                "/v3/endpoints",
                t,
                json!({"endpoint": {"service_id": sid, "interface": "public",
            "url": "http://x.example.com", "region_id": "bi-nowhere"}}),
            )
            .await
            .expect(400);
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("region_id"),
            "{}",
            r.body
        );
        app.get("/v3/regions/bi-nowhere", t).await.expect(404);
        // The legacy `region` field keeps creating the region, as Keystone does.
        let e = app
            .post(
                "/v3/endpoints",
                t,
                json!({"endpoint": {"service_id": sid, "interface": "public",
            "url": "http://x.example.com", "region": "bi-legacy"}}),
            )
            .await
            .expect(201);
        assert_eq!(e.body["endpoint"]["region_id"], "bi-legacy");
        app.get("/v3/regions/bi-legacy", t).await.expect(200);
        let eid = e.body["endpoint"]["id"].as_str().unwrap().to_string();
        app.patch(
            &format!("/v3/endpoints/{eid}"),
            t,
            json!({"endpoint": {"region_id": "bi-nowhere"}}),
        )
        .await
        .expect(400);
    }
);

both_backends!(role_assignments_refuse_contradicting_filters, |app| {
    let t = &app.admin_token;
    let d = create_domain(&app, "bi-q").await;
    let p = create_project(&app, &d, "bi-q").await;
    app.get(
        &format!("/v3/role_assignments?scope.project.id={p}&scope.domain.id={d}"),
        t,
    )
    .await
    .expect(400);
    app.get(
        &format!(
            "/v3/role_assignments?user.id={}&group.id=x",
            app.admin_user_id
        ),
        t,
    )
    .await
    .expect(400);
});

both_backends!(repeated_tags_in_a_filter_count_once, |app| {
    let t = &app.admin_token;
    let d = create_domain(&app, "bi-q").await;
    let p = create_project(&app, &d, "bi-q").await;
    app.put(&format!("/v3/projects/{p}/tags/a"), t)
        .await
        .expect(201);
    let ids_of = |r: &Resp| ids(&r.body, "projects");
    let r = app.get("/v3/projects?not-tags=a,a", t).await.expect(200);
    assert!(
        !ids_of(&r).contains(&p),
        "not-tags=a,a kept a project tagged a"
    );
    let r = app.get("/v3/projects?tags=a,a", t).await.expect(200);
    assert_eq!(ids_of(&r), vec![p.clone()]);
    let r = app
        .get("/v3/projects?not-tags-any=a,a", t)
        .await
        .expect(200);
    assert!(!ids_of(&r).contains(&p));
});
