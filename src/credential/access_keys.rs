//! Stored credentials (`/v3/credentials`) and EC2-style access keys (`OS-EC2`), as Keystone keeps
//! them: the blob is encrypted at rest with the credential keys; an EC2 credential's id is the
//! SHA-256 of its access key, so the key is found without decrypting anything.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::Digest;

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

fn refuse_restricted(ctx: &Ctx) -> Result<()> {
    if ctx
        .caller
        .application_credential
        .as_ref()
        .is_some_and(|a| a.restricted)
    {
        return Err(Error::ForbiddenMsg(
            "A restricted application credential cannot manage credentials.".into(),
        ));
    }
    Ok(())
}

fn encrypt(ctx: &Ctx, blob: &str) -> (String, String) {
    let keys = ctx.state.credential_keys.keys();
    (
        keys.primary.encrypt(blob.as_bytes()),
        keys.primary_hash.clone(),
    )
}

fn decrypt(ctx: &Ctx, cred: Credential) -> Result<CredentialView> {
    let keys = ctx.state.credential_keys.keys();
    let bytes = keys.all.decrypt(&cred.encrypted_blob).map_err(|_| {
        Error::internal(format!(
            "credential {} cannot be decrypted with the credential key repository",
            cred.id
        ))
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

/// An EC2 credential needs an existing project; access keys a user makes through `OS-EC2` also
/// need a role of that user on it.
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

pub async fn create(ctx: &Ctx<'_>, req: CredentialInput) -> Result<CredentialView> {
    create_checked(ctx, req, false).await
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
    refuse_restricted(ctx)?;
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
    let blob = blob.expose_secret();
    let id = if type_ == EC2 {
        let project = req.project_id.as_deref().ok_or_else(|| {
            Error::validation("Invalid input for field 'credential.project_id': an ec2 credential needs its project.")
        })?;
        check_project(ctx, &user_id, project, need_role).await?;
        ec2_id(&ec2_access(blob)?)
    } else {
        crate::ids::new_id()
    };
    let (encrypted_blob, key_hash) = encrypt(ctx, blob);
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
    decrypt(ctx, cred)
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
    creds.into_iter().map(|c| decrypt(ctx, c)).collect()
}

pub async fn update(ctx: &Ctx<'_>, id: &str, req: CredentialInput) -> Result<CredentialView> {
    let current = load(ctx, id, "update_credential").await?;
    refuse_restricted(ctx)?;
    if req
        .user_id
        .as_ref()
        .is_some_and(|u| *u != current.cred.user_id)
    {
        return Err(Error::validation(
            "Invalid input for field 'credential.user_id': a credential cannot change owner.",
        ));
    }
    let mut cred = current.cred.clone();
    if let Some(t) = req.type_ {
        cred.type_ = t;
    }
    if let Some(p) = req.project_id {
        cred.project_id = Some(p);
    }
    let blob = req
        .blob
        .map_or(current.blob, |b| b.expose_secret().to_string());
    if cred.type_ == EC2 {
        let project = cred.project_id.clone().ok_or_else(|| {
            Error::validation("Invalid input for field 'credential.project_id': an ec2 credential needs its project.")
        })?;
        check_project(ctx, &cred.user_id, &project, false).await?;
        // Keystone lets the blob change, access key included; the id stays what it was.
        ec2_access(&blob)?;
    }
    let (encrypted_blob, key_hash) = encrypt(ctx, &blob);
    cred.encrypted_blob = encrypted_blob;
    cred.key_hash = key_hash;
    let stored = cred.clone();
    ctx.state
        .store
        .tx(move |c| store::update_credential(c, &stored))
        .await?;
    Ok(CredentialView { cred, blob })
}

pub async fn delete(ctx: &Ctx<'_>, id: &str) -> Result<()> {
    let current = load(ctx, id, "delete_credential").await?;
    refuse_restricted(ctx)?;
    let id = current.cred.id;
    ctx.state
        .store
        .tx(move |c| {
            store::delete_credential(c, &id)?;
            Ok(())
        })
        .await
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
    decrypt(ctx, cred)
}

pub async fn ec2_get(ctx: &Ctx<'_>, user_id: &str, access: &str) -> Result<Ec2View> {
    let v = ec2_load(ctx, user_id, access, "ec2_get_credential").await?;
    ec2_view(&v).ok_or_else(|| Error::internal("stored ec2 blob unreadable"))
}

pub async fn ec2_delete(ctx: &Ctx<'_>, user_id: &str, access: &str) -> Result<()> {
    let v = ec2_load(ctx, user_id, access, "ec2_delete_credential").await?;
    refuse_restricted(ctx)?;
    let id = v.cred.id;
    ctx.state
        .store
        .tx(move |c| {
            store::delete_credential(c, &id)?;
            Ok(())
        })
        .await
}
