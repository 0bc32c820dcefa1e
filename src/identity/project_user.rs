//! `POST /v3/OS-PCU/projects/{project_id}/users`: a user made for one project in one call and one
//! transaction: created in the project's domain, bound to the project, with a generated name
//! unless one is given, its password given or generated, and its roles on the project.

use secrecy::SecretString;
use serde::Deserialize;

use super::{create_user_bound, BindPlan, LinkPlan, UserCreate, UserView};
use crate::accounts::delivery::{self, LinkOutcome, Mail};
use crate::accounts::password_links::link_address;
use crate::assignment::reach::Reach;
use crate::context::{found, Ctx};
use crate::error::{Error, Result};
use crate::policy::Target;
use crate::store::{self, filter::TextFilter, DbConnection, Role, RoleFilter};

/// The role a project user gets when the request names none.
const DEFAULT_ROLE: &str = "member";

/// The request body. No `Debug`: it carries a password.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectUserCreate {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub description: Option<String>,
    /// Role names or ids; `["member"]` when absent.
    pub roles: Option<Vec<String>>,
    pub password_mode: String,
    pub password: Option<SecretString>,
    pub link_email: Option<String>,
    #[serde(rename = "OS-PCU:password_change_required")]
    pub password_change_required: Option<bool>,
}

/// How the new user's password is set: given, generated (shown once), or by the user through a
/// link (`Link`: the address it goes to, not yet checked).
enum Choice {
    Set(Option<SecretString>, bool),
    Link(Option<String>),
}

fn password_choice(req: &mut ProjectUserCreate) -> Result<Choice> {
    if req.password_mode != "link" && req.link_email.is_some() {
        return Err(Error::validation(
            "Invalid input for field 'user.link_email': it goes with password_mode link only.",
        ));
    }
    match req.password_mode.as_str() {
        "given" => match req.password.take() {
            Some(p) => Ok(Choice::Set(Some(p), false)),
            None => Err(Error::validation(
                "Invalid input for field 'user.password': password_mode given needs a password.",
            )),
        },
        "generated" if req.password.is_some() => Err(Error::validation(
            "Invalid input for field 'user.password': password_mode generated makes the password; give none (or use password_mode given).",
        )),
        "generated" => Ok(Choice::Set(None, true)),
        "link" if req.password.is_some() => Err(Error::validation(
            "Invalid input for field 'user.password': with password_mode link the user sets the password; give none (or use password_mode given).",
        )),
        "link" => Ok(Choice::Link(req.link_email.take())),
        other => Err(Error::validation(format!(
            "Invalid input for field 'user.password_mode': {other:?} is not one of given, generated, link."
        ))),
    }
}

/// A role named by id, else by name (a global role, or one of the project's domain).
pub(crate) fn find_role(c: &mut DbConnection, domain_id: &str, r: &str) -> Result<Option<Role>> {
    if let Some(role) = store::get_role(c, r)? {
        return Ok(Some(role));
    }
    for domain in [None, Some(domain_id.to_string())] {
        let hit = store::list_roles(
            c,
            &RoleFilter {
                name: Some(TextFilter::eq(r)),
                domain_id: Some(domain),
                ids: None,
            },
        )?;
        if let Some(role) = hit.into_iter().next() {
            return Ok(Some(role));
        }
    }
    Ok(None)
}

/// The new user, and the set-password link's outcome in mode link.
pub struct ProjectUserCreated {
    pub user: UserView,
    pub link: Option<LinkOutcome>,
}

pub async fn create_project_user(
    ctx: &Ctx<'_>,
    project_id: &str,
    mut req: ProjectUserCreate,
) -> Result<ProjectUserCreated> {
    // Bad input is answered before anything is looked up.
    let choice = password_choice(&mut req)?;
    if let Some(email) = &req.email {
        super::check_email(email)?;
    }
    let (password, generate, link) = match choice {
        Choice::Set(p, g) => (p, g, None),
        Choice::Link(to) => {
            let to = link_address(to, req.email.as_deref(), "user.link_email")?;
            let lifetime = crate::accounts::links::lifetime(ctx.state, None, "user.link_email")?;
            (
                None,
                false,
                Some(LinkPlan {
                    sent_to: to,
                    lifetime,
                }),
            )
        }
    };
    let refs = req
        .roles
        .take()
        .unwrap_or_else(|| vec![DEFAULT_ROLE.to_string()]);
    if refs.is_empty() {
        return Err(Error::validation(
            "Invalid input for field 'user.roles': a project user needs at least one role on its project (omit roles for member).",
        ));
    }
    let (realm, pid) = (ctx.state.realm.clone(), project_id.to_string());
    let caller_domain = ctx.domain_id().to_string();
    let (project, protected) = ctx
        .state
        .store
        .run(move |c| {
            let p = found(store::get_project(c, &pid)?, "project", &pid)?;
            let protected = Reach::load(c, &realm, &caller_domain)?.project_protected(c, &p.id)?;
            Ok((p, protected))
        })
        .await?;
    ctx.enforce(
        "create_project_user",
        Target {
            domain_id: Some(&project.domain_id),
            project_id: Some(&project.id),
            protected,
            ..Default::default()
        },
    )?;
    let domain_id = project.domain_id.clone();
    let roles = ctx
        .state
        .store
        .run(move |c| {
            let mut out: Vec<Role> = vec![];
            for r in refs {
                let role =
                    find_role(c, &domain_id, &r)?.ok_or_else(|| Error::not_found("role", r))?;
                if !out.iter().any(|o| o.id == role.id) {
                    out.push(role);
                }
            }
            Ok(out)
        })
        .await?;
    for r in &roles {
        if r.domain_id
            .as_ref()
            .is_some_and(|d| *d != project.domain_id)
        {
            return Err(Error::ForbiddenMsg(format!(
                "Role {} belongs to another domain and cannot be granted here.",
                r.id
            )));
        }
        if !ctx.may_grant_role(&r.name, r.domain_id.as_deref(), &project.domain_id) {
            return Err(Error::ForbiddenMsg(format!(
                "You may not grant role {} ({}): a domain manager grants only manager, member or reader.",
                r.name, r.id
            )));
        }
    }
    let create = UserCreate {
        name: req.name,
        domain_id: Some(project.domain_id.clone()),
        default_project_id: Some(project.id.clone()),
        enabled: Some(true),
        password,
        email: req.email,
        phone: req.phone,
        description: req.description,
        options: None,
        generate_password: Some(generate),
        password_change_required: req.password_change_required,
        bound_project_id: Some(project.id.clone()),
        extra: Default::default(),
    };
    let plan = BindPlan {
        project_id: project.id.clone(),
        role_ids: roles.into_iter().map(|r| r.id).collect(),
        guard: ctx.realm_guard("create_project_user"),
        link,
    };
    let mut user = create_user_bound(ctx, create, Some(plan)).await?;
    let link = match user.issued_link.take() {
        Some(l) => {
            Some(delivery::deliver(ctx.state, &l.issued, &l.to, Mail::SetPassword, &l.vars).await)
        }
        None => None,
    };
    Ok(ProjectUserCreated { user, link })
}
