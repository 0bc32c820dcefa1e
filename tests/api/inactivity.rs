//! `disable_user_account_days_inactive`: what an inactive user looks like in lists and filters.

use chrono::{Duration, Utc};
use diesel::prelude::*;
use serde_json::json;

use crate::fixtures::*;
use crate::helpers::*;

async fn age(app: &TestApp, user_id: &str, days: i64) {
    let (id, at) = (
        user_id.to_string(),
        (Utc::now() - Duration::days(days)).naive_utc(),
    );
    app.state
        .store
        .tx(move |c| {
            use ironstone::store::schema::users;
            diesel::update(users::table.find(&id))
                .set((users::last_active_at.eq(at), users::created_at.eq(at)))
                .execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
}

fn names(list: &serde_json::Value) -> Vec<String> {
    let mut n: Vec<String> = list["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap().to_string())
        .collect();
    n.sort();
    n
}

async fn inactive_users_count_as_disabled_in_filters(backend: Backend) {
    let app = spawn_app_with(backend, |c| {
        c.security_compliance.disable_user_account_days_inactive = Some(10);
    })
    .await;
    let d = create_domain(&app, "idle").await;
    let fresh = create_user(&app, &d, "fresh").await;
    let idle = create_user(&app, &d, "idle").await;
    let exempt = create_user(&app, &d, "exempt").await;
    let off = create_user(&app, &d, "off").await;
    age(&app, &idle, 11).await;
    age(&app, &exempt, 11).await;
    age(&app, &fresh, 9).await;
    app.patch(
        &format!("/v3/users/{exempt}"),
        &app.admin_token,
        json!({"user": {"options": {"ignore_user_inactivity": true}}}),
    )
    .await
    .expect(200);
    app.patch(
        &format!("/v3/users/{off}"),
        &app.admin_token,
        json!({"user": {"enabled": false}}),
    )
    .await
    .expect(200);

    let on = app
        .get(
            &format!("/v3/users?domain_id={d}&enabled=true"),
            &app.admin_token,
        )
        .await
        .expect(200);
    assert_eq!(names(&on.body), ["exempt", "fresh"]);
    let disabled = app
        .get(
            &format!("/v3/users?domain_id={d}&enabled=false"),
            &app.admin_token,
        )
        .await
        .expect(200);
    assert_eq!(names(&disabled.body), ["idle", "off"]);
    let shown = app
        .get(&format!("/v3/users/{idle}"), &app.admin_token)
        .await
        .expect(200);
    assert_eq!(shown.body["user"]["enabled"], json!(false));
    let _ = fresh;

    // Enabling brings the user back at once.
    app.patch(
        &format!("/v3/users/{idle}"),
        &app.admin_token,
        json!({"user": {"enabled": true}}),
    )
    .await
    .expect(200);
    let on = app
        .get(
            &format!("/v3/users?domain_id={d}&enabled=true"),
            &app.admin_token,
        )
        .await
        .expect(200);
    assert_eq!(names(&on.body), ["exempt", "fresh", "idle"]);
}

mod inactive_users_count_as_disabled_in_filters {
    use super::*;
    #[actix_web::test]
    async fn sqlite() {
        super::inactive_users_count_as_disabled_in_filters(Backend::Sqlite).await
    }
    #[actix_web::test]
    async fn postgres() {
        super::inactive_users_count_as_disabled_in_filters(Backend::Postgres).await
    }
}
