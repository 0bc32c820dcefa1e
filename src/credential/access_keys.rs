//! Stored credentials (`/v3/credentials`) and EC2-style access keys (`OS-EC2`), as Keystone keeps
//! them: the blob is encrypted at rest with the credential keys; an EC2 credential's id is the
//! SHA-256 of its access key, so the key is found without decrypting anything.

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::Digest;

use super::ec2_signature::{self, Ec2Request};
use crate::auth::totp::{decode_secret, TOTP_TYPE};
use crate::auth::{TokenInfo, EC2_METHOD};
use crate::context::{found, Ctx};
use crate::error::{Error, Result};
use crate::policy::Target;
use crate::store::{self, Credential};

pub const EC2: &str = "ec2";

/// A credential with its blob decrypted, as the API shows it.
pub struct CredentialView {
    pub cred: Credential,
    pub blob: String,
}

/// The blob may hold a secret (an EC2 secret key): zeroized when dropped, never printed.
#[derive(Deserialize)]
pub struct CredentialInput {
    pub blob: Option<SecretString>,
    pub project_id: Option<String>,
    #[serde(rename = "type")]
    pub type_: Option<String>,
    pub user_id: Option<String>,
}

fn owner(user_id: &str) -> Target<'_> {
    Target {
        user_id: Some(user_id),
        ..Default::default()
    }
}

pub(crate) fn encrypt(ctx: &Ctx, blob: &str) -> (String, String) {
    let keys = ctx.state.credential_keys.keys();
    (
        keys.primary.encrypt(blob.as_bytes()),
        keys.primary_hash.clone(),
    )
}

pub(crate) fn decrypt(ctx: &Ctx, cred: Credential) -> Result<CredentialView> {
    let keys = ctx.state.credential_keys.keys();
    // Keys that differ from the ones that encrypted the blob (a node with its own credential
    // key repository, a key removed too early) are the operator's to fix: the log says which
    // credential and which repository, the client gets a 503, never a 500 or key details.
    let bytes = keys.all.decrypt(&cred.encrypted_blob).map_err(|_| {
        tracing::error!(
            credential = %cred.id,
            repository = %ctx.state.config.credential_key_repository().display(),
            "stored credential cannot be decrypted with any key of the credential key repository: \
             every node must share the same credential keys (README, \"Several nodes\")"
        );
        Error::Unavailable(
            "The stored credential cannot be read right now; try again later.".into(),
        )
    })?;
    let blob = String::from_utf8(bytes)
        .map_err(|_| Error::internal(format!("credential {} blob is not UTF-8", cred.id)))?;
    Ok(CredentialView { cred, blob })
}

/// The id Keystone gives an EC2 credential: SHA-256 of the access key, hex.
pub fn ec2_id(access: &str) -> String {
    hex::encode(sha2::Sha256::digest(access.as_bytes()))
}

/// An EC2 blob must be a JSON object with string `access` and `secret`.
fn ec2_access(blob: &str) -> Result<String> {
    let v: Value = serde_json::from_str(blob).map_err(|_| {
        Error::validation("Invalid input for field 'credential.blob': an ec2 blob is a JSON object with access and secret.")
    })?;
    match (v.get("access").and_then(Value::as_str), v.get("secret").and_then(Value::as_str)) {
        (Some(a), Some(_)) if !a.is_empty() => Ok(a.to_string()),
        _ => Err(Error::validation(
            "Invalid input for field 'credential.blob': an ec2 blob needs string access and secret.",
        )),
    }
}

/// An EC2 credential needs an existing project; its owner must hold a role there (effective:
/// direct, group, inherited) unless the cloud admin files it.
async fn check_project(
    ctx: &Ctx<'_>,
    user_id: &str,
    project_id: &str,
    need_role: bool,
) -> Result<()> {
    let (u, p) = (user_id.to_string(), project_id.to_string());
    let ok = ctx
        .state
        .store
        .run(move |c| {
            let Some(project) = store::get_project(c, &p)? else {
                return Ok(false);
            };
            Ok(!need_role
                || !crate::assignment::granted_role_ids_on_project(c, &u, &project)?.is_empty())
        })
        .await?;
    if ok {
        Ok(())
    } else {
        Err(Error::validation(format!(
            "Invalid input for field 'project_id': project {project_id} does not exist or user {user_id} holds no role on it."
        )))
    }
}

/// Blob keys that record the delegation a key was made through (Keystone's names). Only
/// `app_cred_id` can be set here, and only by the server.
const DELEGATION_KEYS: &[&str] = &["app_cred_id", "trust_id", "access_token_id"];

fn delegation<'a>(blob: &'a Value, key: &str) -> Option<&'a Value> {
    blob.get(key).filter(|v| !v.is_null())
}

/// A new EC2 blob, bound to what made it: a key made with an application-credential token
/// records that credential (its roles, expiry and deletion then govern every token the key
/// yields) and must be on the credential's project. A caller cannot name a delegation itself.
fn bind_ec2_blob(ctx: &Ctx, blob: &str, project_id: &str) -> Result<String> {
    let mut v: Value = serde_json::from_str(blob).map_err(|_| {
        Error::validation("Invalid input for field 'credential.blob': an ec2 blob is a JSON object with access and secret.")
    })?;
    let app_cred = ctx.caller.application_credential.as_ref();
    for key in DELEGATION_KEYS {
        let given = delegation(&v, key);
        let ours = match (*key, app_cred) {
            ("app_cred_id", Some(ac)) => Some(ac.id.as_str()),
            _ => None,
        };
        if given.is_some_and(|g| g.as_str() != ours) {
            return Err(Error::validation(format!(
                "Invalid input for field 'credential.blob': {key} is set by the server from the token that creates the key."
            )));
        }
    }
    let Some(ac) = app_cred else {
        return Ok(blob.to_string());
    };
    if project_id != ctx.caller.project.id {
        return Err(Error::ForbiddenMsg(format!(
            "An access key made with application credential {} is bound to its project {}.",
            ac.id, ctx.caller.project.id
        )));
    }
    if let Some(obj) = v.as_object_mut() {
        obj.insert("app_cred_id".into(), Value::String(ac.id.clone()));
    }
    Ok(v.to_string())
}

pub async fn create(ctx: &Ctx<'_>, req: CredentialInput) -> Result<CredentialView> {
    let need_role = !ctx.is_cloud_admin();
    create_checked(ctx, req, need_role).await
}

async fn create_checked(
    ctx: &Ctx<'_>,
    req: CredentialInput,
    need_role: bool,
) -> Result<CredentialView> {
    let user_id = req.user_id.ok_or_else(|| {
        Error::validation("Invalid input for field 'credential.user_id': it is required.")
    })?;
    ctx.enforce("create_credential", owner(&user_id))?;
    let type_ = req
        .type_
        .filter(|t| !t.is_empty() && t.len() <= 255)
        .ok_or_else(|| {
            Error::validation(
                "Invalid input for field 'credential.type': it is required (e.g. ec2).",
            )
        })?;
    let blob = req.blob.ok_or_else(|| {
        Error::validation("Invalid input for field 'credential.blob': it is required.")
    })?;
    let blob = blob.expose_secret().to_string();
    let (id, blob) = if type_ == EC2 {
        let project = req.project_id.as_deref().ok_or_else(|| {
            Error::validation("Invalid input for field 'credential.project_id': an ec2 credential needs its project.")
        })?;
        let id = ec2_id(&ec2_access(&blob)?);
        let blob = bind_ec2_blob(ctx, &blob, project)?;
        check_project(ctx, &user_id, project, need_role).await?;
        (id, blob)
    } else {
        if type_ == TOTP_TYPE {
            decode_secret("credential.blob", &blob)?;
        }
        (crate::ids::new_id(), blob)
    };
    let (encrypted_blob, key_hash) = encrypt(ctx, &blob);
    let cred = Credential {
        id,
        user_id,
        project_id: req.project_id,
        type_,
        encrypted_blob,
        key_hash,
        extra: "{}".into(),
        created_at: ctx.now.naive_utc(),
    };
    let stored = cred.clone();
    ctx.state
        .store
        .tx(move |c| {
            found(
                store::get_user(c, &stored.user_id)?,
                "user",
                &stored.user_id,
            )?;
            store::insert_credential(c, &stored)
        })
        .await?;
    Ok(CredentialView {
        cred,
        blob: blob.to_string(),
    })
}

async fn load(ctx: &Ctx<'_>, id: &str, action: &str) -> Result<CredentialView> {
    let id = id.to_string();
    let cred = ctx
        .state
        .store
        .run(move |c| found(store::get_credential(c, &id)?, "credential", &id))
        .await?;
    ctx.enforce(action, owner(&cred.user_id))?;
    visible(ctx, action, decrypt(ctx, cred)?)
}

/// The application credential a stored blob is bound to, if any.
fn bound_app_cred(blob: &str) -> Option<String> {
    let v: Value = serde_json::from_str(blob).ok()?;
    delegation(&v, "app_cred_id")?.as_str().map(String::from)
}

/// A token made from an application credential reaches only the credentials bound to that same
/// application credential: the user's other secrets would carry the user's full roles.
fn visible(ctx: &Ctx, action: &str, v: CredentialView) -> Result<CredentialView> {
    if crate::policy::credential_visible(ctx.caller, bound_app_cred(&v.blob).as_deref()) {
        Ok(v)
    } else {
        Err(Error::forbidden(action))
    }
}

pub async fn get(ctx: &Ctx<'_>, id: &str) -> Result<CredentialView> {
    load(ctx, id, "get_credential").await
}

/// Everyone's for the cloud's readers, one's own for everybody else.
pub async fn list(
    ctx: &Ctx<'_>,
    user_id: Option<String>,
    type_: Option<String>,
) -> Result<Vec<CredentialView>> {
    let user_id = if ctx.is_cloud_reader() {
        user_id
    } else {
        if user_id.as_deref().is_some_and(|u| u != ctx.user_id()) {
            return Err(Error::forbidden("list_credentials"));
        }
        Some(ctx.user_id().to_string())
    };
    let creds = ctx
        .state
        .store
        .run(move |c| store::list_credentials(c, user_id.as_deref(), type_.as_deref()))
        .await?;
    let mut out = vec![];
    for c in creds {
        if let Ok(v) = visible(ctx, "list_credentials", decrypt(ctx, c)?) {
            out.push(v);
        }
    }
    Ok(out)
}

pub async fn update(ctx: &Ctx<'_>, id: &str, req: CredentialInput) -> Result<CredentialView> {
    let current = load(ctx, id, "update_credential").await?;
    if req
        .user_id
        .as_ref()
        .is_some_and(|u| *u != current.cred.user_id)
    {
        return Err(Error::validation(
            "Invalid input for field 'credential.user_id': a credential cannot change owner.",
        ));
    }
    let admin = ctx.is_cloud_admin();
    if !admin
        && req
            .project_id
            .as_ref()
            .is_some_and(|p| Some(p) != current.cred.project_id.as_ref())
    {
        return Err(Error::ForbiddenMsg(
            "Only the cloud admin may move a credential to another project; create a new one there."
                .into(),
        ));
    }
    let mut cred = current.cred.clone();
    if let Some(t) = req.type_ {
        if t.is_empty() || t.len() > 255 {
            return Err(Error::validation(
                "Invalid input for field 'credential.type': 1 to 255 characters (e.g. ec2).",
            ));
        }
        cred.type_ = t;
    }
    if let Some(p) = req.project_id {
        cred.project_id = Some(p);
    }
    let blob = req
        .blob
        .map_or(current.blob.clone(), |b| b.expose_secret().to_string());
    if cred.type_ == EC2 {
        let project = cred.project_id.clone().ok_or_else(|| {
            Error::validation("Invalid input for field 'credential.project_id': an ec2 credential needs its project.")
        })?;
        // Keystone lets the blob change, access key included; the id stays what it was. The
        // delegation a key was made through stays with it.
        ec2_access(&blob)?;
        let old: Value = serde_json::from_str(&current.blob).unwrap_or(Value::Null);
        let new: Value = serde_json::from_str(&blob).unwrap_or(Value::Null);
        let was_ec2 = current.cred.type_ == EC2;
        for key in DELEGATION_KEYS {
            let before = if was_ec2 { delegation(&old, key) } else { None };
            if before != delegation(&new, key) {
                return Err(Error::validation(format!(
                    "Invalid input for field 'credential.blob': {key} can not be updated for credential."
                )));
            }
        }
        check_project(ctx, &cred.user_id, &project, !admin).await?;
    }
    if cred.type_ == TOTP_TYPE {
        decode_secret("credential.blob", &blob)?;
    }
    if current.cred.type_ == TOTP_TYPE && cred.type_ != TOTP_TYPE {
        let (uid, id, methods) = (
            cred.user_id.clone(),
            cred.id.clone(),
            ctx.state.config.token.methods.clone(),
        );
        ctx.state
            .store
            .run(move |c| keeps_totp_login(c, &uid, &id, &methods))
            .await?;
    }
    let (encrypted_blob, key_hash) = encrypt(ctx, &blob);
    cred.encrypted_blob = encrypted_blob;
    cred.key_hash = key_hash;
    let stored = cred.clone();
    ctx.state
        .store
        .tx(move |c| store::patch_credential(c, &current.cred, &stored))
        .await?;
    Ok(CredentialView { cred, blob })
}

pub async fn delete(ctx: &Ctx<'_>, id: &str) -> Result<()> {
    let current = load(ctx, id, "delete_credential").await?;
    let id = current.cred.id;
    let (uid, totp, methods) = (
        current.cred.user_id,
        current.cred.type_ == TOTP_TYPE,
        ctx.state.config.token.methods.clone(),
    );
    ctx.state
        .store
        .tx(move |c| {
            if totp {
                keeps_totp_login(c, &uid, &id, &methods)?;
            }
            store::delete_credential(c, &id)?;
            Ok(())
        })
        .await
}

/// A user whose every MFA rule needs `totp` keeps at least one TOTP credential: removing the last
/// one (`except`) would lock the user out, so it is refused with a 409 that says what to do.
fn keeps_totp_login(
    c: &mut store::DbConnection,
    user_id: &str,
    except: &str,
    methods: &[String],
) -> Result<()> {
    let rules = crate::identity::mfa::effective_rules(c, user_id, methods)?;
    let needs_totp = !rules.is_empty() && rules.iter().all(|r| r.iter().any(|m| m == TOTP_TYPE));
    if !needs_totp {
        return Ok(());
    }
    let others = store::list_credentials(c, Some(user_id), Some(TOTP_TYPE))?
        .into_iter()
        .filter(|cr| cr.id != except)
        .count();
    if others == 0 {
        return Err(Error::Conflict(format!(
            "Credential {except} is the last TOTP credential of user {user_id}, whose multi-factor authentication rules require totp: turn multi_factor_auth_enabled off (or change multi_factor_auth_rules) first, or add another TOTP credential."
        )));
    }
    Ok(())
}

// ------------------------------------------------------------------------------------ OS-EC2

/// An EC2 access key as `OS-EC2` shows it.
pub struct Ec2View {
    pub user_id: String,
    pub project_id: String,
    pub access: String,
    pub secret: String,
}

fn ec2_view(v: &CredentialView) -> Option<Ec2View> {
    let blob: Value = serde_json::from_str(&v.blob).ok()?;
    Some(Ec2View {
        user_id: v.cred.user_id.clone(),
        project_id: v.cred.project_id.clone().unwrap_or_default(),
        access: blob.get("access")?.as_str()?.to_string(),
        secret: blob.get("secret")?.as_str()?.to_string(),
    })
}

pub async fn ec2_create(
    ctx: &Ctx<'_>,
    user_id: &str,
    project_id: Option<String>,
) -> Result<Ec2View> {
    let project_id = project_id.ok_or_else(|| {
        Error::validation(
            "Invalid input for field 'tenant_id': the project of the access key is required.",
        )
    })?;
    let access = uuid::Uuid::new_v4().simple().to_string();
    let secret = uuid::Uuid::new_v4().simple().to_string();
    let v = create_checked(
        ctx,
        CredentialInput {
            blob: Some(SecretString::from(
                json!({"access": access, "secret": secret, "trust_id": null}).to_string(),
            )),
            project_id: Some(project_id),
            type_: Some(EC2.into()),
            user_id: Some(user_id.to_string()),
        },
        true,
    )
    .await?;
    ec2_view(&v).ok_or_else(|| Error::internal("new ec2 blob unreadable"))
}

pub async fn ec2_list(ctx: &Ctx<'_>, user_id: &str) -> Result<Vec<Ec2View>> {
    ctx.enforce("ec2_list_credentials", owner(user_id))?;
    let creds = list(ctx, Some(user_id.to_string()), Some(EC2.into())).await?;
    Ok(creds.iter().filter_map(ec2_view).collect())
}

async fn ec2_load(
    ctx: &Ctx<'_>,
    user_id: &str,
    access: &str,
    action: &str,
) -> Result<CredentialView> {
    ctx.enforce(action, owner(user_id))?;
    let id = ec2_id(access);
    let cid = id.clone();
    let cred = ctx
        .state
        .store
        .run(move |c| store::get_credential(c, &cid))
        .await?
        .filter(|c| c.user_id == user_id && c.type_ == EC2);
    let cred =
        cred.ok_or_else(|| Error::NotFoundMsg(format!("Could not find credential: {id}.")))?;
    visible(ctx, action, decrypt(ctx, cred)?)
}

pub async fn ec2_get(ctx: &Ctx<'_>, user_id: &str, access: &str) -> Result<Ec2View> {
    let v = ec2_load(ctx, user_id, access, "ec2_get_credential").await?;
    ec2_view(&v).ok_or_else(|| Error::internal("stored ec2 blob unreadable"))
}

pub async fn ec2_delete(ctx: &Ctx<'_>, user_id: &str, access: &str) -> Result<()> {
    let v = ec2_load(ctx, user_id, access, "ec2_delete_credential").await?;
    let id = v.cred.id;
    ctx.state
        .store
        .tx(move |c| {
            store::delete_credential(c, &id)?;
            Ok(())
        })
        .await
}

// --------------------------------------------------------------- ec2tokens / s3tokens

/// How long after the time a request was signed it may still be exchanged (Keystone's
/// `[credential] auth_ttl`, 15 minutes).
const AUTH_TTL_MINUTES: i64 = 15;

/// Which exchange: EC2 requests carry their parts, S3 requests the string to sign.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Exchange {
    Ec2,
    S3,
}

/// The `credentials` object of `POST /v3/ec2tokens` / `POST /v3/s3tokens`. No `Debug`: it
/// carries a signature.
#[derive(Deserialize, Default)]
pub struct SignedRequest {
    pub access: Option<String>,
    pub signature: Option<String>,
    pub host: Option<String>,
    pub verb: Option<String>,
    pub path: Option<String>,
    #[serde(default)]
    pub params: Option<serde_json::Map<String, Value>>,
    #[serde(default)]
    pub headers: Option<serde_json::Map<String, Value>>,
    pub body_hash: Option<String>,
    /// S3: the base64 string to sign.
    pub token: Option<String>,
}

fn text_map(m: Option<serde_json::Map<String, Value>>) -> BTreeMap<String, String> {
    m.unwrap_or_default()
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            (k, v)
        })
        .collect()
}

/// Keystone's timestamp forms in signed requests: ISO 8601 (`2026-11-30T12:00:00Z`, with or
/// without zone) and AWS's basic form (`20261130T120000Z`).
fn signed_at(s: &str) -> Option<chrono::NaiveDateTime> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&chrono::Utc).naive_utc());
    }
    let s = s.trim_end_matches('Z');
    ["%Y%m%dT%H%M%S", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(s, f).ok())
}

/// The host without its port, as Keystone retries when a client signed without it.
fn without_port(host: &str) -> Option<String> {
    let (h, port) = host.rsplit_once(':')?;
    if h.is_empty() || port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        h.trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase(),
    )
}

/// Checks the request's signature with the key's secret; `Err` says why (for the log only).
fn check_signature(
    kind: Exchange,
    secret: &str,
    r: &SignedRequest,
) -> std::result::Result<(), &'static str> {
    let presented = r.signature.as_deref().ok_or("no signature")?;
    match kind {
        Exchange::S3 => {
            let to_sign = r
                .token
                .as_deref()
                .and_then(ec2_signature::decode_string_to_sign)
                .ok_or("no string to sign")?;
            let expected =
                ec2_signature::s3_expected(secret, &to_sign).ok_or("unsupported signature")?;
            if ec2_signature::matches(presented, &expected) {
                Ok(())
            } else {
                Err("signature mismatch")
            }
        }
        Exchange::Ec2 => {
            let host = r.host.clone().unwrap_or_default();
            let req = Ec2Request {
                verb: r.verb.clone().unwrap_or_default(),
                host: host.clone(),
                path: r.path.clone().unwrap_or_default(),
                params: text_map(r.params.clone()),
                headers: text_map(r.headers.clone()),
                body_hash: r.body_hash.clone(),
            };
            let expected = req.expected(secret, &host).ok_or("unsupported signature")?;
            if ec2_signature::matches(presented, &expected) {
                return Ok(());
            }
            // Some clients sign without the port.
            let retry = without_port(&host).and_then(|h| req.expected(secret, &h));
            if retry.is_some_and(|e| ec2_signature::matches(presented, &e)) {
                return Ok(());
            }
            Err("signature mismatch")
        }
    }
}

/// `POST /v3/ec2tokens` and `/v3/s3tokens`: a service (or the cloud admin) forwards a request
/// signed with an access key; when the signature holds, the answer is a token for the key's
/// user on the key's project, carrying the limits of the application credential the key was
/// made with. Every refusal is the same 401, whatever the cause (no enumeration of keys).
pub async fn exchange(ctx: &Ctx<'_>, kind: Exchange, r: SignedRequest) -> Result<TokenInfo> {
    let result = exchange_unrecorded(ctx, kind, r).await;
    crate::telemetry::record_auth_attempt(EC2_METHOD.into(), &result);
    result
}

async fn exchange_unrecorded(ctx: &Ctx<'_>, kind: Exchange, r: SignedRequest) -> Result<TokenInfo> {
    let action = match kind {
        Exchange::Ec2 => "ec2tokens_validate",
        Exchange::S3 => "s3tokens_validate",
    };
    ctx.enforce(action, Target::default())?;
    if !ctx
        .state
        .config
        .token
        .methods
        .iter()
        .any(|m| m == EC2_METHOD)
    {
        return Err(Error::Unavailable(
            "Cannot mint a token from an EC2 or S3 credential: add ec2credential to token.methods."
                .into(),
        ));
    }
    let refuse = |why: &str| {
        tracing::info!(reason = why, "access key exchange refused");
        Error::Unauthorized
    };
    let access = r
        .access
        .clone()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| refuse("no access key"))?;
    let id = ec2_id(&access);
    let cred = ctx
        .state
        .store
        .run(move |c| store::get_credential(c, &id))
        .await?
        .filter(|c| c.type_ == EC2)
        .ok_or_else(|| refuse("unknown access key"))?;
    let v = decrypt(ctx, cred)?;
    let blob: Value = serde_json::from_str(&v.blob).map_err(|_| refuse("unreadable blob"))?;
    let secret = blob
        .get("secret")
        .and_then(Value::as_str)
        .ok_or_else(|| refuse("blob without secret"))?;
    check_signature(kind, secret, &r).map_err(refuse)?;
    if delegation(&blob, "trust_id").is_some() || delegation(&blob, "access_token_id").is_some() {
        return Err(refuse("trust or OAuth1 delegation is not supported"));
    }
    let app_cred_id = match delegation(&blob, "app_cred_id") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(refuse("malformed app_cred_id")),
    };
    // Timestamp after the signature, as Keystone does: an unsigned time proves nothing.
    let ts = match kind {
        Exchange::Ec2 => Ec2Request {
            params: text_map(r.params.clone()),
            headers: text_map(r.headers.clone()),
            ..Default::default()
        }
        .timestamp()
        .map(String::from),
        Exchange::S3 => None,
    };
    if let Some(ts) = ts {
        let at = signed_at(&ts).ok_or_else(|| refuse("unreadable timestamp"))?;
        if ctx.now.naive_utc() > at + chrono::Duration::minutes(AUTH_TTL_MINUTES) {
            return Err(refuse("signed request expired"));
        }
    }
    let project_id = v
        .cred
        .project_id
        .clone()
        .ok_or_else(|| refuse("key without project"))?;
    crate::auth::issue_for_access_key(
        ctx.state,
        &v.cred.user_id,
        &project_id,
        app_cred_id.as_deref(),
        ctx.now,
    )
    .await
    .map_err(|e| match e {
        Error::Unavailable(_) | Error::Internal(_) => e,
        _ => refuse("user, project or application credential no longer valid"),
    })
}
