//! Stored credentials and EC2 access keys: encrypted at rest, owned by their user.

use serde_json::json;

use crate::both_backends;
use crate::fixtures::*;

both_backends!(ec2_access_keys_belong_to_their_user, |app| {
    let a = customer(&app, "acme").await;
    let path = format!("/v3/users/{}/credentials/OS-EC2", a.member_id);
    let r = app
        .post(&path, &a.member_token, json!({"tenant_id": a.project_id}))
        .await
        .expect(201);
    let c = &r.body["credential"];
    let (access, secret) = (
        c["access"].as_str().unwrap().to_string(),
        c["secret"].as_str().unwrap().to_string(),
    );
    assert_eq!(c["tenant_id"], a.project_id.as_str());
    assert!(c["links"]["self"].as_str().unwrap().ends_with(&access));
    // Shown to its owner, listed, and stored encrypted.
    let g = app
        .get(&format!("{path}/{access}"), &a.member_token)
        .await
        .expect(200);
    assert_eq!(g.body["credential"]["secret"], secret.as_str());
    let l = app.get(&path, &a.member_token).await.expect(200);
    assert_eq!(l.body["credentials"].as_array().unwrap().len(), 1);
    let s = secret.clone();
    let leaked = app
        .state
        .store
        .run(move |c| {
            use diesel::prelude::*;
            use ironstone::store::schema::credentials::dsl as k;
            let blobs: Vec<String> = k::credentials.select(k::encrypted_blob).load(c)?;
            Ok(blobs.iter().any(|b| b.contains(&s)))
        })
        .await
        .unwrap();
    assert!(!leaked, "the secret is stored in clear");
    // Not someone else's business; not for a project without a role.
    app.get(&format!("{path}/{access}"), &a.manager_token)
        .await
        .expect(403);
    app.post(&path, &a.manager_token, json!({"tenant_id": a.project_id}))
        .await
        .expect(403);
    let other = create_project(&app, &a.domain_id, "other").await;
    app.post(&path, &a.member_token, json!({"tenant_id": other}))
        .await
        .expect(400);
    app.post(&path, &a.member_token, json!({}))
        .await
        .expect(400);
    // The generic API sees the same credential, with the blob decrypted.
    let all = app
        .get("/v3/credentials?type=ec2", &a.member_token)
        .await
        .expect(200);
    let blob: serde_json::Value =
        serde_json::from_str(all.body["credentials"][0]["blob"].as_str().unwrap()).unwrap();
    assert_eq!(blob["secret"], secret.as_str());
    app.get(
        &format!("/v3/credentials?user_id={}", a.manager_id),
        &a.member_token,
    )
    .await
    .expect(403);
    // Delete, then gone.
    app.delete(&format!("{path}/{access}"), &a.member_token)
        .await
        .expect(204);
    app.get(&format!("{path}/{access}"), &a.member_token)
        .await
        .expect(404);
});

both_backends!(credentials_crud_and_cascade, |app| {
    let a = customer(&app, "acme").await;
    let t = &app.admin_token;
    let r = app
        .post("/v3/credentials", t, json!({"credential": {"user_id": a.member_id, "type": "totp", "blob": "JBSWY3DPEHPK3PXP"}}))
        .await
        .expect(201);
    let id = r.body["credential"]["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["credential"]["blob"], "JBSWY3DPEHPK3PXP");
    let r = app
        .patch(
            &format!("/v3/credentials/{id}"),
            &a.member_token,
            json!({"credential": {"blob": "NEWSECRETNEWSECR"}}),
        )
        .await
        .expect(200);
    assert_eq!(r.body["credential"]["blob"], "NEWSECRETNEWSECR");
    app.get(&format!("/v3/credentials/{id}"), &a.member_token)
        .await
        .expect(200);
    app.get(&format!("/v3/credentials/{id}"), &a.manager_token)
        .await
        .expect(403);
    app.post("/v3/credentials", t, json!({"credential": {"user_id": a.member_id, "type": "ec2", "blob": "not json", "project_id": a.project_id}}))
        .await
        .expect(400);
    app.post(
        "/v3/credentials",
        t,
        json!({"credential": {"user_id": a.member_id, "blob": "x"}}),
    )
    .await
    .expect(400);
    // Deleting the user takes its credentials.
    app.delete(&format!("/v3/users/{}", a.member_id), t)
        .await
        .expect(204);
    app.get(&format!("/v3/credentials/{id}"), t)
        .await
        .expect(404);
});
