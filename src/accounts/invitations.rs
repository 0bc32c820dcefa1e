//! Invitations (`/v3/OS-PCU/invitations`): roles on projects of one domain, or on the domain
//! itself, for whoever holds an email address; applied when the invitation is accepted through
//! its link (`redeem::accept_invitation`). Pending until accepted, expired after the link's
//! lifetime, resendable (a new link kills the old one), withdrawn by deleting it.

use chrono::{NaiveDateTime, SubsecRound};
use serde::Deserialize;

use super::delivery::{self, LinkOutcome, MailVars};
use super::links;
use super::password_links::link_address;
use crate::assignment::reach::Reach;
use crate::context::{found, Ctx, RealmGuard};
use crate::error::{Error, Result};
use crate::mail::Template;
use crate::policy::Target;
use crate::store::{
    self, Assignment, DbConnection, Invitation, InvitationFilter, InvitationRole, InvitationStatus,
    Role, ACTOR_USER, TARGET_DOMAIN, TARGET_PROJECT,
};

/// Grants one invitation may carry (each is checked and written like a direct grant).
pub const MAX_INVITATION_GRANTS: usize = 100;

/// The request body of `POST /v3/OS-PCU/invitations`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvitationCreate {
    pub email: String,
    /// The new user's name (generated at acceptance when absent); unused for an existing user.
    pub name: Option<String>,
    pub roles: Vec<RoleRef>,
    /// Which of several users of the domain with this email is invited.
    pub user_id: Option<String>,
    /// Seconds the link is valid (5 up to `[links] ttl_seconds`).
    pub expires_in: Option<u64>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RoleRef {
    /// A role id or name.
    pub role: String,
    pub project_id: Option<String>,
    pub domain_id: Option<String>,
}

/// The body of `POST /v3/OS-PCU/invitations/{id}/resend` (optional).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct InvitationResend {
    pub expires_in: Option<u64>,
}

/// One grant as the API shows it.
#[derive(Debug, Clone)]
pub struct RoleView {
    pub role_id: String,
    pub role_name: String,
    pub target_type: String,
    pub target_id: String,
}

/// An invitation as the API shows it.
#[derive(Debug, Clone)]
pub struct InvitationView {
    pub invitation: Invitation,
    pub roles: Vec<RoleView>,
    pub status: InvitationStatus,
}

/// An invitation just created or resent, with its link's outcome.
pub struct InvitationSent {
    pub view: InvitationView,
    pub link: LinkOutcome,
}

fn view(
    c: &mut DbConnection,
    invitation: Invitation,
    now: NaiveDateTime,
) -> Result<InvitationView> {
    let mut roles = vec![];
    for r in store::invitation_roles(c, &invitation.id)? {
        let name = store::get_role(c, &r.role_id)?
            .map(|r| r.name)
            .unwrap_or_default();
        roles.push(RoleView {
            role_id: r.role_id,
            role_name: name,
            target_type: r.target_type,
            target_id: r.target_id,
        });
    }
    let status = InvitationStatus::of(&invitation, now);
    Ok(InvitationView {
        invitation,
        roles,
        status,
    })
}

/// A grant checked against the caller: `(role, target type, target id)` in `domain_id`.
#[derive(Clone)]
struct Grant {
    role: Role,
    target_type: &'static str,
    target_id: String,
}

fn as_assignment(user_id: &str, g: &Grant) -> Assignment {
    Assignment {
        actor_type: ACTOR_USER.into(),
        actor_id: user_id.into(),
        target_type: g.target_type.into(),
        target_id: g.target_id.clone(),
        role_id: g.role.id.clone(),
        inherited: false,
    }
}

/// Resolves the requested grants: each names one target, every target in one domain (returned),
/// each role known there.
fn resolve(c: &mut DbConnection, refs: &[RoleRef]) -> Result<(String, Vec<Grant>)> {
    let mut domain: Option<String> = None;
    let mut out: Vec<Grant> = vec![];
    for (i, r) in refs.iter().enumerate() {
        let field = format!("invitation.roles[{i}]");
        let (target_type, target_id, target_domain) = match (&r.project_id, &r.domain_id) {
            (Some(p), None) => {
                let p = found(store::get_project(c, p)?, "project", p)?;
                (TARGET_PROJECT, p.id, p.domain_id)
            }
            (None, Some(d)) => {
                let d = found(store::get_domain(c, d)?, "domain", d)?;
                (TARGET_DOMAIN, d.id.clone(), d.id)
            }
            _ => {
                return Err(Error::validation(format!(
                "Invalid input for field '{field}': give exactly one of project_id and domain_id."
            )))
            }
        };
        match &domain {
            Some(d) if *d != target_domain => {
                return Err(Error::validation(format!(
                    "Invalid input for field '{field}': every target of an invitation must be in one domain (the invited user's); this one is in domain {target_domain}, an earlier one in domain {d}."
                )))
            }
            _ => domain = Some(target_domain.clone()),
        }
        let role = crate::identity::project_user::find_role(c, &target_domain, &r.role)?
            .ok_or_else(|| Error::not_found("role", r.role.clone()))?;
        if role.domain_id.as_ref().is_some_and(|d| *d != target_domain) {
            return Err(Error::validation(format!(
                "Invalid input for field '{field}.role': role {} belongs to another domain and cannot be granted here.",
                role.id
            )));
        }
        if !out.iter().any(|g| {
            g.role.id == role.id && g.target_id == target_id && g.target_type == target_type
        }) {
            out.push(Grant {
                role,
                target_type,
                target_id,
            });
        }
    }
    let domain = domain.ok_or_else(|| {
        Error::validation(
            "Invalid input for field 'invitation.roles': an invitation grants at least one role, e.g. [{\"role\": \"member\", \"project_id\": \"...\"}].",
        )
    })?;
    Ok((domain, out))
}

/// Whether granting `g` (to a new or existing user) would reach beyond the caller.
fn grant_protected(
    reach: &Reach,
    c: &mut DbConnection,
    user: Option<&str>,
    g: &Grant,
) -> Result<bool> {
    reach.grant_protected(c, user, &as_assignment(user.unwrap_or(""), g))
}

/// The caller may create every grant: `create_grant` on each target (as a direct grant would be
/// checked, realm included) and `may_grant_role` for each role.
fn authorize_grants(
    ctx: &Ctx<'_>,
    domain_id: &str,
    grants: &[Grant],
    protected: &[bool],
) -> Result<()> {
    for (g, protected) in grants.iter().zip(protected) {
        ctx.enforce(
            "create_grant",
            Target {
                domain_id: Some(domain_id),
                project_id: (g.target_type == TARGET_PROJECT).then_some(g.target_id.as_str()),
                protected: *protected,
                ..Default::default()
            },
        )?;
        if !ctx.may_grant_role(&g.role.name, g.role.domain_id.as_deref(), domain_id) {
            return Err(Error::ForbiddenMsg(format!(
                "You may not grant role {} ({}): a domain manager grants only manager, member or reader.",
                g.role.name, g.role.id
            )));
        }
    }
    Ok(())
}

/// The caller may make `grants` in `domain_id` to `user` (`None`: the user the invitation will
/// create), checked as direct grants against the realm's reach as it is now.
async fn authorize(
    ctx: &Ctx<'_>,
    domain_id: &str,
    grants: &[Grant],
    user: Option<&str>,
) -> Result<()> {
    let (realm, caller_domain) = (ctx.state.realm.clone(), ctx.domain_id().to_string());
    let (all, uid) = (grants.to_vec(), user.map(String::from));
    let protected = ctx
        .state
        .store
        .run(move |c| {
            let reach = Reach::load(c, &realm, &caller_domain)?;
            all.iter()
                .map(|g| grant_protected(&reach, c, uid.as_deref(), g))
                .collect::<Result<Vec<bool>>>()
        })
        .await?;
    authorize_grants(ctx, domain_id, grants, &protected)
}

/// `authorize` repeated inside the transaction that writes, on what is committed (the realm
/// locked), and an existing bound user kept to its project.
fn recheck(
    c: &mut DbConnection,
    guard: &RealmGuard,
    inv: &Invitation,
    grants: &[Grant],
) -> Result<()> {
    for g in grants {
        let target = Target {
            domain_id: Some(&inv.domain_id),
            project_id: (g.target_type == TARGET_PROJECT).then_some(g.target_id.as_str()),
            ..Default::default()
        };
        let uid = inv.user_id.as_deref();
        guard.check(c, target, |reach, c| grant_protected(reach, c, uid, g))?;
        if let Some(u) = uid {
            crate::assignment::bound::check_grant(c, &as_assignment(u, g))?;
        }
    }
    Ok(())
}

/// The grants an invitation stored, as they stand now (roles or targets deleted meanwhile are
/// left out: acceptance skips them too).
fn stored_grants(c: &mut DbConnection, invitation_id: &str) -> Result<Vec<Grant>> {
    let mut out = vec![];
    for r in store::invitation_roles(c, invitation_id)? {
        let Some(role) = store::get_role(c, &r.role_id)? else {
            continue;
        };
        let target_type = match r.target_type.as_str() {
            TARGET_PROJECT => TARGET_PROJECT,
            TARGET_DOMAIN => TARGET_DOMAIN,
            _ => continue,
        };
        out.push(Grant {
            role,
            target_type,
            target_id: r.target_id,
        });
    }
    Ok(out)
}

/// The user invited: the one given (it must have this email in the domain), else the one user
/// of the domain with this email, else none (a new user). Several: 409 asking to pick.
fn invited_user(
    c: &mut DbConnection,
    domain_id: &str,
    email: &str,
    picked: Option<&str>,
) -> Result<Option<store::User>> {
    let users = store::users_by_email(c, domain_id, email)?;
    if let Some(id) = picked {
        return users.into_iter().find(|u| u.id == id).map(Some).ok_or_else(|| {
            Error::validation(format!(
                "Invalid input for field 'invitation.user_id': no user {id} with email {email} in domain {domain_id}."
            ))
        });
    }
    match users.len() {
        0 | 1 => Ok(users.into_iter().next()),
        _ => Err(Error::Conflict(format!(
            "Several users of domain {domain_id} have email {email} ({}); say which one is invited with invitation.user_id.",
            users.iter().map(|u| u.id.as_str()).collect::<Vec<_>>().join(", ")
        ))),
    }
}

fn mail_vars(
    c: &mut DbConnection,
    inv: &Invitation,
    inviter: Option<&str>,
) -> Result<(MailVars, Template)> {
    let domain = found(
        store::get_domain(c, &inv.domain_id)?,
        "domain",
        &inv.domain_id,
    )?;
    let existing = match &inv.user_id {
        Some(id) => store::get_user(c, id)?,
        None => None,
    };
    let roles = store::invitation_roles(c, &inv.id)?;
    let mut described = vec![];
    let mut project_name = None;
    for r in &roles {
        let Some(role) = store::get_role(c, &r.role_id)? else {
            continue;
        };
        let target = if r.target_type == TARGET_PROJECT {
            store::get_project(c, &r.target_id)?.map(|p| {
                project_name.get_or_insert(p.name.clone());
                format!("project {}", p.name)
            })
        } else {
            Some(format!("domain {}", domain.name))
        };
        if let Some(t) = target {
            described.push((role.name, t));
        }
    }
    let inviter_name = match inviter {
        Some(id) => store::get_user(c, id)?.map(|u| u.name),
        None => None,
    };
    let mail = if existing.is_some() {
        Template::InvitationExistingUser
    } else {
        Template::Invitation
    };
    Ok((
        MailVars {
            user_name: existing.map(|u| u.name).or(inv.name.clone()),
            domain_name: domain.name,
            project_name,
            inviter_name,
            roles: described,
        },
        mail,
    ))
}

/// Sends the invitation's new link and records the outcome on the invitation.
async fn send(
    ctx: &Ctx<'_>,
    issued: links::Issued,
    inv: Invitation,
    vars: MailVars,
    mail: Template,
) -> Result<InvitationSent> {
    let outcome = delivery::deliver(ctx.state, &issued, &inv.email, mail, &vars).await;
    let (id, now) = (inv.id.clone(), ctx.now.naive_utc());
    let o = outcome.clone();
    let view = ctx
        .state
        .store
        .tx(move |c| {
            if o.sent_to.is_some() {
                store::set_invitation_delivery(
                    c,
                    &id,
                    o.sent_to.as_deref(),
                    o.delivery_error.is_none().then_some(now),
                    o.delivery_error.as_deref(),
                )?;
            }
            let inv = found(store::get_invitation(c, &id)?, "invitation", &id)?;
            view(c, inv, now)
        })
        .await?;
    Ok(InvitationSent {
        view,
        link: outcome,
    })
}

pub async fn create_invitation(ctx: &Ctx<'_>, req: InvitationCreate) -> Result<InvitationSent> {
    let email = link_address(Some(req.email), None, "invitation.email")?.to_lowercase();
    if let Some(name) = &req.name {
        crate::patch::check_name("invitation", "name", name)?;
    }
    if req.roles.is_empty() {
        return Err(Error::validation(
            "Invalid input for field 'invitation.roles': an invitation grants at least one role, e.g. [{\"role\": \"member\", \"project_id\": \"...\"}].",
        ));
    }
    if req.roles.len() > MAX_INVITATION_GRANTS {
        return Err(Error::validation(format!(
            "Invalid input for field 'invitation.roles': at most {MAX_INVITATION_GRANTS} grants per invitation."
        )));
    }
    let lifetime = links::lifetime(ctx.state, req.expires_in, "invitation.expires_in")?;
    let refs = req.roles.clone();
    let (domain_id, grants) = ctx.state.store.run(move |c| resolve(c, &refs)).await?;
    // Before anything is read about users: whether one has this email is the domain's business.
    ctx.enforce(
        "create_invitation",
        Target {
            domain_id: Some(&domain_id),
            ..Default::default()
        },
    )?;
    let (d, em, picked) = (domain_id.clone(), email.clone(), req.user_id.clone());
    let user = ctx
        .state
        .store
        .run(move |c| invited_user(c, &d, &em, picked.as_deref()))
        .await?;
    authorize(
        ctx,
        &domain_id,
        &grants,
        user.as_ref().map(|u| u.id.as_str()),
    )
    .await?;
    let now = ctx.now.trunc_subsecs(0);
    let inviter = ctx.user_id().to_string();
    let guard = ctx.realm_guard("create_grant");
    let invitation = Invitation {
        id: crate::ids::new_id(),
        email,
        name: req.name,
        domain_id,
        user_id: user.as_ref().map(|u| u.id.clone()),
        inviter_id: Some(inviter.clone()),
        created_at: now.naive_utc(),
        expires_at: (now + lifetime).naive_utc(),
        accepted_at: None,
        sent_to: None,
        sent_at: None,
        delivery_error: None,
    };
    let (issued, inv, vars, mail) = ctx
        .state
        .store
        .tx(move |c| {
            let mut invitation = invitation;
            recheck(c, &guard, &invitation, &grants)?;
            if invitation.user_id.is_none() {
                if let Some(name) = &invitation.name {
                    if store::get_user_by_name(c, &invitation.domain_id, name)?.is_some() {
                        return Err(Error::Conflict(format!(
                            "A user named {name} exists in domain {} already; choose another name for the invited user, or invite that user by its email.",
                            invitation.domain_id
                        )));
                    }
                }
            }
            let roles: Vec<InvitationRole> = grants
                .iter()
                .map(|g| InvitationRole {
                    invitation_id: invitation.id.clone(),
                    role_id: g.role.id.clone(),
                    target_type: g.target_type.into(),
                    target_id: g.target_id.clone(),
                })
                .collect();
            store::insert_invitation(c, &invitation, &roles)?;
            let issued = links::issue(
                c,
                links::Subject::Invitation {
                    invitation_id: &invitation.id,
                },
                Some(&invitation.email),
                now,
                lifetime,
            )?;
            if issued.row.expires_at != invitation.expires_at {
                store::set_invitation_expiry(c, &invitation.id, issued.row.expires_at)?;
                invitation.expires_at = issued.row.expires_at;
            }
            let (vars, mail) = mail_vars(c, &invitation, Some(&inviter))?;
            Ok((issued, invitation, vars, mail))
        })
        .await?;
    send(ctx, issued, inv, vars, mail).await
}

/// Loads an invitation and enforces `action` on its domain.
async fn load(ctx: &Ctx<'_>, id: &str, action: &str) -> Result<InvitationView> {
    let (id, now) = (id.to_string(), ctx.now.naive_utc());
    let v = ctx
        .state
        .store
        .run(move |c| {
            let inv = found(store::get_invitation(c, &id)?, "invitation", &id)?;
            view(c, inv, now)
        })
        .await?;
    ctx.enforce(
        action,
        Target {
            domain_id: Some(&v.invitation.domain_id),
            ..Default::default()
        },
    )?;
    Ok(v)
}

pub async fn get_invitation(ctx: &Ctx<'_>, id: &str) -> Result<InvitationView> {
    load(ctx, id, "get_invitation").await
}

/// Invitations of the caller's domain (any, or the one asked for, for the cloud's readers).
pub async fn list_invitations(
    ctx: &Ctx<'_>,
    domain_id: Option<String>,
    email: Option<String>,
    status: Option<String>,
) -> Result<Vec<InvitationView>> {
    let status = match status.as_deref() {
        None => None,
        Some("pending") => Some(InvitationStatus::Pending),
        Some("accepted") => Some(InvitationStatus::Accepted),
        Some("expired") => Some(InvitationStatus::Expired),
        Some(other) => {
            return Err(Error::validation(format!(
                "Invalid value for query parameter 'status': expecting pending, accepted or expired, not {other:?}."
            )))
        }
    };
    let domain_id = ctx.list_scope("list_invitations", domain_id)?;
    let now = ctx.now.naive_utc();
    let f = InvitationFilter {
        domain_id,
        email,
        status,
        now: Some(now),
    };
    ctx.state
        .store
        .run(move |c| {
            store::list_invitations(c, &f)?
                .into_iter()
                .map(|inv| view(c, inv, now))
                .collect()
        })
        .await
}

/// Withdraws an invitation: it and its links are deleted (a link already sent then answers as
/// unknown). The grants of an accepted invitation stay; revoke them as grants.
pub async fn delete_invitation(ctx: &Ctx<'_>, id: &str) -> Result<()> {
    let v = load(ctx, id, "delete_invitation").await?;
    let id = v.invitation.id;
    ctx.state
        .store
        .tx(move |c| {
            if store::delete_invitation(c, &id)? {
                Ok(())
            } else {
                Err(Error::not_found("invitation", id))
            }
        })
        .await
}

/// Sends a new link for a pending or expired invitation; the previous link stops working and
/// the invitation expires with the new one.
pub async fn resend_invitation(
    ctx: &Ctx<'_>,
    id: &str,
    req: InvitationResend,
) -> Result<InvitationSent> {
    let v = load(ctx, id, "resend_invitation").await?;
    let lifetime = links::lifetime(ctx.state, req.expires_in, "invitation.expires_in")?;
    // A new link is the invitation made again: whoever resends it must be allowed to make
    // every grant it carries (an operator's invitation is not a domain manager's to resend).
    let inv_id = v.invitation.id.clone();
    let grants = ctx
        .state
        .store
        .run(move |c| stored_grants(c, &inv_id))
        .await?;
    authorize(
        ctx,
        &v.invitation.domain_id,
        &grants,
        v.invitation.user_id.as_deref(),
    )
    .await?;
    let now = ctx.now.trunc_subsecs(0);
    let inviter = ctx.user_id().to_string();
    let guard = ctx.realm_guard("create_grant");
    let id = v.invitation.id;
    let (issued, inv, vars, mail) = ctx
        .state
        .store
        .tx(move |c| {
            let mut inv = found(store::lock_invitation(c, &id)?, "invitation", &id)?;
            if inv.accepted_at.is_some() {
                return Err(Error::Conflict(format!(
                    "Invitation {id} was accepted already; there is nothing to resend."
                )));
            }
            recheck(c, &guard, &inv, &grants)?;
            let issued = links::issue(
                c,
                links::Subject::Invitation { invitation_id: &id },
                Some(&inv.email),
                now,
                lifetime,
            )?;
            store::set_invitation_expiry(c, &id, issued.row.expires_at)?;
            inv.expires_at = issued.row.expires_at;
            let (vars, mail) = mail_vars(c, &inv, Some(&inviter))?;
            Ok((issued, inv, vars, mail))
        })
        .await?;
    send(ctx, issued, inv, vars, mail).await
}
