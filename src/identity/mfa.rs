//! MFA rules (Keystone's `multi_factor_auth_enabled` and `multi_factor_auth_rules` user
//! options): which sets of auth methods a user's login must prove, and whether a user shows
//! `OS-PCU:mfa_enabled`.

use serde_json::Value;

use crate::auth::totp::TOTP_TYPE;
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

/// The rules a user's options enforce: none unless `multi_factor_auth_enabled` is on; rules
/// naming a method this server no longer accepts lose that method, and rules left empty are
/// dropped (as Keystone does).
pub fn rules_of(options: &[UserOption], configured: &[String]) -> Vec<Vec<String>> {
    let on = |name: &str| {
        options
            .iter()
            .find(|o| o.name == name)
            .map(|o| o.value.as_str())
    };
    if on(MFA_ENABLED) != Some("true") {
        return vec![];
    }
    let Some(Ok(Value::Array(rules))) = on(MFA_RULES).map(serde_json::from_str::<Value>) else {
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
    Ok(rules_of(&store::user_options(c, user_id)?, configured))
}

/// `OS-PCU:mfa_enabled`: rules are enforced and the user has a TOTP credential.
pub fn mfa_enabled(
    c: &mut DbConnection,
    user_id: &str,
    options: &[UserOption],
    configured: &[String],
) -> Result<bool> {
    if rules_of(options, configured).is_empty() {
        return Ok(false);
    }
    Ok(!store::list_credentials(c, Some(user_id), Some(TOTP_TYPE))?.is_empty())
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
        assert!(rules_of(&[rules.clone()], &m).is_empty());
        assert_eq!(
            rules_of(&[rules, opt(MFA_ENABLED, "true")], &m),
            vec![vec!["password".to_string(), "totp".to_string()]]
        );
    }
}
