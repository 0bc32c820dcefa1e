//! What a token's holder may ask of the auth API: inspect or revoke another token (as the policy
//! allows), and list its own catalog, projects and domains. Handlers call these and render.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{revoke, validate, TokenInfo};
use crate::catalog::CatalogService;
use crate::error::Result;
use crate::policy::{self, Target};
use crate::state::State;
use crate::store::{self, AccessRule, Domain, Project};

/// What a token body shows beyond the token's own facts.
pub struct TokenExtras {
    pub catalog: Option<Vec<CatalogService>>,
    pub access_rules: Vec<AccessRule>,
}

/// The subject token, if the caller may `action` it (validate, check or revoke). Expired tokens
/// within the window are shown only to callers the rule allows without owning the token.
pub async fn inspect(
    state: &State,
    caller: &TokenInfo,
    subject: &str,
    action: &str,
    allow_expired: bool,
    now: DateTime<Utc>,
) -> Result<TokenInfo> {
    // Decide on the caller's rights first; an owner check needs the subject's user.
    let privileged = policy::permits(caller, action, &Target::default());
    let info = validate(state, subject, now, allow_expired && privileged).await?;
    policy::enforce(
        caller,
        action,
        &Target {
            user_id: Some(&info.user.id),
            ..Default::default()
        },
    )?;
    Ok(info)
}

/// Revokes the subject token (its audit id) for good.
pub async fn revoke_token(
    state: &State,
    caller: &TokenInfo,
    subject: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let info = inspect(state, caller, subject, "revoke_token", false, now).await?;
    let audit_id = info.audit_ids.first().cloned().unwrap_or_default();
    let keep_for = revoke::retention(state);
    state
        .store
        .tx(move |c| revoke::record(c, revoke::Revoke::audit_id(&audit_id), now, keep_for))
        .await
}

/// The catalog and access rules a token body shows (cached per project and credential).
pub async fn token_extras(
    state: &State,
    t: &TokenInfo,
    with_catalog: bool,
) -> Result<Arc<TokenExtras>> {
    let project_id = t.project.id.clone();
    let app_cred = t.application_credential.as_ref().map(|a| a.id.clone());
    let ticket = state.cache.ticket();
    if let Some(hit) = state
        .cache
        .extras(ticket, &project_id, app_cred.as_deref(), with_catalog)
    {
        return Ok(hit);
    }
    let (pid, acid) = (project_id.clone(), app_cred.clone());
    let extras = state
        .store
        .run(move |c| {
            let catalog = match with_catalog {
                true => Some(crate::catalog::build(c, Some(&pid))?),
                false => None,
            };
            // Services (keystonemiddleware) enforce access rules from the token body: without
            // them a rule-limited credential would be unlimited.
            let access_rules = match &acid {
                Some(id) => store::access_rules_of_application_credential(c, id)?,
                None => vec![],
            };
            Ok(Arc::new(TokenExtras {
                catalog,
                access_rules,
            }))
        })
        .await?;
    state.cache.put_extras(
        ticket,
        &project_id,
        app_cred.as_deref(),
        with_catalog,
        extras.clone(),
    );
    Ok(extras)
}

/// The caller's catalog, for its token's project.
pub async fn catalog(state: &State, caller: &TokenInfo) -> Result<Vec<CatalogService>> {
    let extras = token_extras(state, caller, true).await?;
    Ok(extras.catalog.clone().unwrap_or_default())
}

/// Enabled projects the caller holds a role on (and can scope to), found from its own grants:
/// the cost follows what the caller can reach, not the size of the cloud.
pub async fn projects(state: &State, caller: &TokenInfo) -> Result<Vec<Project>> {
    let user_id = caller.user.id.clone();
    state
        .store
        .run(move |c| {
            Ok(crate::assignment::projects_with_roles(c, &user_id)?
                .into_iter()
                .filter(|p| p.enabled)
                .collect())
        })
        .await
}

/// Enabled domains the caller holds a role on. Tokens are never domain-scoped, but clients
/// list these.
pub async fn domains(state: &State, caller: &TokenInfo) -> Result<Vec<Domain>> {
    let user_id = caller.user.id.clone();
    state
        .store
        .run(move |c| {
            let mut actors = store::group_ids_of_user(c, &user_id)?;
            actors.push(user_id.clone());
            let grants = store::list_assignments(
                c,
                &store::AssignmentFilter {
                    actor_ids: Some(actors),
                    target_type: Some(store::TARGET_DOMAIN.into()),
                    ..Default::default()
                },
            )?;
            let ids: Vec<String> = grants.into_iter().map(|a| a.target_id).collect();
            store::list_domains(
                c,
                &store::DomainFilter {
                    ids: Some(ids),
                    enabled: Some(true),
                    ..Default::default()
                },
            )
        })
        .await
}
