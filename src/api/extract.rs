//! Extractors: a JSON body with Keystone-style 400/413 answers, and the authenticated caller.

use std::future::Future;
use std::pin::Pin;

use actix_web::{web, FromRequest, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::auth::TokenInfo;
use crate::error::Error;
use crate::state::State;

/// A JSON request body, size-limited, whose parse errors name the offending field.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<State>>()
            .map(|s| s.config.max_request_body_size)
            .unwrap_or(114_688);
        let declared = req
            .headers()
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if declared.is_some_and(|n| n > limit) {
                return Err(Error::PayloadTooLarge(limit));
            }
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| {
                    Error::validation(format!("Could not read the request body: {e}"))
                })?;
                if body.len() + chunk.len() > limit {
                    return Err(Error::PayloadTooLarge(limit));
                }
                body.extend_from_slice(&chunk);
            }
            if body.is_empty() {
                return Err(Error::validation(
                    "The request body is empty: a JSON object is expected.",
                ));
            }
            let de = &mut serde_json::Deserializer::from_slice(&body);
            let value: T = serde_path_to_error::deserialize(de).map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner();
                if inner.is_syntax() || inner.is_eof() {
                    Error::validation(format!("Malformed JSON in request body: {inner}."))
                } else if path == "." {
                    Error::validation(format!("Invalid input for the request body: {inner}."))
                } else {
                    Error::validation(format!("Invalid input for field '{path}': {inner}."))
                }
            })?;
            Ok(JsonBody(value))
        })
    }
}

/// The caller, proven by a valid `X-Auth-Token`. Any failure is the generic 401.
pub struct Caller(pub TokenInfo);

impl FromRequest for Caller {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let state = req.app_data::<web::Data<State>>().cloned();
        let token = req
            .headers()
            .get("x-auth-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Box::pin(async move {
            let state = state.ok_or_else(|| Error::internal("state missing"))?;
            let token = token.ok_or(Error::Unauthorized)?;
            match crate::auth::validate(&state, &token, chrono::Utc::now(), false).await {
                // Keystone: a token minted from an access key only proves who signed an S3/EC2
                // request to another service; it does not act on the identity API.
                Ok(info) if info.methods.iter().any(|m| m == crate::auth::EC2_METHOD) => {
                    Err(Error::ForbiddenMsg(
                        "EC2 credential tokens cannot be used for authorization.".into(),
                    ))
                }
                Ok(info) => Ok(Caller(info)),
                Err(Error::Internal(e)) => Err(Error::Internal(e)),
                Err(Error::Unavailable(e)) => Err(Error::Unavailable(e)),
                Err(_) => Err(Error::Unauthorized),
            }
        })
    }
}
