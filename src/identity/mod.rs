//! Users and groups: creation (with generated PCU-style names), changes and their consequences
//! (revocation, application-credential cascades), memberships. Policy is enforced here.

pub mod emails;
pub mod mfa;
pub mod names;
pub mod operator;
pub mod password_policy;
pub mod passwords;
pub mod project_user;

use std::collections::HashSet;
use std::sync::Arc;

use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::assignment::bound;
use crate::assignment::reach::Reach;
use crate::auth::revoke::Revoke;
use crate::context::{found, Ctx, RealmGuard, Revoker};
use crate::error::{Error, Result};
use crate::patch::{check_name, merge_extra, nullable};
use crate::policy::Target;
use crate::store::{
    self, Assignment, DbConnection, Group, GroupFilter, ListedUser, Project, User, UserFilter,
    UserOption, UserProfile, ACTOR_GROUP, ACTOR_USER, TARGET_PROJECT,
};
use password_policy::Subject;
use passwords::AdminPassword;
pub use passwords::{change_password, PasswordChange};
pub use project_user::{create_project_user, ProjectUserCreate};

/// Per-user options Keystone knows; values are booleans except the MFA rules.
pub const USER_OPTIONS: &[&str] = &[
    "ignore_change_password_upon_first_use",
    "ignore_password_expiry",
    "ignore_lockout_failure_attempts",
    "lock_password",
    "multi_factor_auth_enabled",
    "multi_factor_auth_rules",
    "ignore_user_inactivity",
];

/// `POST /v3/users` body. No `Debug`: it carries a password.
#[derive(Deserialize)]
pub struct UserCreate {
    pub name: Option<String>,
    pub domain_id: Option<String>,
    pub default_project_id: Option<String>,
    pub enabled: Option<bool>,
    pub password: Option<SecretString>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub description: Option<String>,
    pub options: Option<Map<String, Value>>,
    /// Ironstone generates the password and returns it once.
    #[serde(rename = "OS-PCU:generate_password")]
    pub generate_password: Option<bool>,
    /// The password must be changed before the user may log in.
    #[serde(rename = "OS-PCU:password_change_required")]
    pub password_change_required: Option<bool>,
    /// The one project the user may hold roles on.
    #[serde(rename = "OS-PCU:bound_project_id")]
    pub bound_project_id: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `PATCH /v3/users/{id}` body.
#[derive(Deserialize, Default)]
pub struct UserUpdate {
    pub name: Option<String>,
    pub domain_id: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub default_project_id: Option<Option<String>>,
    pub enabled: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    pub password: Option<Option<SecretString>>,
    #[serde(default, deserialize_with = "nullable")]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub description: Option<Option<String>>,
    pub options: Option<Map<String, Value>>,
    #[serde(rename = "OS-PCU:generate_password")]
    pub generate_password: Option<bool>,
    #[serde(rename = "OS-PCU:password_change_required")]
    pub password_change_required: Option<bool>,
    /// Binds (a project id) or unbinds (`null`) the user.
    #[serde(
        rename = "OS-PCU:bound_project_id",
        default,
        deserialize_with = "nullable"
    )]
    pub bound_project_id: Option<Option<String>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A user as shown, apart from its last activity: the profile and its options. Both move the
/// change feed, so the per-node cache may keep it. Never changed once made (a change makes a
/// new one), so neither is what was rendered from it.
pub struct ShownUser {
    pub user: UserProfile,
    pub options: Vec<UserOption>,
    /// The API's rendering of this user (`api::render`), kept with it: a cached user is written
    /// once per change and state, not once per listed page.
    rendered: std::sync::Mutex<Option<Rendered>>,
}

/// What a rendering of a `ShownUser` depended on besides the user itself.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RenderedFor<'a> {
    pub base: &'a str,
    pub inactive: bool,
    pub mfa_enabled: bool,
}

struct Rendered {
    base: String,
    inactive: bool,
    mfa_enabled: bool,
    json: Arc<serde_json::value::RawValue>,
}

impl ShownUser {
    pub fn new(user: UserProfile, options: Vec<UserOption>) -> ShownUser {
        ShownUser {
            user,
            options,
            rendered: Default::default(),
        }
    }

    /// The rendering kept for exactly `what`, if any.
    pub fn rendering(&self, what: RenderedFor) -> Option<Arc<serde_json::value::RawValue>> {
        let kept = self.rendered.lock().unwrap_or_else(|p| p.into_inner());
        kept.as_ref()
            .filter(|r| {
                r.base == what.base
                    && r.inactive == what.inactive
                    && r.mfa_enabled == what.mfa_enabled
            })
            .map(|r| r.json.clone())
    }

    /// Keeps `json` as the rendering for `what` (replacing one for another state).
    pub fn keep_rendering(&self, what: RenderedFor, json: Arc<serde_json::value::RawValue>) {
        *self.rendered.lock().unwrap_or_else(|p| p.into_inner()) = Some(Rendered {
            base: what.base.to_string(),
            inactive: what.inactive,
            mfa_enabled: what.mfa_enabled,
            json,
        });
    }

    /// About how many bytes this user takes in memory, its rendering included (for the cache's
    /// bound: extra attributes are the client's and may be large).
    pub fn weight(&self) -> usize {
        let u = &self.user;
        let text = [
            Some(&u.id),
            Some(&u.name),
            Some(&u.domain_id),
            Some(&u.extra),
            u.default_project_id.as_ref(),
            u.email.as_ref(),
            u.description.as_ref(),
            u.phone.as_ref(),
            u.bound_project_id.as_ref(),
        ]
        .into_iter()
        .flatten()
        .map(String::len)
        .sum::<usize>();
        let options: usize = self
            .options
            .iter()
            .map(|o| o.user_id.len() + o.name.len() + o.value.len() + 72)
            .sum();
        // The rendering repeats the text, plus keys and the links (~250 bytes).
        512 + 2 * (text + options) + 250
    }
}

/// A user as the API shows it.
pub struct UserView {
    /// Profile and options (shared with the per-node cache when listed).
    pub shown: Arc<ShownUser>,
    /// Not authenticated for `disable_user_account_days_inactive` days: shown as disabled.
    pub inactive: bool,
    /// A password Ironstone generated in this request: shown once, never stored in clear.
    pub generated_password: Option<SecretString>,
    /// A set-password link issued with the user, to send once the transaction committed.
    pub issued_link: Option<crate::accounts::delivery::IssuedLink>,
    /// `OS-PCU:mfa_enabled`: MFA rules are enforced and the user has a TOTP credential.
    pub mfa_enabled: bool,
}

impl UserView {
    fn new(ctx: &Ctx, user: User, options: Vec<UserOption>) -> UserView {
        let last_seen = user.last_seen();
        let shown = ShownUser::new(user.into(), options);
        UserView::of(ctx, Arc::new(shown), last_seen)
    }

    /// `shown`, for a user last seen (active, or created) at `last_seen`.
    fn of(ctx: &Ctx, shown: Arc<ShownUser>, last_seen: chrono::NaiveDateTime) -> UserView {
        let inactive = passwords::inactive(
            &ctx.state.config.security_compliance,
            last_seen,
            &shown.options,
            ctx.now,
        );
        UserView {
            shown,
            inactive,
            generated_password: None,
            issued_link: None,
            mfa_enabled: false,
        }
    }

    pub fn user(&self) -> &UserProfile {
        &self.shown.user
    }

    /// Sets `mfa_enabled` from the user's MFA facts (TOTP credential, domain requirement).
    fn with_totp(mut self, ctx: &Ctx, facts: MfaFacts) -> UserView {
        let rules = mfa::rules_of(
            &self.shown.options,
            &ctx.state.config.token.methods,
            facts.domain_requires,
        );
        self.mfa_enabled = facts.has_totp && !rules.is_empty();
        self
    }
}

/// What `OS-PCU:mfa_enabled` depends on besides the user's options.
#[derive(Clone, Copy)]
struct MfaFacts {
    has_totp: bool,
    domain_requires: bool,
}

fn has_totp(c: &mut DbConnection, user: &User) -> Result<MfaFacts> {
    let totp = store::list_credentials(c, Some(&user.id), Some(crate::auth::totp::TOTP_TYPE))?;
    Ok(MfaFacts {
        has_totp: !totp.is_empty(),
        domain_requires: mfa::domain_requires_mfa(c, &user.domain_id)?,
    })
}

/// The one way a request sets a password: given, generated, or neither.
fn admin_password(
    password: Option<SecretString>,
    generate: Option<bool>,
) -> Result<Option<AdminPassword>> {
    match (password, generate) {
        (Some(_), Some(true)) => Err(Error::validation(
            "Invalid input for field 'user.OS-PCU:generate_password': give either a password or OS-PCU:generate_password, not both.",
        )),
        (Some(p), _) => Ok(Some(AdminPassword::Given(p))),
        (None, Some(true)) => Ok(Some(AdminPassword::Generate)),
        (None, _) => Ok(None),
    }
}

/// The value an option will have once `requested` (this request's options) is applied.
fn option_after(stored: &[UserOption], requested: Option<&Map<String, Value>>, name: &str) -> bool {
    match requested.and_then(|r| r.get(name)) {
        Some(v) => v.as_bool() == Some(true),
        None => passwords::option_on(stored, name),
    }
}

fn user_target(u: &User) -> Target<'_> {
    Target {
        user_id: Some(&u.id),
        domain_id: Some(&u.domain_id),
        ..Default::default()
    }
}

fn check_options(options: &Map<String, Value>, methods: &[String]) -> Result<()> {
    for (k, v) in options {
        if !USER_OPTIONS.contains(&k.as_str()) {
            return Err(Error::validation(format!(
                "Invalid input for field 'user.options': unknown option {k:?}; known options: {}.",
                USER_OPTIONS.join(", ")
            )));
        }
        if k == mfa::MFA_RULES {
            mfa::check_rules(v, methods)?;
        } else if !(v.is_boolean() || v.is_null()) {
            return Err(Error::validation(format!(
                "Invalid input for field 'user.options.{k}': expecting a boolean."
            )));
        }
    }
    Ok(())
}

fn store_options(
    conn: &mut DbConnection,
    user_id: &str,
    options: &Map<String, Value>,
) -> Result<()> {
    for (k, v) in options {
        let value = (!v.is_null()).then(|| v.to_string());
        store::set_user_option(conn, user_id, k, value.as_deref())?;
    }
    Ok(())
}

pub(crate) fn check_email(email: &str) -> Result<()> {
    if email.len() > 255 || (!email.is_empty() && !email.contains('@')) {
        return Err(Error::validation(
            "Invalid input for field 'user.email': expecting an address like name@example.com.",
        ));
    }
    Ok(())
}

/// A phone number as people write them: digits with an optional leading `+`, spaces, dashes,
/// dots, slashes and parentheses; 3 to 20 digits.
fn check_phone(phone: &str) -> Result<()> {
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    let allowed = phone
        .char_indices()
        .all(|(i, c)| c.is_ascii_digit() || " -./()".contains(c) || (c == '+' && i == 0));
    if phone.len() > 32 || !allowed || !(3..=20).contains(&digits) {
        return Err(Error::validation(
            "Invalid input for field 'user.phone': expecting a phone number like +49 30 1234567 (digits, an optional leading +, spaces, dashes, dots, slashes or parentheses; 3 to 20 digits).",
        ));
    }
    Ok(())
}

/// What a user's creation binds it to, decided before the transaction and re-checked in it.
struct BindPlan {
    project_id: String,
    /// Roles granted on the project in the same transaction (the one-call project user).
    role_ids: Vec<String>,
    guard: RealmGuard,
    /// A set-password link issued in the same transaction (the one-call project user, mode link).
    link: Option<LinkPlan>,
}

/// Where a set-password link made with the user goes, and how long it lives.
struct LinkPlan {
    sent_to: String,
    lifetime: chrono::Duration,
}

impl BindPlan {
    /// Inside the creating transaction, before the user is written: the realm lock, the caller's
    /// right on the project as it now stands, the project in the user's domain.
    fn check(&self, c: &mut DbConnection, user_domain: &str) -> Result<()> {
        let pid = &self.project_id;
        let target = Target {
            domain_id: Some(user_domain),
            project_id: Some(pid),
            ..Default::default()
        };
        self.guard.check(c, target, |reach, c| {
            // A project deleted meanwhile is a 400, not a grant "beyond the caller's domain".
            bound::lock_bindable_project(c, user_domain, pid)?;
            if reach.project_protected(c, pid)? {
                return Ok(true);
            }
            for role_id in &self.role_ids {
                if reach.grant_reaches(c, &project_grant("", pid, role_id))? {
                    return Ok(true);
                }
            }
            Ok(false)
        })?;
        // Again for the cloud admin, whose guard returns before asking.
        bound::lock_bindable_project(c, user_domain, pid)?;
        Ok(())
    }

    /// After the user is written: its roles on the project.
    fn grant(&self, c: &mut DbConnection, user_id: &str) -> Result<()> {
        for role_id in &self.role_ids {
            let a = project_grant(user_id, &self.project_id, role_id);
            bound::check_grant(c, &a)?;
            store::insert_assignment(c, &a)?;
        }
        Ok(())
    }
}

fn project_grant(user_id: &str, project_id: &str, role_id: &str) -> Assignment {
    Assignment {
        actor_type: ACTOR_USER.into(),
        actor_id: user_id.into(),
        target_type: TARGET_PROJECT.into(),
        target_id: project_id.into(),
        role_id: role_id.into(),
        inherited: false,
    }
}

/// Whether the caller may bind users of `user_domain` to `project_id` (or unbind them from it):
/// `bind_user` on the project's domain, never on a protected project. An unknown project and one
/// of another domain get the same 400.
async fn authorize_bind(ctx: &Ctx<'_>, user_domain: &str, project_id: &str) -> Result<()> {
    let (realm, pid, ud) = (
        ctx.state.realm.clone(),
        project_id.to_string(),
        user_domain.to_string(),
    );
    let caller_domain = ctx.domain_id().to_string();
    let protected = ctx
        .state
        .store
        .run(move |c| {
            let p = bound::bindable_project(c, &ud, &pid)?;
            Reach::load(c, &realm, &caller_domain)?.project_protected(c, &p.id)
        })
        .await?;
    ctx.enforce(
        "bind_user",
        Target {
            domain_id: Some(user_domain),
            project_id: Some(project_id),
            protected,
            ..Default::default()
        },
    )
}

pub async fn create_user(ctx: &Ctx<'_>, req: UserCreate) -> Result<UserView> {
    let plan = match &req.bound_project_id {
        Some(pid) => {
            let domain_id = req.domain_id.as_deref().unwrap_or(ctx.domain_id());
            ctx.enforce(
                "create_user",
                Target {
                    domain_id: Some(domain_id),
                    ..Default::default()
                },
            )?;
            authorize_bind(ctx, domain_id, pid).await?;
            Some(BindPlan {
                project_id: pid.clone(),
                role_ids: vec![],
                guard: ctx.realm_guard("bind_user"),
                link: None,
            })
        }
        None => None,
    };
    create_user_bound(ctx, req, plan).await
}

async fn create_user_bound(
    ctx: &Ctx<'_>,
    req: UserCreate,
    plan: Option<BindPlan>,
) -> Result<UserView> {
    let domain_id = req
        .domain_id
        .clone()
        .unwrap_or_else(|| ctx.domain_id().to_string());
    ctx.enforce(
        "create_user",
        Target {
            domain_id: Some(&domain_id),
            ..Default::default()
        },
    )?;
    if let Some(name) = &req.name {
        check_name("user", "name", name)?;
    }
    if let Some(email) = &req.email {
        check_email(email)?;
    }
    if let Some(phone) = &req.phone {
        check_phone(phone)?;
    }
    if let Some(options) = &req.options {
        check_options(options, &ctx.state.config.token.methods)?;
    }
    if let Some(p) = &req.default_project_id {
        authorize_default_project(ctx, "create_user", &domain_id, p).await?;
    }
    let sc = &ctx.state.config.security_compliance;
    let options = req.options.unwrap_or_default();
    let how = admin_password(req.password, req.generate_password)?;
    if how.is_none() && req.password_change_required == Some(true) {
        return Err(Error::validation(
            "Invalid input for field 'user.OS-PCU:password_change_required': the user gets no password in this request; give a password or OS-PCU:generate_password.",
        ));
    }
    let must_change = how.is_some()
        && passwords::change_required(
            sc,
            req.password_change_required,
            option_after(&[], Some(&options), passwords::IGNORE_CHANGE_UPON_FIRST_USE),
        )?;
    let prepared = match how {
        Some(how) => {
            let subject = Subject {
                name: req.name.as_deref(),
                email: req.email.as_deref(),
                phone: req.phone.as_deref(),
            };
            Some(passwords::prepare_admin_set(ctx.state, how, &subject).await?)
        }
        None => None,
    };
    let expiry_exempt = option_after(&[], Some(&options), passwords::IGNORE_EXPIRY);
    let now = ctx.now.naive_utc();
    let extra = merge_extra("user", "{}", req.extra)?;
    let prefix = ctx.state.config.identity.generated_name_prefix.clone();
    let len = ctx.state.config.identity.generated_name_length;
    let user = User {
        id: crate::ids::new_id(),
        name: req.name.clone().unwrap_or_default(),
        domain_id: domain_id.clone(),
        enabled: req.enabled.unwrap_or(true),
        default_project_id: req.default_project_id.clone(),
        email: req.email.clone(),
        phone: req.phone.clone(),
        description: req.description.clone(),
        extra,
        password_hash: None,
        password_created_at: None,
        password_expires_at: None,
        password_self_service: false,
        bound_project_id: plan.as_ref().map(|p| p.project_id.clone()),
        failed_auth_count: 0,
        failed_auth_at: None,
        last_active_at: None,
        created_at: now,
    };
    let generate = req.name.is_none();
    let config = ctx.state.config.clone();
    let link_at = ctx.now;
    let (user, options, generated, issued_link) = ctx
        .state
        .store
        .tx(move |c| {
            found(
                store::get_domain(c, &user.domain_id)?,
                "domain",
                &user.domain_id,
            )?;
            if let Some(p) = &user.default_project_id {
                check_default_project(c, p)?;
            }
            if let Some(plan) = &plan {
                plan.check(c, &user.domain_id)?;
            }
            let mut user = user;
            if generate {
                user.name = names::unused(c, &user.domain_id, &prefix, len)?;
            }
            emails::check_email_free(c, &user.domain_id, user.email.as_deref(), &user.id)?;
            store::insert_user(c, &user)?;
            store_options(c, &user.id, &options)?;
            if let Some(plan) = &plan {
                plan.grant(c, &user.id)?;
            }
            let generated = match &prepared {
                Some(p) => p.write(
                    c,
                    &config.security_compliance,
                    &user.id,
                    must_change,
                    expiry_exempt,
                    now,
                )?,
                None => None,
            };
            let user = found(store::get_user(c, &user.id)?, "user", &user.id)?;
            let options = store::user_options(c, &user.id)?;
            let issued_link = match plan.as_ref().and_then(|p| p.link.as_ref()) {
                Some(lp) => {
                    let issued = crate::accounts::links::issue(
                        c,
                        crate::accounts::links::Subject::Password { user_id: &user.id },
                        Some(&lp.sent_to),
                        link_at,
                        lp.lifetime,
                    )?;
                    Some(crate::accounts::delivery::IssuedLink {
                        issued,
                        to: lp.sent_to.clone(),
                        vars: crate::accounts::password_links::password_mail_vars(c, &user)?,
                    })
                }
                None => None,
            };
            Ok((user, options, generated, issued_link))
        })
        .await?;
    let mut view = UserView::new(ctx, user, options);
    view.generated_password = generated;
    view.issued_link = issued_link;
    Ok(view)
}

fn check_default_project(c: &mut DbConnection, id: &str) -> Result<Project> {
    store::get_project(c, id)?.ok_or_else(|| {
        Error::validation(format!(
            "Invalid input for field 'user.default_project_id': project {id} does not exist."
        ))
    })
}

/// A default project a caller may give a user of `user_domain`: the cloud admin any existing
/// project; anyone else only a project of the user's domain outside the operator's realm. Unknown
/// and out-of-reach projects get the same answer, so that nobody learns which ids exist elsewhere.
async fn authorize_default_project(
    ctx: &Ctx<'_>,
    action: &str,
    user_domain: &str,
    project_id: &str,
) -> Result<()> {
    let (realm, pid) = (ctx.state.realm.clone(), project_id.to_string());
    let caller_domain = ctx.domain_id().to_string();
    let found = ctx
        .state
        .store
        .run(move |c| match store::get_project(c, &pid)? {
            Some(p) => Ok(Some((
                p.domain_id.clone(),
                Reach::load(c, &realm, &caller_domain)?.project_protected(c, &p.id)?,
            ))),
            None => Ok(None),
        })
        .await?;
    let usable = found.as_ref().is_some_and(|(d, _)| d == user_domain) || ctx.is_cloud_admin();
    let Some((_, in_realm)) = found.filter(|_| usable) else {
        return Err(Error::validation(format!(
            "Invalid input for field 'user.default_project_id': there is no project {project_id} in the user's domain."
        )));
    };
    ctx.enforce(
        action,
        Target {
            domain_id: Some(user_domain),
            protected: in_realm,
            ..Default::default()
        },
    )
}

pub async fn get_user(ctx: &Ctx<'_>, id: &str) -> Result<UserView> {
    let id = id.to_string();
    let (user, options, facts) = ctx
        .state
        .store
        .run(move |c| {
            let user = found(store::get_user(c, &id)?, "user", &id)?;
            let options = store::user_options(c, &id)?;
            let facts = has_totp(c, &user)?;
            Ok((user, options, facts))
        })
        .await?;
    ctx.enforce("get_user", user_target(&user))?;
    Ok(UserView::new(ctx, user, options).with_totp(ctx, facts))
}

/// Users the caller may list, filtered; a customer administrator sees its own domain only.
pub async fn list_users(ctx: &Ctx<'_>, mut f: UserFilter) -> Result<Vec<UserView>> {
    f.domain_id = ctx.list_scope("list_users", f.domain_id.take())?;
    f.inactive_before = inactive_before(ctx);
    list_views(ctx, move |c| store::list_users(c, &f)).await
}

/// The users `load` lists, as views: the page's ids (with what is read fresh for every page)
/// in one statement, then the users as shown through the per-node cache, on the same connection.
async fn list_views<F>(ctx: &Ctx<'_>, load: F) -> Result<Vec<UserView>>
where
    F: FnOnce(&mut DbConnection) -> Result<Vec<ListedUser>> + Clone + Send + 'static,
{
    let reader = ctx.state.cache.reader(ctx.state.cache.ticket());
    let (rows, shown, requiring) = ctx
        .state
        .store
        .run(move |c| {
            // A user deleted between the two reads would leave the page short, and a short page
            // says it is the last one: read the page again (a few times at most).
            let mut attempts = 0;
            let (rows, shown) = loop {
                attempts += 1;
                let rows = load.clone()(c)?;
                let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
                let shown = reader.shown_users(c, &ids)?;
                if attempts >= 3 || shown.iter().all(Option::is_some) {
                    break (rows, shown);
                }
            };
            let requiring = domains_requiring_mfa(c, &reader, shown.iter().flatten())?;
            Ok((rows, shown, requiring))
        })
        .await?;
    Ok(rows
        .into_iter()
        .zip(shown)
        // Still gone after the last attempt: no longer listed.
        .filter_map(|(row, shown)| {
            let shown = shown?;
            let facts = MfaFacts {
                has_totp: row.has_totp,
                domain_requires: requiring.contains(&shown.user.domain_id),
            };
            let last_seen = row.last_active_at.unwrap_or(shown.user.created_at);
            Some(UserView::of(ctx, shown, last_seen).with_totp(ctx, facts))
        })
        .collect())
}

/// Which of these users' domains require MFA (through the cache; a page is mostly one domain).
fn domains_requiring_mfa<'a>(
    c: &mut DbConnection,
    reader: &crate::cache::Reader,
    users: impl Iterator<Item = &'a Arc<ShownUser>>,
) -> Result<HashSet<String>> {
    let (mut last, mut seen) = (None, HashSet::new());
    let mut requiring = HashSet::new();
    for u in users {
        let d = u.user.domain_id.as_str();
        if last == Some(d) || !seen.insert(d) {
            continue;
        }
        last = Some(d);
        if reader.domain(c, d)?.is_some_and(|d| d.mfa_required) {
            requiring.insert(d.to_string());
        }
    }
    Ok(requiring)
}

/// The `enabled` filter counts inactive users as disabled, as the users themselves show.
fn inactive_before(ctx: &Ctx) -> Option<chrono::NaiveDateTime> {
    let days = ctx
        .state
        .config
        .security_compliance
        .disable_user_account_days_inactive?;
    Some(ctx.now.naive_utc() - chrono::Duration::days(days.into()))
}

pub async fn update_user(ctx: &Ctx<'_>, id: &str, req: UserUpdate) -> Result<UserView> {
    let current = get_user_for_change(ctx, id, "update_user").await?;
    if let Some(d) = &req.domain_id {
        if *d != current.domain_id {
            return Err(Error::validation(
                "Invalid input for field 'user.domain_id': a user cannot move to another domain.",
            ));
        }
    }
    if let Some(name) = &req.name {
        check_name("user", "name", name)?;
    }
    if let Some(Some(email)) = &req.email {
        check_email(email)?;
    }
    if let Some(Some(phone)) = &req.phone {
        check_phone(phone)?;
    }
    if let Some(options) = &req.options {
        check_options(options, &ctx.state.config.token.methods)?;
    }
    if let Some(Some(p)) = &req.default_project_id {
        if current.default_project_id.as_ref() != Some(p) {
            authorize_default_project(ctx, "update_user", &current.domain_id, p).await?;
        }
    }
    // Binding or unbinding: `bind_user` on the project bound to (or bound until now).
    let bind_change = req
        .bound_project_id
        .clone()
        .filter(|new| *new != current.bound_project_id);
    let bind_project = match &bind_change {
        Some(new) => {
            let pid = new
                .clone()
                .or_else(|| current.bound_project_id.clone())
                .unwrap_or_default();
            authorize_bind(ctx, &current.domain_id, &pid).await?;
            Some(pid)
        }
        None => None,
    };
    let bind_guard = ctx.realm_guard("bind_user");
    let mut user = current.clone();
    if let Some(bound) = bind_change.clone() {
        user.bound_project_id = bound;
    }
    if let Some(name) = req.name {
        user.name = name;
    }
    if let Some(dp) = req.default_project_id {
        user.default_project_id = dp;
    }
    if let Some(enabled) = req.enabled {
        user.enabled = enabled;
    }
    if let Some(email) = req.email {
        user.email = email;
    }
    if let Some(phone) = req.phone {
        user.phone = phone;
    }
    if let Some(description) = req.description {
        user.description = description;
    }
    crate::patch::check_same_id("user", &current.id, &req.extra)?;
    user.extra = merge_extra("user", &current.extra, req.extra)?;

    // The password: given, generated, cleared (null), or only required to change.
    let sc = &ctx.state.config.security_compliance;
    let stored_options = {
        let uid = current.id.clone();
        ctx.state
            .store
            .run(move |c| store::user_options(c, &uid))
            .await?
    };
    let ignore_change = option_after(
        &stored_options,
        req.options.as_ref(),
        passwords::IGNORE_CHANGE_UPON_FIRST_USE,
    );
    let expiry_exempt = option_after(
        &stored_options,
        req.options.as_ref(),
        passwords::IGNORE_EXPIRY,
    );
    let (how, clear) = match req.password {
        Some(Some(p)) => (admin_password(Some(p), req.generate_password)?, false),
        Some(None) if req.generate_password == Some(true) => {
            return Err(Error::validation(
                "Invalid input for field 'user.OS-PCU:generate_password': give either a password or OS-PCU:generate_password, not both.",
            ))
        }
        Some(None) => (None, true),
        None => (admin_password(None, req.generate_password)?, false),
    };
    let sets = how.is_some();
    let must_change = match req.password_change_required {
        Some(_) if sets => passwords::change_required(sc, req.password_change_required, ignore_change)?,
        None if sets => passwords::change_required(sc, None, ignore_change)?,
        Some(true) if clear || current.password_hash.is_none() => {
            return Err(Error::validation(
                "Invalid input for field 'user.OS-PCU:password_change_required': the user has no password to change.",
            ))
        }
        // Only the requirement: the current password must be changed before the next login.
        Some(asked) => asked,
        None => false,
    };
    let prepared = match how {
        Some(how) => {
            let subject = Subject {
                name: Some(&user.name),
                email: user.email.as_deref(),
                phone: user.phone.as_deref(),
            };
            Some(passwords::prepare_admin_set(ctx.state, how, &subject).await?)
        }
        None => None,
    };
    let disabled = current.enabled && !user.enabled;
    let reenabled = req.enabled == Some(true);
    let options = req.options.unwrap_or_default();
    let now = ctx.now.naive_utc();
    let revoker = ctx.revoker();
    let guard = ctx.realm_guard("update_user");
    let config = ctx.state.config.clone();
    let result = ctx
        .state
        .store
        .tx(move |c| {
            guard.check(c, user_target(&current), |reach, c| {
                reach.user_privileged(c, &current.id)
            })?;
            if let Some(pid) = &bind_project {
                let target = Target {
                    domain_id: Some(&current.domain_id),
                    project_id: Some(pid),
                    ..Default::default()
                };
                bind_guard.check(c, target, |reach, c| reach.project_protected(c, pid))?;
                if let Some(Some(new)) = &bind_change {
                    bound::lock_bindable_project(c, &current.domain_id, new)?;
                    // Under the realm lock: a concurrent grant or membership waits for this.
                    bound::check_bind(c, &current.id, new)?;
                }
            }
            if let Some(p) = &user.default_project_id {
                if current.default_project_id.as_ref() != Some(p) {
                    check_default_project(c, p)?;
                }
            }
            if user.email != current.email {
                emails::check_email_free(c, &user.domain_id, user.email.as_deref(), &user.id)?;
            }
            store::patch_user(c, &current, &user)?;
            store_options(c, &user.id, &options)?;
            let mut generated = None;
            if let Some(p) = &prepared {
                generated = p.write(
                    c,
                    &config.security_compliance,
                    &user.id,
                    must_change,
                    expiry_exempt,
                    now,
                )?;
            } else if clear {
                store::clear_user_password(c, &user.id)?;
            } else if must_change {
                store::expire_user_password(c, &user.id, now)?;
            }
            if reenabled {
                // As in Keystone: enabling a user lifts its lockout and inactivity.
                store::record_auth_success(c, &user.id, now)?;
            }
            if disabled {
                delete_application_credentials_of(c, &revoker, &user.id, None)?;
            }
            if disabled || prepared.is_some() || clear {
                revoker.revoke(c, Revoke::user(&user.id))?;
            }
            let user = found(store::get_user(c, &user.id)?, "user", &user.id)?;
            let options = store::user_options(c, &user.id)?;
            let totp = has_totp(c, &user)?;
            Ok((user, options, generated, totp))
        })
        .await?;
    let (user, options, generated, totp) = result;
    let mut view = UserView::new(ctx, user, options).with_totp(ctx, totp);
    view.generated_password = generated;
    Ok(view)
}

/// Loads a user the caller is about to change or delete, enforcing `action` on it.
async fn get_user_for_change(ctx: &Ctx<'_>, id: &str, action: &str) -> Result<User> {
    let id = id.to_string();
    let realm = ctx.state.realm.clone();
    let caller_domain = ctx.domain_id().to_string();
    let (user, privileged) = ctx
        .state
        .store
        .run(move |c| {
            let user = found(store::get_user(c, &id)?, "user", &id)?;
            let privileged = Reach::load(c, &realm, &caller_domain)?.user_privileged(c, &id)?;
            Ok((user, privileged))
        })
        .await?;
    ctx.enforce(
        action,
        Target {
            protected: privileged,
            ..user_target(&user)
        },
    )?;
    Ok(user)
}

/// Deletes a user with its assignments, memberships, credentials and application credentials,
/// and revokes its tokens, in one transaction.
pub async fn delete_user(ctx: &Ctx<'_>, id: &str) -> Result<()> {
    let user = get_user_for_change(ctx, id, "delete_user").await?;
    if user.id == ctx.user_id() {
        return Err(Error::ForbiddenMsg(
            "You cannot delete the user you are authenticated as.".into(),
        ));
    }
    let revoker = ctx.revoker();
    let guard = ctx.realm_guard("delete_user");
    ctx.state
        .store
        .tx(move |c| {
            guard.check(c, user_target(&user), |reach, c| {
                reach.user_privileged(c, &user.id)
            })?;
            delete_application_credentials_of(c, &revoker, &user.id, None)?;
            store::delete_user(c, &user.id)?;
            revoker.revoke(c, Revoke::user(&user.id))
        })
        .await
}

/// Deletes a user's application credentials (on one project, or all) and revokes their tokens.
pub fn delete_application_credentials_of(
    c: &mut DbConnection,
    revoker: &Revoker,
    user_id: &str,
    project_id: Option<&str>,
) -> Result<()> {
    for id in store::application_credential_ids_of_user(c, user_id, project_id)? {
        store::delete_application_credential(c, &id)?;
        revoker.revoke(c, Revoke::application_credential(&id))?;
    }
    Ok(())
}

/// What `GET /v3/OS-PCU/password_policy` shows: the policy's rules and the security-compliance
/// settings that shape a password's life. Nothing in it is secret.
#[derive(serde::Serialize)]
pub struct PasswordPolicyView {
    #[serde(flatten)]
    pub policy: password_policy::PolicyView,
    pub unique_last_password_count: u32,
    pub minimum_password_age: u32,
    pub password_expires_days: Option<u32>,
    pub change_password_upon_first_use: bool,
    pub lockout_failure_attempts: Option<u32>,
    pub lockout_duration: Option<u64>,
    pub disable_user_account_days_inactive: Option<u32>,
}

pub fn password_policy(state: &crate::state::State) -> PasswordPolicyView {
    let sc = &state.config.security_compliance;
    PasswordPolicyView {
        policy: state.password_policy.view(),
        unique_last_password_count: sc.unique_last_password_count,
        minimum_password_age: sc.minimum_password_age,
        password_expires_days: sc.password_expires_days,
        change_password_upon_first_use: sc.change_password_upon_first_use,
        lockout_failure_attempts: sc.lockout_failure_attempts,
        lockout_duration: sc.lockout_duration,
        disable_user_account_days_inactive: sc.disable_user_account_days_inactive,
    }
}

/// The groups a user belongs to.
pub async fn groups_of_user(ctx: &Ctx<'_>, id: &str) -> Result<Vec<Group>> {
    let user = get_user_checked(ctx, id, "list_groups_for_user").await?;
    ctx.state
        .store
        .run(move |c| {
            let ids = store::group_ids_of_user(c, &user.id)?;
            store::list_groups(
                c,
                &GroupFilter {
                    ids: Some(ids),
                    ..Default::default()
                },
            )
        })
        .await
}

/// The projects on which a user holds a role (directly, through a group, or inherited).
pub async fn projects_of_user(ctx: &Ctx<'_>, id: &str) -> Result<Vec<Project>> {
    let user = get_user_checked(ctx, id, "list_user_projects").await?;
    ctx.state
        .store
        .run(move |c| crate::assignment::projects_with_roles(c, &user.id))
        .await
}

async fn get_user_checked(ctx: &Ctx<'_>, id: &str, action: &str) -> Result<User> {
    let id = id.to_string();
    let user = ctx
        .state
        .store
        .run(move |c| found(store::get_user(c, &id)?, "user", &id))
        .await?;
    ctx.enforce(action, user_target(&user))?;
    Ok(user)
}

// ------------------------------------------------------------------------------------ groups

#[derive(Deserialize)]
pub struct GroupCreate {
    pub name: String,
    pub domain_id: Option<String>,
    pub description: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Deserialize)]
pub struct GroupUpdate {
    pub name: Option<String>,
    pub domain_id: Option<String>,
    pub description: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn group_target(g: &Group) -> Target<'_> {
    Target {
        domain_id: Some(&g.domain_id),
        ..Default::default()
    }
}

pub async fn create_group(ctx: &Ctx<'_>, req: GroupCreate) -> Result<Group> {
    let domain_id = req
        .domain_id
        .clone()
        .unwrap_or_else(|| ctx.domain_id().to_string());
    ctx.enforce(
        "create_group",
        Target {
            domain_id: Some(&domain_id),
            ..Default::default()
        },
    )?;
    check_name("group", "name", &req.name)?;
    let group = Group {
        id: crate::ids::new_id(),
        name: req.name,
        domain_id,
        description: req.description.unwrap_or_default(),
        extra: merge_extra("group", "{}", req.extra)?,
        created_at: ctx.now.naive_utc(),
    };
    ctx.state
        .store
        .tx(move |c| {
            found(
                store::get_domain(c, &group.domain_id)?,
                "domain",
                &group.domain_id,
            )?;
            store::insert_group(c, &group)?;
            Ok(group)
        })
        .await
}

async fn load_group(ctx: &Ctx<'_>, id: &str, action: &str) -> Result<Group> {
    let id = id.to_string();
    let realm = ctx.state.realm.clone();
    let caller_domain = ctx.domain_id().to_string();
    let changes = !crate::policy::reads(action);
    let (group, privileged) = ctx
        .state
        .store
        .run(move |c| {
            let g = found(store::get_group(c, &id)?, "group", &id)?;
            let privileged =
                changes && Reach::load(c, &realm, &caller_domain)?.group_privileged(c, &id)?;
            Ok((g, privileged))
        })
        .await?;
    ctx.enforce(
        action,
        Target {
            protected: privileged,
            ..group_target(&group)
        },
    )?;
    Ok(group)
}

pub async fn get_group(ctx: &Ctx<'_>, id: &str) -> Result<Group> {
    load_group(ctx, id, "get_group").await
}

pub async fn list_groups(ctx: &Ctx<'_>, mut f: GroupFilter) -> Result<Vec<Group>> {
    f.domain_id = ctx.list_scope("list_groups", f.domain_id.take())?;
    ctx.state
        .store
        .run(move |c| store::list_groups(c, &f))
        .await
}

pub async fn update_group(ctx: &Ctx<'_>, id: &str, req: GroupUpdate) -> Result<Group> {
    let current = load_group(ctx, id, "update_group").await?;
    if req
        .domain_id
        .as_ref()
        .is_some_and(|d| *d != current.domain_id)
    {
        return Err(Error::validation(
            "Invalid input for field 'group.domain_id': a group cannot move to another domain.",
        ));
    }
    let mut g = current.clone();
    if let Some(name) = req.name {
        check_name("group", "name", &name)?;
        g.name = name;
    }
    if let Some(d) = req.description {
        g.description = d;
    }
    crate::patch::check_same_id("group", &current.id, &req.extra)?;
    g.extra = merge_extra("group", &current.extra, req.extra)?;
    ctx.state
        .store
        .tx(move |c| store::patch_group(c, &current, &g))
        .await
}

/// Deletes a group with its memberships and assignments. Members lose what the group gave them at
/// once: token validation recomputes roles, and their tokens on the group's projects are revoked.
pub async fn delete_group(ctx: &Ctx<'_>, id: &str) -> Result<()> {
    let group = load_group(ctx, id, "delete_group").await?;
    let revoker = ctx.revoker();
    ctx.state
        .store
        .tx(move |c| {
            let members = store::user_ids_in_group(c, &group.id)?;
            let projects = crate::assignment::projects_of_actor(c, ACTOR_GROUP, &group.id)?;
            store::delete_group(c, &group.id)?;
            // Members who held their last role on a project through this group lose their
            // tokens and application credentials there, as with any other way a role goes.
            for user_id in members {
                crate::assignment::revoke_if_roleless(c, &revoker, &user_id, &projects)?;
            }
            Ok(())
        })
        .await
}

/// Membership changes by a customer administrator stay inside its domain.
async fn membership(
    ctx: &Ctx<'_>,
    group_id: &str,
    user_id: &str,
    action: &str,
) -> Result<(Group, User)> {
    let (gid, uid) = (group_id.to_string(), user_id.to_string());
    let realm = ctx.state.realm.clone();
    let caller_domain = ctx.domain_id().to_string();
    let changes = !crate::policy::reads(action);
    let (group, user, privileged) = ctx
        .state
        .store
        .run(move |c| {
            let g = found(store::get_group(c, &gid)?, "group", &gid)?;
            let u = found(store::get_user(c, &uid)?, "user", &uid)?;
            let privileged = changes && {
                let reach = Reach::load(c, &realm, &caller_domain)?;
                reach.group_privileged(c, &g.id)? || reach.user_privileged(c, &u.id)?
            };
            Ok((g, u, privileged))
        })
        .await?;
    ctx.enforce(
        action,
        Target {
            protected: privileged,
            // A customer administrator's membership changes stay inside its domain: the user
            // must be of the group's domain, which the rule checks against the caller's.
            ..group_target(&group)
        },
    )?;
    if user.domain_id != group.domain_id {
        ctx.enforce(action, user_target(&user))?;
    }
    Ok((group, user))
}

pub async fn add_user_to_group(ctx: &Ctx<'_>, group_id: &str, user_id: &str) -> Result<()> {
    let (group, user) = membership(ctx, group_id, user_id, "add_user_to_group").await?;
    let guard = ctx.realm_guard("add_user_to_group");
    ctx.state
        .store
        .tx(move |c| {
            guard.check(c, group_target(&group), |reach, c| {
                Ok(reach.group_privileged(c, &group.id)? || reach.user_privileged(c, &user.id)?)
            })?;
            crate::assignment::bound::check_membership(c, &user.id, &group.id)?;
            store::add_user_to_group(c, &user.id, &group.id)
        })
        .await
}

pub async fn remove_user_from_group(ctx: &Ctx<'_>, group_id: &str, user_id: &str) -> Result<()> {
    let (group, user) = membership(ctx, group_id, user_id, "remove_user_from_group").await?;
    let revoker = ctx.revoker();
    ctx.state
        .store
        .tx(move |c| {
            if !store::remove_user_from_group(c, &user.id, &group.id)? {
                return Err(Error::NotFoundMsg(format!(
                    "User {} is not a member of group {}.",
                    user.id, group.id
                )));
            }
            // Where the group's grants were the user's last roles, its tokens stop at once.
            let projects = crate::assignment::projects_of_actor(c, ACTOR_GROUP, &group.id)?;
            crate::assignment::revoke_if_roleless(c, &revoker, &user.id, &projects)
        })
        .await
}

pub async fn check_user_in_group(ctx: &Ctx<'_>, group_id: &str, user_id: &str) -> Result<()> {
    let (group, user) = membership(ctx, group_id, user_id, "check_user_in_group").await?;
    let member = ctx
        .state
        .store
        .run(move |c| store::is_user_in_group(c, &user.id, &group.id))
        .await?;
    if member {
        Ok(())
    } else {
        Err(Error::NotFoundMsg(format!(
            "User {user_id} is not a member of group {group_id}."
        )))
    }
}

pub async fn users_in_group(
    ctx: &Ctx<'_>,
    group_id: &str,
    mut f: UserFilter,
) -> Result<Vec<UserView>> {
    let group = load_group(ctx, group_id, "list_users_in_group").await?;
    f.inactive_before = inactive_before(ctx);
    list_views(ctx, move |c| {
        f.ids = Some(store::user_ids_in_group(c, &group.id)?);
        store::list_users(c, &f)
    })
    .await
}
