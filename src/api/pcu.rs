//! `/v3/OS-PCU/*`: Ironstone's own extension, beside Keystone's API.

use actix_web::{web, HttpResponse};

use super::resource;
use crate::error::Result;
use crate::identity;
use crate::state::State;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v3/OS-PCU/password_policy").route(web::get().to(password_policy)));
}

/// The password rules as data: public, so that a user who must change an expired password (and
/// holds no token) and the set-password page can show them.
async fn password_policy(state: web::Data<State>) -> Result<HttpResponse> {
    let view = identity::password_policy(&state);
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "password_policy": view,
        "links": {"self": format!("{}/v3/OS-PCU/password_policy", state.public_url())},
    })))
}
