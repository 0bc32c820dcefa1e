//! Authentication, token issue, validation and revocation. Every token is scoped to exactly one
//! project.

pub mod caller;
pub mod password;
pub mod receipt;
mod request;
pub mod revoke;
pub mod totp;

use chrono::{DateTime, Duration, Utc};
use secrecy::{ExposeSecret, SecretString};

pub use request::*;

use crate::assignment;
use crate::cache::Reader;
use crate::error::{Error, Result};
use crate::identity::passwords;
use crate::resource::{self, ProjectRef};
use crate::state::State;
use crate::store::{
    self, ApplicationCredential, DbConnection, Domain, Project, Role, User, UserOption,
};
use crate::token::{Opened, Payload};
use password::Verified;

/// The marker method of tokens minted from an EC2/S3 access key (Keystone's `ec2credential`):
/// it has its bit in the fernet methods mask, so such tokens stay recognizable; it never
/// authenticates through `/v3/auth/tokens`.
pub const EC2_METHOD: &str = "ec2credential";

/// A token that stands: everything needed to answer with its body or to authorize a request.
#[derive(Clone)]
pub struct TokenInfo {
    pub token: String,
    pub user: User,
    pub user_domain: Domain,
    pub project: Project,
    pub project_domain: Domain,
    pub roles: Vec<Role>,
    pub methods: Vec<String>,
    pub audit_ids: Vec<String>,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub application_credential: Option<AppCredRef>,
    /// Scoped to the operator's realm: the admin project bootstrap recorded (by id).
    pub admin_realm: bool,
}

#[derive(Debug, Clone)]
pub struct AppCredRef {
    pub id: String,
    pub name: String,
    pub restricted: bool,
}

impl TokenInfo {
    pub fn has_role(&self, name: &str) -> bool {
        self.roles.iter().any(|r| r.name == name)
    }
}

/// Who a set of auth methods proved the caller to be, before scoping.
struct Identified {
    user: User,
    methods: Vec<String>,
    /// From the `token` method: the old token caps expiry and keeps its audit chain.
    parent: Option<TokenInfo>,
    app_cred: Option<ApplicationCredential>,
}

/// What a token's validation answers when it expired (also how metrics tell expiry apart).
pub const TOKEN_EXPIRED: &str = "The token has expired.";

/// Runs `POST /v3/auth/tokens`, counted in the metrics by method and result.
pub async fn authenticate(
    state: &State,
    req: AuthRequest,
    receipt: Option<&str>,
    now: DateTime<Utc>,
) -> Result<TokenInfo> {
    authenticate_within(state, req, receipt, now, None).await
}

/// `authenticate` for a token that lives at most `lifetime` (when shorter than
/// `[token] expiration`): a page's own sign-in, which must not outlive the page's session.
pub async fn authenticate_within(
    state: &State,
    req: AuthRequest,
    receipt: Option<&str>,
    now: DateTime<Utc>,
    lifetime: Option<Duration>,
) -> Result<TokenInfo> {
    let method = methods_label(state, &req.auth.identity.methods);
    let result = authenticate_unrecorded(state, req, receipt, now, lifetime).await;
    crate::telemetry::record_auth_attempt(method, &result);
    result
}

/// The `method` label of an authentication: its methods in the configured order, joined by `+`
/// (`password`, `password+token`); `none`, or `unsupported` when one is not configured, so that
/// what a client writes never becomes a label.
fn methods_label(state: &State, methods: &[String]) -> String {
    let configured = &state.config.token.methods;
    if methods.is_empty() {
        return "none".into();
    }
    if methods.iter().any(|m| !configured.contains(m)) {
        return "unsupported".into();
    }
    configured
        .iter()
        .filter(|c| methods.contains(c))
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join("+")
}

async fn authenticate_unrecorded(
    state: &State,
    req: AuthRequest,
    receipt: Option<&str>,
    now: DateTime<Utc>,
    lifetime: Option<Duration>,
) -> Result<TokenInfo> {
    let identity = req.auth.identity;
    let mut methods: Vec<String> = vec![];
    for m in &identity.methods {
        if !methods.contains(m) {
            methods.push(m.clone());
        }
    }
    if methods.is_empty() {
        return Err(Error::validation(
            "Invalid input for field 'auth.identity.methods': at least one method is required.",
        ));
    }
    let mut found: Option<Identified> = None;
    for method in &methods {
        if !state.config.token.methods.contains(method) {
            return Err(Error::UnauthorizedMsg(format!(
                "Attempted to authenticate with an unsupported method: {method}."
            )));
        }
        let step = match method.as_str() {
            "password" => {
                let p = identity
                    .password
                    .clone()
                    .ok_or_else(|| missing_method_body("password"))?;
                password_method(state, p, now).await?
            }
            "token" => {
                let t = identity
                    .token
                    .clone()
                    .ok_or_else(|| missing_method_body("token"))?;
                let parent = validate(state, &t.id, now, false).await?;
                if parent.methods.iter().any(|m| m == EC2_METHOD) {
                    return Err(Error::ForbiddenMsg(
                        "Using a delegated token to create another token is not allowed.".into(),
                    ));
                }
                Identified {
                    user: parent.user.clone(),
                    methods: parent.methods.clone(),
                    parent: Some(parent),
                    app_cred: None,
                }
            }
            "application_credential" => {
                let a = identity
                    .application_credential
                    .clone()
                    .ok_or_else(|| missing_method_body("application_credential"))?;
                application_credential_method(state, a, now).await?
            }
            "totp" => {
                let t = identity
                    .totp
                    .clone()
                    .ok_or_else(|| missing_method_body("totp"))?;
                totp_method(state, t, now).await?
            }
            other => {
                return Err(Error::UnauthorizedMsg(format!(
                    "Attempted to authenticate with an unsupported method: {other}."
                )))
            }
        };
        found = Some(match found {
            None => step,
            Some(prev) if prev.user.id == step.user.id => merge(prev, step),
            Some(_) => return Err(Error::Unauthorized),
        });
    }
    let mut who = found.ok_or(Error::Unauthorized)?;
    for m in methods {
        if !who.methods.contains(&m) {
            who.methods.push(m);
        }
    }
    // A receipt adds the methods an earlier request of the same user proved (Keystone's MFA).
    if let Some(r) = receipt {
        let r = receipt::open(state, r, now)?;
        if !r.stands_for(&who.user) {
            tracing::info!(user_id = %who.user.id, "auth receipt refused: another user's, or older than the password");
            return Err(Error::UnauthorizedMsg(
                "The auth receipt is invalid or has expired: authenticate again with all the methods your account requires.".into(),
            ));
        }
        for m in r.methods {
            if !who.methods.contains(&m) {
                who.methods.push(m);
            }
        }
    }
    who.methods
        .sort_by_key(|m| state.config.token.methods.iter().position(|o| o == m));
    enforce_mfa(state, &who, now).await?;
    issue(state, who, req.auth.scope, now, lifetime).await
}

/// The user's MFA rules (per-user options, or the domain's requirement) must be satisfied by the
/// methods proved: one rule whose every method is among them. Otherwise the answer is Keystone's
/// 401 with a receipt of the methods proved so far. Application credentials are the automation
/// path and are not subject to MFA rules (nor tokens made from them).
async fn enforce_mfa(state: &State, who: &Identified, now: DateTime<Utc>) -> Result<()> {
    let delegated = who.app_cred.is_some()
        || who
            .parent
            .as_ref()
            .is_some_and(|p| p.application_credential.is_some());
    if delegated {
        return Ok(());
    }
    let (uid, did) = (who.user.id.clone(), who.user.domain_id.clone());
    let configured = state.config.token.methods.clone();
    let (rules, domain) = state
        .store
        .run(move |c| {
            let rules = crate::identity::mfa::effective_rules(c, &uid, &configured)?;
            Ok((rules, store::get_domain(c, &did)?))
        })
        .await?;
    if rules.is_empty()
        || rules
            .iter()
            .any(|rule| rule.iter().all(|m| who.methods.contains(m)))
    {
        return Ok(());
    }
    let user_domain = domain.ok_or(Error::Unauthorized)?;
    let (token, expires_at) = receipt::seal(state, &who.user.id, &who.methods, now);
    tracing::info!(user_id = %who.user.id, "more authentication methods required: receipt issued");
    Err(Error::MfaRequired(Box::new(receipt::ReceiptIssued {
        receipt: token,
        methods: who.methods.clone(),
        user: who.user.clone(),
        user_domain,
        issued_at: DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now),
        expires_at,
        required: rules,
    })))
}

fn merge(mut a: Identified, b: Identified) -> Identified {
    a.methods.extend(b.methods);
    a.parent = a.parent.or(b.parent);
    a.app_cred = a.app_cred.or(b.app_cred);
    a
}

fn missing_method_body(method: &str) -> Error {
    Error::validation(format!("Invalid input for field 'auth.identity': '{method}' is listed in methods but its object is missing."))
}

/// How long after its hashing work a failed login is answered at the earliest. The work after
/// hashing differs by case (an unknown user reads nothing; a wrong password records the failure;
/// a locked or disabled account reads its options): every failure waits for this floor, so that
/// timing does not tell the cases apart. A few milliseconds, nothing like the hashing itself.
const FAILURE_FLOOR: std::time::Duration = std::time::Duration::from_millis(15);

/// A password proved for a user: the user, its options, and when the hashing work ended.
pub struct Proved {
    pub user: User,
    pub options: Vec<UserOption>,
    pub hashed_at: tokio::time::Instant,
}

impl Proved {
    /// The generic 401, answered no earlier than `FAILURE_FLOOR` after the hashing.
    pub async fn refuse(&self) -> Error {
        refuse_after(self.hashed_at).await
    }
}

async fn refuse_after(hashed_at: tokio::time::Instant) -> Error {
    tokio::time::sleep_until(hashed_at + FAILURE_FLOOR).await;
    Error::Unauthorized
}

/// Checks `secret` against the user's password with lockout and failure counting, re-hashing
/// when the parameters changed. An unknown user is checked against a dummy hash, so that timing
/// tells nothing; every failure is the generic 401, at the same time after hashing. Expiry and
/// enablement are the caller's (`Proved::refuse` keeps their timing).
pub async fn verify_password(
    state: &State,
    user: Option<User>,
    secret: SecretString,
    now: DateTime<Utc>,
) -> Result<Proved> {
    let hash = user.as_ref().and_then(|u| u.password_hash.clone());
    let verified = state.hasher.verify(secret, hash.clone()).await?;
    let hashed_at = tokio::time::Instant::now();
    let Some(user) = user else {
        return Err(refuse_after(hashed_at).await);
    };
    // The lockout is judged on the counters as they are now, after hashing, not as they were
    // when the request came in: guesses sent together are hashed one after another (or a few
    // at a time) and each sees the failures recorded before it.
    let (fresh, options) = {
        let id = user.id.clone();
        state
            .store
            .run(move |c| Ok((store::get_user(c, &id)?, store::user_options(c, &id)?)))
            .await?
    };
    let Some(user) = fresh else {
        return Err(refuse_after(hashed_at).await);
    };
    let locked = locked_out(state, &user, &options, now);
    // A password changed while this one was being hashed: what was proved no longer counts.
    let verified = if user.password_hash != hash {
        Verified::No
    } else {
        verified
    };
    match verified {
        Verified::No => {
            let id = user.id.clone();
            let at = now.naive_utc();
            state
                .store
                .tx(move |c| store::record_auth_failure(c, &id, at))
                .await?;
            tracing::info!(user_id = %user.id, "password authentication failed");
            return Err(refuse_after(hashed_at).await);
        }
        _ if locked => {
            tracing::info!(user_id = %user.id, "authentication refused: account locked");
            return Err(refuse_after(hashed_at).await);
        }
        Verified::YesRehash(new_hash) => {
            let (id, old) = (
                user.id.clone(),
                user.password_hash.clone().unwrap_or_default(),
            );
            state
                .store
                .tx(move |c| store::rehash_user_password(c, &id, &old, &new_hash))
                .await?;
        }
        Verified::Yes => {}
    }
    Ok(Proved {
        user,
        options,
        hashed_at,
    })
}

pub use crate::identity::passwords::option_on;

/// Locked by `lockout_failure_attempts`, judged on the counters as they are now.
fn locked_out(state: &State, user: &User, options: &[UserOption], now: DateTime<Utc>) -> bool {
    let sc = &state.config.security_compliance;
    let exempt = option_on(options, "ignore_lockout_failure_attempts");
    !exempt
        && match (sc.lockout_failure_attempts, user.failed_auth_at) {
            (Some(max), Some(at)) if user.failed_auth_count as u32 >= max => {
                match sc.lockout_duration {
                    Some(d) => now.naive_utc() < at + Duration::seconds(d as i64),
                    None => true,
                }
            }
            _ => false,
        }
}

/// The user a password or TOTP login names: by id, or by name within a domain (id or name).
/// `None` when there is no such user (the caller answers that after the same work as a failure).
async fn find_login_user(
    state: &State,
    field: &str,
    id: Option<String>,
    name: Option<String>,
    domain: Option<crate::resource::DomainRef>,
) -> Result<Option<User>> {
    if id.is_none() && name.is_none() {
        return Err(Error::validation(format!(
            "Invalid input for field '{field}': expecting to find id or name."
        )));
    }
    if id.is_none() && domain.is_none() {
        return Err(Error::validation(format!(
            "Invalid input for field '{field}': a user name needs its domain (id or name)."
        )));
    }
    state
        .store
        .run(move |c| match (&id, &domain) {
            (Some(id), _) => store::get_user(c, id),
            (None, Some(domain)) => {
                let Some(d) = resource::find_domain(c, domain)? else {
                    return Ok(None);
                };
                let name = name.as_deref().unwrap_or_default();
                if let Some(u) = store::get_user_by_name(c, &d.id, name)? {
                    return Ok(Some(u));
                }
                // Login by email: the address names the user when exactly one has it (the
                // domain keeps them unique; an ambiguous one names nobody).
                if d.login_by_email && name.contains('@') {
                    let mut found = store::users_by_email(c, &d.id, name)?;
                    if found.len() == 1 {
                        return Ok(found.pop());
                    }
                }
                Ok(None)
            }
            (None, None) => Ok(None),
        })
        .await
}

/// The `totp` method: the user's TOTP credentials are tried against the passcode within the
/// skew window; the matching step is claimed in the database so that the passcode is accepted
/// once, on any node. A wrong or replayed passcode counts toward lockout like a wrong password,
/// and every failure is the generic 401 after the same Argon2 work a password check does, so
/// that neither the answer nor its timing tells which users exist or have TOTP.
async fn totp_method(state: &State, t: TotpMethod, now: DateTime<Utc>) -> Result<Identified> {
    let u = t.user;
    state.hasher.check_room()?;
    let passcode = u.passcode.clone().ok_or_else(|| {
        Error::validation(
            "Invalid input for field 'auth.identity.totp.user.passcode': a passcode is required.",
        )
    })?;
    totp::check_passcode_shape(passcode.expose_secret())?;
    let user = find_login_user(
        state,
        "auth.identity.totp.user",
        u.id.clone(),
        u.name.clone(),
        u.domain.clone(),
    )
    .await?;
    // The work a password check does, whoever the user is.
    let dummy = SecretString::from(crate::ids::random_urlsafe(16));
    state.hasher.verify(dummy, None).await?;
    let hashed_at = tokio::time::Instant::now();
    let Some(user) = user else {
        return Err(refuse_after(hashed_at).await);
    };
    let uid = user.id.clone();
    let (fresh, options, creds) = state
        .store
        .run(move |c| {
            Ok((
                store::get_user(c, &uid)?,
                store::user_options(c, &uid)?,
                store::list_credentials(c, Some(&uid), Some(totp::TOTP_TYPE))?,
            ))
        })
        .await?;
    let Some(user) = fresh else {
        return Err(refuse_after(hashed_at).await);
    };
    let keys = state.credential_keys.keys();
    let skew = state.config.totp.skew_steps;
    let mut matched: Option<(String, u64)> = None;
    for cred in &creds {
        let Ok(blob) = keys.all.decrypt(&cred.encrypted_blob) else {
            tracing::error!(credential = %cred.id, "stored TOTP credential cannot be decrypted with the credential keys");
            continue;
        };
        let blob = zeroize::Zeroizing::new(blob);
        let Ok(text) = std::str::from_utf8(&blob) else {
            continue;
        };
        let Ok(secret) = totp::decode_secret("credential.blob", text) else {
            continue;
        };
        if let Some(step) =
            totp::matching_step(&secret, passcode.expose_secret(), now.timestamp(), skew)
        {
            matched = Some((cred.id.clone(), step));
            break;
        }
    }
    let locked = locked_out(state, &user, &options, now);
    let right = matched.is_some();
    let accepted = match matched {
        Some((cred_id, step)) if !locked => {
            state
                .store
                .tx(move |c| store::claim_totp_step(c, &cred_id, step as i64))
                .await?
        }
        _ => false,
    };
    if !accepted {
        // A right passcode for a locked account is refused but not counted (as a password).
        if !(locked && right) {
            let (id, at) = (user.id.clone(), now.naive_utc());
            state
                .store
                .tx(move |c| store::record_auth_failure(c, &id, at))
                .await?;
        }
        tracing::info!(user_id = %user.id, "totp authentication failed");
        return Err(refuse_after(hashed_at).await);
    }
    match check_user_active(state, &user, Some(&options), now).await {
        Ok(()) => {}
        Err(Error::Unauthorized) => return Err(refuse_after(hashed_at).await),
        Err(e) => return Err(e),
    }
    record_login(state, &user, now).await?;
    Ok(Identified {
        user,
        methods: vec!["totp".into()],
        parent: None,
        app_cred: None,
    })
}

/// A login by a user's own secret succeeded: reset the failure count and mark the user active.
/// It writes only when there is something to reset or the activity mark is an hour stale, so
/// that a busy service account does not turn every token request into a write.
async fn record_login(state: &State, user: &User, now: DateTime<Utc>) -> Result<()> {
    let stale = user
        .last_active_at
        .is_none_or(|t| now.naive_utc() - t > Duration::hours(1));
    if user.failed_auth_count > 0 || stale {
        let (id, at) = (user.id.clone(), now.naive_utc());
        state
            .store
            .tx(move |c| store::record_auth_success(c, &id, at))
            .await?;
    }
    Ok(())
}

async fn password_method(
    state: &State,
    p: PasswordMethod,
    now: DateTime<Utc>,
) -> Result<Identified> {
    let u = p.user;
    // A full hashing queue answers 503 before any database work.
    state.hasher.check_room()?;
    let secret = u.password.clone().ok_or_else(|| Error::validation("Invalid input for field 'auth.identity.password.user.password': a password is required."))?;
    let user = find_login_user(
        state,
        "auth.identity.password.user",
        u.id.clone(),
        u.name.clone(),
        u.domain.clone(),
    )
    .await?;
    let proved = verify_password(state, user, secret, now).await?;
    match check_user_active(state, &proved.user, Some(&proved.options), now).await {
        Ok(()) => {}
        Err(Error::Unauthorized) => return Err(proved.refuse().await),
        Err(e) => return Err(e),
    }
    let Proved { user, options, .. } = proved;
    // Only a caller who proved the password learns that it expired (as in Keystone): the
    // message carries the user id that `POST /v3/users/{id}/password` needs.
    if passwords::password_expired(&user, &options, now) {
        tracing::info!(user_id = %user.id, "authentication refused: password expired or must be changed");
        return Err(Error::UnauthorizedMsg(format!(
            "The password is expired and needs to be changed for user: {}.",
            user.id
        )));
    }
    record_login(state, &user, now).await?;
    Ok(Identified {
        user,
        methods: vec!["password".into()],
        parent: None,
        app_cred: None,
    })
}

async fn application_credential_method(
    state: &State,
    a: AppCredMethod,
    now: DateTime<Utc>,
) -> Result<Identified> {
    // No early 503 for a full hashing queue: a generated secret needs no hashing thread (only
    // Argon2 verification below waits for one, and answers 503 itself when the queue is full).
    let secret = a.secret.clone().ok_or_else(|| Error::validation("Invalid input for field 'auth.identity.application_credential.secret': a secret is required."))?;
    let lookup = a.clone();
    let found = state
        .store
        .run(move |c| {
            let ac = match (&lookup.id, &lookup.name) {
                (Some(id), _) => store::get_application_credential(c, id)?,
                (None, Some(name)) => {
                    let user = lookup.user.as_ref().ok_or_else(|| {
                        Error::validation("Invalid input for field 'auth.identity.application_credential': a name needs its user (id, or name and domain).")
                    })?;
                    let user = match (&user.id, &user.name, &user.domain) {
                        (Some(id), _, _) => store::get_user(c, id)?,
                        (None, Some(n), Some(d)) => match resource::find_domain(c, d)? {
                            Some(d) => store::get_user_by_name(c, &d.id, n)?,
                            None => None,
                        },
                        _ => return Err(Error::validation("Invalid input for field 'auth.identity.application_credential.user': expecting id, or name and domain.")),
                    };
                    match user {
                        Some(u) => store::get_application_credential_by_name(c, &u.id, name)?,
                        None => None,
                    }
                }
                (None, None) => return Err(Error::validation("Invalid input for field 'auth.identity.application_credential': expecting to find id or name.")),
            };
            let user = match &ac {
                Some(ac) => store::get_user(c, &ac.user_id)?,
                None => None,
            };
            Ok(ac.zip(user))
        })
        .await?;
    // Keystone answers an unknown (e.g. deleted) credential id with 404; the id is a random
    // UUID, so this tells nothing about users.
    if let (None, Some(id)) = (&found, &a.id) {
        return Err(Error::NotFoundMsg(format!(
            "Could not find Application Credential: {id}."
        )));
    }
    let hash = found.as_ref().map(|(ac, _)| ac.secret_hash.clone());
    let verified = match hash {
        // A secret Ironstone generated: its keyed hash, no hashing thread needed.
        Some(h) if crate::credential::secret_hash::is_keyed(&h) => {
            let key = crate::credential::secret_hash::key(state).await?;
            if key.verify(secrecy::ExposeSecret::expose_secret(&secret), &h) {
                Verified::Yes
            } else {
                Verified::No
            }
        }
        // A secret a user chose, an Argon2 hash from before, or no such credential (a dummy
        // hash is checked, so that the answer takes as long).
        other => state.hasher.verify(secret, other).await?,
    };
    let Some((ac, user)) = found else {
        return Err(Error::Unauthorized);
    };
    if verified == Verified::No {
        return Err(Error::Unauthorized);
    }
    if ac.expires_at.is_some_and(|e| e <= now.naive_utc()) {
        return Err(Error::Unauthorized);
    }
    check_user_enabled(state, &user, None, now).await?;
    record_activity(state, &user, now).await?;
    Ok(Identified {
        user,
        methods: vec!["application_credential".into()],
        parent: None,
        app_cred: Some(ac),
    })
}

/// Issues the token an access key yields (`/v3/ec2tokens`, `/v3/s3tokens`) once its signature
/// was checked: the key's user on the key's project, method `ec2credential`, narrowed to the
/// application credential the key was made with (which must still exist and not have expired).
pub async fn issue_for_access_key(
    state: &State,
    user_id: &str,
    project_id: &str,
    app_cred_id: Option<&str>,
    now: DateTime<Utc>,
) -> Result<TokenInfo> {
    let (uid, acid) = (user_id.to_string(), app_cred_id.map(String::from));
    let (user, app_cred) = state
        .store
        .run(move |c| {
            let ac = match &acid {
                Some(id) => Some(store::get_application_credential(c, id)?),
                None => None,
            };
            Ok((store::get_user(c, &uid)?, ac))
        })
        .await?;
    let user = user.ok_or(Error::Unauthorized)?;
    let app_cred = match app_cred {
        None => None,
        Some(None) => return Err(Error::Unauthorized),
        Some(Some(ac)) => {
            if ac.user_id != user.id || ac.expires_at.is_some_and(|e| e <= now.naive_utc()) {
                return Err(Error::Unauthorized);
            }
            Some(ac)
        }
    };
    check_user_enabled(state, &user, None, now).await?;
    record_activity(state, &user, now).await?;
    let who = Identified {
        user,
        methods: vec![EC2_METHOD.into()],
        parent: None,
        app_cred,
    };
    let scope = serde_json::json!({"project": {"id": project_id}});
    issue(state, who, Some(scope), now, None).await
}

/// Marks the user active (for `disable_user_account_days_inactive`) after a login by another
/// method than the password; written at most once an hour per user. Lockout counters are the
/// password's and stay as they are.
async fn record_activity(state: &State, user: &User, now: DateTime<Utc>) -> Result<()> {
    if user
        .last_active_at
        .is_some_and(|t| now.naive_utc() - t <= Duration::hours(1))
    {
        return Ok(());
    }
    let (id, at) = (user.id.clone(), now.naive_utc());
    state
        .store
        .tx(move |c| store::touch_user_activity(c, &id, at))
        .await
}

/// The user (not disabled, not inactive) and its domain must be enabled. `options` when the
/// caller has them already; otherwise they are read only if time says the user may be inactive.
async fn check_user_active(
    state: &State,
    user: &User,
    options: Option<&[UserOption]>,
    now: DateTime<Utc>,
) -> Result<()> {
    check_user_enabled(state, user, options, now).await?;
    let domain_id = user.domain_id.clone();
    let domain = state
        .store
        .run(move |c| store::get_domain(c, &domain_id))
        .await?;
    if !domain.is_some_and(|d| d.enabled) {
        return Err(Error::Unauthorized);
    }
    Ok(())
}

/// The user itself is neither disabled nor inactive. Where the login goes straight on to
/// `issue`, that refuses a disabled user domain in its own read (no second checkout).
async fn check_user_enabled(
    state: &State,
    user: &User,
    options: Option<&[UserOption]>,
    now: DateTime<Utc>,
) -> Result<()> {
    if !user.enabled {
        return Err(Error::Unauthorized);
    }
    let sc = &state.config.security_compliance;
    let inactive = match options {
        Some(o) => passwords::inactive(sc, user.last_seen(), o, now),
        None if passwords::inactive_by_time(sc, user.last_seen(), now) => {
            let (u, sc) = (user.clone(), state.config.security_compliance.clone());
            state
                .store
                .run(move |c| passwords::inactive_in(c, &sc, &u, now))
                .await?
        }
        None => false,
    };
    if inactive {
        tracing::info!(user_id = %user.id, "authentication refused: inactive for too long");
        return Err(Error::Unauthorized);
    }
    Ok(())
}

/// One answer for every project a user cannot scope to (unknown, disabled, no role), so that
/// scoping tells nobody which project names or ids exist.
fn no_project_access() -> Error {
    Error::UnauthorizedMsg(
        "The requested project does not exist, is disabled, or you hold no role on it.".into(),
    )
}

const PROJECT_ONLY: &str = "Ironstone issues project-scoped tokens only: request a project scope (auth.scope.project with an id, or a name and its domain). Domain, system, trust and unscoped tokens are not supported.";

async fn issue(
    state: &State,
    who: Identified,
    scope: Option<serde_json::Value>,
    now: DateTime<Utc>,
    lifetime: Option<Duration>,
) -> Result<TokenInfo> {
    let requested = parse_scope(scope)?;
    let mut expires_at = now + Duration::seconds(state.config.token.expiration as i64);
    if let Some(l) = lifetime {
        expires_at = expires_at.min(now + l);
    }
    if let Some(p) = &who.parent {
        expires_at = expires_at.min(p.expires_at);
    }
    if let Some(exp) = who.app_cred.as_ref().and_then(|a| a.expires_at) {
        expires_at = expires_at.min(exp.and_utc());
    }
    let expires_at = DateTime::from_timestamp(expires_at.timestamp(), 0).unwrap_or(expires_at);
    let mut audit_ids = vec![crate::ids::new_audit_id()];
    if let Some(p) = &who.parent {
        if let Some(chain) = p.audit_ids.last() {
            audit_ids.push(chain.clone());
        }
    }
    let mut q = ScopeQuery {
        user: who.user.clone(),
        methods: who.methods.clone(),
        requested,
        app_cred: who.app_cred.clone(),
        parent: who.parent.clone(),
        audit_ids,
        expires_at,
        // Set per attempt below.
        issued_at: now,
    };
    let password = who.methods.iter().any(|m| m == "password");
    for attempt in 0..2 {
        // The wall clock, not the request's time: this orders the token against concurrent
        // changes, whose revocation events carry the wall clock of their writing too
        // (`revoke::record`). It is fixed before anything is read: a change committed before
        // the read below is seen by it; one committed later records an event at or after this
        // moment, which covers the token.
        let wall = Utc::now();
        q.issued_at = DateTime::from_timestamp(wall.timestamp(), 0).unwrap_or(wall);
        let query = q.clone();
        let reader = state.cache.reader(state.cache.ticket());
        // One checkout. A password login runs it as a transaction, to read the user's
        // credential state under a row lock (a password change in flight is waited for).
        let read = if password {
            state
                .store
                .tx(move |c| read_scope(c, &reader, &query))
                .await?
        } else {
            state
                .store
                .run(move |c| read_scope(c, &reader, &query))
                .await?
        };
        match read {
            Scope::Found(s) => {
                let token = state.tokens.seal(&s.payload, q.issued_at);
                let admin_realm =
                    state.realm.current(&state.store).await?.as_deref() == Some(&s.project.id);
                return Ok(TokenInfo {
                    token,
                    admin_realm,
                    user: who.user,
                    user_domain: s.user_domain,
                    project: s.project,
                    project_domain: s.project_domain,
                    roles: s.roles,
                    methods: who.methods,
                    audit_ids: s.payload.audit_ids,
                    issued_at: q.issued_at,
                    expires_at,
                    application_credential: s.app_cred,
                });
            }
            // Fernet times are whole seconds: a token minted in the same second as an event
            // that concerns it counts as revoked. Wait for the next second and try once more.
            Scope::RevokedThisSecond if attempt == 0 => {
                let wait = 1_000_000_000u32.saturating_sub(Utc::now().timestamp_subsec_nanos());
                tokio::time::sleep(std::time::Duration::from_nanos(wait as u64 + 1_000_000)).await;
            }
            Scope::RevokedThisSecond => break,
        }
    }
    Err(Error::Unauthorized)
}

/// What a token is made of, read on one connection: who asks for it and how.
#[derive(Clone)]
struct ScopeQuery {
    user: User,
    methods: Vec<String>,
    requested: Option<ProjectRef>,
    app_cred: Option<ApplicationCredential>,
    parent: Option<TokenInfo>,
    audit_ids: Vec<String>,
    expires_at: DateTime<Utc>,
    issued_at: DateTime<Utc>,
}

struct Scoped {
    payload: Payload,
    project: Project,
    project_domain: Domain,
    user_domain: Domain,
    roles: Vec<Role>,
    app_cred: Option<AppCredRef>,
}

enum Scope {
    Found(Box<Scoped>),
    /// An event issued in the same second as the token revokes it.
    RevokedThisSecond,
}

/// The project the token is for, the roles it carries and both domains, then checks that what
/// the login proved still stands at `issued_at`: the password unchanged (read under a row lock
/// when in a transaction), the parent token and the new token not revoked.
fn read_scope(c: &mut DbConnection, reader: &Reader, q: &ScopeQuery) -> Result<Scope> {
    let user = &q.user;
    let parent_project = q.parent.as_ref().map(|p| p.project.id.clone());
    let parent_app_cred = q
        .parent
        .as_ref()
        .and_then(|p| p.application_credential.clone());
    let bound_project = q
        .app_cred
        .as_ref()
        .map(|a| a.project_id.clone())
        .or_else(|| parent_app_cred.as_ref().and(parent_project.clone()));
    let project = match (&q.requested, &bound_project) {
        (Some(r), Some(bound)) => {
            let p = resource::find_project(c, r)?.ok_or(Error::Unauthorized)?;
            if &p.id != bound {
                return Err(Error::UnauthorizedMsg("An application credential token is bound to its project and cannot be scoped to another.".into()));
            }
            p
        }
        (None, Some(bound)) => reader
            .project(c, bound)?
            .ok_or(Error::Unauthorized)?
            .project
            .clone(),
        // By id (what clients send most): through the node's cache.
        (Some(r), None) => match &r.id {
            Some(id) => reader.project(c, id)?.map(|v| v.project.clone()),
            None => resource::find_project(c, r)?,
        }
        .ok_or_else(no_project_access)?,
        (None, None) => default_scope(c, user, parent_project.as_deref())?,
    };
    // A project-bound user's tokens exist for its project only.
    if user
        .bound_project_id
        .as_ref()
        .is_some_and(|b| *b != project.id)
    {
        return Err(no_project_access());
    }
    let app_cred_id = q
        .app_cred
        .as_ref()
        .map(|a| a.id.as_str())
        .or(parent_app_cred.as_ref().map(|a| a.id.as_str()));
    let scoped = reader.roles(&user.id, &project.id, app_cred_id, || {
        scoped_roles(c, user, &project, app_cred_id)
    })?;
    let (roles, app_cred) = (scoped.0.clone(), scoped.1.clone());
    if roles.is_empty() {
        return Err(no_project_access());
    }
    let project_domain = reader
        .domain(c, &project.domain_id)?
        .filter(|d| d.enabled)
        .ok_or_else(no_project_access)?;
    let user_domain = reader
        .domain(c, &user.domain_id)?
        .filter(|d| d.enabled)
        .ok_or(Error::Unauthorized)?;
    if !project.enabled {
        return Err(no_project_access());
    }
    if q.methods.iter().any(|m| m == "password") {
        let unchanged = store::user_credential_state_locked(c, &user.id)?
            .is_some_and(|(enabled, created)| enabled && created == user.password_created_at);
        if !unchanged {
            tracing::info!(user_id = %user.id, "authentication refused: the password changed during the login");
            return Err(Error::Unauthorized);
        }
    }
    if let Some(parent) = &q.parent {
        let parent_payload = Payload {
            user_id: parent.user.id.clone(),
            methods: parent.methods.clone(),
            project_id: parent.project.id.clone(),
            expires_at: parent.expires_at,
            audit_ids: parent.audit_ids.clone(),
            application_credential_id: parent.application_credential.as_ref().map(|a| a.id.clone()),
        };
        if revoke::is_revoked_in(
            c,
            &parent_payload,
            &parent.project_domain.id,
            &parent.user_domain.id,
            parent.issued_at,
        )? {
            return Err(Error::NotFoundMsg("Failed to validate token".into()));
        }
    }
    let payload = Payload {
        user_id: user.id.clone(),
        methods: q.methods.clone(),
        project_id: project.id.clone(),
        expires_at: q.expires_at,
        audit_ids: q.audit_ids.clone(),
        application_credential_id: app_cred.as_ref().map(|a| a.id.clone()),
    };
    if revoke::is_revoked_in(
        c,
        &payload,
        &project_domain.id,
        &user_domain.id,
        q.issued_at,
    )? {
        return Ok(Scope::RevokedThisSecond);
    }
    Ok(Scope::Found(Box::new(Scoped {
        payload,
        project,
        project_domain,
        user_domain,
        roles,
        app_cred,
    })))
}

/// `auth.scope`: only a project scope is accepted.
fn parse_scope(scope: Option<serde_json::Value>) -> Result<Option<ProjectRef>> {
    let Some(scope) = scope else { return Ok(None) };
    let obj = match scope {
        serde_json::Value::Object(o) => o,
        _ => return Err(Error::UnauthorizedMsg(PROJECT_ONLY.into())),
    };
    if obj.keys().any(|k| k != "project") || !obj.contains_key("project") {
        return Err(Error::UnauthorizedMsg(PROJECT_ONLY.into()));
    }
    let project: ProjectRef = serde_json::from_value(obj["project"].clone()).map_err(|e| {
        Error::validation(format!("Invalid input for field 'auth.scope.project': {e}"))
    })?;
    if project.id.is_none() && project.name.is_none() {
        return Err(Error::validation(
            "Invalid input for field 'auth.scope.project': expecting to find id or name.",
        ));
    }
    Ok(Some(project))
}

/// No scope given: the re-scoped token's project, else the user's default project.
fn default_scope(
    c: &mut DbConnection,
    user: &User,
    parent_project: Option<&str>,
) -> Result<Project> {
    // A bound user's project comes before its default project: it can scope to no other.
    let candidate = parent_project
        .map(String::from)
        .or_else(|| user.bound_project_id.clone())
        .or_else(|| user.default_project_id.clone());
    let missing = || {
        Error::UnauthorizedMsg(
            "No project scope was given and the user has no default project it holds a role on: request a project scope (e.g. --os-project-name and --os-project-domain-name).".into(),
        )
    };
    let Some(id) = candidate else {
        return Err(missing());
    };
    let project = store::get_project(c, &id)?.ok_or_else(missing)?;
    if assignment::granted_role_ids_on_project(c, &user.id, &project)?.is_empty() {
        return Err(missing());
    }
    Ok(project)
}

/// The roles a token carries: the user's effective roles, narrowed to the application
/// credential's roles when there is one.
fn scoped_roles(
    c: &mut DbConnection,
    user: &User,
    project: &Project,
    app_cred_id: Option<&str>,
) -> Result<(Vec<Role>, Option<AppCredRef>)> {
    let effective = assignment::effective_roles_on_project(c, &user.id, project)?;
    let Some(ac_id) = app_cred_id else {
        return Ok((effective, None));
    };
    let ac = store::get_application_credential(c, ac_id)?.ok_or(Error::Unauthorized)?;
    if ac.project_id != project.id || ac.user_id != user.id {
        return Err(Error::Unauthorized);
    }
    let granted: std::collections::BTreeSet<String> =
        store::application_credential_role_ids(c, ac_id)?
            .into_iter()
            .collect();
    let allowed = assignment::expand_implied(c, granted)?;
    let roles = effective
        .into_iter()
        .filter(|r| allowed.contains(&r.id))
        .collect();
    Ok((
        roles,
        Some(AppCredRef {
            id: ac.id,
            name: ac.name,
            restricted: !ac.unrestricted,
        }),
    ))
}

/// Checks that a token stands now: it decrypts, has not expired (unless `allow_expired` and
/// within the window), is not revoked, and its user, project, domains and roles still hold.
/// Counted in the metrics by result.
pub async fn validate(
    state: &State,
    token: &str,
    now: DateTime<Utc>,
    allow_expired: bool,
) -> Result<TokenInfo> {
    let result = validate_unrecorded(state, token, now, allow_expired).await;
    crate::telemetry::record_validation(&result);
    result
}

async fn validate_unrecorded(
    state: &State,
    token: &str,
    now: DateTime<Utc>,
    allow_expired: bool,
) -> Result<TokenInfo> {
    let Opened { payload, issued_at } = state.tokens.open(token)?;
    let invalid = || Error::NotFoundMsg("Failed to validate token".into());
    let window = if allow_expired {
        Duration::seconds(state.config.token.allow_expired_window as i64)
    } else {
        Duration::zero()
    };
    if payload.expires_at + window <= now {
        return Err(Error::NotFoundMsg(TOKEN_EXPIRED.into()));
    }
    // Taken before anything is read: what is read after it is at least as new as its epoch.
    let ticket = state.cache.ticket();
    if let Some(hit) = state.cache.token(ticket, token) {
        // Inactivity comes with time alone: when time says the user may be inactive, the
        // database decides (its activity mark may be newer than the cached one).
        if !passwords::inactive_by_time(
            &state.config.security_compliance,
            hit.user.last_seen(),
            now,
        ) {
            return Ok(hit);
        }
    }
    let p = payload.clone();
    let config = state.config.clone();
    let reader = state.cache.reader(ticket);
    let (user, user_domain, project, project_domain, roles, ac_ref) = state
        .store
        .run(move |c| {
            let user = store::get_user(c, &p.user_id)?
                .filter(|u| u.enabled)
                .ok_or_else(invalid)?;
            if passwords::inactive_in(c, &config.security_compliance, &user, now)? {
                return Err(invalid());
            }
            let user_domain = reader
                .domain(c, &user.domain_id)?
                .filter(|d| d.enabled)
                .ok_or_else(invalid)?;
            let project = reader
                .project(c, &p.project_id)?
                .filter(|v| v.project.enabled)
                .ok_or_else(invalid)?
                .project
                .clone();
            let project_domain = reader
                .domain(c, &project.domain_id)?
                .filter(|d| d.enabled)
                .ok_or_else(invalid)?;
            let ac_id = p.application_credential_id.as_deref();
            let scoped = reader
                .roles(&user.id, &project.id, ac_id, || {
                    scoped_roles(c, &user, &project, ac_id)
                })
                // Only facts about the token make it invalid; a store failure stays one.
                .map_err(|e| match e {
                    Error::Unavailable(_) | Error::Internal(_) => e,
                    _ => invalid(),
                })?;
            let (roles, ac) = (scoped.0.clone(), scoped.1.clone());
            if roles.is_empty() {
                return Err(invalid());
            }
            // On the same connection: one checkout per validation.
            if revoke::is_revoked_in(c, &p, &project_domain.id, &user_domain.id, issued_at)? {
                return Err(invalid());
            }
            Ok((user, user_domain, project, project_domain, roles, ac))
        })
        .await?;
    let admin_realm = state.realm.current(&state.store).await?.as_deref() == Some(&project.id);
    let info = TokenInfo {
        admin_realm,
        token: token.to_string(),
        user,
        user_domain,
        project,
        project_domain,
        roles,
        methods: payload.methods,
        audit_ids: payload.audit_ids,
        issued_at,
        expires_at: payload.expires_at,
        application_credential: ac_ref,
    };
    state.cache.put_token(ticket, &info);
    Ok(info)
}
