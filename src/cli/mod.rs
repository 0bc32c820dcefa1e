//! Admin commands, one module each.

pub mod bootstrap;
pub mod credential;
pub mod db;
pub mod fernet;
pub mod mail;
pub mod serve;
pub mod user;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{Config, ProcessEnv};
use crate::error::Result;
use crate::store::Store;

#[derive(Parser)]
#[command(
    name = "ironstone",
    version,
    about = "An OpenStack Keystone v3-compatible identity provider"
)]
pub struct Cli {
    /// TOML configuration file (also IRONSTONE_CONFIG).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Serve the identity API. On an empty store: migrate, create keys and bootstrap first.
    Serve,
    /// Database maintenance.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
    /// Create the Default domain, the admin user and project, roles and identity endpoints.
    /// The admin password comes from IRONSTONE_BOOTSTRAP_PASSWORD(_FILE); without it one is
    /// generated and printed once.
    Bootstrap(bootstrap::Args),
    /// Fernet key repository maintenance (Keystone's layout).
    Fernet {
        #[command(subcommand)]
        command: FernetCommand,
    },
    /// Credential key repository maintenance (the keys that encrypt stored credential blobs).
    Credential {
        #[command(subcommand)]
        command: CredentialCommand,
    },
    /// An operator's way back in for a user: unlock it, reset its password.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Check the mail settings (`[smtp]`).
    Mail {
        #[command(subcommand)]
        command: MailCommand,
    },
}

#[derive(Subcommand)]
pub enum MailCommand {
    /// Send one message with sample values through [smtp] (the templates in use).
    Test(mail::TestArgs),
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Clear a user's failed-login lockout and inactivity, so that its password works again.
    Unlock(user::Target),
    /// Set a user's password (asked on the terminal, read from a file, or generated), lift its
    /// lockout and revoke its tokens. The password policy applies.
    ResetPassword(user::ResetArgs),
}

#[derive(Subcommand)]
pub enum CredentialCommand {
    /// Promote the staged key to primary, re-encrypt every stored credential blob with it, then
    /// drop keys beyond max_active_keys.
    Rotate,
}

#[derive(Subcommand)]
pub enum DbCommand {
    /// Apply pending schema migrations.
    Sync,
}

#[derive(Subcommand)]
pub enum FernetCommand {
    /// Create the key repository with a staged and a primary key (no-op when keys exist).
    Setup,
    /// Promote the staged key to primary, stage a new key, drop keys beyond max_active_keys.
    Rotate,
}

pub fn load_config(cli: &Cli) -> Result<Config> {
    Config::load(cli.config.as_deref(), &ProcessEnv)
}

pub fn open_store(config: &Config) -> Result<Store> {
    Store::connect(&config.database_url(), config.database_pool_size)
}

/// The store for a command that does its work and exits (see `Store::connect_for_command`).
pub fn open_store_for_command(config: &Config) -> Result<Store> {
    Store::connect_for_command(&config.database_url())
}

pub async fn run(cli: Cli) -> Result<()> {
    let config = load_config(&cli)?;
    match cli.command {
        Command::Serve => serve::run(config).await,
        Command::Db {
            command: DbCommand::Sync,
        } => db::sync(&config),
        Command::Bootstrap(args) => bootstrap::run(config, args).await,
        Command::Fernet {
            command: FernetCommand::Setup,
        } => fernet::setup(&config),
        Command::Fernet {
            command: FernetCommand::Rotate,
        } => fernet::rotate(&config),
        Command::Credential {
            command: CredentialCommand::Rotate,
        } => credential::rotate(&config).await,
        Command::User {
            command: UserCommand::Unlock(t),
        } => user::unlock(config, t).await,
        Command::User {
            command: UserCommand::ResetPassword(a),
        } => user::reset_password(config, a).await,
        Command::Mail {
            command: MailCommand::Test(a),
        } => mail::test(&config, a).await,
    }
}
