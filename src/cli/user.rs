//! `ironstone user unlock|reset-password`: an operator's way back in, from the server machine.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::identity::operator;
use crate::state::State;

#[derive(clap::Args)]
pub struct Target {
    /// The user's name.
    pub name: String,
    /// The user's domain, by name or id.
    #[arg(long, default_value = "Default")]
    pub domain: String,
}

#[derive(clap::Args)]
pub struct ResetArgs {
    #[command(flatten)]
    pub target: Target,
    /// Read the new password from this file (first line). Without it (and without
    /// --generate) the password is asked for on the terminal, or read from standard input.
    #[arg(long, conflicts_with = "generate")]
    pub password_file: Option<PathBuf>,
    /// Generate a password that satisfies the policy and print it once.
    #[arg(long)]
    pub generate: bool,
    /// The user must change the password before logging in.
    #[arg(long)]
    pub require_change: bool,
}

fn state(config: Config) -> Result<State> {
    let store = super::open_store_for_command(&config)?;
    if store.has_pending_migrations()? {
        return Err(Error::validation(
            "the database schema is not current: run `ironstone db sync` first",
        ));
    }
    State::new(config, store)
}

/// `ironstone user unlock NAME`.
pub async fn unlock(config: Config, t: Target) -> Result<()> {
    let state = state(config)?;
    let user = operator::unlock(&state, &t.domain, &t.name, Utc::now()).await?;
    println!(
        "user {} ({}) unlocked: failed logins cleared ({} before), counted active from now{}",
        user.name,
        user.id,
        user.failed_auth_count,
        if user.enabled {
            ""
        } else {
            "; note: the user is disabled (enable it with `openstack user set --enable`)"
        }
    );
    Ok(())
}

/// The first line of `reader`, without its line end.
fn first_line(mut reader: impl BufRead) -> Result<SecretString> {
    let mut line = String::new();
    reader
        .read_line(&mut line)
        .map_err(|e| Error::validation(format!("cannot read the password: {e}")))?;
    let trimmed = line.trim_end_matches(['\n', '\r']).to_string();
    zeroize::Zeroize::zeroize(&mut line);
    Ok(SecretString::from(trimmed))
}

fn ask() -> Result<SecretString> {
    if !std::io::stdin().is_terminal() {
        return first_line(std::io::stdin().lock());
    }
    let read = |prompt: &str| {
        rpassword::prompt_password(prompt)
            .map(SecretString::from)
            .map_err(|e| Error::validation(format!("cannot read the password: {e}")))
    };
    let first = read("New password: ")?;
    let again = read("Repeat it: ")?;
    if first.expose_secret() != again.expose_secret() {
        return Err(Error::validation(
            "the two passwords differ; nothing changed",
        ));
    }
    Ok(first)
}

/// `ironstone user reset-password NAME`: never from a command-line argument (it would show in
/// `ps` and in shell history).
pub async fn reset_password(config: Config, a: ResetArgs) -> Result<()> {
    let password = match (&a.password_file, a.generate) {
        (_, true) => None,
        (Some(path), false) => {
            let f = std::fs::File::open(path)
                .map_err(|e| Error::validation(format!("cannot read {}: {e}", path.display())))?;
            Some(first_line(std::io::BufReader::new(f))?)
        }
        (None, false) => Some(ask()?),
    };
    let state = state(config)?;
    let (user, generated) = operator::reset_password(
        &state,
        &a.target.domain,
        &a.target.name,
        password,
        a.require_change,
        Utc::now(),
    )
    .await?;
    println!(
        "password of user {} ({}) reset; its tokens were revoked and its lockout lifted",
        user.name, user.id
    );
    if let Some(p) = generated {
        println!(
            "New password (generated, shown only this once): {}",
            p.expose_secret()
        );
    }
    Ok(())
}
