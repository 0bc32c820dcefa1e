//! Outgoing mail: set-password links, invitations and "you were given access" notices, sent
//! through a real SMTP client (`lettre`) from templates an operator can replace from files.
//!
//! Callers send only after their transaction has committed, and a failed send is reported to them
//! (never retried silently, never lost): the link it carried can be sent again.

use std::path::Path;
use std::time::Duration;

use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use secrecy::ExposeSecret;

use crate::config::{SmtpConfig, SmtpTls};
use crate::error::{Error, Result};

/// What a message is about; each has a subject, a plain-text and an HTML template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    /// A link to set the password of an account made for the recipient.
    SetPassword,
    /// An invitation for someone who has no user yet.
    Invitation,
    /// An invitation for an existing user: accept with the current password.
    InvitationExistingUser,
    /// An existing user accepted an invitation: the new access applies now.
    AccessGranted,
}

impl Template {
    pub const ALL: [Template; 4] = [
        Template::SetPassword,
        Template::Invitation,
        Template::InvitationExistingUser,
        Template::AccessGranted,
    ];

    /// The file-name stem (`set_password` -> `set_password.subject|txt|html`).
    pub fn name(self) -> &'static str {
        match self {
            Template::SetPassword => "set_password",
            Template::Invitation => "invitation",
            Template::InvitationExistingUser => "invitation_existing_user",
            Template::AccessGranted => "access_granted",
        }
    }

    fn builtin(self, part: Part) -> &'static str {
        use Part::*;
        use Template::*;
        match (self, part) {
            (SetPassword, Subject) => include_str!("templates/set_password.subject"),
            (SetPassword, Text) => include_str!("templates/set_password.txt"),
            (SetPassword, Html) => include_str!("templates/set_password.html"),
            (Invitation, Subject) => include_str!("templates/invitation.subject"),
            (Invitation, Text) => include_str!("templates/invitation.txt"),
            (Invitation, Html) => include_str!("templates/invitation.html"),
            (InvitationExistingUser, Subject) => {
                include_str!("templates/invitation_existing_user.subject")
            }
            (InvitationExistingUser, Text) => {
                include_str!("templates/invitation_existing_user.txt")
            }
            (InvitationExistingUser, Html) => {
                include_str!("templates/invitation_existing_user.html")
            }
            (AccessGranted, Subject) => include_str!("templates/access_granted.subject"),
            (AccessGranted, Text) => include_str!("templates/access_granted.txt"),
            (AccessGranted, Html) => include_str!("templates/access_granted.html"),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Part {
    Subject,
    Text,
    Html,
}

impl Part {
    const ALL: [Part; 3] = [Part::Subject, Part::Text, Part::Html];

    fn extension(self) -> &'static str {
        match self {
            Part::Subject => "subject",
            Part::Text => "txt",
            Part::Html => "html",
        }
    }
}

/// Why a message was not sent, in words an administrator may see: the SMTP server's answer or
/// the connection problem, never the message (which carries a link's secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailError(pub String);

impl std::fmt::Display for MailError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub struct Mailer {
    /// None: no mail server configured.
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
    templates: Environment<'static>,
    cloud_name: String,
}

impl Mailer {
    /// Builds the transport and loads (and checks) every template, so that a broken template or
    /// setting stops the start, not the first invitation.
    pub fn from_config(c: &SmtpConfig) -> Result<Mailer> {
        let from: Mailbox = c.from.parse().map_err(|_| {
            Error::validation(format!("smtp.from is not a valid address: {:?}", c.from))
        })?;
        let templates = load_templates(c.templates_dir.as_deref())?;
        let transport = match &c.host {
            None => None,
            Some(host) => {
                let tls = match c.tls {
                    SmtpTls::None => Tls::None,
                    SmtpTls::Starttls => Tls::Required(tls_parameters(host)?),
                    SmtpTls::Tls => Tls::Wrapper(tls_parameters(host)?),
                };
                let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str())
                    .port(c.port())
                    .tls(tls)
                    .timeout(Some(Duration::from_secs(c.timeout_seconds)));
                if let (Some(user), Some(password)) = (&c.username, &c.password) {
                    b = b.credentials(Credentials::new(
                        user.clone(),
                        password.expose_secret().to_string(),
                    ));
                }
                Some(b.build())
            }
        };
        Ok(Mailer {
            transport,
            from,
            templates,
            cloud_name: c.cloud_name.clone(),
        })
    }

    /// Whether a mail server is configured (else links are handed to the administrator).
    pub fn configured(&self) -> bool {
        self.transport.is_some()
    }

    /// Renders `template` with `vars` (plus `cloud_name`) and sends it to `to`. Call it after
    /// the transaction that made the link has committed.
    pub async fn send(
        &self,
        to: &str,
        template: Template,
        vars: &serde_json::Value,
    ) -> std::result::Result<(), MailError> {
        let Some(transport) = &self.transport else {
            return Err(MailError("no mail server is configured".into()));
        };
        let message = self.compose(to, template, vars)?;
        let result = transport.send(message).await;
        let outcome = if result.is_ok() { "sent" } else { "failed" };
        metrics::counter!("ironstone_mail_total", "template" => template.name(), "result" => outcome)
            .increment(1);
        match result {
            Ok(_) => {
                tracing::info!(template = template.name(), "mail sent");
                Ok(())
            }
            Err(e) => {
                // lettre's error names the server's reply or the connection failure; the message
                // itself (and the link in it) is not part of it.
                let why = format!("the mail server did not take the message: {e}");
                tracing::warn!(template = template.name(), error = %why, "mail not sent");
                Err(MailError(why))
            }
        }
    }

    /// The message as it would be sent (used by `send`, and by tests of the templates).
    pub fn compose(
        &self,
        to: &str,
        template: Template,
        vars: &serde_json::Value,
    ) -> std::result::Result<Message, MailError> {
        let to: Mailbox = to
            .parse()
            .map_err(|_| MailError(format!("{to:?} is not a valid email address")))?;
        let (subject, text, html) = self.render(template, vars)?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(text),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(html),
                    ),
            )
            .map_err(|e| MailError(format!("the message could not be built: {e}")))
    }

    /// Subject (one line), text and HTML of a message.
    pub fn render(
        &self,
        template: Template,
        vars: &serde_json::Value,
    ) -> std::result::Result<(String, String, String), MailError> {
        let mut ctx = vars.clone();
        if let Some(m) = ctx.as_object_mut() {
            m.entry("cloud_name")
                .or_insert_with(|| self.cloud_name.clone().into());
        }
        let render = |part: Part| {
            let name = format!("{}.{}", template.name(), part.extension());
            self.templates
                .get_template(&name)
                .and_then(|t| t.render(&ctx))
                .map_err(|e| MailError(format!("template {name} failed: {e}")))
        };
        let subject = render(Part::Subject)?;
        // One line: a header cannot carry a line break (and must not be made to).
        let subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
        Ok((subject, render(Part::Text)?, render(Part::Html)?))
    }
}

fn tls_parameters(host: &str) -> Result<TlsParameters> {
    TlsParameters::new(host.to_string())
        .map_err(|e| Error::validation(format!("smtp TLS setup for {host:?} failed: {e}")))
}

/// The built-in templates, each replaced by a file of the same name in `dir` when there is one.
/// HTML templates escape every value; text and subject templates do not (they are not HTML).
fn load_templates(dir: Option<&Path>) -> Result<Environment<'static>> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    if let Some(dir) = dir {
        if !dir.is_dir() {
            return Err(Error::validation(format!(
                "smtp.templates_dir {} is not a directory",
                dir.display()
            )));
        }
    }
    for template in Template::ALL {
        for part in Part::ALL {
            let name = format!("{}.{}", template.name(), part.extension());
            let source = match dir.map(|d| d.join(&name)).filter(|p| p.is_file()) {
                Some(path) => std::fs::read_to_string(&path).map_err(|e| {
                    Error::validation(format!("cannot read mail template {}: {e}", path.display()))
                })?,
                None => template.builtin(part).to_string(),
            };
            env.add_template_owned(name.clone(), source).map_err(|e| {
                Error::validation(format!("mail template {name} does not parse: {e}"))
            })?;
        }
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn mailer(dir: Option<&Path>) -> Mailer {
        let c = SmtpConfig {
            host: Some("127.0.0.1".into()),
            tls: SmtpTls::None,
            templates_dir: dir.map(Path::to_path_buf),
            ..Default::default()
        };
        Mailer::from_config(&c).unwrap()
    }

    fn vars() -> serde_json::Value {
        json!({
            "user_name": "PCU-<b>x</b>",
            "domain_name": "Default",
            "project_name": "web & co",
            "link_url": "https://cloud.example/account/link/abc",
            "expires_at": "2026-12-02T10:00:00Z",
            "roles": [{"role": "member", "target": "project web & co"}],
        })
    }

    #[test]
    fn every_builtin_template_renders_with_the_link_and_escapes_html() {
        let m = mailer(None);
        for t in Template::ALL {
            let (subject, text, html) = m.render(t, &vars()).unwrap();
            // HTML escaping writes `/` as `&#x2f;`, which a mail reader shows as `/`.
            let html = html.replace("&#x2f;", "/");
            assert!(
                !subject.is_empty() && !subject.contains('\n'),
                "{t:?}: {subject:?}"
            );
            if t != Template::AccessGranted {
                assert!(
                    text.contains("https://cloud.example/account/link/abc"),
                    "{t:?}"
                );
                assert!(
                    html.contains("https://cloud.example/account/link/abc"),
                    "{t:?}"
                );
            }
            assert!(!html.contains("<b>x</b>"), "{t:?} HTML must escape values");
            assert!(!html.contains("web & co"), "{t:?} HTML must escape values");
        }
        let (_, text, _) = m.render(Template::SetPassword, &vars()).unwrap();
        assert!(
            text.contains("PCU-<b>x</b>"),
            "text is not HTML: values as they are"
        );
    }

    #[test]
    fn an_operator_file_replaces_the_builtin_and_a_broken_one_stops_the_start() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("set_password.subject"),
            "Welcome to {{ cloud_name }},\n{{ user_name }}",
        )
        .unwrap();
        let (subject, _, _) = mailer(Some(dir.path()))
            .render(Template::SetPassword, &json!({"user_name": "u1"}))
            .unwrap();
        assert_eq!(subject, "Welcome to OpenStack, u1");

        std::fs::write(dir.path().join("invitation.html"), "{% if %}").unwrap();
        let c = SmtpConfig {
            templates_dir: Some(dir.path().to_path_buf()),
            ..Default::default()
        };
        let err = Mailer::from_config(&c).err().unwrap().to_string();
        assert!(err.contains("invitation.html"), "{err}");
    }

    #[test]
    fn a_bad_recipient_is_refused_before_any_connection() {
        let err = mailer(None)
            .compose("not an address", Template::SetPassword, &vars())
            .unwrap_err();
        assert!(err.0.contains("not a valid email address"), "{err}");
    }
}
