//! Revocation events (Keystone's model): a token is revoked when some event's non-empty fields
//! all match it and the token was issued at or before the event's `issued_before`.

use chrono::{DateTime, Duration, Utc};

use crate::error::Result;
use crate::state::State;
use crate::store::{self, DbConnection, RevocationEvent};
use crate::token::Payload;

/// What an event targets; unset fields match anything.
#[derive(Debug, Default, Clone)]
pub struct Revoke {
    pub user_id: Option<String>,
    pub project_id: Option<String>,
    pub domain_id: Option<String>,
    pub audit_id: Option<String>,
    pub audit_chain_id: Option<String>,
    pub application_credential_id: Option<String>,
}

impl Revoke {
    pub fn user(id: &str) -> Self {
        Revoke {
            user_id: Some(id.into()),
            ..Default::default()
        }
    }
    pub fn project(id: &str) -> Self {
        Revoke {
            project_id: Some(id.into()),
            ..Default::default()
        }
    }
    pub fn user_on_project(user_id: &str, project_id: &str) -> Self {
        Revoke {
            user_id: Some(user_id.into()),
            project_id: Some(project_id.into()),
            ..Default::default()
        }
    }
    pub fn audit_id(id: &str) -> Self {
        Revoke {
            audit_id: Some(id.into()),
            ..Default::default()
        }
    }
    pub fn application_credential(id: &str) -> Self {
        Revoke {
            application_credential_id: Some(id.into()),
            ..Default::default()
        }
    }
    pub fn domain(id: &str) -> Self {
        Revoke {
            domain_id: Some(id.into()),
            ..Default::default()
        }
    }
}

/// Records the event (inside the caller's transaction, so that the change and the revocation land
/// together) and purges events too old to matter.
pub fn record(
    conn: &mut DbConnection,
    r: Revoke,
    now: DateTime<Utc>,
    keep_for: Duration,
) -> Result<()> {
    let at = now.naive_utc();
    store::insert_revocation_event(
        conn,
        &RevocationEvent {
            id: crate::ids::new_id(),
            user_id: r.user_id,
            project_id: r.project_id,
            domain_id: r.domain_id,
            role_id: None,
            audit_id: r.audit_id,
            audit_chain_id: r.audit_chain_id,
            application_credential_id: r.application_credential_id,
            issued_before: at,
            revoked_at: at,
        },
    )?;
    store::purge_revocation_events(conn, at - keep_for)?;
    Ok(())
}

/// How long an event must be kept: as long as a token it revokes could still be accepted.
pub fn retention(state: &State) -> Duration {
    Duration::seconds(
        (state.config.token.expiration + state.config.token.allow_expired_window) as i64 + 60,
    )
}

pub fn matches(
    e: &RevocationEvent,
    p: &Payload,
    project_domain_id: &str,
    user_domain_id: &str,
    issued_at: DateTime<Utc>,
) -> bool {
    fn field(event: &Option<String>, ok: impl FnOnce(&str) -> bool) -> bool {
        event.as_deref().is_none_or(ok)
    }
    issued_at.naive_utc() <= e.issued_before
        && field(&e.user_id, |v| v == p.user_id)
        && field(&e.project_id, |v| v == p.project_id)
        && field(&e.domain_id, |v| {
            v == project_domain_id || v == user_domain_id
        })
        && field(&e.audit_id, |v| p.audit_ids.first().is_some_and(|a| a == v))
        && field(&e.audit_chain_id, |v| {
            p.audit_ids.last().is_some_and(|a| a == v)
        })
        && field(&e.application_credential_id, |v| {
            p.application_credential_id.as_deref() == Some(v)
        })
}

/// Whether an event revokes the token described by `p`, read on `c` (a connection the caller
/// holds for the rest of its reads: one checkout per request).
pub fn is_revoked_in(
    c: &mut DbConnection,
    p: &Payload,
    project_domain_id: &str,
    user_domain_id: &str,
    issued_at: DateTime<Utc>,
) -> Result<bool> {
    let mut events = store::candidate_revocation_events(
        c,
        &p.user_id,
        &p.project_id,
        &p.audit_ids,
        p.application_credential_id.as_deref(),
        issued_at.naive_utc(),
    )?;
    events.extend(store::domain_revocation_events(
        c,
        &[project_domain_id.to_string(), user_domain_id.to_string()],
        issued_at.naive_utc(),
    )?);
    Ok(events
        .iter()
        .any(|e| matches(e, p, project_domain_id, user_domain_id, issued_at)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload() -> Payload {
        Payload {
            user_id: "u1".into(),
            methods: vec!["password".into()],
            project_id: "p1".into(),
            expires_at: DateTime::from_timestamp(2_000_000_000, 0).unwrap(),
            audit_ids: vec!["a-new".into(), "a-root".into()],
            application_credential_id: None,
        }
    }

    fn event(f: impl FnOnce(&mut RevocationEvent), before: i64) -> RevocationEvent {
        let mut e = RevocationEvent {
            issued_before: DateTime::from_timestamp(before, 0).unwrap().naive_utc(),
            ..Default::default()
        };
        f(&mut e);
        e
    }

    #[test]
    fn event_revokes_only_tokens_issued_before_it() {
        let p = payload();
        let e = event(|e| e.user_id = Some("u1".into()), 1000);
        assert!(matches(
            &e,
            &p,
            "d",
            "d",
            DateTime::from_timestamp(999, 0).unwrap()
        ));
        assert!(matches(
            &e,
            &p,
            "d",
            "d",
            DateTime::from_timestamp(1000, 0).unwrap()
        ));
        assert!(!matches(
            &e,
            &p,
            "d",
            "d",
            DateTime::from_timestamp(1001, 0).unwrap()
        ));
    }

    #[test]
    fn every_set_field_must_match() {
        let p = payload();
        let t = DateTime::from_timestamp(10, 0).unwrap();
        let both = event(
            |e| {
                e.user_id = Some("u1".into());
                e.project_id = Some("p2".into());
            },
            100,
        );
        assert!(!matches(&both, &p, "d", "d", t), "other project");
        let chain = event(|e| e.audit_chain_id = Some("a-root".into()), 100);
        assert!(matches(&chain, &p, "d", "d", t));
        let audit = event(|e| e.audit_id = Some("a-root".into()), 100);
        assert!(
            !matches(&audit, &p, "d", "d", t),
            "audit_id is the token's own id, not its chain"
        );
        let ac = event(|e| e.application_credential_id = Some("ac".into()), 100);
        assert!(!matches(&ac, &p, "d", "d", t));
        let dom = event(|e| e.domain_id = Some("d2".into()), 100);
        assert!(matches(&dom, &p, "d1", "d2", t));
    }
}
