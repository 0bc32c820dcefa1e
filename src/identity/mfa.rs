//! MFA rules (Keystone's `multi_factor_auth_enabled` and `multi_factor_auth_rules` user
//! options): which sets of auth methods a user's login must prove, and whether a user shows
//! `OS-PCU:mfa_enabled`.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::store::{self, DbConnection, UserOption};

pub const MFA_ENABLED: &str = "multi_factor_auth_enabled";
pub const MFA_RULES: &str = "multi_factor_auth_rules";

/// Methods that can never prove anything in a rule: markers, not ways to log in.
const NOT_IN_RULES: &[&str] = &[crate::auth::EC2_METHOD];

/// Checks a `multi_factor_auth_rules` value: a list of rules, each a non-empty list of distinct
/// method names this server accepts. `null` or `[]` clears the rules.
pub fn check_rules(v: &Value, configured: &[String]) -> Result<()> {
    let bad = |why: String| {
        Error::validation(format!(
            "Invalid input for field 'user.options.{MFA_RULES}': {why}"
        ))
    };
    let rules = match v {
        Value::Null => return Ok(()),
        Value::Array(a) => a,
        _ => return Err(bad("expecting a list of rules, each a list of auth method names, e.g. [[\"password\", \"totp\"]].".into())),
    };
    let usable: Vec<&str> = configured
        .iter()
        .map(String::as_str)
        .filter(|m| !NOT_IN_RULES.contains(m))
        .collect();
    for rule in rules {
        let Value::Array(methods) = rule else {
            return Err(bad(
                "each rule is a list of auth method names, e.g. [\"password\", \"totp\"].".into(),
            ));
        };
        if methods.is_empty() {
            return Err(bad(
                "a rule may not be empty: list the methods a login must use.".into(),
            ));
        }
        let mut seen: Vec<&str> = vec![];
        for m in methods {
            let Some(name) = m.as_str() else {
                return Err(bad("auth method names are strings.".into()));
            };
            if !usable.contains(&name) {
                return Err(bad(format!(
                    "unknown auth method {name:?}; methods this server accepts: {}.",
                    usable.join(", ")
                )));
            }
            if seen.contains(&name) {
                return Err(bad(format!("method {name:?} is listed twice in one rule.")));
            }
            seen.push(name);
        }
    }
    Ok(())
}

/// The rule a user gets from its domain's `OS-PCU:mfa_required` when it has none of its own.
pub const DOMAIN_RULE: &[&str] = &["password", "totp"];

/// The rules a user must satisfy, from its options and its domain's `OS-PCU:mfa_required`:
/// - `multi_factor_auth_enabled: true`: its `multi_factor_auth_rules` (Keystone), or the domain's
///   rule (password + totp) when it has none and the domain requires MFA;
/// - `multi_factor_auth_enabled: false`, set explicitly: none; this is how a user is exempted
///   from its domain's requirement;
/// - not set: the domain decides: the user's rules if it has some, else password + totp;
///   nothing when the domain does not require MFA.
///
/// Rules naming a method this server no longer accepts lose that method, and rules left empty
/// are dropped (as Keystone does).
pub fn rules_of(
    options: &[UserOption],
    configured: &[String],
    domain_requires: bool,
) -> Vec<Vec<String>> {
    let on = |name: &str| {
        options
            .iter()
            .find(|o| o.name == name)
            .map(|o| o.value.as_str())
    };
    let enforce = match on(MFA_ENABLED) {
        Some("true") => true,
        Some(_) => false,
        None => domain_requires,
    };
    if !enforce {
        return vec![];
    }
    let own = own_rules(on(MFA_RULES), configured);
    if own.is_empty() && domain_requires {
        return vec![DOMAIN_RULE.iter().map(|m| m.to_string()).collect()];
    }
    own
}

fn own_rules(stored: Option<&str>, configured: &[String]) -> Vec<Vec<String>> {
    let Some(Ok(Value::Array(rules))) = stored.map(serde_json::from_str::<Value>) else {
        return vec![];
    };
    rules
        .iter()
        .filter_map(|r| r.as_array())
        .map(|r| {
            r.iter()
                .filter_map(|m| m.as_str())
                .filter(|m| configured.iter().any(|c| c == m) && !NOT_IN_RULES.contains(m))
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .filter(|r| !r.is_empty())
        .collect()
}

/// The rules a user's login must satisfy now.
pub fn effective_rules(
    c: &mut DbConnection,
    user_id: &str,
    configured: &[String],
) -> Result<Vec<Vec<String>>> {
    let Some(user) = store::get_user(c, user_id)? else {
        return Ok(vec![]);
    };
    let domain_requires = domain_requires_mfa(c, &user.domain_id)?;
    Ok(rules_of(
        &store::user_options(c, user_id)?,
        configured,
        domain_requires,
    ))
}

pub fn domain_requires_mfa(c: &mut DbConnection, domain_id: &str) -> Result<bool> {
    Ok(store::get_domain(c, domain_id)?.is_some_and(|d| d.mfa_required))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn methods() -> Vec<String> {
        crate::config::TokenConfig::default().methods
    }

    #[test]
    fn rules_are_validated() {
        let m = methods();
        assert!(check_rules(
            &json!([["password", "totp"], ["application_credential"]]),
            &m
        )
        .is_ok());
        assert!(check_rules(&json!([]), &m).is_ok());
        assert!(check_rules(&Value::Null, &m).is_ok());
        for bad in [
            json!([[]]),
            json!([["password", "sms"]]),
            json!([["password", "password"]]),
            json!(["password"]),
            json!([[1]]),
            json!({"a": 1}),
            json!([["ec2credential"]]),
        ] {
            let e = check_rules(&bad, &m).unwrap_err();
            assert!(matches!(e, Error::Validation(_)), "{bad}");
        }
    }

    fn opt(name: &str, value: &str) -> UserOption {
        UserOption {
            user_id: "u".into(),
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn rules_apply_only_when_enabled() {
        let m = methods();
        let rules = opt(MFA_RULES, r#"[["password","totp"],["gone"]]"#);
        let pt = vec![vec!["password".to_string(), "totp".to_string()]];
        let on = opt(MFA_ENABLED, "true");
        let off = opt(MFA_ENABLED, "false");
        assert!(rules_of(&[rules.clone()], &m, false).is_empty());
        assert_eq!(rules_of(&[rules.clone(), on.clone()], &m, false), pt);
        // The domain's requirement: inherited when unset, own rules first, explicit exemption.
        assert_eq!(rules_of(&[], &m, true), pt);
        assert_eq!(rules_of(&[on.clone()], &m, true), pt);
        assert!(rules_of(&[on], &m, false).is_empty());
        let own = opt(MFA_RULES, r#"[["totp"]]"#);
        assert_eq!(rules_of(&[own], &m, true), vec![vec!["totp".to_string()]]);
        assert!(rules_of(&[off, rules], &m, true).is_empty());
    }
}
