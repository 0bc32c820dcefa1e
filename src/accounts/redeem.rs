//! What the holder of a one-time link can do with it, without a token: see what it is for
//! (`inspect`), set the password it was sent for (`set_password`), accept an invitation
//! (`accept_invitation`). The secret is the only credential, so each function finds the link by
//! its hash and uses it at most once, in the same transaction as the change it makes.

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use super::delivery::{self, MailVars};
use super::links;
use crate::assignment::reach::Reach;
use crate::context::found;
use crate::error::{Error, Result};
use crate::identity::password_policy::Subject;
use crate::identity::passwords::{self, expiry_for, history_to_keep, option_on};
use crate::mail::Template;
use crate::realm::Realm;
use crate::state::State;
use crate::store::{
    self, AccountLink, Assignment, AssignmentFilter, DbConnection, Invitation, InvitationRole,
    NewPassword, User, ACTOR_USER, LINK_INVITATION, LINK_PASSWORD, TARGET_DOMAIN, TARGET_PROJECT,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    SetPassword,
    Invitation,
}

/// What a link is for, as its page shows it before anything is submitted.
#[derive(Debug, Clone)]
pub struct LinkInfo {
    pub kind: LinkKind,
    /// None: an invitation of a new user whose name is generated at acceptance.
    pub user_name: Option<String>,
    pub email: Option<String>,
    pub domain_name: String,
    pub project_name: Option<String>,
    /// The invitation is for a user that exists already and has a password, which it confirms.
    /// (An existing user without a password chooses one, as a new user does.)
    pub existing_user: bool,
    /// (role name, "project X" | "domain Y").
    pub roles: Vec<(String, String)>,
    pub expires_at: DateTime<Utc>,
}

/// What a redemption did: who the user is and where it works, for the page's `export OS_*` lines.
#[derive(Debug, Clone)]
pub struct Completed {
    pub user_id: String,
    pub user_name: String,
    pub domain_id: String,
    pub domain_name: String,
    pub project_id: Option<String>,
    pub project_name: Option<String>,
}

/// An invitation with its grants, as stored.
struct Invited {
    invitation: Invitation,
    roles: Vec<InvitationRole>,
}

fn load_invitation(c: &mut DbConnection, link: &AccountLink) -> Result<Invited> {
    // A withdrawn invitation took its links with it; a link without one is unknown.
    let inv_id = link
        .invitation_id
        .as_deref()
        .ok_or(Error::Link(crate::error::LinkProblem::Unknown))?;
    let invitation =
        store::get_invitation(c, inv_id)?.ok_or(Error::Link(crate::error::LinkProblem::Unknown))?;
    let roles = store::invitation_roles(c, inv_id)?;
    Ok(Invited { invitation, roles })
}

fn link_user(c: &mut DbConnection, link: &AccountLink) -> Result<User> {
    link.user_id
        .as_deref()
        .and_then(|id| store::get_user(c, id).transpose())
        .transpose()?
        .ok_or(Error::Link(crate::error::LinkProblem::Unknown))
}

/// The project a user works in: the one it is bound to, else its default project.
fn home_project(c: &mut DbConnection, u: &User) -> Result<Option<store::Project>> {
    match u
        .bound_project_id
        .as_ref()
        .or(u.default_project_id.as_ref())
    {
        Some(p) => store::get_project(c, p),
        None => Ok(None),
    }
}

/// "project X" / "domain Y" for each grant whose role and target still exist.
fn describe_roles(c: &mut DbConnection, roles: &[InvitationRole]) -> Result<Vec<(String, String)>> {
    let mut out = vec![];
    for r in roles {
        let Some(role) = store::get_role(c, &r.role_id)? else {
            continue;
        };
        let target = if r.target_type == TARGET_PROJECT {
            store::get_project(c, &r.target_id)?.map(|p| format!("project {}", p.name))
        } else {
            store::get_domain(c, &r.target_id)?.map(|d| format!("domain {}", d.name))
        };
        if let Some(t) = target {
            out.push((role.name, t));
        }
    }
    Ok(out)
}

/// The first project an invitation grants a role on (where the new user's tokens go).
fn first_project(c: &mut DbConnection, roles: &[InvitationRole]) -> Result<Option<store::Project>> {
    for r in roles.iter().filter(|r| r.target_type == TARGET_PROJECT) {
        if let Some(p) = store::get_project(c, &r.target_id)? {
            return Ok(Some(p));
        }
    }
    Ok(None)
}

/// What the link is for, or why it cannot be used. Reads only.
pub async fn inspect(state: &State, secret: &str, now: DateTime<Utc>) -> Result<LinkInfo> {
    let secret = secret.to_string();
    state
        .store
        .run(move |c| {
            let link = links::find(c, &secret, now)?;
            let expires_at = link.expires_at.and_utc();
            if link.kind == LINK_PASSWORD {
                let user = link_user(c, &link)?;
                let domain = found(
                    store::get_domain(c, &user.domain_id)?,
                    "domain",
                    &user.domain_id,
                )?;
                let project = home_project(c, &user)?;
                let roles = match &project {
                    Some(p) => {
                        let grants = store::list_assignments(
                            c,
                            &AssignmentFilter {
                                actor_type: Some(ACTOR_USER.into()),
                                actor_ids: Some(vec![user.id.clone()]),
                                target_type: Some(TARGET_PROJECT.into()),
                                target_ids: Some(vec![p.id.clone()]),
                                ..Default::default()
                            },
                        )?;
                        let as_invited: Vec<InvitationRole> = grants
                            .into_iter()
                            .map(|a| InvitationRole {
                                invitation_id: String::new(),
                                role_id: a.role_id,
                                target_type: a.target_type,
                                target_id: a.target_id,
                            })
                            .collect();
                        describe_roles(c, &as_invited)?
                    }
                    None => vec![],
                };
                return Ok(LinkInfo {
                    kind: LinkKind::SetPassword,
                    user_name: Some(user.name),
                    email: user.email,
                    domain_name: domain.name,
                    project_name: project.map(|p| p.name),
                    existing_user: true,
                    roles,
                    expires_at,
                });
            }
            let Invited { invitation, roles } = load_invitation(c, &link)?;
            let domain = found(
                store::get_domain(c, &invitation.domain_id)?,
                "domain",
                &invitation.domain_id,
            )?;
            let existing = match &invitation.user_id {
                Some(id) => store::get_user(c, id)?,
                None => None,
            };
            let project = first_project(c, &roles)?;
            Ok(LinkInfo {
                kind: LinkKind::Invitation,
                user_name: existing
                    .as_ref()
                    .map(|u| u.name.clone())
                    .or(invitation.name.clone()),
                email: Some(invitation.email.clone()),
                domain_name: domain.name,
                project_name: project.map(|p| p.name),
                // Confirms with its current password only when it has one: a user without a
                // password chooses one here, as a new user does.
                existing_user: existing.as_ref().is_some_and(|u| u.password_hash.is_some()),
                roles: describe_roles(c, &roles)?,
                expires_at,
            })
        })
        .await
}

/// The link with this secret, which must be of `kind` (a secret posted to the other form is
/// answered as the form that fits it would not be: with what it is for).
async fn usable_link(
    state: &State,
    secret: &str,
    kind: &'static str,
    now: DateTime<Utc>,
) -> Result<AccountLink> {
    let secret = secret.to_string();
    let link = state
        .store
        .run(move |c| links::find(c, &secret, now))
        .await?;
    if link.kind != kind {
        return Err(Error::validation(if kind == LINK_PASSWORD {
            "This link accepts an invitation; open it again to accept."
        } else {
            "This link sets a password; open it again to set one."
        }));
    }
    Ok(link)
}

/// Checks and hashes a password the user chose (the policy's reasons on refusal). Slow.
async fn prepare(state: &State, password: SecretString, subject: &Subject<'_>) -> Result<String> {
    if password.expose_secret().len() > state.hasher.max_len() {
        return Err(Error::validation(format!(
            "Invalid input for field 'password': at most {} bytes are allowed.",
            state.hasher.max_len()
        )));
    }
    state.password_policy.check(&password, subject)?;
    state.hasher.hash(password).await
}

/// Writes a password the user chose through a link (self-service: the minimum age applies; no
/// change is required at first use, since the user chose it).
fn write_password(
    c: &mut DbConnection,
    state_sc: &crate::config::SecurityComplianceConfig,
    user_id: &str,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let exempt = option_on(&store::user_options(c, user_id)?, passwords::IGNORE_EXPIRY);
    let naive = now.naive_utc();
    store::set_user_password(
        c,
        user_id,
        &NewPassword {
            hash,
            created_at: naive,
            expires_at: expiry_for(state_sc, exempt, naive),
            self_service: true,
            keep_history: history_to_keep(state_sc),
        },
    )
}

/// Locks the user's row and refuses when it has a password already (set meanwhile by an
/// administrator, or through another way): the link is then left unused.
fn lock_passwordless(c: &mut DbConnection, user_id: &str) -> Result<User> {
    store::password_created_at_locked(c, user_id)?;
    let user =
        store::get_user(c, user_id)?.ok_or(Error::Link(crate::error::LinkProblem::Unknown))?;
    if user.password_hash.is_some() {
        return Err(Error::Conflict(format!(
            "User {} has a password already: log in with it, or ask your administrator to reset it.",
            user.name
        )));
    }
    Ok(user)
}

fn completed(
    c: &mut DbConnection,
    user: &User,
    project: Option<store::Project>,
) -> Result<Completed> {
    let domain = found(
        store::get_domain(c, &user.domain_id)?,
        "domain",
        &user.domain_id,
    )?;
    Ok(Completed {
        user_id: user.id.clone(),
        user_name: user.name.clone(),
        domain_id: domain.id,
        domain_name: domain.name,
        project_id: project.as_ref().map(|p| p.id.clone()),
        project_name: project.map(|p| p.name),
    })
}

/// Sets the password of the user the link was sent for. The policy's reasons on refusal (the
/// link stays usable); the link is used in the transaction that writes the password.
pub async fn set_password(
    state: &State,
    secret: &str,
    password: SecretString,
    now: DateTime<Utc>,
) -> Result<Completed> {
    state.hasher.check_room()?;
    let link = usable_link(state, secret, LINK_PASSWORD, now).await?;
    let user = {
        let link = link.clone();
        state.store.run(move |c| link_user(c, &link)).await?
    };
    if user.password_hash.is_some() {
        return Err(Error::Conflict(format!(
            "User {} has a password already: log in with it, or ask your administrator to reset it.",
            user.name
        )));
    }
    let subject = Subject {
        name: Some(&user.name),
        email: user.email.as_deref(),
        phone: user.phone.as_deref(),
    };
    let hash = prepare(state, password, &subject).await?;
    let config = state.config.clone();
    state
        .store
        .tx(move |c| {
            let user = lock_passwordless(c, &user.id)?;
            links::consume(c, &link, now)?;
            write_password(c, &config.security_compliance, &user.id, &hash, now)?;
            let project = home_project(c, &user)?;
            completed(c, &user, project)
        })
        .await
}

/// Applies an invitation's grants to `user_id`, skipping targets and roles deleted meanwhile; a
/// bound user is re-checked here (it may have been bound since the invitation was made), and so
/// is the realm: unless its inviter operates the cloud, an invitation grants nothing that now
/// reaches beyond the inviter's domain (the user became privileged, the project protected).
fn grant(
    c: &mut DbConnection,
    realm: &Realm,
    invitation: &Invitation,
    user_id: &str,
    roles: &[InvitationRole],
) -> Result<()> {
    store::lock_realm(c)?;
    let reach = Reach::load(c, realm, &invitation.domain_id)?;
    let operator = match &invitation.inviter_id {
        Some(id) => reach.user_is_operator(c, id)?,
        None => false,
    };
    for r in roles {
        if store::get_role(c, &r.role_id)?.is_none() {
            continue;
        }
        let exists = if r.target_type == TARGET_PROJECT {
            store::get_project(c, &r.target_id)?.is_some()
        } else if r.target_type == TARGET_DOMAIN {
            store::get_domain(c, &r.target_id)?.is_some()
        } else {
            false
        };
        if !exists {
            continue;
        }
        let a = Assignment {
            actor_type: ACTOR_USER.into(),
            actor_id: user_id.into(),
            target_type: r.target_type.clone(),
            target_id: r.target_id.clone(),
            role_id: r.role_id.clone(),
            inherited: false,
        };
        crate::assignment::bound::check_grant(c, &a)?;
        if !operator && reach.grant_protected(c, Some(user_id), &a)? {
            tracing::info!(invitation = %invitation.id, user_id, "invitation refused: its grants now reach beyond its inviter");
            return Err(Error::ForbiddenMsg(
                "This invitation can no longer be accepted: what it grants now reaches beyond what its inviter may grant. Ask for a new invitation.".into(),
            ));
        }
        store::insert_assignment(c, &a)?;
    }
    Ok(())
}

/// Accepts an invitation. A new user: `password` becomes its password (policy-checked) and the
/// user is created with the grants. An existing user: `password` must be its current password
/// (checked like a login: a failure is the generic 401 and counts toward lockout); a user that
/// has none yet sets it here, as a new user would.
pub async fn accept_invitation(
    state: &State,
    secret: &str,
    password: SecretString,
    now: DateTime<Utc>,
) -> Result<Completed> {
    state.hasher.check_room()?;
    let link = usable_link(state, secret, LINK_INVITATION, now).await?;
    let (invited, existing) = {
        let link = link.clone();
        state
            .store
            .run(move |c| {
                let invited = load_invitation(c, &link)?;
                // Accepted since the link was read (its user is then the one just created).
                if invited.invitation.accepted_at.is_some() {
                    return Err(Error::Link(crate::error::LinkProblem::Used));
                }
                let existing = match &invited.invitation.user_id {
                    Some(id) => Some(
                        store::get_user(c, id)?
                            .ok_or(Error::Link(crate::error::LinkProblem::Unknown))?,
                    ),
                    None => None,
                };
                Ok((invited, existing))
            })
            .await?
    };
    let Invited { invitation, roles } = invited;
    let realm = state.realm.clone();
    let config = state.config.clone();
    let done = match existing {
        Some(user) if user.password_hash.is_some() => {
            let proved = crate::auth::verify_password(state, Some(user), password, now).await?;
            if !proved.user.enabled
                || passwords::inactive(
                    &config.security_compliance,
                    proved.user.last_seen(),
                    &proved.options,
                    now,
                )
            {
                return Err(proved.refuse().await);
            }
            let user = proved.user;
            let to = invitation.email.clone();
            let (done, vars) = state
                .store
                .tx(move |c| {
                    links::consume(c, &link, now)?;
                    if !store::accept_invitation(c, &invitation.id, &user.id, now.naive_utc())? {
                        return Err(Error::Link(crate::error::LinkProblem::Used));
                    }
                    grant(c, &realm, &invitation, &user.id, &roles)?;
                    let project = first_project(c, &roles)?.or(home_project(c, &user)?);
                    let done = completed(c, &user, project)?;
                    let inviter_name = match &invitation.inviter_id {
                        Some(id) => store::get_user(c, id)?.map(|u| u.name),
                        None => None,
                    };
                    let vars = MailVars {
                        user_name: Some(done.user_name.clone()),
                        domain_name: done.domain_name.clone(),
                        project_name: done.project_name.clone(),
                        inviter_name,
                        roles: describe_roles(c, &roles)?,
                    };
                    Ok((done, vars))
                })
                .await?;
            // The access is granted; the email only tells the user so.
            delivery::notify(state, &to, Template::AccessGranted, &vars).await;
            done
        }
        Some(user) => {
            let subject = Subject {
                name: Some(&user.name),
                email: user.email.as_deref(),
                phone: user.phone.as_deref(),
            };
            let hash = prepare(state, password, &subject).await?;
            state
                .store
                .tx(move |c| {
                    let user = lock_passwordless(c, &user.id)?;
                    links::consume(c, &link, now)?;
                    if !store::accept_invitation(c, &invitation.id, &user.id, now.naive_utc())? {
                        return Err(Error::Link(crate::error::LinkProblem::Used));
                    }
                    write_password(c, &config.security_compliance, &user.id, &hash, now)?;
                    grant(c, &realm, &invitation, &user.id, &roles)?;
                    let project = first_project(c, &roles)?.or(home_project(c, &user)?);
                    completed(c, &user, project)
                })
                .await?
        }
        None => {
            let name = match invitation.name.clone() {
                Some(n) => n,
                None => {
                    let (domain, prefix, len) = (
                        invitation.domain_id.clone(),
                        config.identity.generated_name_prefix.clone(),
                        config.identity.generated_name_length,
                    );
                    state
                        .store
                        .run(move |c| crate::identity::names::unused(c, &domain, &prefix, len))
                        .await?
                }
            };
            let subject = Subject {
                name: Some(&name),
                email: Some(&invitation.email),
                phone: None,
            };
            let hash = prepare(state, password, &subject).await?;
            state
                .store
                .tx(move |c| {
                    links::consume(c, &link, now)?;
                    found(
                        store::get_domain(c, &invitation.domain_id)?,
                        "domain",
                        &invitation.domain_id,
                    )?;
                    let project = first_project(c, &roles)?;
                    let user = User {
                        id: crate::ids::new_id(),
                        name,
                        domain_id: invitation.domain_id.clone(),
                        enabled: true,
                        default_project_id: project.as_ref().map(|p| p.id.clone()),
                        email: Some(invitation.email.clone()),
                        description: None,
                        extra: "{}".into(),
                        password_hash: None,
                        password_created_at: None,
                        password_expires_at: None,
                        failed_auth_count: 0,
                        failed_auth_at: None,
                        last_active_at: None,
                        created_at: now.naive_utc(),
                        phone: None,
                        password_self_service: false,
                        bound_project_id: None,
                    };
                    // In a domain that logs in by email, the address must still be free.
                    crate::identity::emails::check_email_free(
                        c,
                        &user.domain_id,
                        user.email.as_deref(),
                        &user.id,
                    )?;
                    store::insert_user(c, &user)?;
                    if !store::accept_invitation(c, &invitation.id, &user.id, now.naive_utc())? {
                        return Err(Error::Link(crate::error::LinkProblem::Used));
                    }
                    write_password(c, &config.security_compliance, &user.id, &hash, now)?;
                    grant(c, &realm, &invitation, &user.id, &roles)?;
                    completed(c, &user, project)
                })
                .await?
        }
    };
    Ok(done)
}
