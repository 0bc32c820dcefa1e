//! Application-credential secrets hashed for what they are: the ones Ironstone generates (512
//! random bits) with a keyed HMAC-SHA256 whose key every node shares through the database and
//! the credential key repository; the ones users choose, and every hash stored before, Argon2.

use diesel::prelude::*;
use ironstone::app::Application;
use ironstone::credential::secret_hash::FACT_KEY;
use ironstone::store::{self, Store};
use secrecy::SecretString;
use serde_json::{json, Value};

use crate::both_backends;
use crate::fixtures::*;
use crate::helpers::*;

fn login(id: &str, secret: &str) -> Value {
    json!({"auth": {"identity": {"methods": ["application_credential"],
        "application_credential": {"id": id, "secret": secret}}}})
}

async fn create(app: &TestApp, c: &Customer, body: Value) -> (String, String) {
    let r = app
        .post(
            &format!("/v3/users/{}/application_credentials", c.member_id),
            &c.member_token,
            json!({ "application_credential": body }),
        )
        .await
        .expect(201);
    let ac = &r.body["application_credential"];
    (
        ac["id"].as_str().unwrap().to_string(),
        ac["secret"].as_str().unwrap().to_string(),
    )
}

async fn stored_hash(app: &TestApp, id: &str) -> String {
    let id = id.to_string();
    app.state
        .store
        .run(move |c| store::get_application_credential(c, &id))
        .await
        .unwrap()
        .unwrap()
        .secret_hash
}

async fn set_stored_hash(app: &TestApp, id: &str, hash: String) {
    let id = id.to_string();
    app.state
        .store
        .run(move |c| {
            use ironstone::store::schema::application_credentials::dsl as ac;
            diesel::update(ac::application_credentials.find(id))
                .set(ac::secret_hash.eq(hash))
                .execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
}

/// Another node on the same database, with `config` (its key repositories).
async fn node(config: ironstone::config::Config) -> String {
    let mut config = config;
    config.bind = "127.0.0.1:0".into();
    let store = Store::connect(&config.database_url(), 2).unwrap();
    let app = Application::build(config, store).unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    actix_web::rt::spawn(app.run_until_stopped());
    base
}

async fn login_on(base: &str, body: Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{base}/v3/auth/tokens"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

both_backends!(
    generated_secrets_get_a_keyed_hash_chosen_ones_argon2,
    |app| {
        let c = customer(&app, "keyed").await;
        let (gen, secret) = create(&app, &c, json!({"name": "generated"})).await;
        let (own, _) = create(
            &app,
            &c,
            json!({"name": "chosen", "secret": "chosen-secret-1"}),
        )
        .await;
        let keyed = stored_hash(&app, &gen).await;
        assert!(keyed.starts_with("$hmac-sha256$"), "{keyed}");
        assert!(!keyed.contains(&secret));
        assert!(stored_hash(&app, &own).await.starts_with("$argon2id$"));
        // The key is in the database only encrypted with the credential keys.
        let sealed = app
            .state
            .store
            .run(|c| store::get_fact(c, FACT_KEY))
            .await
            .unwrap()
            .expect("the key is recorded");
        let keys = app.state.credential_keys.keys();
        assert_eq!(keys.all.decrypt(&sealed).unwrap().len(), 32);

        app.auth(login(&gen, &secret)).await.expect(201);
        app.auth(login(&own, "chosen-secret-1")).await.expect(201);
        // From the attacker's side: a secret one character off, another credential's secret, the
        // stored hash itself, and a tampered stored hash all fail with the generic 401.
        let mut off = secret.clone();
        let last = off.pop().unwrap();
        off.push(if last == 'A' { 'B' } else { 'A' });
        for wrong in [off.as_str(), "chosen-secret-1", keyed.as_str()] {
            app.auth(login(&gen, wrong)).await.expect(401);
        }
        app.auth(login(&own, &secret)).await.expect(401);
        set_stored_hash(&app, &gen, format!("{keyed}A")).await;
        app.auth(login(&gen, &secret)).await.expect(401);
        // A row from before (an Argon2 hash of a generated secret) keeps working.
        let old = app
            .state
            .hasher
            .hash_blocking(&SecretString::from(secret.clone()))
            .unwrap();
        set_stored_hash(&app, &gen, old).await;
        app.auth(login(&gen, &secret)).await.expect(201);
        app.auth(login(&gen, &off)).await.expect(401);
    }
);

both_backends!(
    every_node_checks_generated_secrets_through_rotations,
    |app| {
        let c = customer(&app, "nodes").await;
        let (gen, secret) = create(&app, &c, json!({"name": "everywhere"})).await;
        let config = (*app.state.config).clone();
        // A second node sharing the database and the key repositories.
        let second = node(config.clone()).await;
        let (status, _) = login_on(&second, login(&gen, &secret)).await;
        assert_eq!(status, 201);
        // One made on the second node works on the first.
        let r = reqwest::Client::new()
            .post(format!(
                "{second}/v3/users/{}/application_credentials",
                c.member_id
            ))
            .header("X-Auth-Token", &c.member_token)
            .json(&json!({"application_credential": {"name": "from-second"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
        let body: Value = r.json().await.unwrap();
        let (id2, secret2) = (
            body["application_credential"]["id"]
                .as_str()
                .unwrap()
                .to_string(),
            body["application_credential"]["secret"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        app.auth(login(&id2, &secret2)).await.expect(201);
        // Rotating the credential keys (the key that sealed the hash key goes away) keeps every
        // generated secret working, on a node that starts afterwards too.
        for _ in 0..3 {
            ironstone::cli::credential::rotate(&config).await.unwrap();
        }
        let third = node(config.clone()).await;
        for (id, s) in [(&gen, &secret), (&id2, &secret2)] {
            let (status, _) = login_on(&third, login(id, s)).await;
            assert_eq!(status, 201, "after rotation");
        }
        // A node with credential keys of its own cannot check them: 503 naming no key, never a 401
        // that would look like a wrong secret, nor a 500.
        let own_keys = tempfile::tempdir().unwrap();
        ironstone::token::KeyRepository::new(own_keys.path(), config.fernet.max_active_keys)
            .setup()
            .unwrap();
        let mut stray = config.clone();
        stray.credential_key_repository = Some(own_keys.path().to_path_buf());
        let stray = node(stray).await;
        let (status, body) = login_on(&stray, login(&gen, &secret)).await;
        assert_eq!(status, 503, "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(!message.to_lowercase().contains("key"), "{message}");
    }
);
