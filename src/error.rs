//! The one error type. Every failure that reaches a client is rendered here, in Keystone's shape:
//! `{"error": {"code": <status>, "title": "<reason>", "message": "<text>"}}`.
//! `WWW-Authenticate` on 401 is added by the HTTP layer, which knows the public URL.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a 503 asks the client to wait before trying again.
pub const RETRY_AFTER_SECONDS: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 400: the request is malformed; the message says what to fix.
    #[error("{0}")]
    Validation(String),
    /// 401 with Keystone's generic text: never says whether the user exists or why it failed.
    #[error("The request you have made requires authentication.")]
    Unauthorized,
    /// 401 with a specific message, only where it reveals nothing about other users
    /// (e.g. an unsupported scope).
    #[error("{0}")]
    UnauthorizedMsg(String),
    /// 401 of Keystone's MFA flow: the user proved part of an MFA rule; the body lists the rules
    /// and the `Openstack-Auth-Receipt` header carries the receipt that completes the login.
    #[error("Additional authentications steps required.")]
    MfaRequired(Box<crate::auth::receipt::ReceiptIssued>),
    /// 403 naming the policy action that was refused.
    #[error("You are not authorized to perform the requested action: {0}.")]
    Forbidden(String),
    /// 403 with a specific message.
    #[error("{0}")]
    ForbiddenMsg(String),
    #[error("Could not find {kind}: {id}.")]
    NotFound { kind: &'static str, id: String },
    #[error("{0}")]
    NotFoundMsg(String),
    /// 404: a one-time link that cannot be used, with what happened and what to do. Only the
    /// holder of the secret sees it, so explaining reveals nothing to anyone else.
    #[error("{0}")]
    Link(LinkProblem),
    #[error("The request method is not allowed for this resource.")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(String),
    #[error("Request Entity Too Large: the request body exceeds the maximum of {0} bytes.")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    Unavailable(String),
    /// 500: the detail is logged, never sent.
    #[error("An unexpected error prevented the server from fulfilling your request.")]
    Internal(String),
}

/// Why a one-time link cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkProblem {
    /// No such secret (forged, mistyped, or its invitation was withdrawn).
    Unknown,
    Expired(chrono::DateTime<chrono::Utc>),
    Used,
    /// A newer link was sent for the same purpose.
    Replaced,
}

impl std::fmt::Display for LinkProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkProblem::Unknown => f.write_str(
                "This link is not valid. Ask the person who sent it for a new one.",
            ),
            LinkProblem::Expired(at) => write!(
                f,
                "This link expired at {}. Ask the person who sent it to send a new one.",
                at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
            LinkProblem::Used => f.write_str(
                "This link was already used. Log in with the password set through it, or ask the person who sent it for a new one.",
            ),
            LinkProblem::Replaced => {
                f.write_str("A newer link was sent; use the newest email.")
            }
        }
    }
}

impl Error {
    pub fn not_found(kind: &'static str, id: impl Into<String>) -> Self {
        Error::NotFound {
            kind,
            id: id.into(),
        }
    }

    pub fn validation(msg: impl Into<String>) -> Self {
        Error::Validation(msg.into())
    }

    pub fn forbidden(action: &str) -> Self {
        Error::Forbidden(format!("identity:{action}"))
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Error::Internal(detail.to_string())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Error::Validation(_) => StatusCode::BAD_REQUEST,
            Error::Unauthorized | Error::UnauthorizedMsg(_) | Error::MfaRequired(_) => {
                StatusCode::UNAUTHORIZED
            }
            Error::Forbidden(_) | Error::ForbiddenMsg(_) => StatusCode::FORBIDDEN,
            Error::NotFound { .. } | Error::NotFoundMsg(_) | Error::Link(_) => {
                StatusCode::NOT_FOUND
            }
            Error::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Keystone's JSON error body.
    pub fn body(&self) -> serde_json::Value {
        if let Error::MfaRequired(r) = self {
            return r.body();
        }
        let status = self.status();
        json!({"error": {
            "code": status.as_u16(),
            "title": status.canonical_reason().unwrap_or("Error"),
            "message": self.to_string(),
        }})
    }
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        if let Error::Internal(detail) = self {
            tracing::error!(error = %detail, "internal error");
        }
        let mut resp = HttpResponse::build(self.status());
        if let Error::Unavailable(_) = self {
            // Clients and load balancers back off instead of hammering a node that cannot serve.
            resp.insert_header(("Retry-After", RETRY_AFTER_SECONDS.to_string()));
        }
        if let Error::MfaRequired(r) = self {
            resp.insert_header((crate::auth::receipt::RECEIPT_HEADER, r.receipt.clone()));
        }
        resp.json(self.body())
    }
}

impl From<diesel::result::Error> for Error {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            diesel::result::Error::NotFound => {
                Error::NotFoundMsg("Could not find the requested resource.".into())
            }
            other if is_unavailable(&other) => {
                tracing::warn!(error = %other, "database unavailable");
                Error::Unavailable(
                    "The identity store is not reachable right now; try again shortly.".into(),
                )
            }
            other => Error::Internal(format!("database: {other}")),
        }
    }
}

/// True for failures of the database or of the connection to it, not of the request: a closed
/// or refused connection, a server shutting down or starting up, a serialization failure or
/// deadlock that was not retried. They answer 503 (try again), never 500.
fn is_unavailable(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind as Kind, Error as E};
    match e {
        E::DatabaseError(Kind::ClosedConnection | Kind::UnableToSendCommand, _) => true,
        E::DatabaseError(Kind::SerializationFailure, _) => true,
        E::DatabaseError(_, info) => {
            let m = info.message().to_ascii_lowercase();
            [
                "server closed the connection",
                "terminating connection",
                "connection refused",
                "could not connect",
                "no connection to the server",
                "connection to server",
                "the database system is",
                "deadlock detected",
                "could not serialize access",
                "ssl connection has been closed",
                "database is locked",
            ]
            .iter()
            .any(|needle| m.contains(needle))
        }
        E::BrokenTransactionManager => true,
        _ => false,
    }
}

impl From<diesel::r2d2::PoolError> for Error {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        tracing::warn!(error = %e, "no database connection available");
        Error::Unavailable(
            "The identity store is not reachable right now; try again shortly.".into(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_renders_keystone_shape() {
        let cases = [
            (
                Error::validation("Invalid input for field 'user/name'."),
                400,
                "Bad Request",
            ),
            (Error::Unauthorized, 401, "Unauthorized"),
            (Error::forbidden("get_user"), 403, "Forbidden"),
            (Error::not_found("user", "abc"), 404, "Not Found"),
            (Error::Link(LinkProblem::Unknown), 404, "Not Found"),
            (Error::Link(LinkProblem::Used), 404, "Not Found"),
            (Error::MethodNotAllowed, 405, "Method Not Allowed"),
            (Error::Conflict("dup".into()), 409, "Conflict"),
            (Error::PayloadTooLarge(10), 413, "Payload Too Large"),
            (Error::Unavailable("db".into()), 503, "Service Unavailable"),
            (
                Error::internal("secret detail"),
                500,
                "Internal Server Error",
            ),
        ];
        for (err, code, title) in cases {
            let body = err.body();
            assert_eq!(body["error"]["code"], code);
            assert_eq!(body["error"]["title"], title);
            assert!(body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()));
        }
    }

    struct Info(&'static str);
    impl diesel::result::DatabaseErrorInformation for Info {
        fn message(&self) -> &str {
            self.0
        }
        fn details(&self) -> Option<&str> {
            None
        }
        fn hint(&self) -> Option<&str> {
            None
        }
        fn table_name(&self) -> Option<&str> {
            None
        }
        fn column_name(&self) -> Option<&str> {
            None
        }
        fn constraint_name(&self) -> Option<&str> {
            None
        }
        fn statement_position(&self) -> Option<i32> {
            None
        }
    }

    #[test]
    fn database_failures_are_unavailable_not_internal() {
        use diesel::result::{DatabaseErrorKind as K, Error as D};
        let db = |kind, msg| Error::from(D::DatabaseError(kind, Box::new(Info(msg))));
        for e in [
            db(
                K::ClosedConnection,
                "server closed the connection unexpectedly",
            ),
            db(K::UnableToSendCommand, "no connection to the server"),
            db(K::SerializationFailure, "could not serialize access"),
            db(
                K::Unknown,
                "terminating connection due to administrator command",
            ),
            db(K::Unknown, "the database system is shutting down"),
            db(K::Unknown, "deadlock detected"),
            Error::from(D::BrokenTransactionManager),
        ] {
            assert!(matches!(e, Error::Unavailable(_)), "{e:?}");
            assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE);
        }
        let e = db(K::Unknown, "relation \"users\" does not exist");
        assert!(matches!(e, Error::Internal(_)), "{e:?}");
        assert!(matches!(Error::from(D::NotFound), Error::NotFoundMsg(_)));
    }

    #[test]
    fn internal_detail_is_never_rendered() {
        let body = Error::internal("password=hunter2 at db").body();
        assert!(!body.to_string().contains("hunter2"));
    }

    #[test]
    fn forbidden_names_the_action() {
        assert_eq!(
            Error::forbidden("create_user").to_string(),
            "You are not authorized to perform the requested action: identity:create_user."
        );
    }
}
