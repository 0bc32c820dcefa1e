//! Sending a link after its transaction committed, and what the response says about it: where it
//! went (or the URL itself when this cloud sends no mail), when it expires, and why sending
//! failed, if it did. A failure loses nothing: the link exists and can be resent.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use super::links::{self, Issued};
use crate::state::State;

/// Which message goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mail {
    SetPassword,
    Invitation,
    InvitationExistingUser,
    AccessGranted,
}

/// The `link` object of a response.
#[derive(Debug, Clone)]
pub struct LinkOutcome {
    pub expires_at: DateTime<Utc>,
    /// Where the email went (mail configured).
    pub sent_to: Option<String>,
    /// The link itself, when this cloud sends no mail: the caller hands it over.
    pub url: Option<String>,
    /// Why the email could not be sent (words safe for an administrator; never the link).
    pub delivery_error: Option<String>,
}

impl LinkOutcome {
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "expires_at": self.expires_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        });
        if let Some(m) = v.as_object_mut() {
            if let Some(s) = &self.sent_to {
                m.insert("sent_to".into(), json!(s));
            }
            if let Some(u) = &self.url {
                m.insert("url".into(), json!(u));
            }
            if let Some(e) = &self.delivery_error {
                m.insert("delivery_error".into(), json!(e));
            }
        }
        v
    }
}

/// The variables every template understands, from what the link is for.
pub struct MailVars {
    pub user_name: Option<String>,
    pub domain_name: String,
    pub project_name: Option<String>,
    pub inviter_name: Option<String>,
    pub roles: Vec<(String, String)>,
}

impl MailVars {
    pub fn to_json(&self, link_url: Option<&str>, expires_at: Option<DateTime<Utc>>) -> Value {
        json!({
            "user_name": self.user_name,
            "domain_name": self.domain_name,
            "project_name": self.project_name,
            "inviter_name": self.inviter_name,
            "link_url": link_url,
            "expires_at": expires_at.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true)),
            "roles": self.roles.iter().map(|(role, target)| json!({"role": role, "target": target})).collect::<Vec<_>>(),
        })
    }
}

/// A link issued inside a transaction, with where it goes and what its email says.
pub struct IssuedLink {
    pub issued: Issued,
    pub to: String,
    pub vars: MailVars,
}

/// Sends `mail` to `to`: `None` when this cloud has no mail server, else the outcome.
async fn send(state: &State, to: &str, mail: Mail, vars: &Value) -> Option<Result<(), String>> {
    let _ = (state, to, mail, vars);
    None
}

/// Sends a link just committed. Call after the transaction.
pub async fn deliver(
    state: &State,
    issued: &Issued,
    to: &str,
    mail: Mail,
    vars: &MailVars,
) -> LinkOutcome {
    let url = links::url(state, &issued.secret);
    let expires_at = issued.row.expires_at.and_utc();
    let body = vars.to_json(Some(&url), Some(expires_at));
    match send(state, to, mail, &body).await {
        None => LinkOutcome {
            expires_at,
            sent_to: None,
            url: Some(url),
            delivery_error: None,
        },
        Some(result) => LinkOutcome {
            expires_at,
            sent_to: Some(to.to_string()),
            url: None,
            delivery_error: result.err(),
        },
    }
}

/// Tells a user about access it just got (no link). Failures are logged, not returned: the
/// access is granted either way.
pub async fn notify(state: &State, to: &str, mail: Mail, vars: &MailVars) {
    if let Some(Err(e)) = send(state, to, mail, &vars.to_json(None, None)).await {
        tracing::warn!(error = %e, "could not send the access-granted email");
    }
}
