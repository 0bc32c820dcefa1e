//! Version discovery: `GET /` (300 Multiple Choices) and `GET /v3`.

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use crate::state::State;

fn v3(public_url: &str) -> Value {
    json!({
        "id": "v3.14",
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": format!("{public_url}/v3/")}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
    })
}

pub async fn root(state: web::Data<State>) -> HttpResponse {
    HttpResponse::MultipleChoices().json(json!({"versions": {"values": [v3(&state.public_url())]}}))
}

pub async fn v3_doc(state: web::Data<State>) -> HttpResponse {
    HttpResponse::Ok().json(json!({"version": v3(&state.public_url())}))
}
