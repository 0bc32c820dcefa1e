//! EC2 access keys bound to their project and application credential, and exchanged for tokens
//! through `/v3/ec2tokens` and `/v3/s3tokens`. The signatures are computed here, from AWS's
//! published algorithms, independently of the server's code.

use std::collections::BTreeMap;

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::both_backends;
use crate::fixtures::*;
use crate::helpers::*;

const HOST: &str = "ec2.example.test:8788";

fn hmac256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

fn hmac1(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<sha1::Sha1>::new_from_slice(key).unwrap();
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn query(params: &BTreeMap<&str, String>) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn now_iso() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// An `ec2tokens` body signed with version 2.
fn ec2_v2(access: &str, secret: &str, method: &str, signed_host: &str, ts: &str) -> Value {
    let mut params = BTreeMap::new();
    params.insert("Action", "DescribeInstances".to_string());
    params.insert("AWSAccessKeyId", access.to_string());
    params.insert("SignatureVersion", "2".to_string());
    params.insert("SignatureMethod", method.to_string());
    params.insert("Timestamp", ts.to_string());
    params.insert("Filter.1", "a b/c".to_string());
    let to_sign = format!("POST\n{signed_host}\n/\n{}", query(&params));
    let mac = if method == "HmacSHA1" {
        hmac1(secret.as_bytes(), to_sign.as_bytes())
    } else {
        hmac256(secret.as_bytes(), to_sign.as_bytes())
    };
    json!({"credentials": {"access": access, "signature": b64(&mac), "host": HOST,
        "verb": "POST", "path": "/", "params": params, "headers": {}, "body_hash": ""}})
}

fn v4_key(secret: &str, date: &str, service: &str) -> Vec<u8> {
    let k = hmac256(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k = hmac256(&k, b"RegionOne");
    let k = hmac256(&k, service.as_bytes());
    hmac256(&k, b"aws4_request")
}

/// An `ec2tokens` body signed with version 4 (Authorization header).
fn ec2_v4(access: &str, secret: &str) -> Value {
    let amz_date = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let date = &amz_date[..8];
    let body_hash = hex::encode(Sha256::digest(b"Action=DescribeRegions"));
    let canonical =
        format!("POST\n/\n\nhost:{HOST}\nx-amz-date:{amz_date}\n\nhost;x-amz-date\n{body_hash}");
    let scope = format!("{date}/RegionOne/ec2/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let sig = hex::encode(hmac256(&v4_key(secret, date, "ec2"), to_sign.as_bytes()));
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential={access}/{scope}, SignedHeaders=host;x-amz-date, Signature={sig}"
    );
    json!({"credentials": {"access": access, "signature": sig, "host": HOST, "verb": "POST",
        "path": "/", "params": {}, "body_hash": body_hash,
        "headers": {"Host": HOST, "X-Amz-Date": amz_date, "Authorization": auth}}})
}

/// An `s3tokens` body: version 2 (HMAC-SHA1, base64) or version 4 (service `s3`).
fn s3(access: &str, secret: &str, v4: bool) -> Value {
    let (to_sign, sig) = if v4 {
        let amz_date = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
        let date = &amz_date[..8];
        let s = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{date}/RegionOne/s3/aws4_request\n{}",
            hex::encode(Sha256::digest(b"canonical request"))
        );
        let sig = hex::encode(hmac256(&v4_key(secret, date, "s3"), s.as_bytes()));
        (s, sig)
    } else {
        let s = "GET\n\n\nMon, 30 Nov 2026 12:00:00 GMT\n/bucket/object".to_string();
        let sig = b64(&hmac1(secret.as_bytes(), s.as_bytes()));
        (s, sig)
    };
    let token = base64::engine::general_purpose::URL_SAFE.encode(to_sign.as_bytes());
    json!({"credentials": {"access": access, "token": token, "signature": sig}})
}

/// A user with the `service` role, as Swift's or an EC2 API's service user.
async fn service_token(app: &TestApp) -> String {
    let p = create_project(app, "default", "services").await;
    let u = create_user(app, "default", "s3-service").await;
    grant(app, &p, &u, "service").await;
    token_in(app, "default", "s3-service", PW, "services").await
}

async fn ec2_key(app: &TestApp, user_id: &str, token: &str, project_id: &str) -> (String, String) {
    let r = app
        .post(
            &format!("/v3/users/{user_id}/credentials/OS-EC2"),
            token,
            json!({"tenant_id": project_id}),
        )
        .await
        .expect(201);
    let c = &r.body["credential"];
    (
        c["access"].as_str().unwrap().to_string(),
        c["secret"].as_str().unwrap().to_string(),
    )
}

fn role_names(body: &Value) -> Vec<String> {
    let mut n: Vec<String> = body["token"]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    n.sort();
    n
}

both_backends!(access_keys_exchange_for_project_tokens, |app| {
    let a = customer(&app, "acme").await;
    let svc = service_token(&app).await;
    let (access, secret) = ec2_key(&app, &a.member_id, &a.member_token, &a.project_id).await;
    let bodies = [
        (
            "/v3/ec2tokens",
            ec2_v2(&access, &secret, "HmacSHA256", HOST, &now_iso()),
        ),
        (
            "/v3/ec2tokens",
            ec2_v2(&access, &secret, "HmacSHA1", HOST, &now_iso()),
        ),
        // Signed without the port: Keystone retries without it.
        (
            "/v3/ec2tokens",
            ec2_v2(
                &access,
                &secret,
                "HmacSHA256",
                "ec2.example.test",
                &now_iso(),
            ),
        ),
        ("/v3/ec2tokens", ec2_v4(&access, &secret)),
        ("/v3/s3tokens", s3(&access, &secret, false)),
        ("/v3/s3tokens", s3(&access, &secret, true)),
    ];
    let mut token = String::new();
    for (path, body) in bodies {
        let r = app.post(path, &svc, body).await.expect(200);
        let t = &r.body["token"];
        assert_eq!(t["project"]["id"], a.project_id.as_str(), "{path}");
        assert_eq!(t["user"]["id"], a.member_id.as_str());
        assert_eq!(t["methods"], json!(["ec2credential"]));
        assert_eq!(role_names(&r.body), ["member", "reader"]);
        assert!(t["catalog"].is_array());
        token = r.header("x-subject-token").expect("X-Subject-Token");
    }
    // The legacy envelope.
    let mut legacy = ec2_v4(&access, &secret);
    legacy = json!({"ec2Credentials": legacy["credentials"].take()});
    app.post("/v3/ec2tokens", &svc, legacy).await.expect(200);
    // Services validate such a token as any other; its method survives the fernet round-trip.
    let v = app.client_validate(&svc, &token).await.expect(200);
    assert_eq!(v.body["token"]["methods"], json!(["ec2credential"]));
    assert_eq!(v.body["token"]["project"]["id"], a.project_id.as_str());
    // It does not act on the identity API, nor buy another token (Keystone's rules).
    app.get(&format!("/v3/users/{}", a.member_id), &token)
        .await
        .expect(403);
    let other = create_project(&app, &a.domain_id, "other").await;
    grant(&app, &other, &a.member_id, "member").await;
    app.auth(
        json!({"auth": {"identity": {"methods": ["token"], "token": {"id": token}},
        "scope": {"project": {"id": other}}}}),
    )
    .await
    .expect(403);
    // ec2credential is a marker, not a way to log in.
    app.auth(json!({"auth": {"identity": {"methods": ["ec2credential"], "ec2credential": {}}}}))
        .await
        .expect(401);
});

both_backends!(access_key_exchange_refusals_are_one_401, |app| {
    let a = customer(&app, "acme").await;
    let svc = service_token(&app).await;
    let (access, secret) = ec2_key(&app, &a.member_id, &a.member_token, &a.project_id).await;
    let good = ec2_v2(&access, &secret, "HmacSHA256", HOST, &now_iso());
    let generic = app
        .post(
            "/v3/ec2tokens",
            &svc,
            ec2_v2(&access, "wrong", "HmacSHA256", HOST, &now_iso()),
        )
        .await
        .expect(401)
        .body;
    let refused = |body: Value, path: &'static str| {
        let (app, svc, generic) = (&app, &svc, &generic);
        async move {
            let r = app.post(path, svc, body).await.expect(401);
            assert_eq!(
                r.body, *generic,
                "{path}: the same answer for every refusal"
            );
        }
    };
    refused(ec2_v4(&access, "wrong"), "/v3/ec2tokens").await;
    refused(s3(&access, "wrong", false), "/v3/s3tokens").await;
    refused(s3(&access, "wrong", true), "/v3/s3tokens").await;
    refused(
        ec2_v2("no-such-key", &secret, "HmacSHA256", HOST, &now_iso()),
        "/v3/ec2tokens",
    )
    .await;
    refused(s3("no-such-key", &secret, false), "/v3/s3tokens").await;
    let mut unsigned = good.clone();
    unsigned["credentials"]["signature"].take();
    refused(unsigned, "/v3/ec2tokens").await;
    refused(json!({"credentials": {}}), "/v3/ec2tokens").await;
    // A signed request older than Keystone's auth_ttl (15 minutes).
    let old = (chrono::Utc::now() - chrono::Duration::minutes(20))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    refused(
        ec2_v2(&access, &secret, "HmacSHA256", HOST, &old),
        "/v3/ec2tokens",
    )
    .await;
    // A tampered parameter breaks the signature.
    let mut tampered = good.clone();
    tampered["credentials"]["params"]["Action"] = json!("TerminateInstances");
    refused(tampered, "/v3/ec2tokens").await;
    app.post("/v3/ec2tokens", &svc, good.clone())
        .await
        .expect(200);
    // Disabled user, project, domain: refused while disabled.
    let t = app.admin_token.clone();
    for (path, key, id) in [
        ("/v3/users", "user", &a.member_id),
        ("/v3/projects", "project", &a.project_id),
        ("/v3/domains", "domain", &a.domain_id),
    ] {
        let url = format!("{path}/{id}");
        app.patch(&url, &t, json!({key: {"enabled": false}}))
            .await
            .expect(200);
        refused(
            ec2_v2(&access, &secret, "HmacSHA256", HOST, &now_iso()),
            "/v3/ec2tokens",
        )
        .await;
        refused(s3(&access, &secret, false), "/v3/s3tokens").await;
        app.patch(&url, &t, json!({key: {"enabled": true}}))
            .await
            .expect(200);
    }
    app.post("/v3/s3tokens", &svc, s3(&access, &secret, false))
        .await
        .expect(200);
    // A user who lost its role on the project.
    let role = app.role_id("member").await;
    app.delete(
        &format!(
            "/v3/projects/{}/users/{}/roles/{role}",
            a.project_id, a.member_id
        ),
        &t,
    )
    .await
    .expect(204);
    refused(s3(&access, &secret, false), "/v3/s3tokens").await;
    // Only services (and the cloud admin) exchange keys, as in Keystone: a presigned URL is no
    // oracle for anyone else.
    // (A fresh token: disabling the project above revoked the fixture's.)
    let manager = token_in(&app, &a.domain_id, "boss", PW, "main").await;
    app.post("/v3/s3tokens", &manager, s3(&access, &secret, false))
        .await
        .expect(403);
    app.request(reqwest::Method::POST, "/v3/ec2tokens", None, Some(good))
        .await
        .expect(401);
});

both_backends!(ec2_keys_are_bound_to_a_project_with_a_role, |app| {
    let a = customer(&app, "acme").await;
    let b = customer(&app, "globex").await;
    let blob = |access: &str| json!({"access": access, "secret": "s3cr3t"}).to_string();
    let file = |user: &str, project: &str, blob: String| json!({"credential": {"user_id": user, "project_id": project, "type": "ec2", "blob": blob}});
    // A member of A files a key on B, where it holds no role: refused, through both APIs.
    app.post(
        "/v3/credentials",
        &a.member_token,
        file(&a.member_id, &b.project_id, blob("k1")),
    )
    .await
    .expect(400);
    app.post(
        &format!("/v3/users/{}/credentials/OS-EC2", a.member_id),
        &a.member_token,
        json!({"tenant_id": b.project_id}),
    )
    .await
    .expect(400);
    // On A it may; then it cannot move the key to B, nor give it to someone else.
    let r = app
        .post(
            "/v3/credentials",
            &a.member_token,
            file(&a.member_id, &a.project_id, blob("k2")),
        )
        .await
        .expect(201);
    let id = r.body["credential"]["id"].as_str().unwrap().to_string();
    let url = format!("/v3/credentials/{id}");
    app.patch(
        &url,
        &a.member_token,
        json!({"credential": {"project_id": b.project_id}}),
    )
    .await
    .expect(403);
    app.patch(
        &url,
        &a.member_token,
        json!({"credential": {"user_id": b.member_id}}),
    )
    .await
    .expect(400);
    // A non-ec2 credential on B cannot be turned into a key there either.
    let r = app
        .post(
            "/v3/credentials",
            &a.member_token,
            json!({"credential": {"user_id": a.member_id,
            "project_id": a.project_id, "type": "cert", "blob": blob("k3")}}),
        )
        .await
        .expect(201);
    let totp = format!(
        "/v3/credentials/{}",
        r.body["credential"]["id"].as_str().unwrap()
    );
    app.patch(
        &totp,
        &a.member_token,
        json!({"credential": {"type": "ec2", "project_id": b.project_id}}),
    )
    .await
    .expect(403);
    // Nobody names a delegation in a blob, on create or on update.
    let forged =
        json!({"access": "k4", "secret": "s", "app_cred_id": "0123456789abcdef0123456789abcdef"});
    app.post(
        "/v3/credentials",
        &a.member_token,
        file(&a.member_id, &a.project_id, forged.to_string()),
    )
    .await
    .expect(400);
    let forged =
        json!({"access": "k2", "secret": "s", "app_cred_id": "0123456789abcdef0123456789abcdef"});
    app.patch(
        &url,
        &a.member_token,
        json!({"credential": {"blob": forged.to_string()}}),
    )
    .await
    .expect(400);
    // The same-project update still works; the cloud admin may move a key.
    app.patch(
        &url,
        &a.member_token,
        json!({"credential": {"project_id": a.project_id, "blob": blob("k2")}}),
    )
    .await
    .expect(200);
    grant(&app, &b.project_id, &a.member_id, "reader").await;
    let r = app
        .patch(
            &url,
            &app.admin_token,
            json!({"credential": {"project_id": b.project_id}}),
        )
        .await
        .expect(200);
    assert_eq!(r.body["credential"]["project_id"], b.project_id.as_str());
});

/// A token for an application credential, by id and secret.
async fn app_cred_token(app: &TestApp, id: &str, secret: &str) -> String {
    app.auth(
        json!({"auth": {"identity": {"methods": ["application_credential"],
        "application_credential": {"id": id, "secret": secret}}}}),
    )
    .await
    .expect(201)
    .header("x-subject-token")
    .unwrap()
}

both_backends!(
    keys_made_with_an_application_credential_carry_its_limits,
    |app| {
        let a = customer(&app, "acme").await;
        let svc = service_token(&app).await;
        let other = create_project(&app, &a.domain_id, "other").await;
        grant(&app, &other, &a.member_id, "member").await;
        let acs = format!("/v3/users/{}/application_credentials", a.member_id);
        let expires = (chrono::Utc::now() + chrono::Duration::seconds(4))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        let mut made = vec![];
        for (name, exp) in [("ro", None), ("brief", Some(expires.clone()))] {
            let mut body = json!({"application_credential": {"name": name, "unrestricted": true,
            "roles": [{"name": "reader"}]}});
            if let Some(e) = exp {
                body["application_credential"]["expires_at"] = json!(e);
            }
            let r = app.post(&acs, &a.member_token, body).await.expect(201);
            let ac = &r.body["application_credential"];
            made.push((
                ac["id"].as_str().unwrap().to_string(),
                ac["secret"].as_str().unwrap().to_string(),
            ));
        }
        let (ro_id, ro_secret) = made[0].clone();
        let ro_token = app_cred_token(&app, &ro_id, &ro_secret).await;
        // The key records the credential, and stays on its project.
        app.post(
            &format!("/v3/users/{}/credentials/OS-EC2", a.member_id),
            &ro_token,
            json!({"tenant_id": other}),
        )
        .await
        .expect(403);
        let (access, secret) = ec2_key(&app, &a.member_id, &ro_token, &a.project_id).await;
        let id = hex::encode(Sha256::digest(access.as_bytes()));
        let c = app
            .get(&format!("/v3/credentials/{id}"), &a.member_token)
            .await
            .expect(200);
        let blob: Value =
            serde_json::from_str(c.body["credential"]["blob"].as_str().unwrap()).unwrap();
        assert_eq!(blob["app_cred_id"], ro_id.as_str());
        // Its tokens carry the credential's roles only (reader, not member).
        let r = app
            .post("/v3/s3tokens", &svc, s3(&access, &secret, false))
            .await
            .expect(200);
        assert_eq!(role_names(&r.body), ["reader"]);
        assert_eq!(
            r.body["token"]["application_credential"]["id"],
            ro_id.as_str()
        );
        let token = r.header("x-subject-token").unwrap();
        // Delete the credential: the key stops working, its tokens too.
        app.delete(&format!("{acs}/{ro_id}"), &a.member_token)
            .await
            .expect(204);
        app.post("/v3/s3tokens", &svc, s3(&access, &secret, false))
            .await
            .expect(401);
        app.post("/v3/ec2tokens", &svc, ec2_v4(&access, &secret))
            .await
            .expect(401);
        app.client_validate(&svc, &token).await.expect(404);
        // A restricted application credential makes no keys at all.
        let r = app
            .post(
                &acs,
                &a.member_token,
                json!({"application_credential": {"name": "tight"}}),
            )
            .await
            .expect(201);
        let ac = &r.body["application_credential"];
        let tight = app_cred_token(
            &app,
            ac["id"].as_str().unwrap(),
            ac["secret"].as_str().unwrap(),
        )
        .await;
        app.post(
            &format!("/v3/users/{}/credentials/OS-EC2", a.member_id),
            &tight,
            json!({"tenant_id": a.project_id}),
        )
        .await
        .expect(403);
        // Expiry: the key works until the credential expires, and its tokens expire with it.
        let (brief_id, brief_secret) = made[1].clone();
        let brief = app_cred_token(&app, &brief_id, &brief_secret).await;
        let (access, secret) = ec2_key(&app, &a.member_id, &brief, &a.project_id).await;
        let r = app
            .post("/v3/ec2tokens", &svc, ec2_v4(&access, &secret))
            .await
            .expect(200);
        let exp =
            chrono::DateTime::parse_from_rfc3339(r.body["token"]["expires_at"].as_str().unwrap())
                .unwrap();
        let cap = chrono::DateTime::parse_from_rfc3339(&expires).unwrap();
        assert!(exp <= cap, "token outlives its application credential");
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        app.post("/v3/ec2tokens", &svc, ec2_v4(&access, &secret))
            .await
            .expect(401);
    }
);
