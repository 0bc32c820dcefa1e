//! What the done page tells a user to paste: the `export OS_*` lines for a POSIX shell and a
//! `clouds.yaml` entry. Names come from administrators and users (any printable text, quotes and
//! `$` included), so every value is quoted for its language here; the page then HTML-escapes the
//! whole text. The password is never part of it: the user types it.

/// Who logs in where: everything the lines say.
#[derive(Debug, Clone)]
pub struct Identity<'a> {
    /// `{public_url}/v3`.
    pub auth_url: &'a str,
    pub user_name: &'a str,
    pub user_domain_name: &'a str,
    /// The project and its domain, when the user has one project to work on.
    pub project: Option<(&'a str, &'a str)>,
}

/// A value as one shell word: bare when it holds only characters no POSIX shell treats
/// specially, else single-quoted (a `'` inside becomes `'\''`).
pub fn shell_quote(value: &str) -> String {
    let bare = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.,/:@%+=".contains(c));
    if bare {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

/// A value as a YAML scalar: a JSON string, which is a valid YAML double-quoted scalar, so that
/// names such as `yes`, `null`, `012` or `- x` stay strings.
fn yaml_string(value: &str) -> String {
    serde_json::Value::from(value).to_string()
}

/// The lines to paste into a shell, one per line, ending with a line that reads the password
/// without echoing it.
pub fn shell_exports(id: &Identity) -> String {
    let mut lines = vec![
        format!("export OS_AUTH_URL={}", shell_quote(id.auth_url)),
        "export OS_IDENTITY_API_VERSION=3".to_string(),
        format!("export OS_USERNAME={}", shell_quote(id.user_name)),
        format!(
            "export OS_USER_DOMAIN_NAME={}",
            shell_quote(id.user_domain_name)
        ),
    ];
    if let Some((project, domain)) = id.project {
        lines.push(format!("export OS_PROJECT_NAME={}", shell_quote(project)));
        lines.push(format!(
            "export OS_PROJECT_DOMAIN_NAME={}",
            shell_quote(domain)
        ));
    }
    lines.push(
        "read -rs OS_PASSWORD && export OS_PASSWORD   # type your password, then Enter".into(),
    );
    lines.join("\n")
}

/// The key a cloud gets in `clouds.yaml`: its name in lower case, runs of anything but letters
/// and digits as one `-` ("Example Cloud" -> "example-cloud"); `openstack` when nothing is left.
pub fn cloud_key(cloud_name: &str) -> String {
    let mut key = String::new();
    for c in cloud_name.chars() {
        if c.is_ascii_alphanumeric() {
            key.push(c.to_ascii_lowercase());
        } else if !key.is_empty() && !key.ends_with('-') {
            key.push('-');
        }
    }
    let key = key.trim_end_matches('-');
    if key.is_empty() {
        "openstack".into()
    } else {
        key.into()
    }
}

/// A `clouds.yaml` document with one cloud, `cloud_key`, for this identity.
pub fn clouds_yaml(cloud_key: &str, id: &Identity) -> String {
    clouds_yaml_with(cloud_key, id, &[])
}

/// The same for a user whose login takes its password and a TOTP passcode (keystoneauth1's
/// `v3multifactor` plugin).
pub fn multifactor_clouds_yaml(cloud_key: &str, id: &Identity) -> String {
    clouds_yaml_with(
        cloud_key,
        id,
        &[
            "auth_type: v3multifactor",
            "auth_methods: [v3password, v3totp]",
        ],
    )
}

/// The `openstack` command line that logs in with password and passcode (the CLI asks for the
/// password; the passcode is the app's current code).
pub fn multifactor_command(id: &Identity) -> String {
    let mut lines = vec![
        format!(
            "openstack --os-auth-url {} --os-identity-api-version 3",
            shell_quote(id.auth_url)
        ),
        "  --os-auth-type v3multifactor --os-auth-methods v3password,v3totp".to_string(),
        format!(
            "  --os-username {} --os-user-domain-name {}",
            shell_quote(id.user_name),
            shell_quote(id.user_domain_name)
        ),
    ];
    if let Some((project, domain)) = id.project {
        lines.push(format!(
            "  --os-project-name {} --os-project-domain-name {}",
            shell_quote(project),
            shell_quote(domain)
        ));
    }
    lines.push("  --os-passcode CODE-FROM-THE-APP token issue".to_string());
    lines.join(" \\\n")
}

/// `clouds.yaml` with `cloud_lines` (already YAML) beside the `auth` block.
fn clouds_yaml_with(cloud_key: &str, id: &Identity, cloud_lines: &[&str]) -> String {
    let mut auth = vec![
        format!("auth_url: {}", yaml_string(id.auth_url)),
        format!("username: {}", yaml_string(id.user_name)),
        format!("user_domain_name: {}", yaml_string(id.user_domain_name)),
    ];
    if let Some((project, domain)) = id.project {
        auth.push(format!("project_name: {}", yaml_string(project)));
        auth.push(format!("project_domain_name: {}", yaml_string(domain)));
    }
    let mut out = format!("clouds:\n  {}:\n", yaml_string(cloud_key));
    for line in cloud_lines {
        out.push_str("    ");
        out.push_str(line);
        out.push('\n');
    }
    out.push_str("    auth:\n");
    for line in auth {
        out.push_str("      ");
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str("    identity_api_version: 3\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_multifactor_lines_quote_names_and_name_both_methods() {
        let id = Identity {
            auth_url: "https://id.example/v3",
            user_name: "ann o'neil",
            user_domain_name: "Default",
            project: Some(("web", "Default")),
        };
        let cli = multifactor_command(&id);
        assert!(cli.contains("--os-username 'ann o'\\''neil'"), "{cli}");
        assert!(cli.contains("--os-auth-methods v3password,v3totp"), "{cli}");
        assert!(cli.contains("--os-project-name web"), "{cli}");
        let yaml = multifactor_clouds_yaml("cloud", &id);
        assert!(yaml.contains("    auth_type: v3multifactor\n"), "{yaml}");
        assert!(
            yaml.contains("    auth_methods: [v3password, v3totp]\n"),
            "{yaml}"
        );
        assert!(yaml.contains("      username: \"ann o'neil\"\n"), "{yaml}");
        assert_eq!(clouds_yaml("cloud", &id).matches("auth_type").count(), 0);
    }

    fn id<'a>(name: &'a str, project: Option<(&'a str, &'a str)>) -> Identity<'a> {
        Identity {
            auth_url: "https://cloud.example/identity/v3",
            user_name: name,
            user_domain_name: "Default",
            project,
        }
    }

    #[test]
    fn plain_names_stay_bare() {
        let text = shell_exports(&id("PCU-AB12CD34", Some(("web-shop", "Default"))));
        assert_eq!(
            text,
            "export OS_AUTH_URL=https://cloud.example/identity/v3\n\
             export OS_IDENTITY_API_VERSION=3\n\
             export OS_USERNAME=PCU-AB12CD34\n\
             export OS_USER_DOMAIN_NAME=Default\n\
             export OS_PROJECT_NAME=web-shop\n\
             export OS_PROJECT_DOMAIN_NAME=Default\n\
             read -rs OS_PASSWORD && export OS_PASSWORD   # type your password, then Enter"
        );
    }

    #[test]
    fn hostile_names_are_one_shell_word() {
        for (raw, quoted) in [
            ("ann o'neil", r"'ann o'\''neil'"),
            ("$(rm -rf ~)", "'$(rm -rf ~)'"),
            ("a;b`c`", "'a;b`c`'"),
            ("", "''"),
            ("x\ny", "'x\ny'"),
            ("ünïcode", "'ünïcode'"),
        ] {
            assert_eq!(shell_quote(raw), quoted, "{raw:?}");
        }
    }

    /// What a POSIX shell makes of the quoted word is the original value.
    #[test]
    fn the_shell_reads_back_the_original() {
        let names = [
            "ann o'neil",
            "$(echo pwned)",
            "a\"b\\c",
            "'''",
            "tab\there",
            "!x",
        ];
        for name in names {
            let script = format!("printf %s {}", shell_quote(name));
            let out = std::process::Command::new("sh")
                .args(["-c", &script])
                .output()
                .expect("sh runs");
            assert_eq!(String::from_utf8_lossy(&out.stdout), name, "{script}");
        }
    }

    #[test]
    fn no_project_no_project_lines() {
        let text = shell_exports(&id("alice", None));
        assert!(!text.contains("OS_PROJECT"), "{text}");
        let yaml = clouds_yaml("c", &id("alice", None));
        assert!(!yaml.contains("project"), "{yaml}");
    }

    #[test]
    fn the_password_is_never_written() {
        let text = shell_exports(&id("alice", Some(("p", "d"))));
        assert!(!text.contains("OS_PASSWORD="), "{text}");
        assert!(!clouds_yaml("c", &id("alice", None)).contains("password"));
    }

    #[test]
    fn clouds_yaml_quotes_every_string() {
        let yaml = clouds_yaml("example", &id("yes", Some(("012", "a\"b"))));
        assert_eq!(
            yaml,
            "clouds:\n  \"example\":\n    auth:\n      \
             auth_url: \"https://cloud.example/identity/v3\"\n      \
             username: \"yes\"\n      user_domain_name: \"Default\"\n      \
             project_name: \"012\"\n      project_domain_name: \"a\\\"b\"\n    \
             identity_api_version: 3\n"
        );
    }

    #[test]
    fn cloud_keys_are_slugs() {
        assert_eq!(cloud_key("Example Cloud"), "example-cloud");
        assert_eq!(cloud_key("  ACME -- Public  Cloud!"), "acme-public-cloud");
        assert_eq!(cloud_key("!!!"), "openstack");
        assert_eq!(cloud_key("OpenStack"), "openstack");
    }
}
