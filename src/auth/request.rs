//! The body of `POST /v3/auth/tokens`. Secrets are `SecretString`s: never printed, zeroized when
//! dropped.

use secrecy::SecretString;
use serde::Deserialize;

use crate::resource::DomainRef;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthRequest {
    pub auth: Auth,
}

#[derive(Deserialize)]
pub struct Auth {
    pub identity: Identity,
    #[serde(default)]
    pub scope: Option<serde_json::Value>,
}

#[derive(Deserialize)]
pub struct Identity {
    pub methods: Vec<String>,
    #[serde(default)]
    pub password: Option<PasswordMethod>,
    #[serde(default)]
    pub token: Option<TokenMethod>,
    #[serde(default)]
    pub application_credential: Option<AppCredMethod>,
    #[serde(default)]
    pub totp: Option<TotpMethod>,
}

/// `"totp": {"user": {"id" | "name" + "domain", "passcode"}}` (Keystone's shape).
#[derive(Deserialize, Clone)]
pub struct TotpMethod {
    pub user: TotpUser,
}

#[derive(Deserialize, Clone)]
pub struct TotpUser {
    pub id: Option<String>,
    pub name: Option<String>,
    pub domain: Option<DomainRef>,
    pub passcode: Option<SecretString>,
}

#[derive(Deserialize, Clone)]
pub struct PasswordMethod {
    pub user: UserCredentials,
}

#[derive(Deserialize, Clone)]
pub struct UserCredentials {
    pub id: Option<String>,
    pub name: Option<String>,
    pub domain: Option<DomainRef>,
    pub password: Option<SecretString>,
}

#[derive(Deserialize, Clone)]
pub struct TokenMethod {
    pub id: String,
}

#[derive(Deserialize, Clone)]
pub struct AppCredMethod {
    pub id: Option<String>,
    pub name: Option<String>,
    pub user: Option<AppCredUser>,
    pub secret: Option<SecretString>,
}

#[derive(Deserialize, Clone)]
pub struct AppCredUser {
    pub id: Option<String>,
    pub name: Option<String>,
    pub domain: Option<DomainRef>,
}
