//! `ironstone credential rotate`: Keystone's rotation of the credential key repository, with
//! every stored blob re-encrypted under the new primary key so that old keys can go.

use serde_json::json;

use crate::both_backends;

both_backends!(credential_rotation_reencrypts_every_blob, |app| {
    let blobs = [
        ("totp", "JBSWY3DPEHPK3PXP".to_string(), None),
        (
            "ec2",
            json!({"access": "rot-access", "secret": "rot-secret"}).to_string(),
            Some(app.admin_project_id.clone()),
        ),
    ];
    let mut ids = vec![];
    for (type_, blob, project) in &blobs {
        let r = app
            .post(
                "/v3/credentials",
                &app.admin_token,
                json!({"credential": {"user_id": app.admin_user_id, "type": type_,
                                      "blob": blob, "project_id": project}}),
            )
            .await
            .expect(201);
        ids.push(r.body["credential"]["id"].as_str().unwrap().to_string());
    }
    let config = app.state.config.clone();
    let dir = config.credential_key_repository();
    let first_primary = std::fs::read_to_string(dir.join("1")).unwrap();
    // max_active_keys = 3: after two rotations the key the blobs were made with is gone.
    for _ in 0..2 {
        ironstone::cli::credential::rotate(&config).await.unwrap();
    }
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["0", "2", "3"]);
    let primary = std::fs::read_to_string(dir.join("3")).unwrap();
    let only_primary = fernet::Fernet::new(primary.trim()).unwrap();
    let old = fernet::Fernet::new(first_primary.trim()).unwrap();
    for (id, (_, blob, _)) in ids.iter().zip(&blobs) {
        let id2 = id.clone();
        let row = app
            .state
            .store
            .run(move |c| ironstone::store::get_credential(c, &id2))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            only_primary.decrypt(&row.encrypted_blob).unwrap(),
            blob.as_bytes(),
            "stored blob re-encrypted with the new primary key"
        );
        assert!(old.decrypt(&row.encrypted_blob).is_err());
    }
    // The running server picks up the new keys (it re-reads the repository within 1 s) and still
    // reads every blob.
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    for (id, (_, blob, _)) in ids.iter().zip(&blobs) {
        let r = app
            .get(&format!("/v3/credentials/{id}"), &app.admin_token)
            .await
            .expect(200);
        assert_eq!(r.body["credential"]["blob"], blob.as_str());
    }
});

both_backends!(undecryptable_credential_answers_503_not_500, |app| {
    let r = app
        .post(
            "/v3/credentials",
            &app.admin_token,
            json!({"credential": {"user_id": app.admin_user_id, "type": "totp",
                                  "blob": "JBSWY3DPEHPK3PXP"}}),
        )
        .await
        .expect(201);
    let id = r.body["credential"]["id"].as_str().unwrap().to_string();
    // Keys that are not the ones that encrypted the blob, as on a node that made its own.
    let config = app.state.config.clone();
    let dir = config.credential_key_repository();
    std::fs::remove_dir_all(&dir).unwrap();
    ironstone::token::KeyRepository::new(&dir, config.fernet.max_active_keys)
        .setup()
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    let r = app
        .get(&format!("/v3/credentials/{id}"), &app.admin_token)
        .await
        .expect(503);
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(!message.contains("key"), "{message}");
});
