//! Self-service TOTP enrolment (`/v3/OS-PCU/users/{user_id}/totp`, and the web page built on
//! the same two functions): `begin` makes a new secret, kept as a pending credential, and shows
//! it as text, as an `otpauth://` URI and as a QR code (SVG, rendered here); `confirm` takes a
//! first passcode from the user's app and only then turns the pending credential into a `totp`
//! credential and switches MFA on for the user, in one transaction. Nothing is half-enabled: a
//! wrong passcode changes nothing, and a pending credential never logs anyone in.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use chrono::{DateTime, Utc};

use super::access_keys::{decrypt_with, encrypt_with};
use crate::auth::totp::{self, TOTP_TYPE};
use crate::context::{found, Ctx};
use crate::error::{Error, Result};
use crate::identity::mfa::{MFA_ENABLED, MFA_RULES};
use crate::policy::Target;
use crate::state::State;
use crate::store::{self, Credential};

/// The type of a credential whose enrolment was begun but not confirmed.
pub const PENDING_TYPE: &str = "OS-PCU:totp_pending";

/// The rule an enrolment sets when the user has none: password and passcode.
const DEFAULT_RULE: &[&str] = &["password", "totp"];

/// What `begin` shows once: the secret is also stored (encrypted) in the pending credential.
pub struct Enrolment {
    pub credential_id: String,
    pub secret: SecretString,
    pub otpauth_uri: SecretString,
    pub qr_svg: String,
}

#[derive(Deserialize)]
pub struct Confirmation {
    pub credential_id: Option<String>,
    pub passcode: Option<SecretString>,
}

fn owner(user_id: &str) -> Target<'_> {
    Target {
        user_id: Some(user_id),
        ..Default::default()
    }
}

/// The `otpauth://` URI authenticator apps read (Google Authenticator's key-URI format).
pub fn otpauth_uri(issuer: &str, account: &str, secret: &str) -> String {
    let enc = |s: &str| {
        url::form_urlencoded::byte_serialize(s.as_bytes())
            .collect::<String>()
            .replace('+', "%20")
    };
    format!(
        "otpauth://totp/{}:{}?secret={secret}&issuer={}&algorithm=SHA1&digits={}&period={}",
        enc(issuer),
        enc(account),
        enc(issuer),
        totp::DIGITS,
        totp::STEP_SECONDS
    )
}

/// The QR code of `text` as an SVG document.
pub fn qr_svg(text: &str) -> Result<String> {
    let code = qrcode::QrCode::new(text.as_bytes())
        .map_err(|e| Error::internal(format!("cannot make the enrolment QR code: {e}")))?;
    Ok(code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}

/// Starts an enrolment for the caller itself: a new pending credential (replacing an earlier
/// pending one) with a fresh 160-bit secret.
pub async fn begin_enrolment(ctx: &Ctx<'_>, user_id: &str) -> Result<Enrolment> {
    ctx.enforce("enrol_totp", owner(user_id))?;
    begin(ctx.state, user_id, ctx.now).await
}

/// The same for a user that holds no token because its login needs a second factor it does
/// not have yet (its domain requires MFA): the receipt of its password login stands in for the
/// token, for a first enrolment only (see `receipt_allows`).
pub async fn begin_enrolment_with_receipt(
    state: &State,
    receipt: &str,
    user_id: &str,
    now: DateTime<Utc>,
) -> Result<Enrolment> {
    receipt_allows(state, receipt, user_id, now).await?;
    begin(state, user_id, now).await
}

/// Completes an enrolment with a first passcode: the pending credential becomes a `totp`
/// credential and `multi_factor_auth_enabled` is switched on (with the rule password + totp when
/// the user has no rules), in one transaction. The passcode's step is claimed, so the same
/// passcode cannot log in afterwards. A wrong passcode is a 400 and changes nothing.
pub async fn confirm_enrolment(ctx: &Ctx<'_>, user_id: &str, req: Confirmation) -> Result<()> {
    ctx.enforce("enrol_totp", owner(user_id))?;
    confirm(ctx.state, user_id, req, ctx.now).await
}

pub async fn confirm_enrolment_with_receipt(
    state: &State,
    receipt: &str,
    user_id: &str,
    req: Confirmation,
    now: DateTime<Utc>,
) -> Result<()> {
    receipt_allows(state, receipt, user_id, now).await?;
    confirm(state, user_id, req, now).await
}

/// The enrolment `begin_enrolment` started, shown again (the same secret, from its pending
/// credential), for a page whose first passcode was wrong: the user's app already holds it.
pub async fn resume_enrolment(
    ctx: &Ctx<'_>,
    user_id: &str,
    credential_id: &str,
) -> Result<Enrolment> {
    ctx.enforce("enrol_totp", owner(user_id))?;
    resume(ctx.state, user_id, credential_id).await
}

pub async fn resume_enrolment_with_receipt(
    state: &State,
    receipt: &str,
    user_id: &str,
    credential_id: &str,
    now: DateTime<Utc>,
) -> Result<Enrolment> {
    receipt_allows(state, receipt, user_id, now).await?;
    resume(state, user_id, credential_id).await
}

async fn resume(state: &State, user_id: &str, credential_id: &str) -> Result<Enrolment> {
    let (uid, cid) = (user_id.to_string(), credential_id.to_string());
    let (user, pending) = state
        .store
        .run(move |c| {
            let user = found(store::get_user(c, &uid)?, "user", &uid)?;
            let cred = store::get_credential(c, &cid)?
                .filter(|cr| cr.user_id == uid && cr.type_ == PENDING_TYPE);
            Ok((user, found(cred, "pending TOTP enrolment", &cid)?))
        })
        .await?;
    let id = pending.id.clone();
    let view = decrypt_with(state, pending)?;
    totp::decode_secret("credential.blob", &view.blob)?;
    let uri = otpauth_uri(&issuer(state), &user.name, &view.blob);
    Ok(Enrolment {
        credential_id: id,
        secret: SecretString::from(view.blob.clone()),
        qr_svg: qr_svg(&uri)?,
        otpauth_uri: SecretString::from(uri),
    })
}

/// Who authenticator apps show as the account's issuer: the host of the public URL.
fn issuer(state: &State) -> String {
    url::Url::parse(&state.public_url())
        .ok()
        .and_then(|u| u.host_str().map(String::from))
        .unwrap_or_else(|| "Ironstone".into())
}

/// A receipt enrols only its own user, only when it proves the password, and only while the
/// user has no TOTP credential: once one exists, adding another needs a token (which needs the
/// passcode). This is the one way in for a user whose domain requires MFA before it enrolled.
async fn receipt_allows(
    state: &State,
    receipt: &str,
    user_id: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let r = crate::auth::receipt::open(state, receipt, now)?;
    if r.user_id != user_id || !r.methods.iter().any(|m| m == "password") {
        return Err(Error::forbidden("enrol_totp"));
    }
    let uid = user_id.to_string();
    let (user, totp) = state
        .store
        .run(move |c| {
            Ok((
                store::get_user(c, &uid)?,
                store::list_credentials(c, Some(&uid), Some(TOTP_TYPE))?,
            ))
        })
        .await?;
    let Some(user) = user.filter(|u| u.enabled) else {
        return Err(Error::Unauthorized);
    };
    if !r.stands_for(&user) {
        tracing::info!(user_id = %user.id, "TOTP enrolment refused: the receipt predates the current password");
        return Err(Error::UnauthorizedMsg(
            "The auth receipt is invalid or has expired: authenticate again with all the methods your account requires.".into(),
        ));
    }
    if !totp.is_empty() {
        return Err(Error::ForbiddenMsg(
            "This user has a TOTP credential already: log in with it to enrol another one.".into(),
        ));
    }
    Ok(())
}

async fn begin(state: &State, user_id: &str, now: DateTime<Utc>) -> Result<Enrolment> {
    let uid = user_id.to_string();
    let user = state
        .store
        .run(move |c| found(store::get_user(c, &uid)?, "user", &uid))
        .await?;
    let secret = totp::new_secret();
    let (encrypted_blob, key_hash) = encrypt_with(state, &secret);
    let cred = Credential {
        id: crate::ids::new_id(),
        user_id: user.id.clone(),
        project_id: None,
        type_: PENDING_TYPE.into(),
        encrypted_blob,
        key_hash,
        extra: "{}".into(),
        created_at: now.naive_utc(),
    };
    let stored = cred.clone();
    state
        .store
        .tx(move |c| {
            for old in store::list_credentials(c, Some(&stored.user_id), Some(PENDING_TYPE))? {
                store::delete_credential(c, &old.id)?;
            }
            store::insert_credential(c, &stored)
        })
        .await?;
    let uri = otpauth_uri(&issuer(state), &user.name, &secret);
    let qr_svg = qr_svg(&uri)?;
    Ok(Enrolment {
        credential_id: cred.id,
        secret: SecretString::from(secret.to_string()),
        otpauth_uri: SecretString::from(uri),
        qr_svg,
    })
}

async fn confirm(
    state: &State,
    user_id: &str,
    req: Confirmation,
    now: DateTime<Utc>,
) -> Result<()> {
    let id = req.credential_id.ok_or_else(|| {
        Error::validation("Invalid input for field 'totp.credential_id': it is required (the id the enrolment returned).")
    })?;
    let passcode = req.passcode.ok_or_else(|| {
        Error::validation("Invalid input for field 'totp.passcode': it is required (the 6-digit passcode your app shows).")
    })?;
    if passcode.expose_secret().len() != totp::DIGITS
        || !passcode.expose_secret().bytes().all(|b| b.is_ascii_digit())
    {
        return Err(Error::validation(
            "Invalid input for field 'totp.passcode': expecting the 6 digits your authenticator app shows.",
        ));
    }
    let (uid, cid) = (user_id.to_string(), id.clone());
    let pending = state
        .store
        .run(move |c| {
            let cred = store::get_credential(c, &cid)?
                .filter(|cr| cr.user_id == uid && cr.type_ == PENDING_TYPE);
            found(cred, "pending TOTP enrolment", &cid)
        })
        .await?;
    let view = decrypt_with(state, pending)?;
    let secret = totp::decode_secret("credential.blob", &view.blob)?;
    let step = totp::matching_step(
        &secret,
        passcode.expose_secret(),
        now.timestamp(),
        state.config.totp.skew_steps,
    )
    .ok_or_else(|| {
        Error::validation(
            "Invalid input for field 'totp.passcode': it does not match the enrolled secret. Check that the app holds the secret shown and that your device's clock is right, then send the passcode it shows now.",
        )
    })?;
    let base = view.cred;
    let mut confirmed = base.clone();
    confirmed.type_ = TOTP_TYPE.into();
    let uid = user_id.to_string();
    state
        .store
        .tx(move |c| {
            // Still pending (not confirmed or replaced by a concurrent request).
            let now = store::get_credential(c, &base.id)?.filter(|cr| cr.type_ == PENDING_TYPE);
            found(now, "pending TOTP enrolment", &base.id)?;
            store::patch_credential(c, &base, &confirmed)?;
            store::claim_totp_step(c, &confirmed.id, step as i64)?;
            let options = store::user_options(c, &uid)?;
            let has_rules = options
                .iter()
                .any(|o| o.name == MFA_RULES && o.value != "[]");
            if !has_rules {
                let rule = serde_json::json!([DEFAULT_RULE]).to_string();
                store::set_user_option(c, &uid, MFA_RULES, Some(&rule))?;
            }
            store::set_user_option(c, &uid, MFA_ENABLED, Some("true"))?;
            Ok(())
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otpauth_uri_is_escaped() {
        let uri = otpauth_uri("cloud.example", "ann smith@x", "ABC");
        assert_eq!(
            uri,
            "otpauth://totp/cloud.example:ann%20smith%40x?secret=ABC&issuer=cloud.example&algorithm=SHA1&digits=6&period=30"
        );
        let svg = qr_svg(&uri).unwrap();
        assert!(svg.starts_with("<?xml") && svg.contains("<svg"), "{svg}");
    }
}
