//! Building blocks for management tests: customers (a domain, a project, users with roles).

use serde_json::{json, Value};

use crate::helpers::*;

pub const PW: &str = "Customer-Pass-1";

/// A token for `user` (by name, in `domain_id`) scoped to `project` (by name, same domain).
pub async fn token_in(
    app: &TestApp,
    domain_id: &str,
    user: &str,
    password: &str,
    project: &str,
) -> String {
    let body = json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"id": domain_id}, "password": password}}},
        "scope": {"project": {"name": project, "domain": {"id": domain_id}}}}});
    app.auth(body)
        .await
        .expect(201)
        .header("x-subject-token")
        .expect("token")
}

pub async fn create_domain(app: &TestApp, name: &str) -> String {
    let r = app
        .post(
            "/v3/domains",
            &app.admin_token,
            json!({"domain": {"name": name}}),
        )
        .await
        .expect(201);
    r.body["domain"]["id"].as_str().unwrap().to_string()
}

pub async fn create_project(app: &TestApp, domain_id: &str, name: &str) -> String {
    let r = app
        .post(
            "/v3/projects",
            &app.admin_token,
            json!({"project": {"name": name, "domain_id": domain_id}}),
        )
        .await
        .expect(201);
    r.body["project"]["id"].as_str().unwrap().to_string()
}

pub async fn create_user(app: &TestApp, domain_id: &str, name: &str) -> String {
    let r = app
        .post(
            "/v3/users",
            &app.admin_token,
            json!({"user": {"name": name, "domain_id": domain_id, "password": PW}}),
        )
        .await
        .expect(201);
    r.body["user"]["id"].as_str().unwrap().to_string()
}

/// A group created by the holder of `token`.
pub async fn create_group(app: &TestApp, token: &str, domain_id: &str, name: &str) -> String {
    let r = app
        .post(
            "/v3/groups",
            token,
            json!({"group": {"name": name, "domain_id": domain_id}}),
        )
        .await
        .expect(201);
    r.body["group"]["id"].as_str().unwrap().to_string()
}

pub async fn grant(app: &TestApp, project_id: &str, user_id: &str, role: &str) {
    let role_id = app.role_id(role).await;
    app.put(
        &format!("/v3/projects/{project_id}/users/{user_id}/roles/{role_id}"),
        &app.admin_token,
    )
    .await
    .expect(204);
}

/// A customer: its own domain, a project in it, a manager and a member of that project.
pub struct Customer {
    pub domain_id: String,
    pub project_id: String,
    pub manager_id: String,
    pub manager_token: String,
    pub member_id: String,
    pub member_token: String,
}

pub async fn customer(app: &TestApp, name: &str) -> Customer {
    let domain_id = create_domain(app, name).await;
    let project_id = create_project(app, &domain_id, "main").await;
    let manager_id = create_user(app, &domain_id, "boss").await;
    let member_id = create_user(app, &domain_id, "worker").await;
    grant(app, &project_id, &manager_id, "manager").await;
    grant(app, &project_id, &member_id, "member").await;
    let manager_token = token_in(app, &domain_id, "boss", PW, "main").await;
    let member_token = token_in(app, &domain_id, "worker", PW, "main").await;
    Customer {
        domain_id,
        project_id,
        manager_id,
        manager_token,
        member_id,
        member_token,
    }
}

pub fn ids(list: &Value, key: &str) -> Vec<String> {
    list[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect()
}
