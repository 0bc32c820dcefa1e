//! Roles, implied roles, grants and the role-assignment report, with Keystone's policy: a manager
//! grants only manager, member or reader, inside its own domain, never on the admin project.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::{Map, Value};

use super::reach::Reach;
use crate::auth::revoke::Revoke;
use crate::context::{found, Ctx, Revoker};
use crate::error::{Error, Result};
use crate::patch::{check_name, merge_extra};
use crate::policy::{Target, MANAGER_GRANTABLE};
use crate::store::{
    self, Assignment, AssignmentFilter, DbConnection, Project, ProjectFilter, Role, RoleFilter,
    ACTOR_GROUP, ACTOR_USER, SYSTEM_ALL, TARGET_DOMAIN, TARGET_PROJECT, TARGET_SYSTEM,
};

// ------------------------------------------------------------------------------------ roles

#[derive(Deserialize)]
pub struct RoleCreate {
    pub name: String,
    pub domain_id: Option<String>,
    pub description: Option<String>,
    pub options: Option<Map<String, Value>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Deserialize)]
pub struct RoleUpdate {
    pub name: Option<String>,
    pub domain_id: Option<String>,
    pub description: Option<String>,
    pub options: Option<Map<String, Value>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

pub async fn create_role(ctx: &Ctx<'_>, req: RoleCreate) -> Result<Role> {
    ctx.enforce("create_role", Target::default())?;
    check_name("role", "name", &req.name)?;
    crate::patch::check_resource_options("role", req.options.as_ref())?;
    let role = Role {
        id: crate::ids::new_id(),
        name: req.name,
        domain_id: req.domain_id,
        description: req.description.unwrap_or_default(),
        extra: merge_extra("role", "{}", req.extra)?,
        created_at: ctx.now.naive_utc(),
    };
    ctx.state
        .store
        .tx(move |c| {
            if let Some(d) = &role.domain_id {
                found(store::get_domain(c, d)?, "domain", d)?;
            }
            store::insert_role(c, &role)?;
            Ok(role)
        })
        .await
}

pub async fn get_role(ctx: &Ctx<'_>, id: &str) -> Result<Role> {
    let id = id.to_string();
    let role = ctx
        .state
        .store
        .run(move |c| found(store::get_role(c, &id)?, "role", &id))
        .await?;
    // Global roles are readable by managers (they pick what to grant); a domain's roles by its own.
    let own = ctx.domain_id().to_string();
    ctx.enforce(
        "get_role",
        Target {
            domain_id: Some(role.domain_id.as_deref().unwrap_or(&own)),
            ..Default::default()
        },
    )?;
    Ok(role)
}

pub async fn list_roles(ctx: &Ctx<'_>, f: RoleFilter) -> Result<Vec<Role>> {
    let target_domain = f.domain_id.clone().flatten();
    let own = ctx.domain_id().to_string();
    ctx.enforce(
        "list_roles",
        Target {
            domain_id: Some(target_domain.as_deref().unwrap_or(&own)),
            ..Default::default()
        },
    )?;
    ctx.state.store.run(move |c| store::list_roles(c, &f)).await
}

pub async fn update_role(ctx: &Ctx<'_>, id: &str, req: RoleUpdate) -> Result<Role> {
    let current = get_role(ctx, id).await?;
    ctx.enforce("update_role", Target::default())?;
    crate::patch::check_resource_options("role", req.options.as_ref())?;
    if req.domain_id.is_some() && req.domain_id != current.domain_id {
        return Err(Error::validation(
            "Invalid input for field 'role.domain_id': a role cannot move to another domain.",
        ));
    }
    let mut r = current.clone();
    if let Some(name) = req.name {
        check_name("role", "name", &name)?;
        r.name = name;
    }
    if let Some(d) = req.description {
        r.description = d;
    }
    crate::patch::check_same_id("role", &current.id, &req.extra)?;
    r.extra = merge_extra("role", &current.extra, req.extra)?;
    ctx.state
        .store
        .tx(move |c| store::patch_role(c, &current, &r))
        .await
}

/// Deletes a role with its assignments, implications and application-credential grants. Tokens
/// lose the role at their next validation (roles are recomputed each time).
pub async fn delete_role(ctx: &Ctx<'_>, id: &str) -> Result<()> {
    let role = get_role(ctx, id).await?;
    ctx.enforce("delete_role", Target::default())?;
    let revoker = ctx.revoker();
    ctx.state
        .store
        .tx(move |c| {
            let held = store::list_assignments(
                c,
                &AssignmentFilter {
                    role_ids: Some(vec![role.id.clone()]),
                    ..Default::default()
                },
            )?;
            store::delete_role(c, &role.id)?;
            for a in held {
                after_revoke(c, &revoker, &a)?;
            }
            Ok(())
        })
        .await
}

// ------------------------------------------------------------------------------ implied roles

/// Keystone's `prohibited_implied_role` default: no role may imply `admin`.
const PROHIBITED_IMPLIED: &[&str] = &["admin"];

pub struct Inference {
    pub prior: Role,
    pub implies: Vec<Role>,
}

pub async fn create_implied_role(
    ctx: &Ctx<'_>,
    prior: &str,
    implied: &str,
) -> Result<(Role, Role)> {
    ctx.enforce("create_implied_role", Target::default())?;
    let (prior, implied) = (prior.to_string(), implied.to_string());
    ctx.state
        .store
        .tx(move |c| {
            // An implication changes who reaches what: it waits for the realm's other changes.
            store::lock_realm(c)?;
            let p = found(store::get_role(c, &prior)?, "role", &prior)?;
            let i = found(store::get_role(c, &implied)?, "role", &implied)?;
            if p.domain_id.is_none() && i.domain_id.is_some() {
                return Err(Error::ForbiddenMsg(format!(
                    "Global role {} cannot imply the domain-specific role {}.",
                    p.id, i.id
                )));
            }
            if i.domain_id.is_none() && PROHIBITED_IMPLIED.contains(&i.name.as_str()) {
                return Err(Error::ForbiddenMsg(format!(
                    "Role {} ({}) cannot be implied: it would hand out cloud administration.",
                    i.id, i.name
                )));
            }
            if p.id == i.id
                || super::expand_implied(c, BTreeSet::from([i.id.clone()]))?.contains(&p.id)
            {
                return Err(Error::validation(format!(
                    "Role {} implying role {} would create a cycle of implications.",
                    p.id, i.id
                )));
            }
            store::insert_implied_role(c, &p.id, &i.id)?;
            Ok((p, i))
        })
        .await
}

/// Role implications are global facts a manager needs to see what a grant gives: readable in the
/// caller's own domain (the rule then admits its managers as well as the cloud's readers).
fn readable_by_managers<'a>(ctx: &'a Ctx<'_>) -> Target<'a> {
    Target {
        domain_id: Some(ctx.domain_id()),
        ..Default::default()
    }
}

pub async fn get_implied_role(ctx: &Ctx<'_>, prior: &str, implied: &str) -> Result<(Role, Role)> {
    ctx.enforce("get_implied_role", readable_by_managers(ctx))?;
    let (prior, implied) = (prior.to_string(), implied.to_string());
    ctx.state
        .store
        .run(move |c| {
            let p = found(store::get_role(c, &prior)?, "role", &prior)?;
            let i = found(store::get_role(c, &implied)?, "role", &implied)?;
            if !store::implied_role_exists(c, &p.id, &i.id)? {
                return Err(Error::NotFoundMsg(format!(
                    "Could not find implied role: {} implies {}.",
                    p.id, i.id
                )));
            }
            Ok((p, i))
        })
        .await
}

pub async fn delete_implied_role(ctx: &Ctx<'_>, prior: &str, implied: &str) -> Result<()> {
    ctx.enforce("delete_implied_role", Target::default())?;
    let (prior, implied) = (prior.to_string(), implied.to_string());
    ctx.state
        .store
        .tx(move |c| {
            if !store::delete_implied_role(c, &prior, &implied)? {
                return Err(Error::NotFoundMsg(format!(
                    "Could not find implied role: {prior} implies {implied}."
                )));
            }
            Ok(())
        })
        .await
}

/// Inference rules, all of them or those of one prior role.
pub async fn inferences(ctx: &Ctx<'_>, prior: Option<&str>) -> Result<Vec<Inference>> {
    ctx.enforce(
        if prior.is_some() {
            "list_implied_roles"
        } else {
            "list_role_inference_rules"
        },
        readable_by_managers(ctx),
    )?;
    let prior = prior.map(str::to_string);
    ctx.state
        .store
        .run(move |c| {
            if let Some(p) = &prior {
                found(store::get_role(c, p)?, "role", p)?;
            }
            let pairs = store::list_implied_roles(c)?;
            let mut by_prior: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (p, i) in pairs {
                if prior.as_ref().is_none_or(|want| *want == p) {
                    by_prior.entry(p).or_default().push(i);
                }
            }
            if let Some(p) = &prior {
                by_prior.entry(p.clone()).or_default();
            }
            let mut out = vec![];
            for (p, implied) in by_prior {
                let Some(prior) = store::get_role(c, &p)? else {
                    continue;
                };
                let implies = store::roles_by_ids(c, &implied)?;
                out.push(Inference { prior, implies });
            }
            Ok(out)
        })
        .await
}

// ------------------------------------------------------------------------------------ grants

#[derive(Debug, Clone)]
pub struct GrantRef {
    pub actor_type: &'static str,
    pub actor_id: String,
    pub target_type: &'static str,
    pub target_id: String,
    pub inherited: bool,
}

/// Checks that the actor and target exist and returns the actor's and the target's domains.
fn resolve(c: &mut DbConnection, g: &GrantRef) -> Result<(String, Option<String>)> {
    let actor_domain = match g.actor_type {
        ACTOR_USER => found(store::get_user(c, &g.actor_id)?, "user", &g.actor_id)?.domain_id,
        _ => found(store::get_group(c, &g.actor_id)?, "group", &g.actor_id)?.domain_id,
    };
    let target_domain = match g.target_type {
        TARGET_PROJECT => Some(
            found(
                store::get_project(c, &g.target_id)?,
                "project",
                &g.target_id,
            )?
            .domain_id,
        ),
        TARGET_DOMAIN => {
            found(store::get_domain(c, &g.target_id)?, "domain", &g.target_id)?;
            Some(g.target_id.clone())
        }
        _ => None,
    };
    Ok((actor_domain, target_domain))
}

/// Policy for a grant: `action` on the target's domain; a non-admin also keeps to its own domain
/// and to the grantable roles, and the policy keeps it away from anything that reaches the
/// operator's realm (the grant itself, or a privileged actor).
async fn authorize_grant(
    ctx: &Ctx<'_>,
    g: &GrantRef,
    role_id: Option<&str>,
    action: &str,
) -> Result<Option<Role>> {
    let g2 = g.clone();
    let rid = role_id.map(str::to_string);
    let realm = ctx.state.realm.clone();
    let caller_domain = ctx.domain_id().to_string();
    let changes = action.starts_with("create") || action.starts_with("revoke");
    let (actor_domain, target_domain, reaches_realm, role) = ctx
        .state
        .store
        .run(move |c| {
            let (a, t) = resolve(c, &g2)?;
            let role = match &rid {
                Some(r) => Some(found(store::get_role(c, r)?, "role", r)?),
                None => None,
            };
            let mut reaches = false;
            if changes {
                let reach = Reach::load(c, &realm, &caller_domain)?;
                reaches = reach.actor_privileged(c, g2.actor_type, &g2.actor_id)?
                    || (g2.target_type == TARGET_PROJECT
                        && reach.project_protected(c, &g2.target_id)?);
                if let Some(r) = &role {
                    reaches = reaches || reach.grant_reaches(c, &assignment(&g2, &r.id))?;
                }
            }
            Ok((a, t, reaches, role))
        })
        .await?;
    let system = g.target_type == TARGET_SYSTEM;
    let action = if system {
        match action {
            "create_grant" => "create_system_grant",
            "revoke_grant" => "revoke_system_grant",
            "check_grant" => "check_system_grant",
            _ => "list_system_grants",
        }
    } else {
        action
    };
    ctx.enforce(
        action,
        Target {
            domain_id: target_domain.as_deref(),
            project_id: (g.target_type == TARGET_PROJECT).then_some(g.target_id.as_str()),
            user_id: None,
            protected: reaches_realm,
        },
    )?;
    if !ctx.is_cloud_admin() && changes {
        let own = ctx.domain_id();
        let role_ok = role.as_ref().is_none_or(|r| {
            MANAGER_GRANTABLE.contains(&r.name.as_str())
                && r.domain_id.as_deref().is_none_or(|d| d == own)
        });
        if actor_domain != own || !role_ok {
            return Err(Error::forbidden(action));
        }
    }
    if let (Some(r), Some(d)) = (&role, &target_domain) {
        if r.domain_id.as_ref().is_some_and(|rd| rd != d) {
            return Err(Error::ForbiddenMsg(format!(
                "Role {} belongs to another domain and cannot be granted here.",
                r.id
            )));
        }
    }
    Ok(role)
}

fn assignment(g: &GrantRef, role_id: &str) -> Assignment {
    Assignment {
        actor_type: g.actor_type.into(),
        actor_id: g.actor_id.clone(),
        target_type: g.target_type.into(),
        target_id: g.target_id.clone(),
        role_id: role_id.into(),
        inherited: g.inherited,
    }
}

pub async fn create_grant(ctx: &Ctx<'_>, g: GrantRef, role_id: &str) -> Result<()> {
    authorize_grant(ctx, &g, Some(role_id), "create_grant").await?;
    let a = assignment(&g, role_id);
    let guard = ctx.realm_guard(if g.target_type == TARGET_SYSTEM {
        "create_system_grant"
    } else {
        "create_grant"
    });
    ctx.state
        .store
        .tx(move |c| {
            let (_, target_domain) = resolve(c, &g)?;
            let target = Target {
                project_id: (g.target_type == TARGET_PROJECT).then_some(g.target_id.as_str()),
                domain_id: target_domain.as_deref(),
                ..Default::default()
            };
            guard.check(c, target, |reach, c| {
                Ok(reach.actor_privileged(c, g.actor_type, &g.actor_id)?
                    || reach.grant_reaches(c, &a)?
                    || (g.target_type == TARGET_PROJECT
                        && reach.project_protected(c, &g.target_id)?))
            })?;
            // Under the realm lock: a concurrent bind or membership change waits for this one.
            super::bound::check_grant(c, &a)?;
            store::insert_assignment(c, &a)
        })
        .await
}

pub async fn check_grant(ctx: &Ctx<'_>, g: GrantRef, role_id: &str) -> Result<()> {
    authorize_grant(ctx, &g, Some(role_id), "check_grant").await?;
    let a = assignment(&g, role_id);
    let exists = ctx
        .state
        .store
        .run(move |c| store::assignment_exists(c, &a))
        .await?;
    if exists {
        Ok(())
    } else {
        Err(grant_not_found(&g, role_id))
    }
}

fn grant_not_found(g: &GrantRef, role_id: &str) -> Error {
    Error::NotFoundMsg(format!(
        "Could not find role assignment with role: {role_id}, {}: {}, {}: {}.",
        g.actor_type, g.actor_id, g.target_type, g.target_id
    ))
}

/// Removes a grant; where it was an actor's last role on a project, its tokens and application
/// credentials there go at once.
pub async fn revoke_grant(ctx: &Ctx<'_>, g: GrantRef, role_id: &str) -> Result<()> {
    authorize_grant(ctx, &g, Some(role_id), "revoke_grant").await?;
    let a = assignment(&g, role_id);
    let revoker = ctx.revoker();
    let missing = grant_not_found(&g, role_id);
    ctx.state
        .store
        .tx(move |c| {
            if !store::delete_assignment(c, &a)? {
                return Err(missing);
            }
            after_revoke(c, &revoker, &a)
        })
        .await
}

pub async fn list_grants(ctx: &Ctx<'_>, g: GrantRef) -> Result<Vec<Role>> {
    authorize_grant(ctx, &g, None, "list_grants").await?;
    ctx.state
        .store
        .run(move |c| {
            let held = store::list_assignments(
                c,
                &AssignmentFilter {
                    actor_type: Some(g.actor_type.into()),
                    actor_ids: Some(vec![g.actor_id.clone()]),
                    target_type: Some(g.target_type.into()),
                    target_ids: Some(vec![g.target_id.clone()]),
                    inherited: Some(g.inherited),
                    ..Default::default()
                },
            )?;
            let ids: Vec<String> = held.into_iter().map(|a| a.role_id).collect();
            store::roles_by_ids(c, &ids)
        })
        .await
}

/// The projects an assignment reaches.
fn projects_reached(c: &mut DbConnection, a: &Assignment) -> Result<Vec<String>> {
    Ok(match (a.target_type.as_str(), a.inherited) {
        (TARGET_PROJECT, false) => vec![a.target_id.clone()],
        (TARGET_PROJECT, true) => descendants(c, &a.target_id)?,
        (TARGET_DOMAIN, true) => store::list_projects(
            c,
            &ProjectFilter {
                domain_id: Some(a.target_id.clone()),
                ..Default::default()
            },
        )?
        .into_iter()
        .map(|p| p.id)
        .collect(),
        _ => vec![],
    })
}

/// The projects above `project`, nearest first (not including it).
fn ancestors(c: &mut DbConnection, project: &store::Project) -> Result<Vec<String>> {
    let mut out: Vec<String> = vec![];
    let mut next = project.parent_id.clone();
    while let Some(id) = next.take() {
        if id == project.id || out.contains(&id) {
            break;
        }
        next = store::get_project(c, &id)?.and_then(|p| p.parent_id);
        out.push(id);
    }
    Ok(out)
}

/// Projects under `id` (not including it).
fn descendants(c: &mut DbConnection, id: &str) -> Result<Vec<String>> {
    let mut out = vec![];
    let mut frontier = vec![id.to_string()];
    while let Some(p) = frontier.pop() {
        let children = store::list_projects(
            c,
            &ProjectFilter {
                parent_id: Some(p),
                ..Default::default()
            },
        )?;
        for ch in children {
            if !out.contains(&ch.id) && ch.id != id {
                frontier.push(ch.id.clone());
                out.push(ch.id);
            }
        }
    }
    Ok(out)
}

/// Projects on which an actor holds some grant (directly or inherited).
pub fn projects_of_actor(c: &mut DbConnection, actor_type: &str, id: &str) -> Result<Vec<String>> {
    let held = store::list_assignments(
        c,
        &AssignmentFilter {
            actor_type: Some(actor_type.into()),
            actor_ids: Some(vec![id.into()]),
            ..Default::default()
        },
    )?;
    let mut out = BTreeSet::new();
    for a in &held {
        out.extend(projects_reached(c, a)?);
    }
    Ok(out.into_iter().collect())
}

/// For each project where `user_id` now holds no role: revoke its tokens there and delete its
/// application credentials there.
pub fn revoke_if_roleless(
    c: &mut DbConnection,
    revoker: &Revoker,
    user_id: &str,
    project_ids: &[String],
) -> Result<()> {
    for pid in project_ids {
        let Some(project) = store::get_project(c, pid)? else {
            continue;
        };
        if super::granted_role_ids_on_project(c, user_id, &project)?.is_empty() {
            crate::identity::delete_application_credentials_of(c, revoker, user_id, Some(pid))?;
            revoker.revoke(c, Revoke::user_on_project(user_id, pid))?;
        }
    }
    Ok(())
}

/// Consequences of removing assignment `a` (already deleted).
fn after_revoke(c: &mut DbConnection, revoker: &Revoker, a: &Assignment) -> Result<()> {
    let projects = projects_reached(c, a)?;
    if projects.is_empty() {
        return Ok(());
    }
    let users = if a.actor_type == ACTOR_GROUP {
        store::user_ids_in_group(c, &a.actor_id)?
    } else {
        vec![a.actor_id.clone()]
    };
    for u in users {
        revoke_if_roleless(c, revoker, &u, &projects)?;
    }
    Ok(())
}

/// Projects on which a user holds any role (direct, through groups, inherited).
pub fn projects_with_roles(c: &mut DbConnection, user_id: &str) -> Result<Vec<Project>> {
    let mut ids = BTreeSet::new();
    ids.extend(projects_of_actor(c, ACTOR_USER, user_id)?);
    for g in store::group_ids_of_user(c, user_id)? {
        ids.extend(projects_of_actor(c, ACTOR_GROUP, &g)?);
    }
    store::list_projects(
        c,
        &ProjectFilter {
            ids: Some(ids.into_iter().collect()),
            ..Default::default()
        },
    )
}

// -------------------------------------------------------------------------- role assignments

#[derive(Debug, Default, Clone)]
pub struct AssignmentQuery {
    pub user_id: Option<String>,
    pub group_id: Option<String>,
    pub role_id: Option<String>,
    pub project_id: Option<String>,
    pub domain_id: Option<String>,
    pub system: bool,
    pub inherited_only: bool,
    pub effective: bool,
    pub include_names: bool,
    pub include_subtree: bool,
}

/// One line of `GET /v3/role_assignments`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AssignmentView {
    pub actor_type: String,
    pub actor_id: String,
    pub target_type: String,
    pub target_id: String,
    pub role_id: String,
    pub inherited: bool,
    /// Where the assignment itself lives (for effective lines: the one they derive from).
    pub assignment_link: String,
    pub membership_link: Option<String>,
    pub prior_role_link: Option<String>,
}

/// Names for `include_names`.
#[derive(Default)]
pub struct Names {
    pub roles: BTreeMap<String, Role>,
    pub users: BTreeMap<String, (String, String)>,
    pub groups: BTreeMap<String, (String, String)>,
    pub projects: BTreeMap<String, (String, String)>,
    pub domains: BTreeMap<String, String>,
}

pub fn assignment_path(a: &Assignment) -> String {
    let actor = if a.actor_type == ACTOR_USER {
        "users"
    } else {
        "groups"
    };
    let target = match a.target_type.as_str() {
        TARGET_PROJECT => format!("projects/{}", a.target_id),
        TARGET_DOMAIN => format!("domains/{}", a.target_id),
        _ => "system".into(),
    };
    if a.inherited {
        format!(
            "/v3/OS-INHERIT/{target}/{actor}/{}/roles/{}/inherited_to_projects",
            a.actor_id, a.role_id
        )
    } else {
        format!("/v3/{target}/{actor}/{}/roles/{}", a.actor_id, a.role_id)
    }
}

pub async fn role_assignments(
    ctx: &Ctx<'_>,
    q: AssignmentQuery,
) -> Result<(Vec<AssignmentView>, Option<Names>)> {
    // Who may see what, as the policy says: the cloud's readers everything, a manager its own
    // domain, anyone its own assignments.
    let own_domain = ctx.domain_id().to_string();
    let action = "list_role_assignments";
    let restrict_domain = if ctx.allows(action, Target::default()) {
        None
    } else if ctx.allows(
        action,
        Target {
            domain_id: Some(&own_domain),
            ..Default::default()
        },
    ) {
        Some(own_domain)
    } else {
        ctx.enforce(
            action,
            Target {
                user_id: Some(q.user_id.as_deref().unwrap_or_default()),
                ..Default::default()
            },
        )?;
        None
    };
    let base = ctx.base();
    ctx.state
        .store
        .run(move |c| {
            let mut lines = collect(c, &q, &base)?;
            if let Some(d) = &restrict_domain {
                // The domain's projects among the lines' targets, in one query per 10,000.
                let targets: BTreeSet<String> = lines
                    .iter()
                    .filter(|l| l.target_type == TARGET_PROJECT)
                    .map(|l| l.target_id.clone())
                    .collect();
                let in_domain: BTreeSet<String> = store::list_projects(
                    c,
                    &ProjectFilter {
                        domain_id: Some(d.clone()),
                        ids: Some(targets.into_iter().collect()),
                        ..Default::default()
                    },
                )?
                .into_iter()
                .map(|p| p.id)
                .collect();
                lines.retain(|l| match l.target_type.as_str() {
                    TARGET_DOMAIN => l.target_id == *d,
                    TARGET_PROJECT => in_domain.contains(&l.target_id),
                    _ => false,
                });
            }
            let names = if q.include_names {
                Some(names_for(c, &lines)?)
            } else {
                None
            };
            Ok((lines, names))
        })
        .await
}

fn collect(c: &mut DbConnection, q: &AssignmentQuery, base: &str) -> Result<Vec<AssignmentView>> {
    let mut actor_ids = None;
    if q.effective {
        if let Some(u) = &q.user_id {
            let mut ids = vec![u.clone()];
            ids.extend(store::group_ids_of_user(c, u)?);
            actor_ids = Some(ids);
        }
    } else if let Some(u) = &q.user_id {
        actor_ids = Some(vec![u.clone()]);
    }
    if let Some(g) = &q.group_id {
        actor_ids = Some(vec![g.clone()]);
    }
    let project_scope: Option<BTreeSet<String>> = match &q.project_id {
        Some(p) if q.include_subtree => {
            let mut s: BTreeSet<String> = descendants(c, p)?.into_iter().collect();
            s.insert(p.clone());
            Some(s)
        }
        Some(p) => Some(BTreeSet::from([p.clone()])),
        None => None,
    };
    // Only the grants that can yield a line in the asked scope are read (the filters below
    // still decide): not every assignment of the cloud.
    let mut filter = AssignmentFilter {
        actor_ids,
        ..Default::default()
    };
    if let (Some(scope), Some(p)) = (&project_scope, &q.project_id) {
        let mut targets: Vec<String> = scope.iter().cloned().collect();
        if q.effective {
            // Inherited grants reach the scope from its ancestors and its domain.
            if let Some(project) = store::get_project(c, p)? {
                targets.push(project.domain_id.clone());
                targets.extend(ancestors(c, &project)?);
            }
        } else {
            filter.target_type = Some(TARGET_PROJECT.into());
        }
        filter.target_ids = Some(targets);
    } else if let Some(d) = &q.domain_id {
        // Domain lines come only from grants on the domain itself.
        filter.target_type = Some(TARGET_DOMAIN.into());
        filter.target_ids = Some(vec![d.clone()]);
    } else if q.system {
        filter.target_type = Some(TARGET_SYSTEM.into());
        filter.target_ids = Some(vec![SYSTEM_ALL.into()]);
    }
    if !q.effective {
        // Effective lines of a role may come from grants of roles that imply it.
        filter.role_ids = q.role_id.clone().map(|r| vec![r]);
        if q.inherited_only {
            filter.inherited = Some(true);
        }
    }
    let raw = store::list_assignments(c, &filter)?;
    let mut lines: BTreeSet<AssignmentView> = BTreeSet::new();
    for a in raw {
        let link = format!("{base}{}", assignment_path(&a));
        if !q.effective {
            lines.insert(view(&a, link, None, None));
            continue;
        }
        // Effective: inherited grants land on the projects they reach; group grants on members.
        let targets: Vec<(String, String)> = if a.inherited {
            projects_reached(c, &a)?
                .into_iter()
                .filter(|p| project_scope.as_ref().is_none_or(|s| s.contains(p)))
                .map(|p| (TARGET_PROJECT.to_string(), p))
                .collect()
        } else {
            vec![(a.target_type.clone(), a.target_id.clone())]
        };
        if targets.is_empty() {
            continue;
        }
        let members: Vec<(String, Option<String>)> = if a.actor_type == ACTOR_GROUP {
            store::user_ids_in_group(c, &a.actor_id)?
                .into_iter()
                .filter(|u| q.user_id.as_ref().is_none_or(|want| want == u))
                .map(|u| {
                    let m = format!("{base}/v3/groups/{}/users/{u}", a.actor_id);
                    (u, Some(m))
                })
                .collect()
        } else {
            vec![(a.actor_id.clone(), None)]
        };
        let implied = super::expand_implied(c, BTreeSet::from([a.role_id.clone()]))?;
        // Domain-specific roles count only through the global roles they imply.
        let domain_roles: BTreeSet<String> =
            store::roles_by_ids(c, &implied.iter().cloned().collect::<Vec<_>>())?
                .into_iter()
                .filter(|r| r.domain_id.is_some())
                .map(|r| r.id)
                .collect();
        for (tt, tid) in &targets {
            for (user, membership) in &members {
                for role in implied.iter().filter(|r| !domain_roles.contains(*r)) {
                    let prior =
                        (*role != a.role_id).then(|| format!("{base}/v3/roles/{}", a.role_id));
                    lines.insert(AssignmentView {
                        actor_type: ACTOR_USER.into(),
                        actor_id: user.clone(),
                        target_type: tt.clone(),
                        target_id: tid.clone(),
                        role_id: role.clone(),
                        inherited: false,
                        assignment_link: link.clone(),
                        membership_link: membership.clone(),
                        prior_role_link: prior,
                    });
                }
            }
        }
    }
    Ok(lines
        .into_iter()
        .filter(|l| q.role_id.as_ref().is_none_or(|r| *r == l.role_id))
        .filter(|l| {
            q.user_id.is_none()
                || q.effective
                || (l.actor_type == ACTOR_USER && q.user_id.as_ref() == Some(&l.actor_id))
        })
        .filter(|l| {
            project_scope
                .as_ref()
                .is_none_or(|s| l.target_type == TARGET_PROJECT && s.contains(&l.target_id))
        })
        .filter(|l| {
            q.domain_id
                .as_ref()
                .is_none_or(|d| l.target_type == TARGET_DOMAIN && l.target_id == *d)
        })
        .filter(|l| !q.system || (l.target_type == TARGET_SYSTEM && l.target_id == SYSTEM_ALL))
        .filter(|l| !q.inherited_only || l.inherited)
        .collect())
}

fn view(a: &Assignment, link: String, m: Option<String>, p: Option<String>) -> AssignmentView {
    AssignmentView {
        actor_type: a.actor_type.clone(),
        actor_id: a.actor_id.clone(),
        target_type: a.target_type.clone(),
        target_id: a.target_id.clone(),
        role_id: a.role_id.clone(),
        inherited: a.inherited,
        assignment_link: link,
        membership_link: m,
        prior_role_link: p,
    }
}

fn names_for(c: &mut DbConnection, lines: &[AssignmentView]) -> Result<Names> {
    let mut n = Names::default();
    let mut domain_ids = BTreeSet::new();
    for l in lines {
        if !n.roles.contains_key(&l.role_id) {
            if let Some(r) = store::get_role(c, &l.role_id)? {
                if let Some(d) = &r.domain_id {
                    domain_ids.insert(d.clone());
                }
                n.roles.insert(r.id.clone(), r);
            }
        }
        if l.actor_type == ACTOR_USER && !n.users.contains_key(&l.actor_id) {
            if let Some(u) = store::get_user(c, &l.actor_id)? {
                domain_ids.insert(u.domain_id.clone());
                n.users.insert(u.id, (u.name, u.domain_id));
            }
        }
        if l.actor_type == ACTOR_GROUP && !n.groups.contains_key(&l.actor_id) {
            if let Some(g) = store::get_group(c, &l.actor_id)? {
                domain_ids.insert(g.domain_id.clone());
                n.groups.insert(g.id, (g.name, g.domain_id));
            }
        }
        match l.target_type.as_str() {
            TARGET_PROJECT if !n.projects.contains_key(&l.target_id) => {
                if let Some(p) = store::get_project(c, &l.target_id)? {
                    domain_ids.insert(p.domain_id.clone());
                    n.projects.insert(p.id, (p.name, p.domain_id));
                }
            }
            TARGET_DOMAIN => {
                domain_ids.insert(l.target_id.clone());
            }
            _ => {}
        }
    }
    for d in domain_ids {
        if let Some(dom) = store::get_domain(c, &d)? {
            n.domains.insert(dom.id, dom.name);
        }
    }
    Ok(n)
}

/// Keeps the actor-kind names used by the HTTP layer in one place.
pub fn actor_type(kind: &str) -> Result<&'static str> {
    match kind {
        "users" => Ok(ACTOR_USER),
        "groups" => Ok(ACTOR_GROUP),
        other => Err(Error::NotFoundMsg(format!(
            "The resource could not be found: unknown actor kind {other}."
        ))),
    }
}

/// Role filter for `GET /v3/roles`: `domain_id` selects that domain's roles, else global ones.
pub fn role_filter(
    name: Option<store::filter::TextFilter>,
    domain_id: Option<String>,
) -> RoleFilter {
    RoleFilter {
        name,
        domain_id: Some(domain_id),
        ..Default::default()
    }
}

/// System grants for one actor (tempest's dynamic credentials make them).
pub async fn list_system_grants(
    ctx: &Ctx<'_>,
    actor_type: &'static str,
    actor_id: &str,
) -> Result<Vec<Role>> {
    list_grants(
        ctx,
        GrantRef {
            actor_type,
            actor_id: actor_id.into(),
            target_type: TARGET_SYSTEM,
            target_id: SYSTEM_ALL.into(),
            inherited: false,
        },
    )
    .await
}
