//! Managing projects (with tags) and domains: validation, policy, cascades and revocation.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::DEFAULT_DOMAIN_ID;
use crate::assignment::reach::Reach;
use crate::auth::revoke::Revoke;
use crate::context::{found, Ctx, Revoker};
use crate::error::{Error, Result};
use crate::patch::{check_name, merge_extra};
use crate::policy::Target;
use crate::store::{self, DbConnection, Domain, DomainFilter, Project, ProjectFilter};

pub const MAX_TAGS: usize = 80;

/// A project and its tags, as the API shows it.
pub struct ProjectView {
    pub project: Project,
    pub tags: Vec<String>,
}

#[derive(Deserialize)]
pub struct ProjectCreate {
    pub name: String,
    pub domain_id: Option<String>,
    pub parent_id: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    pub is_domain: Option<bool>,
    pub tags: Option<Vec<String>>,
    pub options: Option<Map<String, Value>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Deserialize)]
pub struct ProjectUpdate {
    pub name: Option<String>,
    pub domain_id: Option<String>,
    pub parent_id: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    pub is_domain: Option<bool>,
    pub tags: Option<Vec<String>>,
    pub options: Option<Map<String, Value>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn project_target(p: &Project) -> Target<'_> {
    Target {
        domain_id: Some(&p.domain_id),
        project_id: Some(&p.id),
        ..Default::default()
    }
}

/// Tags as Keystone allows them: at most 80, each 1..=255 characters without `/` or `,`.
pub fn check_tags(tags: &[String]) -> Result<Vec<String>> {
    if tags.len() > MAX_TAGS {
        return Err(Error::validation(format!(
            "Invalid input for field 'tags': at most {MAX_TAGS} tags are allowed."
        )));
    }
    let mut out: Vec<String> = vec![];
    for t in tags {
        check_tag(t)?;
        if !out.contains(t) {
            out.push(t.clone());
        }
    }
    Ok(out)
}

pub fn check_tag(t: &str) -> Result<()> {
    if t.is_empty() || t.chars().count() > 255 || t.contains('/') || t.contains(',') {
        return Err(Error::validation(format!(
            "Invalid input for field 'tags': {t:?} is not a valid tag (1 to 255 characters, no '/' or ',')."
        )));
    }
    Ok(())
}

fn refuse_is_domain(is_domain: Option<bool>) -> Result<()> {
    if is_domain == Some(true) {
        return Err(Error::validation(
            "Invalid input for field 'project.is_domain': projects acting as domains are not supported; create a domain instead.",
        ));
    }
    Ok(())
}

pub async fn create_project(ctx: &Ctx<'_>, req: ProjectCreate) -> Result<ProjectView> {
    check_name("project", "name", &req.name)?;
    refuse_is_domain(req.is_domain)?;
    crate::patch::check_resource_options("project", req.options.as_ref())?;
    let tags = check_tags(req.tags.as_deref().unwrap_or_default())?;
    let parent_id = req.parent_id.clone();
    let parent = match &parent_id {
        Some(pid) => {
            let pid = pid.clone();
            let parent = ctx
                .state
                .store
                .run(move |c| store::get_project(c, &pid))
                .await?;
            match parent {
                Some(p) => Some(p),
                // Keystone accepts a domain id as parent: a top-level project of that domain.
                None if req.domain_id.as_ref() == parent_id.as_ref() => None,
                None => {
                    return Err(Error::validation(format!(
                        "Invalid input for field 'project.parent_id': project {} does not exist.",
                        parent_id.unwrap_or_default()
                    )))
                }
            }
        }
        None => None,
    };
    let domain_id = req
        .domain_id
        .clone()
        .or_else(|| parent.as_ref().map(|p| p.domain_id.clone()))
        .unwrap_or_else(|| ctx.domain_id().to_string());
    if parent.as_ref().is_some_and(|p| p.domain_id != domain_id) {
        return Err(Error::validation(
            "Invalid input for field 'project.parent_id': the parent project is in another domain.",
        ));
    }
    let under_realm = match &parent {
        Some(p) => {
            let (realm, pid) = (ctx.state.realm.clone(), p.id.clone());
            let caller_domain = ctx.domain_id().to_string();
            ctx.state
                .store
                .run(move |c| Reach::load(c, &realm, &caller_domain)?.project_protected(c, &pid))
                .await?
        }
        None => false,
    };
    ctx.enforce(
        "create_project",
        Target {
            domain_id: Some(&domain_id),
            protected: under_realm,
            ..Default::default()
        },
    )?;
    let project = Project {
        id: crate::ids::new_id(),
        name: req.name,
        domain_id,
        parent_id: parent.map(|p| p.id),
        description: req.description.unwrap_or_default(),
        enabled: req.enabled.unwrap_or(true),
        extra: merge_extra("project", "{}", req.extra)?,
        created_at: ctx.now.naive_utc(),
    };
    ctx.state
        .store
        .tx(move |c| {
            found(
                store::get_domain(c, &project.domain_id)?,
                "domain",
                &project.domain_id,
            )?;
            store::insert_project(c, &project)?;
            store::set_project_tags(c, &project.id, &tags)?;
            Ok(ProjectView { project, tags })
        })
        .await
}

async fn load_project(ctx: &Ctx<'_>, id: &str, action: &str) -> Result<ProjectView> {
    let id = id.to_string();
    let realm = ctx.state.realm.clone();
    let caller_domain = ctx.domain_id().to_string();
    let changes = !crate::policy::reads(action);
    let (view, in_realm) = ctx
        .state
        .store
        .run(move |c| {
            let project = found(store::get_project(c, &id)?, "project", &id)?;
            let tags = store::project_tags(c, &id)?;
            let in_realm =
                changes && Reach::load(c, &realm, &caller_domain)?.project_protected(c, &id)?;
            Ok((ProjectView { project, tags }, in_realm))
        })
        .await?;
    ctx.enforce(
        action,
        Target {
            protected: in_realm,
            ..project_target(&view.project)
        },
    )?;
    Ok(view)
}

/// A read: served from the node's cache while the change feed vouches for it (projects and
/// their tags bump the feed), so that the policy decides on what is committed now.
pub async fn get_project(ctx: &Ctx<'_>, id: &str) -> Result<Arc<ProjectView>> {
    let cache = &ctx.state.cache;
    let reader = cache.reader(cache.ticket());
    let view = match reader.cached_project(id) {
        Some(v) => v,
        None => {
            let id = id.to_string();
            ctx.state
                .store
                .run(move |c| found(reader.project(c, &id)?, "project", &id))
                .await?
        }
    };
    ctx.enforce("get_project", project_target(&view.project))?;
    Ok(view)
}

pub async fn list_projects(ctx: &Ctx<'_>, mut f: ProjectFilter) -> Result<Vec<ProjectView>> {
    f.domain_id = ctx.list_scope("list_projects", f.domain_id.take())?;
    ctx.state
        .store
        .run(move |c| {
            let projects = store::list_projects(c, &f)?;
            let ids: Vec<String> = projects.iter().map(|p| p.id.clone()).collect();
            let mut tags = store::tags_of_projects(c, &ids)?;
            Ok(projects
                .into_iter()
                .map(|project| {
                    let tags = tags.remove(&project.id).unwrap_or_default();
                    ProjectView { project, tags }
                })
                .collect())
        })
        .await
}

pub async fn update_project(ctx: &Ctx<'_>, id: &str, req: ProjectUpdate) -> Result<ProjectView> {
    let current = load_project(ctx, id, "update_project").await?;
    refuse_is_domain(req.is_domain)?;
    crate::patch::check_resource_options("project", req.options.as_ref())?;
    let p0 = &current.project;
    if req.domain_id.as_ref().is_some_and(|d| *d != p0.domain_id) {
        return Err(Error::validation(
            "Invalid input for field 'project.domain_id': a project cannot move to another domain.",
        ));
    }
    if req
        .parent_id
        .as_ref()
        .is_some_and(|pid| Some(pid) != p0.parent_id.as_ref() && *pid != p0.domain_id)
    {
        return Err(Error::validation(
            "Invalid input for field 'project.parent_id': a project cannot move to another parent.",
        ));
    }
    let tags = match &req.tags {
        Some(t) => Some(check_tags(t)?),
        None => None,
    };
    let mut p = p0.clone();
    if let Some(name) = req.name {
        check_name("project", "name", &name)?;
        p.name = name;
    }
    if let Some(d) = req.description {
        p.description = d;
    }
    if let Some(e) = req.enabled {
        p.enabled = e;
    }
    crate::patch::check_same_id("project", &p0.id, &req.extra)?;
    p.extra = merge_extra("project", &p0.extra, req.extra)?;
    if is_admin_project(ctx, &p) && !p.enabled {
        return Err(Error::ForbiddenMsg(
            "The admin project cannot be disabled: the cloud administrator would be locked out."
                .into(),
        ));
    }
    let disabled = p0.enabled && !p.enabled;
    let revoker = ctx.revoker();
    ctx.state
        .store
        .tx(move |c| {
            let p = store::patch_project(c, &current.project, &p)?;
            if let Some(tags) = &tags {
                store::change_project_tags(c, &p.id, &current.tags, tags)?;
            }
            if disabled {
                revoker.revoke(c, Revoke::project(&p.id))?;
            }
            let tags = store::project_tags(c, &p.id)?;
            Ok(ProjectView { project: p, tags })
        })
        .await
}

fn is_admin_project(ctx: &Ctx, p: &Project) -> bool {
    ctx.state.realm.admin_project_id().as_deref() == Some(p.id.as_str())
}

/// Deletes a project with its assignments, tags and application credentials and revokes the
/// tokens scoped to it, in one transaction. A project with children is refused.
pub async fn delete_project(ctx: &Ctx<'_>, id: &str) -> Result<()> {
    let view = load_project(ctx, id, "delete_project").await?;
    if is_admin_project(ctx, &view.project) {
        return Err(Error::ForbiddenMsg(
            "The admin project cannot be deleted: the cloud administrator would be locked out."
                .into(),
        ));
    }
    let revoker = ctx.revoker();
    ctx.state
        .store
        .tx(move |c| {
            if store::project_has_children(c, &view.project.id)? {
                return Err(Error::ForbiddenMsg(format!(
                    "Cannot delete project {}: it has child projects; delete them first.",
                    view.project.id
                )));
            }
            purge_project(c, &revoker, &view.project.id)
        })
        .await
}

/// Deletes a project with its grants, and the users bound to it (with their credentials and
/// application credentials; their tokens are revoked), in the caller's transaction.
fn purge_project(c: &mut DbConnection, revoker: &Revoker, id: &str) -> Result<()> {
    // A concurrent bind to this project either committed already (its user is seen here) or
    // waits and then finds no project.
    store::lock_project(c, id)?;
    for uid in store::user_ids_bound_to(c, id)? {
        crate::identity::delete_application_credentials_of(c, revoker, &uid, None)?;
        store::delete_user(c, &uid)?;
        revoker.revoke(c, Revoke::user(&uid))?;
    }
    store::delete_assignments_on_target(c, store::TARGET_PROJECT, id)?;
    for ac in store::application_credential_ids_on_project(c, id)? {
        revoker.revoke(c, Revoke::application_credential(&ac))?;
    }
    store::delete_project(c, id)?;
    revoker.revoke(c, Revoke::project(id))
}

// ------------------------------------------------------------------------------------ tags

pub async fn project_tags(ctx: &Ctx<'_>, id: &str) -> Result<Vec<String>> {
    Ok(load_project(ctx, id, "list_project_tags").await?.tags)
}

pub async fn has_project_tag(ctx: &Ctx<'_>, id: &str, tag: &str) -> Result<()> {
    let view = load_project(ctx, id, "get_project_tag").await?;
    if view.tags.iter().any(|t| t == tag) {
        Ok(())
    } else {
        Err(Error::NotFoundMsg(format!(
            "Tag {tag} not found on project {id}."
        )))
    }
}

/// Replaces (`Some(all)`), adds (`add`) or removes (`remove`) tags.
pub async fn change_project_tags(
    ctx: &Ctx<'_>,
    id: &str,
    replace: Option<Vec<String>>,
    add: Option<String>,
    remove: Option<String>,
) -> Result<Vec<String>> {
    let action = match (&replace, &add, &remove) {
        (Some(_), _, _) => "update_project_tags",
        (_, Some(_), _) => "create_project_tag",
        _ => "delete_project_tag",
    };
    let view = load_project(ctx, id, action).await?;
    let mut tags = match replace {
        Some(all) => check_tags(&all)?,
        None => view.tags.clone(),
    };
    if let Some(t) = add {
        check_tag(&t)?;
        if !tags.contains(&t) {
            tags.push(t);
        }
        check_tags(&tags)?;
    }
    if let Some(t) = remove {
        if !tags.contains(&t) {
            return Err(Error::NotFoundMsg(format!(
                "Tag {t} not found on project {id}."
            )));
        }
        tags.retain(|x| *x != t);
    }
    let pid = view.project.id.clone();
    ctx.state
        .store
        .tx(move |c| store::change_project_tags(c, &pid, &view.tags, &tags))
        .await
}

// ------------------------------------------------------------------------------------ domains

#[derive(Deserialize)]
pub struct DomainCreate {
    pub name: String,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    pub explicit_domain_id: Option<String>,
    pub tags: Option<Vec<String>>,
    pub options: Option<Map<String, Value>>,
    /// Every user of the domain must use MFA, unless its `multi_factor_auth_enabled` is `false`.
    #[serde(rename = "OS-PCU:mfa_required")]
    pub mfa_required: Option<bool>,
    /// Password and TOTP logins accept the user's email as `user.name`.
    #[serde(rename = "OS-PCU:login_by_email")]
    pub login_by_email: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Deserialize)]
pub struct DomainUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    pub tags: Option<Vec<String>>,
    pub options: Option<Map<String, Value>>,
    #[serde(rename = "OS-PCU:mfa_required")]
    pub mfa_required: Option<bool>,
    #[serde(rename = "OS-PCU:login_by_email")]
    pub login_by_email: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn domain_target(d: &Domain) -> Target<'_> {
    Target {
        domain_id: Some(&d.id),
        ..Default::default()
    }
}

pub async fn create_domain(ctx: &Ctx<'_>, req: DomainCreate) -> Result<Domain> {
    ctx.enforce("create_domain", Target::default())?;
    check_name("domain", "name", &req.name)?;
    check_tags(req.tags.as_deref().unwrap_or_default())?;
    crate::patch::check_resource_options("domain", req.options.as_ref())?;
    let id = match req.explicit_domain_id {
        Some(id) if crate::ids::is_uuid_hex(&id) => id,
        Some(_) => {
            return Err(Error::validation(
                "Invalid input for field 'domain.explicit_domain_id': expecting 32 lowercase hex digits.",
            ))
        }
        None => crate::ids::new_id(),
    };
    let d = Domain {
        id,
        name: req.name,
        description: req.description.unwrap_or_default(),
        enabled: req.enabled.unwrap_or(true),
        extra: merge_extra("domain", "{}", req.extra)?,
        created_at: ctx.now.naive_utc(),
        mfa_required: req.mfa_required.unwrap_or(false),
        // A new domain has no users: no duplicate emails to refuse.
        login_by_email: req.login_by_email.unwrap_or(false),
    };
    ctx.state
        .store
        .tx(move |c| {
            store::insert_domain(c, &d)?;
            Ok(d)
        })
        .await
}

async fn load_domain(ctx: &Ctx<'_>, id: &str, action: &str) -> Result<Domain> {
    let id = id.to_string();
    let d = ctx
        .state
        .store
        .run(move |c| found(store::get_domain(c, &id)?, "domain", &id))
        .await?;
    ctx.enforce(action, domain_target(&d))?;
    Ok(d)
}

pub async fn get_domain(ctx: &Ctx<'_>, id: &str) -> Result<Domain> {
    load_domain(ctx, id, "get_domain").await
}

pub async fn list_domains(ctx: &Ctx<'_>, f: DomainFilter) -> Result<Vec<Domain>> {
    ctx.enforce("list_domains", Target::default())?;
    ctx.state
        .store
        .run(move |c| store::list_domains(c, &f))
        .await
}

pub async fn update_domain(ctx: &Ctx<'_>, id: &str, req: DomainUpdate) -> Result<Domain> {
    let current = load_domain(ctx, id, "update_domain").await?;
    crate::patch::check_resource_options("domain", req.options.as_ref())?;
    let mut d = current.clone();
    if let Some(name) = req.name {
        check_name("domain", "name", &name)?;
        d.name = name;
    }
    if let Some(tags) = &req.tags {
        check_tags(tags)?;
    }
    if let Some(desc) = req.description {
        d.description = desc;
    }
    if let Some(e) = req.enabled {
        d.enabled = e;
    }
    if let Some(m) = req.mfa_required {
        d.mfa_required = m;
    }
    if let Some(l) = req.login_by_email {
        d.login_by_email = l;
    }
    crate::patch::check_same_id("domain", &current.id, &req.extra)?;
    d.extra = merge_extra("domain", &current.extra, req.extra)?;
    if d.id == DEFAULT_DOMAIN_ID && !d.enabled {
        return Err(Error::ForbiddenMsg(
            "The Default domain cannot be disabled: it holds the cloud administrator.".into(),
        ));
    }
    let disabled = current.enabled && !d.enabled;
    let revoker = ctx.revoker();
    ctx.state
        .store
        .tx(move |c| {
            let d = store::patch_domain(c, &current, &d)?;
            // Under the domain's row lock (taken by the patch), as user writes check emails.
            if d.login_by_email {
                crate::identity::emails::check_unique_in_domain(c, &d.id)?;
            }
            if disabled {
                revoker.revoke(c, Revoke::domain(&d.id))?;
            }
            Ok(d)
        })
        .await
}

/// Deletes a disabled domain and everything in it: projects, users, groups, domain roles and
/// their assignments, in one transaction.
pub async fn delete_domain(ctx: &Ctx<'_>, id: &str) -> Result<()> {
    let d = load_domain(ctx, id, "delete_domain").await?;
    if d.id == DEFAULT_DOMAIN_ID {
        return Err(Error::ForbiddenMsg(
            "The Default domain cannot be deleted.".into(),
        ));
    }
    if d.enabled {
        return Err(Error::ForbiddenMsg(
            "Cannot delete a domain that is enabled, please disable it first.".into(),
        ));
    }
    let revoker = ctx.revoker();
    ctx.state
        .store
        .tx(move |c| {
            // Children before parents.
            loop {
                let projects = store::list_projects(
                    c,
                    &ProjectFilter {
                        domain_id: Some(d.id.clone()),
                        ..Default::default()
                    },
                )?;
                if projects.is_empty() {
                    break;
                }
                let parents: Vec<&str> = projects
                    .iter()
                    .filter_map(|p| p.parent_id.as_deref())
                    .collect();
                for p in projects
                    .iter()
                    .filter(|p| !parents.contains(&p.id.as_str()))
                {
                    purge_project(c, &revoker, &p.id)?;
                }
            }
            for uid in store::user_ids_in_domain(c, &d.id)? {
                crate::identity::delete_application_credentials_of(c, &revoker, &uid, None)?;
                store::delete_user(c, &uid)?;
            }
            for gid in store::group_ids_in_domain(c, &d.id)? {
                store::delete_group(c, &gid)?;
            }
            store::delete_assignments_on_target(c, store::TARGET_DOMAIN, &d.id)?;
            for role in store::list_roles(
                c,
                &store::RoleFilter {
                    domain_id: Some(Some(d.id.clone())),
                    ..Default::default()
                },
            )? {
                store::delete_role(c, &role.id)?;
            }
            store::delete_domain(c, &d.id)?;
            revoker.revoke(c, Revoke::domain(&d.id))
        })
        .await
}
