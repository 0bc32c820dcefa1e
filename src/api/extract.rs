//! Extractors: a JSON body with Keystone-style 400/413 answers, and the authenticated caller.

use std::future::Future;
use std::pin::Pin;

use actix_web::{web, FromRequest, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

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
        let content_type = req
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
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
            let value = parse_body(content_type.as_deref(), &body)?;
            let de = EnvelopeCheck::<T>::new(value)?;
            let value: T = serde_path_to_error::deserialize(de).map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner();
                if path == "." {
                    Error::validation(format!("Invalid input for the request body: {inner}."))
                } else {
                    Error::validation(format!("Invalid input for field '{path}': {inner}."))
                }
            })?;
            Ok(JsonBody(value))
        })
    }
}

/// A JSON body that may be absent (no body at all: `None`); a body that is present is checked
/// and parsed as `JsonBody` does, so that a malformed one is a 400, never ignored.
pub struct OptionalJsonBody<T>(pub Option<T>);

impl<T: DeserializeOwned + 'static> FromRequest for OptionalJsonBody<T> {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let headers = req.headers();
        let declared = headers
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<usize>().ok());
        let chunked = headers.contains_key(actix_web::http::header::TRANSFER_ENCODING);
        if !chunked && declared.unwrap_or(0) == 0 {
            return Box::pin(async { Ok(OptionalJsonBody(None)) });
        }
        let body = JsonBody::<T>::from_request(req, payload);
        Box::pin(async move { Ok(OptionalJsonBody(Some(body.await?.0))) })
    }
}

/// The deepest nesting of arrays and objects a request body may have. Keystone's bodies need 6
/// (an auth request); this leaves room for nested extra attributes.
pub const MAX_BODY_DEPTH: usize = 32;

/// Checks what every body must be before any handler sees it: JSON sent as JSON, valid UTF-8,
/// exactly one value with nothing after it, an object at the top, no NUL character anywhere (in a
/// key or a string) and no deeper nesting than `MAX_BODY_DEPTH`.
pub fn parse_body(content_type: Option<&str>, body: &[u8]) -> Result<Value, Error> {
    if let Some(ct) = content_type {
        let essence = ct.split(';').next().unwrap_or("").trim();
        if !essence.eq_ignore_ascii_case("application/json") {
            return Err(Error::validation(format!(
                "Unsupported Content-Type {:?}: the request body must be sent as application/json.",
                ct.chars().take(100).collect::<String>()
            )));
        }
    }
    if body.is_empty() {
        return Err(Error::validation(
            "The request body is empty: a JSON object is expected.",
        ));
    }
    let text = std::str::from_utf8(body).map_err(|e| {
        Error::validation(format!(
            "The request body is not valid UTF-8 (at byte {}).",
            e.valid_up_to()
        ))
    })?;
    let mut de = serde_json::Deserializer::from_str(text);
    let value = <Value as serde::Deserialize>::deserialize(&mut de)
        .map_err(|e| Error::validation(format!("Malformed JSON in request body: {e}.")))?;
    de.end().map_err(|e| {
        Error::validation(format!(
            "Malformed JSON in request body: unexpected data after the JSON value ({e})."
        ))
    })?;
    if !value.is_object() {
        return Err(Error::validation(format!(
            "Invalid input for the request body: expecting a JSON object, not {}.",
            kind_of(&value)
        )));
    }
    check_value(&value, &mut String::new(), 0)?;
    Ok(value)
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Walks a body: NUL characters and excessive nesting are refused with the path to them.
fn check_value(v: &Value, path: &mut String, depth: usize) -> Result<(), Error> {
    let field = |path: &str| {
        if path.is_empty() {
            ".".to_string()
        } else {
            path.to_string()
        }
    };
    if depth > MAX_BODY_DEPTH {
        return Err(Error::validation(format!(
            "Invalid input for field '{}': nested deeper than {MAX_BODY_DEPTH} levels.",
            field(path)
        )));
    }
    match v {
        Value::String(s) if s.contains('\0') => Err(Error::validation(format!(
            "Invalid input for field '{}': the NUL character (U+0000) is not allowed.",
            field(path)
        ))),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                check_value(item, path, depth + 1)?;
                path.truncate(len);
            }
            Ok(())
        }
        Value::Object(map) => {
            for (k, item) in map {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                if k.contains('\0') {
                    path.push_str(&k.replace('\0', "\\u0000"));
                    return Err(Error::validation(format!(
                        "Invalid input for field '{path}': the NUL character (U+0000) is not allowed in a key."
                    )));
                }
                path.push_str(k);
                check_value(item, path, depth + 1)?;
                path.truncate(len);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Hands a body object to `T`, first refusing top-level keys `T` does not know: a body is exactly
/// the envelope its endpoint expects (`{"user": {...}}`), not that envelope plus others.
struct EnvelopeCheck<T> {
    body: Map<String, Value>,
    _t: std::marker::PhantomData<T>,
}

impl<T: DeserializeOwned> EnvelopeCheck<T> {
    fn new(value: Value) -> Result<Self, Error> {
        let Value::Object(body) = value else {
            return Err(Error::validation(
                "Invalid input for the request body: expecting a JSON object.",
            ));
        };
        if let Some(fields) = top_level_fields::<T>() {
            if let Some(unknown) = body.keys().find(|k| !fields.contains(&k.as_str())) {
                let expected: Vec<String> = fields.iter().map(|f| format!("'{f}'")).collect();
                return Err(Error::validation(format!(
                    "Invalid input for the request body: unexpected key '{}' (expecting {}).",
                    unknown.chars().take(64).collect::<String>(),
                    expected.join(" or ")
                )));
            }
        }
        Ok(EnvelopeCheck {
            body,
            _t: std::marker::PhantomData,
        })
    }
}

impl<'de, T> serde::Deserializer<'de> for EnvelopeCheck<T> {
    type Error = serde_json::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        Value::Object(self.body).deserialize_any(visitor)
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        Value::Object(self.body).deserialize_struct(name, fields, visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

/// The field names a derived struct `T` declares, learned by asking it to deserialize from a
/// probe that records them; `None` when `T` is not a plain struct (a map, a flattened struct).
fn top_level_fields<T: DeserializeOwned>() -> Option<&'static [&'static str]> {
    struct Probe<'a>(&'a mut Option<&'static [&'static str]>);
    impl<'de> serde::Deserializer<'de> for Probe<'_> {
        type Error = serde::de::value::Error;
        fn deserialize_any<V: serde::de::Visitor<'de>>(
            self,
            _: V,
        ) -> Result<V::Value, Self::Error> {
            Err(serde::de::Error::custom("probe"))
        }
        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = Some(fields);
            Err(serde::de::Error::custom("probe"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }
    let mut fields = None;
    let _ = T::deserialize(Probe(&mut fields));
    fields
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

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(ct: Option<&str>, body: &[u8]) -> String {
        match parse_body(ct, body) {
            Err(Error::Validation(m)) => m,
            other => panic!("expected a 400 for {body:?}, got {:?}", other.map(|_| ())),
        }
    }

    #[test]
    fn a_body_is_one_json_object() {
        let json = Some("application/json");
        assert!(parse_body(json, br#"{"a": 1}"#).is_ok());
        assert!(parse_body(Some("Application/JSON; charset=utf-8"), br#"{"a": 1}"#).is_ok());
        assert!(parse_body(None, br#"{"a": 1}"#).is_ok());
        assert!(refused(json, br#"{"a": 1} x"#).contains("after the JSON value"));
        assert!(refused(json, br#"{"a": 1}{"a": 1}"#).contains("after the JSON value"));
        assert!(refused(json, br#"[{"a": 1}]"#).contains("not an array"));
        assert!(refused(json, b"42").contains("not a number"));
        assert!(refused(json, b"").contains("empty"));
        assert!(refused(Some("text/plain"), br#"{"a": 1}"#).contains("Content-Type"));
        assert!(refused(json, b"{\"a\": \"\xff\"}").contains("UTF-8"));
    }

    #[test]
    fn nul_and_depth_are_refused_with_the_field() {
        let json = Some("application/json");
        let m = refused(json, br#"{"user": {"name": "a\u0000b"}}"#);
        assert!(m.contains("'user.name'") && m.contains("NUL"), "{m}");
        let m = refused(json, br#"{"user": {"tags": ["ok", "a\u0000"]}}"#);
        assert!(m.contains("'user.tags[1]'"), "{m}");
        assert!(refused(json, br#"{"a\u0000": 1}"#).contains("in a key"));
        let deep = format!("{{\"x\": {}1{}}}", "[".repeat(40), "]".repeat(40));
        assert!(refused(json, deep.as_bytes()).contains("nested deeper"));
        let ok = format!("{{\"x\": {}1{}}}", "[".repeat(20), "]".repeat(20));
        assert!(parse_body(json, ok.as_bytes()).is_ok());
    }

    #[test]
    fn the_envelope_is_learned_from_the_type() {
        #[derive(serde::Deserialize)]
        #[allow(dead_code)]
        struct Body {
            user: Value,
        }
        assert_eq!(top_level_fields::<Body>(), Some(&["user"][..]));
        assert_eq!(top_level_fields::<Map<String, Value>>(), None);
        let v = serde_json::json!({"user": {}, "project": {}});
        assert!(EnvelopeCheck::<Body>::new(v).is_err());
        let v = serde_json::json!({"user": {}});
        assert!(EnvelopeCheck::<Body>::new(v).is_ok());
    }
}
