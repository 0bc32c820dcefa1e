//! What every management operation runs with: the shared state, the proven caller and the time.
//! Domain functions take a `Ctx` and enforce the policy themselves, so that no caller can reach the
//! store around the rules.

use chrono::{DateTime, Duration, Utc};

use crate::assignment::reach::Reach;
use crate::auth::revoke::{self, Revoke};
use crate::auth::TokenInfo;
use crate::error::{Error, Result};
use crate::policy::{self, Target};
use crate::state::State;
use crate::store::DbConnection;

#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub state: &'a State,
    pub caller: &'a TokenInfo,
    pub now: DateTime<Utc>,
}

impl<'a> Ctx<'a> {
    pub fn new(state: &'a State, caller: &'a TokenInfo) -> Self {
        Ctx {
            state,
            caller,
            now: Utc::now(),
        }
    }

    /// 403 naming `identity:<action>` unless the policy allows it on `target`.
    pub fn enforce(&self, action: &str, target: Target) -> Result<()> {
        policy::enforce(self.caller, action, &target)
    }

    pub fn allows(&self, action: &str, target: Target) -> bool {
        policy::permits(self.caller, action, &target)
    }

    /// Whether the caller may grant the role `name` (of `role_domain`) in `target_domain`.
    pub fn may_grant_role(
        &self,
        name: &str,
        role_domain: Option<&str>,
        target_domain: &str,
    ) -> bool {
        policy::may_grant_role(self.caller, name, role_domain, target_domain)
    }

    pub fn is_cloud_admin(&self) -> bool {
        policy::is_cloud_admin(self.caller)
    }

    /// Reads across the whole cloud (cloud admin or reader on the admin project).
    pub fn is_cloud_reader(&self) -> bool {
        policy::is_cloud_reader(self.caller)
    }

    /// The domain a list may cover: any (or the one asked for) for the cloud's readers, else the
    /// caller's own domain, refusing a request for another one. Then `action` is enforced on it.
    pub fn list_scope(&self, action: &str, requested: Option<String>) -> Result<Option<String>> {
        let scope = if self.is_cloud_reader() {
            requested
        } else {
            let own = self.domain_id().to_string();
            if requested.as_ref().is_some_and(|d| *d != own) {
                return Err(Error::forbidden(action));
            }
            Some(own)
        };
        self.enforce(
            action,
            Target {
                domain_id: scope.as_deref(),
                ..Default::default()
            },
        )?;
        Ok(scope)
    }

    /// The domain of the caller's project: where a customer administrator's powers end.
    pub fn domain_id(&self) -> &str {
        &self.caller.project.domain_id
    }

    pub fn user_id(&self) -> &str {
        &self.caller.user.id
    }

    pub fn base(&self) -> String {
        self.state.public_url()
    }

    /// How long revocation events must be kept.
    pub fn keep_revocations(&self) -> Duration {
        revoke::retention(self.state)
    }

    /// The protection check for `action`, to repeat inside the transaction of the change.
    pub fn realm_guard(&self, action: &'static str) -> RealmGuard {
        RealmGuard {
            caller: self.caller.clone(),
            realm: self.state.realm.clone(),
            action,
        }
    }

    /// A recorder for revocation events, to call inside the transaction of the change.
    pub fn revoker(&self) -> Revoker {
        Revoker {
            now: self.now,
            keep_for: self.keep_revocations(),
        }
    }
}

/// The protection check repeated inside a write transaction (`Send`, unlike `Ctx`): the check
/// before the transaction answers early, this one decides with what is committed once
/// `store::lock_realm` has serialized the writes that change who reaches the realm.
#[derive(Clone)]
pub struct RealmGuard {
    caller: TokenInfo,
    realm: std::sync::Arc<crate::realm::Realm>,
    action: &'static str,
}

impl RealmGuard {
    /// Locks the realm, then refuses `action` on `target` when `protected` (computed from
    /// effective reach as it now stands) says the target is beyond the caller.
    pub fn check(
        &self,
        conn: &mut DbConnection,
        target: Target,
        protected: impl FnOnce(&Reach, &mut DbConnection) -> Result<bool>,
    ) -> Result<()> {
        crate::store::lock_realm(conn)?;
        if policy::is_cloud_admin(&self.caller) {
            return Ok(());
        }
        let reach = Reach::load(conn, &self.realm, &self.caller.project.domain_id)?;
        let protected = protected(&reach, conn)?;
        policy::enforce(
            &self.caller,
            self.action,
            &Target {
                protected,
                ..target
            },
        )
    }
}

/// Records revocation events inside a transaction (`Send`, unlike `Ctx`).
#[derive(Clone, Copy)]
pub struct Revoker {
    now: DateTime<Utc>,
    keep_for: Duration,
}

impl Revoker {
    /// Records `r` with the moment it is written as its cut-off, never earlier than the request's
    /// time: a change is recorded after the slow work before it (hashing), and a login that read
    /// the old state fixed its token's issue time before this moment, so the event covers it.
    pub fn revoke(&self, conn: &mut DbConnection, r: Revoke) -> Result<()> {
        revoke::record(conn, r, self.now.max(Utc::now()), self.keep_for)
    }
}

/// Refuses a missing resource with Keystone's 404.
pub fn found<T>(v: Option<T>, kind: &'static str, id: &str) -> Result<T> {
    v.ok_or_else(|| Error::not_found(kind, id))
}
