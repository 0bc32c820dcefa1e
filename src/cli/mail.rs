//! `ironstone mail test`: sends one message through `[smtp]` with sample values, so that an
//! operator sees the settings and templates work before the first real invitation.

use clap::Args as ClapArgs;
use serde_json::json;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::mail::{Mailer, Template};

#[derive(ClapArgs)]
pub struct TestArgs {
    /// The recipient.
    #[arg(long)]
    pub to: String,
    /// Which template: set_password (default), invitation, invitation_existing_user,
    /// access_granted.
    #[arg(long, default_value = "set_password")]
    pub template: String,
}

pub async fn test(config: &Config, args: TestArgs) -> Result<()> {
    let template = Template::ALL
        .into_iter()
        .find(|t| t.name() == args.template)
        .ok_or_else(|| {
            let names: Vec<_> = Template::ALL.iter().map(|t| t.name()).collect();
            Error::validation(format!(
                "--template {:?} is not one of {}",
                args.template,
                names.join(", ")
            ))
        })?;
    let mailer = Mailer::from_config(&config.smtp)?;
    if !mailer.configured() {
        return Err(Error::validation(
            "no mail server is configured: set [smtp] host (or IRONSTONE_SMTP_HOST)",
        ));
    }
    let sample = json!({
        "user_name": "PCU-EXAMPLE1",
        "domain_name": "Default",
        "project_name": "example-project",
        "link_url": format!("{}/account/link/this-is-a-test-message-no-link", config.public_url()),
        "expires_at": "in 24 hours",
        "inviter_name": "the operator",
        "roles": [{"role": "member", "target": "project example-project"}],
    });
    mailer
        .send(&args.to, template, &sample)
        .await
        .map_err(|e| Error::validation(format!("test message not sent: {e}")))?;
    println!(
        "Sent the {} test message to {} through {}:{}.",
        template.name(),
        args.to,
        config.smtp.host.as_deref().unwrap_or_default(),
        config.smtp.port()
    );
    Ok(())
}
