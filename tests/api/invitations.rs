//! Invitations (issue 11): pending -> accepted for a new and an existing user, expired -> resent
//! -> accepted, withdrawal, and every rule from the attacker's side: another domain's manager, a
//! role the caller may not grant, targets in two domains, a bound user invited elsewhere (at
//! invite time and when it is bound meanwhile), a wrong password, two acceptances at once.

use chrono::Utc;
use futures_util::future::join;
use ironstone::accounts::redeem::{self, LinkKind};
use ironstone::error::{Error, LinkProblem};
use serde_json::{json, Value};

use crate::both_backends;
use crate::fixtures::*;
use crate::helpers::*;
use crate::links::{link_problem, pw, secret_of, NEW_PW};

async fn invite(app: &TestApp, token: &str, body: Value) -> Value {
    app.post("/v3/OS-PCU/invitations", token, json!({"invitation": body}))
        .await
        .expect(201)
        .body["invitation"]
        .clone()
}

async fn status_of(app: &TestApp, id: &str) -> String {
    app.get(&format!("/v3/OS-PCU/invitations/{id}"), &app.admin_token)
        .await
        .expect(200)
        .body["invitation"]["status"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn roles_on(app: &TestApp, project_id: &str, user_id: &str) -> Vec<String> {
    let r = app
        .get(
            &format!("/v3/projects/{project_id}/users/{user_id}/roles"),
            &app.admin_token,
        )
        .await
        .expect(200);
    let mut names: Vec<String> = r.body["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

both_backends!(a_new_user_accepts_and_gets_its_roles_at_once, |app| {
    let a = customer(&app, "alpha").await;
    let inv = invite(
        &app,
        &a.manager_token,
        json!({"email": "New.Person@Example.com", "roles": [
            {"role": "member", "project_id": a.project_id},
            {"role": "reader", "domain_id": a.domain_id}]}),
    )
    .await;
    assert_eq!(inv["status"], "pending");
    assert_eq!(inv["email"], "new.person@example.com");
    assert_eq!(inv["domain_id"], a.domain_id.as_str());
    assert!(inv["user_id"].is_null());
    assert_eq!(inv["roles"].as_array().unwrap().len(), 2);
    assert!(inv["link"]["url"].is_string() && inv["link"]["expires_at"].is_string());
    let id = inv["id"].as_str().unwrap().to_string();
    let secret = secret_of(&inv["link"]);

    // Listed as pending, by email too (case-insensitively); not for another domain's manager.
    let b = customer(&app, "beta").await;
    let l = app
        .get(
            "/v3/OS-PCU/invitations?status=pending&email=NEW.person@example.com",
            &a.manager_token,
        )
        .await
        .expect(200);
    assert_eq!(ids(&l.body, "invitations"), vec![id.clone()]);
    let l = app
        .get("/v3/OS-PCU/invitations?status=accepted", &a.manager_token)
        .await
        .expect(200);
    assert!(ids(&l.body, "invitations").is_empty());
    let l = app
        .get("/v3/OS-PCU/invitations", &b.manager_token)
        .await
        .expect(200);
    assert!(ids(&l.body, "invitations").is_empty());
    app.get(&format!("/v3/OS-PCU/invitations/{id}"), &b.manager_token)
        .await
        .expect(403);
    app.get(
        &format!("/v3/OS-PCU/invitations?domain_id={}", a.domain_id),
        &b.manager_token,
    )
    .await
    .expect(403);
    app.get("/v3/OS-PCU/invitations", &a.member_token)
        .await
        .expect(403);

    let info = redeem::inspect(&app.state, &secret, Utc::now())
        .await
        .unwrap();
    assert_eq!(info.kind, LinkKind::Invitation);
    assert!(!info.existing_user);
    assert_eq!(info.user_name, None);
    assert_eq!(info.email.as_deref(), Some("new.person@example.com"));
    assert_eq!(info.project_name.as_deref(), Some("main"));
    // A set-password secret is not an invitation, and the other way round.
    let wrong = redeem::set_password(&app.state, &secret, pw(NEW_PW), Utc::now()).await;
    assert!(matches!(wrong, Err(Error::Validation(_))), "{wrong:?}");

    let done = redeem::accept_invitation(&app.state, &secret, pw(NEW_PW), Utc::now())
        .await
        .unwrap();
    assert!(done.user_name.starts_with("PCU-"), "{}", done.user_name);
    assert_eq!(done.project_id.as_deref(), Some(a.project_id.as_str()));
    let token = token_in(&app, &a.domain_id, &done.user_name, NEW_PW, "main").await;
    assert!(!token.is_empty());
    assert_eq!(
        roles_on(&app, &a.project_id, &done.user_id).await,
        vec!["member"]
    );
    let v = app
        .get(&format!("/v3/OS-PCU/invitations/{id}"), &a.manager_token)
        .await
        .expect(200);
    assert_eq!(v.body["invitation"]["status"], "accepted");
    assert_eq!(v.body["invitation"]["user_id"], done.user_id.as_str());
    assert!(v.body["invitation"]["accepted_at"].is_string());
    link_problem(
        redeem::accept_invitation(&app.state, &secret, pw(NEW_PW), Utc::now()).await,
        LinkProblem::Used,
    );
    // Accepted: nothing to resend.
    app.post(
        &format!("/v3/OS-PCU/invitations/{id}/resend"),
        &a.manager_token,
        json!({}),
    )
    .await
    .expect(409);
});

both_backends!(an_existing_user_confirms_with_its_password, |app| {
    let a = customer(&app, "alpha").await;
    let second = create_project(&app, &a.domain_id, "second").await;
    app.patch(
        &format!("/v3/users/{}", a.member_id),
        &app.admin_token,
        json!({"user": {"email": "worker@example.com"}}),
    )
    .await
    .expect(200);
    let inv = invite(
        &app,
        &a.manager_token,
        json!({"email": "worker@example.com", "roles": [{"role": "reader", "project_id": second}]}),
    )
    .await;
    assert_eq!(inv["user_id"], a.member_id.as_str());
    let secret = secret_of(&inv["link"]);
    let info = redeem::inspect(&app.state, &secret, Utc::now())
        .await
        .unwrap();
    assert!(info.existing_user);
    assert_eq!(info.user_name.as_deref(), Some("worker"));
    // A wrong password: the generic 401, counted, nothing granted, the link still usable.
    let r = redeem::accept_invitation(&app.state, &secret, pw("Wrong-Pass-1"), Utc::now()).await;
    assert!(matches!(r, Err(Error::Unauthorized)), "{r:?}");
    assert!(roles_on(&app, &second, &a.member_id).await.is_empty());
    let done = redeem::accept_invitation(&app.state, &secret, pw(PW), Utc::now())
        .await
        .unwrap();
    assert_eq!(done.user_id, a.member_id);
    assert_eq!(done.project_name.as_deref(), Some("second"));
    assert_eq!(roles_on(&app, &second, &a.member_id).await, vec!["reader"]);
    token_in(&app, &a.domain_id, "worker", PW, "second").await;
});

both_backends!(expired_then_resent_then_accepted, |app| {
    let a = customer(&app, "alpha").await;
    let inv = invite(
        &app,
        &a.manager_token,
        json!({"email": "late@example.com", "name": "late-comer", "expires_in": 30,
               "roles": [{"role": "member", "project_id": a.project_id}]}),
    )
    .await;
    let id = inv["id"].as_str().unwrap().to_string();
    let first = secret_of(&inv["link"]);
    // Let it expire (the store's clock, not a 30 s wait).
    let (iid, past) = (
        id.clone(),
        (Utc::now() - chrono::Duration::seconds(1)).naive_utc(),
    );
    app.state
        .store
        .tx(move |c| {
            ironstone::store::set_invitation_expiry(c, &iid, past)?;
            use diesel::prelude::*;
            diesel::update(ironstone::store::schema::account_links::table)
                .filter(ironstone::store::schema::account_links::invitation_id.eq(&iid))
                .set(ironstone::store::schema::account_links::expires_at.eq(past))
                .execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(status_of(&app, &id).await, "expired");
    let l = app
        .get("/v3/OS-PCU/invitations?status=expired", &a.manager_token)
        .await
        .expect(200);
    assert_eq!(ids(&l.body, "invitations"), vec![id.clone()]);
    let r = redeem::accept_invitation(&app.state, &first, pw(NEW_PW), Utc::now()).await;
    assert!(
        matches!(r, Err(Error::Link(LinkProblem::Expired(_)))),
        "{r:?}"
    );

    let r = app
        .post(
            &format!("/v3/OS-PCU/invitations/{id}/resend"),
            &a.manager_token,
            json!({}),
        )
        .await
        .expect(200);
    assert_eq!(r.body["invitation"]["status"], "pending");
    let second = secret_of(&r.body["invitation"]["link"]);
    link_problem(
        redeem::inspect(&app.state, &first, Utc::now()).await,
        LinkProblem::Replaced,
    );
    let done = redeem::accept_invitation(&app.state, &second, pw(NEW_PW), Utc::now())
        .await
        .unwrap();
    assert_eq!(done.user_name, "late-comer");
    assert_eq!(status_of(&app, &id).await, "accepted");
});

both_backends!(withdrawing_kills_the_link, |app| {
    let a = customer(&app, "alpha").await;
    let b = customer(&app, "beta").await;
    let inv = invite(
        &app,
        &a.manager_token,
        json!({"email": "gone@example.com", "roles": [{"role": "member", "project_id": a.project_id}]}),
    )
    .await;
    let id = inv["id"].as_str().unwrap();
    let secret = secret_of(&inv["link"]);
    app.delete(&format!("/v3/OS-PCU/invitations/{id}"), &b.manager_token)
        .await
        .expect(403);
    app.post(
        &format!("/v3/OS-PCU/invitations/{id}/resend"),
        &b.manager_token,
        json!({}),
    )
    .await
    .expect(403);
    app.delete(&format!("/v3/OS-PCU/invitations/{id}"), &a.manager_token)
        .await
        .expect(204);
    app.get(&format!("/v3/OS-PCU/invitations/{id}"), &a.manager_token)
        .await
        .expect(404);
    link_problem(
        redeem::accept_invitation(&app.state, &secret, pw(NEW_PW), Utc::now()).await,
        LinkProblem::Unknown,
    );
});

both_backends!(invitations_refuse_what_the_caller_may_not_grant, |app| {
    let a = customer(&app, "alpha").await;
    let b = customer(&app, "beta").await;
    let post = |token: String, body: Value| {
        let app = &app;
        async move {
            app.post(
                "/v3/OS-PCU/invitations",
                &token,
                json!({"invitation": body}),
            )
            .await
        }
    };
    let m = a.manager_token.clone();
    // Another domain's project; a role only the cloud admin grants; the admin project.
    post(m.clone(), json!({"email": "x@example.com", "roles": [{"role": "member", "project_id": b.project_id}]}))
        .await
        .expect(403);
    post(
        m.clone(),
        json!({"email": "x@example.com", "roles": [{"role": "admin", "project_id": a.project_id}]}),
    )
    .await
    .expect(403);
    post(m.clone(), json!({"email": "x@example.com", "roles": [{"role": "member", "project_id": app.admin_project_id}]}))
        .await
        .expect(403);
    post(a.member_token.clone(), json!({"email": "x@example.com", "roles": [{"role": "member", "project_id": a.project_id}]}))
        .await
        .expect(403);
    // Bad input: each says what to fix.
    for (body, field) in [
        (
            json!({"email": "x@example.com", "roles": []}),
            "invitation.roles",
        ),
        (
            json!({"email": "nope", "roles": [{"role": "member", "project_id": a.project_id}]}),
            "invitation.email",
        ),
        (
            json!({"email": "x@example.com", "roles": [{"role": "member"}]}),
            "invitation.roles[0]",
        ),
        (
            json!({"email": "x@example.com", "roles": [{"role": "member", "project_id": a.project_id, "domain_id": a.domain_id}]}),
            "invitation.roles[0]",
        ),
        (
            json!({"email": "x@example.com", "expires_in": 0, "roles": [{"role": "member", "project_id": a.project_id}]}),
            "invitation.expires_in",
        ),
    ] {
        let r = post(m.clone(), body.clone()).await.expect(400);
        let msg = r.body["error"]["message"].as_str().unwrap();
        assert!(msg.contains(field), "{body}: {msg}");
    }
    // Targets in two domains (the cloud admin may grant in both, but not in one invitation).
    let r = post(app.admin_token.clone(), json!({"email": "x@example.com", "roles": [
        {"role": "member", "project_id": a.project_id}, {"role": "member", "project_id": b.project_id}]}))
        .await
        .expect(400);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("one domain"),
        "{}",
        r.body
    );
    post(m.clone(), json!({"email": "x@example.com", "roles": [{"role": "no-such-role", "project_id": a.project_id}]}))
        .await
        .expect(404);
    // A name taken in the domain.
    post(m.clone(), json!({"email": "x@example.com", "name": "boss", "roles": [{"role": "member", "project_id": a.project_id}]}))
        .await
        .expect(409);
    // Nothing was written by any of these.
    let l = app
        .get("/v3/OS-PCU/invitations", &app.admin_token)
        .await
        .expect(200);
    assert!(ids(&l.body, "invitations").is_empty(), "{}", l.body);
});

both_backends!(several_users_with_the_email_must_be_picked, |app| {
    let a = customer(&app, "alpha").await;
    for u in [&a.manager_id, &a.member_id] {
        app.patch(
            &format!("/v3/users/{u}"),
            &app.admin_token,
            json!({"user": {"email": "team@example.com"}}),
        )
        .await
        .expect(200);
    }
    let roles = json!([{"role": "reader", "project_id": a.project_id}]);
    let r = app
        .post(
            "/v3/OS-PCU/invitations",
            &a.manager_token,
            json!({"invitation": {"email": "team@example.com", "roles": roles}}),
        )
        .await
        .expect(409);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("user_id"),
        "{}",
        r.body
    );
    let inv = invite(
        &app,
        &a.manager_token,
        json!({"email": "team@example.com", "user_id": a.member_id, "roles": roles}),
    )
    .await;
    assert_eq!(inv["user_id"], a.member_id.as_str());
});

both_backends!(a_bound_user_cannot_be_invited_beyond_its_project, |app| {
    let a = customer(&app, "alpha").await;
    let second = create_project(&app, &a.domain_id, "second").await;
    let r = app
        .post(
            &format!("/v3/OS-PCU/projects/{}/users", a.project_id),
            &a.manager_token,
            json!({"user": {"name": "pinned", "email": "pinned@example.com", "password_mode": "given", "password": PW}}),
        )
        .await
        .expect(201);
    let pinned = r.body["user"]["id"].as_str().unwrap().to_string();
    let r = app
        .post(
            "/v3/OS-PCU/invitations",
            &a.manager_token,
            json!({"invitation": {"email": "pinned@example.com",
            "roles": [{"role": "member", "project_id": second}]}}),
        )
        .await
        .expect(409);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("bound to project"),
        "{}",
        r.body
    );
    app.post(
        "/v3/OS-PCU/invitations",
        &a.manager_token,
        json!({"invitation": {"email": "pinned@example.com",
        "roles": [{"role": "member", "domain_id": a.domain_id}]}}),
    )
    .await
    .expect(409);

    // Bound after the invitation was made: acceptance refuses, grants nothing, keeps the link.
    app.patch(
        &format!("/v3/users/{}", a.member_id),
        &app.admin_token,
        json!({"user": {"email": "w@example.com"}}),
    )
    .await
    .expect(200);
    let inv = invite(
        &app,
        &a.manager_token,
        json!({"email": "w@example.com", "roles": [{"role": "reader", "project_id": second}]}),
    )
    .await;
    let secret = secret_of(&inv["link"]);
    app.patch(
        &format!("/v3/users/{}", a.member_id),
        &app.admin_token,
        json!({"user": {"OS-PCU:bound_project_id": a.project_id}}),
    )
    .await
    .expect(200);
    let r = redeem::accept_invitation(&app.state, &secret, pw(PW), Utc::now()).await;
    assert!(matches!(r, Err(Error::Conflict(_))), "{r:?}");
    assert!(roles_on(&app, &second, &a.member_id).await.is_empty());
    assert_eq!(
        status_of(&app, inv["id"].as_str().unwrap()).await,
        "pending"
    );
    redeem::inspect(&app.state, &secret, Utc::now())
        .await
        .unwrap();
    let _ = pinned;
});

both_backends!(two_acceptances_at_once_make_one_user, |app| {
    let a = customer(&app, "alpha").await;
    let inv = invite(
        &app,
        &a.manager_token,
        json!({"email": "twice@example.com", "roles": [{"role": "member", "project_id": a.project_id}]}),
    )
    .await;
    let secret = secret_of(&inv["link"]);
    let (x, y) = join(
        redeem::accept_invitation(&app.state, &secret, pw("First-Pass-1"), Utc::now()),
        redeem::accept_invitation(&app.state, &secret, pw("Second-Pass-2"), Utc::now()),
    )
    .await;
    assert!(x.is_ok() != y.is_ok(), "exactly one must win: {x:?} {y:?}");
    let lost = x.as_ref().err().or(y.as_ref().err()).unwrap();
    assert!(matches!(lost, Error::Link(LinkProblem::Used)), "{lost:?}");
    let users = app
        .get(
            &format!(
                "/v3/users?domain_id={}&email=twice@example.com",
                a.domain_id
            ),
            &app.admin_token,
        )
        .await
        .expect(200);
    assert_eq!(ids(&users.body, "users").len(), 1);
});

both_backends!(
    a_manager_cannot_resend_what_only_the_operator_may_grant,
    |app| {
        // The cloud admin invites someone as `admin` of a customer project. The customer's manager
        // may see and withdraw it, but resending would hand the manager a link to a grant it may
        // not make itself (without a mail server the link comes back in the answer).
        let a = customer(&app, "alpha").await;
        let inv = invite(
        &app,
        &app.admin_token,
        json!({"email": "ops@example.com", "roles": [{"role": "admin", "project_id": a.project_id}]}),
    )
    .await;
        let id = inv["id"].as_str().unwrap().to_string();
        let r = app
            .post(
                &format!("/v3/OS-PCU/invitations/{id}/resend"),
                &a.manager_token,
                json!({}),
            )
            .await
            .expect(403);
        assert!(!r.body.to_string().contains("/account/link/"), "{}", r.body);
        // The operator's own link still works; the operator may resend.
        secret_of(&inv["link"]);
        app.post(
            &format!("/v3/OS-PCU/invitations/{id}/resend"),
            &app.admin_token,
            json!({}),
        )
        .await
        .expect(200);
        // The manager resends its own invitation as before.
        let own = invite(
        &app,
        &a.manager_token,
        json!({"email": "new@example.com", "roles": [{"role": "member", "project_id": a.project_id}]}),
    )
    .await;
        app.post(
            &format!(
                "/v3/OS-PCU/invitations/{}/resend",
                own["id"].as_str().unwrap()
            ),
            &a.manager_token,
            json!({}),
        )
        .await
        .expect(200);
    }
);

both_backends!(
    acceptance_grants_nothing_that_now_reaches_beyond_the_inviter,
    |app| {
        // The manager invites its member; before acceptance the member is given a role in another
        // domain (it is now beyond the manager's reach, as for a direct grant): nothing is granted.
        let a = customer(&app, "alpha").await;
        let b = customer(&app, "beta").await;
        let second = create_project(&app, &a.domain_id, "second").await;
        app.patch(
            &format!("/v3/users/{}", a.member_id),
            &app.admin_token,
            json!({"user": {"email": "worker@example.com"}}),
        )
        .await
        .expect(200);
        let inv = invite(
        &app,
        &a.manager_token,
        json!({"email": "worker@example.com", "roles": [{"role": "member", "project_id": second}]}),
    )
    .await;
        grant(&app, &b.project_id, &a.member_id, "reader").await;
        let secret = secret_of(&inv["link"]);
        let r = redeem::accept_invitation(&app.state, &secret, pw(PW), Utc::now()).await;
        assert!(matches!(r, Err(Error::ForbiddenMsg(_))), "{r:?}");
        assert!(roles_on(&app, &second, &a.member_id).await.is_empty());
        assert_eq!(
            status_of(&app, inv["id"].as_str().unwrap()).await,
            "pending"
        );
        // A fresh invitation of that user is refused at once.
        app.post(
            "/v3/OS-PCU/invitations",
            &a.manager_token,
            json!({"invitation": {"email": "worker@example.com",
               "roles": [{"role": "member", "project_id": second}]}}),
        )
        .await
        .expect(403);
    }
);

both_backends!(
    another_domain_learns_nothing_about_emails_or_may_flood_grants,
    |app| {
        // Two users of alpha share an address: alpha's manager gets the 409 listing them, beta's
        // manager naming alpha's project gets the same 403 as for any address.
        let a = customer(&app, "alpha").await;
        let b = customer(&app, "beta").await;
        for id in [&a.member_id, &a.manager_id] {
            app.patch(
                &format!("/v3/users/{id}"),
                &app.admin_token,
                json!({"user": {"email": "shared@example.com"}}),
            )
            .await
            .expect(200);
        }
        let body = |email: &str| {
            json!({"invitation": {"email": email,
               "roles": [{"role": "member", "project_id": a.project_id}]}})
        };
        app.post(
            "/v3/OS-PCU/invitations",
            &a.manager_token,
            body("shared@example.com"),
        )
        .await
        .expect(409);
        let shared = app
            .post(
                "/v3/OS-PCU/invitations",
                &b.manager_token,
                body("shared@example.com"),
            )
            .await
            .expect(403);
        let other = app
            .post(
                "/v3/OS-PCU/invitations",
                &b.manager_token,
                body("nobody@example.com"),
            )
            .await
            .expect(403);
        assert_eq!(shared.body, other.body);
        assert!(!shared.body.to_string().contains(&a.member_id));
        // More grants than one invitation may carry: a 400 naming the limit, before any work.
        let many: Vec<Value> = (0..101)
            .map(|_| json!({"role": "member", "project_id": a.project_id}))
            .collect();
        let r = app
            .post(
                "/v3/OS-PCU/invitations",
                &a.manager_token,
                json!({"invitation": {"email": "x@example.com", "roles": many}}),
            )
            .await
            .expect(400);
        assert!(r.body.to_string().contains("at most 100"), "{}", r.body);
    }
);

both_backends!(acceptance_keeps_emails_unique_where_they_log_in, |app| {
    let a = customer(&app, "alpha").await;
    app.patch(
        &format!("/v3/domains/{}", a.domain_id),
        &app.admin_token,
        json!({"domain": {"OS-PCU:login_by_email": true}}),
    )
    .await
    .expect(200);
    let inv = invite(
        &app,
        &a.manager_token,
        json!({"email": "late@example.com", "roles": [{"role": "member", "project_id": a.project_id}]}),
    )
    .await;
    // Meanwhile the address is given to another user of the domain.
    app.post(
        "/v3/users",
        &app.admin_token,
        json!({"user": {"name": "early", "domain_id": a.domain_id, "email": "LATE@example.com",
               "password": PW}}),
    )
    .await
    .expect(201);
    let r = redeem::accept_invitation(&app.state, &secret_of(&inv["link"]), pw(NEW_PW), Utc::now())
        .await;
    assert!(matches!(r, Err(Error::Conflict(_))), "{r:?}");
    assert_eq!(
        status_of(&app, inv["id"].as_str().unwrap()).await,
        "pending"
    );
});
