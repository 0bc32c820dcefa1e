//! Lists cost what they return: pages are cut in SQL by `marker`/`limit` within the server's
//! `[list]` limits (Keystone's `list_limit`, with `"truncated": true` when the server cut), and
//! what each entity carries (user options, project tags) is the same as when it is shown alone.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::both_backends;
use crate::both_backends_with;
use crate::fixtures::*;
use crate::helpers::*;

/// One page as the client saw it.
struct Page {
    items: Vec<Value>,
    truncated: bool,
    next: Option<String>,
}

async fn page(app: &TestApp, token: &str, path: &str, key: &str) -> Page {
    let r = app.get(path, token).await.expect(200);
    let truncated = match r.body.get("truncated") {
        None => false,
        Some(Value::Bool(true)) => true,
        Some(other) => panic!("{path}: truncated is {other}, Keystone says only `true`"),
    };
    Page {
        items: r.body[key].as_array().unwrap().clone(),
        truncated,
        next: r.body["links"]["next"]
            .as_str()
            .map(|n| n.replace(&app.base, "")),
    }
}

/// Follows `next` links from `path` to the end: every entity, and each page's size.
async fn walk(app: &TestApp, token: &str, path: &str, key: &str) -> (Vec<Value>, Vec<usize>) {
    let (mut all, mut sizes) = (vec![], vec![]);
    let mut at = Some(path.to_string());
    while let Some(p) = at {
        let pg = page(app, token, &p, key).await;
        sizes.push(pg.items.len());
        all.extend(pg.items);
        at = pg.next;
        assert!(sizes.len() < 100, "{path}: the pages never end");
    }
    (all, sizes)
}

fn id_list(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect()
}

/// Ids in ascending order, each once: a walk neither skips nor repeats.
#[track_caller]
fn assert_sorted_once(ids: &[String]) {
    let mut sorted = ids.to_vec();
    sorted.sort();
    sorted.dedup();
    assert_eq!(ids, sorted.as_slice(), "pages repeat or reorder entities");
}

both_backends_with!(
    the_servers_limits_cut_lists_and_say_truncated,
    |c| {
        c.list.default_limit = Some(2);
        c.list.max_limit = Some(3);
    },
    |app| {
        let t = &app.admin_token.clone();
        let d = create_domain(&app, "pages").await;
        let mut users = BTreeSet::new();
        for i in 0..5 {
            let mut user = json!({"name": format!("u{i}"), "domain_id": d});
            if i % 2 == 0 {
                user["options"] = json!({"ignore_password_expiry": true, "lock_password": i == 4});
            }
            let r = app
                .post("/v3/users", t, json!({ "user": user }))
                .await
                .expect(201);
            users.insert(r.body["user"]["id"].as_str().unwrap().to_string());
        }
        // No `limit`: default_limit pages, each cut page truncated, the last one not.
        let first = page(&app, t, &format!("/v3/users?domain_id={d}"), "users").await;
        assert_eq!(first.items.len(), 2);
        assert!(first.truncated);
        let next = first.next.expect("a next page");
        assert!(next.contains(&format!("domain_id={d}")), "{next}");
        let (all, sizes) = walk(&app, t, &format!("/v3/users?domain_id={d}"), "users").await;
        assert_eq!(sizes, vec![2, 2, 1]);
        let ids = id_list(&all);
        assert_sorted_once(&ids);
        assert_eq!(ids.into_iter().collect::<BTreeSet<_>>(), users);
        let last = page(
            &app,
            t,
            &format!(
                "/v3/users?domain_id={d}&marker={}",
                users.iter().nth(2).unwrap()
            ),
            "users",
        )
        .await;
        assert_eq!((last.items.len(), last.truncated), (2, false));
        assert!(last.next.is_none());
        // Each listed user carries exactly the options it shows alone (fetched set-wise).
        for u in &all {
            let id = u["id"].as_str().unwrap();
            let alone = app.get(&format!("/v3/users/{id}"), t).await.expect(200);
            assert_eq!(u["options"], alone.body["user"]["options"], "user {id}");
        }
        assert!(all
            .iter()
            .any(|u| u["options"]["lock_password"] == json!(true)));
        // A larger `limit` is capped by max_limit: truncated. A smaller one pages, not truncated.
        let capped = page(
            &app,
            t,
            &format!("/v3/users?domain_id={d}&limit=100"),
            "users",
        )
        .await;
        assert_eq!((capped.items.len(), capped.truncated), (3, true));
        let (_, sizes) = walk(
            &app,
            t,
            &format!("/v3/users?domain_id={d}&limit=100"),
            "users",
        )
        .await;
        assert_eq!(sizes, vec![3, 2]);
        let one = page(
            &app,
            t,
            &format!("/v3/users?domain_id={d}&limit=1"),
            "users",
        )
        .await;
        assert_eq!((one.items.len(), one.truncated), (1, false));
        assert!(one.next.is_some());
        let (_, sizes) = walk(
            &app,
            t,
            &format!("/v3/users?domain_id={d}&limit=1"),
            "users",
        )
        .await;
        assert_eq!(sizes, vec![1; 5]);

        // Projects: tags come with each project, as when shown alone.
        let mut projects = BTreeSet::new();
        for i in 0..4 {
            let tags: Vec<String> = (0..i).map(|k| format!("t{k}")).collect();
            let r = app
                .post(
                    "/v3/projects",
                    t,
                    json!({"project": {"name": format!("p{i}"), "domain_id": d, "tags": tags}}),
                )
                .await
                .expect(201);
            projects.insert(r.body["project"]["id"].as_str().unwrap().to_string());
        }
        let (all, sizes) = walk(&app, t, &format!("/v3/projects?domain_id={d}"), "projects").await;
        assert_eq!(sizes, vec![2, 2]);
        assert_eq!(id_list(&all).into_iter().collect::<BTreeSet<_>>(), projects);
        for p in &all {
            let id = p["id"].as_str().unwrap();
            let alone = app.get(&format!("/v3/projects/{id}"), t).await.expect(200);
            assert_eq!(p["tags"], alone.body["project"]["tags"], "project {id}");
        }
        let (tagged, _) = walk(
            &app,
            t,
            &format!("/v3/projects?domain_id={d}&tags=t1"),
            "projects",
        )
        .await;
        assert_eq!(tagged.len(), 2);

        // Groups and their members.
        let mut groups = BTreeSet::new();
        for i in 0..3 {
            groups.insert(create_group(&app, t, &d, &format!("g{i}")).await);
        }
        let (all, sizes) = walk(&app, t, &format!("/v3/groups?domain_id={d}"), "groups").await;
        assert_eq!(sizes, vec![2, 1]);
        assert_sorted_once(&id_list(&all));
        assert_eq!(id_list(&all).into_iter().collect::<BTreeSet<_>>(), groups);
        let g = groups.iter().next().unwrap();
        for u in &users {
            app.put(&format!("/v3/groups/{g}/users/{u}"), t)
                .await
                .expect(204);
        }
        let (all, sizes) = walk(&app, t, &format!("/v3/groups/{g}/users"), "users").await;
        assert_eq!(sizes, vec![2, 2, 1]);
        assert_eq!(id_list(&all).into_iter().collect::<BTreeSet<_>>(), users);

        // Roles and domains: every one once, in pages of at most the cap.
        for i in 0..3 {
            app.post("/v3/roles", t, json!({"role": {"name": format!("r{i}")}}))
                .await
                .expect(201);
        }
        let everything = app.get("/v3/roles?limit=10", t).await.expect(200);
        assert_eq!(everything.body["truncated"], json!(true));
        let (all, sizes) = walk(&app, t, "/v3/roles", "roles").await;
        assert!(sizes.iter().all(|n| *n <= 2), "{sizes:?}");
        assert_sorted_once(&id_list(&all));
        let names: BTreeSet<&str> = all.iter().map(|r| r["name"].as_str().unwrap()).collect();
        for want in [
            "admin", "manager", "member", "reader", "service", "r0", "r1", "r2",
        ] {
            assert!(names.contains(want), "{want} missing from {names:?}");
        }
        let (all, _) = walk(&app, t, "/v3/domains", "domains").await;
        assert_sorted_once(&id_list(&all));
        assert!(id_list(&all).contains(&d));
        assert!(id_list(&all).contains(&"default".to_string()));
    }
);

both_backends_with!(
    paging_never_reaches_past_the_callers_scope,
    |c| {
        c.list.default_limit = Some(1);
    },
    |app| {
        let acme = customer(&app, "acme").await;
        let other = customer(&app, "other").await;
        // A domain manager paging through users sees its own domain's users, one by one, and
        // a marker taken from another domain does not open it.
        let (all, _) = walk(&app, &acme.manager_token, "/v3/users", "users").await;
        let mut want = vec![acme.manager_id.clone(), acme.member_id.clone()];
        want.sort();
        assert_eq!(id_list(&all), want);
        app.get(
            &format!("/v3/users?domain_id={}&limit=1", other.domain_id),
            &acme.manager_token,
        )
        .await
        .expect(403);
        let (past, _) = walk(
            &app,
            &acme.manager_token,
            &format!("/v3/users?marker={}", other.member_id),
            "users",
        )
        .await;
        let past = id_list(&past);
        assert!(
            past.iter()
                .all(|i| want.contains(i) && *i > other.member_id),
            "{past:?}"
        );
        // A marker is a value, never SQL; a bad limit is a 400 that names it.
        let odd = app
            .get(
                "/v3/users?marker=%27%20OR%201%3D1%20--&limit=2",
                &app.admin_token,
            )
            .await
            .expect(200);
        assert!(odd.body["users"].as_array().unwrap().len() <= 2);
        for bad in ["0", "-3", "lots"] {
            let r = app
                .get(&format!("/v3/projects?limit={bad}"), &app.admin_token)
                .await
                .expect(400);
            let msg = r.body["error"]["message"].as_str().unwrap();
            assert!(msg.contains("'limit'"), "{msg}");
        }
    }
);

both_backends!(without_limits_a_list_is_whole_and_not_truncated, |app| {
    let t = &app.admin_token;
    let d = create_domain(&app, "whole").await;
    for i in 0..4 {
        create_user(&app, &d, &format!("w{i}")).await;
    }
    let r = app
        .get(&format!("/v3/users?domain_id={d}"), t)
        .await
        .expect(200);
    assert_eq!(r.body["users"].as_array().unwrap().len(), 4);
    assert!(r.body.get("truncated").is_none(), "{}", r.body);
    assert!(r.body["links"]["next"].is_null());
});

/// A role assignment line as a comparable value.
fn lines(body: &Value) -> Vec<String> {
    let mut v: Vec<String> = body["role_assignments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.to_string())
        .collect();
    v.sort();
    v
}

both_backends!(
    scoped_role_assignments_equal_the_whole_list_filtered,
    |app| {
        // role_assignments reads only the grants that can reach the asked scope: each scoped answer
        // must be exactly the unscoped answer filtered to that scope.
        let t = &app.admin_token.clone();
        let d = create_domain(&app, "ra").await;
        let mk = |name: &'static str, parent: Option<String>| {
            let app = &app;
            let d = d.clone();
            async move {
                let mut p = json!({"name": name, "domain_id": d});
                if let Some(parent) = parent {
                    p["parent_id"] = json!(parent);
                }
                let r = app
                    .post("/v3/projects", &app.admin_token, json!({ "project": p }))
                    .await
                    .expect(201);
                r.body["project"]["id"].as_str().unwrap().to_string()
            }
        };
        let a = mk("a", None).await;
        let b = mk("b", Some(a.clone())).await;
        let c = mk("c", Some(b.clone())).await;
        let x = mk("x", None).await;
        let u = create_user(&app, &d, "ra-user").await;
        let v = create_user(&app, &d, "ra-other").await;
        let g = create_group(&app, t, &d, "ra-group").await;
        for m in [&u, &v] {
            app.put(&format!("/v3/groups/{g}/users/{m}"), t)
                .await
                .expect(204);
        }
        let (reader, member, manager) = (
            app.role_id("reader").await,
            app.role_id("member").await,
            app.role_id("manager").await,
        );
        for path in [
            format!("/v3/projects/{b}/users/{u}/roles/{member}"),
            format!("/v3/projects/{x}/users/{v}/roles/{reader}"),
            format!("/v3/projects/{c}/groups/{g}/roles/{member}"),
            format!("/v3/domains/{d}/users/{u}/roles/{reader}"),
            format!("/v3/OS-INHERIT/domains/{d}/users/{v}/roles/{reader}/inherited_to_projects"),
            format!("/v3/OS-INHERIT/projects/{a}/groups/{g}/roles/{manager}/inherited_to_projects"),
            format!("/v3/OS-INHERIT/projects/{b}/users/{u}/roles/{reader}/inherited_to_projects"),
        ] {
            app.put(&path, t).await.expect(204);
        }
        let subtree = |p: &String| -> Vec<String> {
            let tree = [&a, &b, &c];
            match tree.iter().position(|q| *q == p) {
                Some(i) => tree[i..].iter().map(|s| s.to_string()).collect(),
                None => vec![p.clone()],
            }
        };
        let mut compared = 0;
        for effective in ["", "&effective"] {
            for who in [
                String::new(),
                format!("&user.id={u}"),
                format!("&user.id={v}"),
            ] {
                for role in [String::new(), format!("&role.id={reader}")] {
                    let filters = format!("{effective}{who}{role}");
                    let whole = app
                        .get(&format!("/v3/role_assignments?x=1{filters}"), t)
                        .await
                        .expect(200);
                    for p in [&a, &b, &c, &x] {
                        for sub in [false, true] {
                            let scope: Vec<String> = if sub { subtree(p) } else { vec![p.clone()] };
                            let mut want: Vec<String> = whole.body["role_assignments"]
                                .as_array()
                                .unwrap()
                                .iter()
                                .filter(|l| {
                                    l["scope"]["project"]["id"]
                                        .as_str()
                                        .is_some_and(|id| scope.iter().any(|s| s == id))
                                })
                                .map(|l| l.to_string())
                                .collect();
                            want.sort();
                            let q = format!(
                                "/v3/role_assignments?x=1{filters}&scope.project.id={p}{}",
                                if sub { "&include_subtree=true" } else { "" }
                            );
                            let got = app.get(&q, t).await.expect(200);
                            assert_eq!(lines(&got.body), want, "{q}");
                            compared += want.len();
                        }
                    }
                    let want: Vec<String> = {
                        let mut w: Vec<String> = whole.body["role_assignments"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .filter(|l| l["scope"]["domain"]["id"] == json!(d))
                            .map(|l| l.to_string())
                            .collect();
                        w.sort();
                        w
                    };
                    let q = format!("/v3/role_assignments?x=1{filters}&scope.domain.id={d}");
                    assert_eq!(lines(&app.get(&q, t).await.expect(200).body), want, "{q}");
                }
            }
        }
        // The comparison saw inherited, group and direct lines, not only empty answers.
        assert!(compared > 20, "{compared}");
        let eff = app
            .get(
                &format!("/v3/role_assignments?effective&user.id={v}&scope.project.id={c}"),
                t,
            )
            .await
            .expect(200);
        let roles: BTreeSet<String> = eff.body["role_assignments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["role"]["id"].as_str().unwrap().to_string())
            .collect();
        // v reaches c through the group (member on c, manager inherited from a) and its
        // domain-inherited reader, with the implied roles.
        assert!(roles.contains(&manager) && roles.contains(&member) && roles.contains(&reader));
    }
);

both_backends!(a_listed_user_is_shown_exactly_as_alone, |app| {
    // Lists are written straight to JSON; a single user goes through the same writer. Extra
    // attributes show in both, and never replace one of Keystone's fields.
    let domain = create_domain(&app, "shown").await;
    let made = app
        .post(
            "/v3/users",
            &app.admin_token,
            json!({"user": {"name": "ann", "domain_id": domain, "password": PW,
                   "description": "d", "email": "ann@example.com", "team": "blue",
                   "links": "not a link", "nested": {"a": [1, 2]}}}),
        )
        .await
        .expect(201)
        .body;
    let id = made["user"]["id"].as_str().unwrap().to_string();
    let alone = app
        .get(&format!("/v3/users/{id}"), &app.admin_token)
        .await
        .expect(200)
        .body["user"]
        .clone();
    assert_eq!(alone["team"], "blue");
    assert_eq!(alone["nested"], json!({"a": [1, 2]}));
    assert!(alone["links"]["self"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/v3/users/{id}")));
    assert_eq!(alone["email"], "ann@example.com");
    assert_eq!(alone["OS-PCU:status"], "active");
    // Listed twice, in the users list and in a group's member list: rendered, then copied from
    // the rendering kept with the cached user.
    let group = create_group(&app, &app.admin_token, &domain, "g").await;
    app.put(&format!("/v3/groups/{group}/users/{id}"), &app.admin_token)
        .await
        .expect(204);
    for path in [
        format!("/v3/users?domain_id={domain}"),
        format!("/v3/groups/{group}/users"),
    ] {
        for _ in 0..2 {
            let listed =
                app.get(&path, &app.admin_token).await.expect(200).body["users"][0].clone();
            assert_eq!(listed, alone, "{path}");
        }
    }
    assert_eq!(made["user"], alone);
    let cache = &app.state.cache;
    let kept = cache
        .user(cache.ticket(), &id)
        .expect("listed users are cached");
    let state = ironstone::identity::RenderedFor {
        base: &app.state.public_url(),
        inactive: false,
        mfa_enabled: false,
    };
    assert!(
        kept.rendering(state).is_some(),
        "the rendering was not kept"
    );
});
