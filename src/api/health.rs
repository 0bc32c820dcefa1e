//! `GET /healthcheck`: 200 while the database answers, 503 otherwise.

use actix_web::{web, HttpResponse};

use crate::error::Error;
use crate::state::State;

pub async fn check(state: web::Data<State>) -> Result<HttpResponse, Error> {
    match tokio::time::timeout(std::time::Duration::from_secs(5), state.store.ping()).await {
        Ok(Ok(())) => Ok(HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))),
        _ => Err(Error::Unavailable(
            "The identity store does not answer.".into(),
        )),
    }
}
