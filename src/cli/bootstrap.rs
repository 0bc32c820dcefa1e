use chrono::Utc;
use secrecy::SecretString;

use crate::bootstrap::{self, Options, Report};
use crate::config::{secret_var, Config, ProcessEnv};
use crate::error::Result;
use crate::state::State;

#[derive(clap::Args)]
pub struct Args {
    /// Name of the admin user.
    #[arg(long, default_value = "admin")]
    pub bootstrap_username: String,
    /// Name of the admin project.
    #[arg(long, default_value = "admin")]
    pub bootstrap_project_name: String,
    /// Region of the identity endpoints.
    #[arg(long, default_value = "RegionOne")]
    pub bootstrap_region_id: String,
}

pub fn options_from_env(args: Option<&Args>) -> Result<Options> {
    let password = secret_var(&ProcessEnv, "IRONSTONE_BOOTSTRAP_PASSWORD")?.map(SecretString::from);
    let mut o = Options {
        password,
        ..Options::default()
    };
    if let Some(a) = args {
        o.username = a.bootstrap_username.clone();
        o.project_name = a.bootstrap_project_name.clone();
        o.region_id = a.bootstrap_region_id.clone();
    }
    Ok(o)
}

pub async fn run(config: Config, args: Args) -> Result<()> {
    let store = super::open_store_for_command(&config)?;
    // Not while a node starting on the same database migrates or bootstraps it.
    let _lock = store.startup_lock(&config.database_url())?;
    store.migrate()?;
    // Bootstrapping a never-bootstrapped store creates the key repositories the nodes will share.
    let first_run = !store.is_bootstrapped()?;
    super::serve::key_repositories(&config, &store, first_run)?;
    let state = State::new(config, store)?;
    let report = bootstrap::run(&state, options_from_env(Some(&args))?, Utc::now()).await?;
    print_report(
        &state,
        &report,
        &args.bootstrap_username,
        &args.bootstrap_project_name,
    );
    Ok(())
}

/// What bootstrap did, and how to reach the server with the `openstack` CLI.
pub fn print_report(state: &State, r: &Report, username: &str, project: &str) {
    if r.created.is_empty() && !r.password_reset {
        println!("bootstrap: everything already in place; nothing changed");
    }
    for line in &r.created {
        println!("bootstrap: created {line}");
    }
    if r.password_reset {
        println!("bootstrap: password of user {username} reset from IRONSTONE_BOOTSTRAP_PASSWORD; its tokens were revoked");
    }
    let auth_url = format!("{}/v3", state.public_url());
    let password_line = match &r.generated_password {
        Some(p) => {
            println!("\nAdmin password (generated, shown only this once): {p}");
            format!("export OS_PASSWORD='{p}'")
        }
        None => "export OS_PASSWORD=\"$IRONSTONE_BOOTSTRAP_PASSWORD\"   # the password you gave bootstrap".into(),
    };
    if r.created.is_empty() && r.generated_password.is_none() {
        return;
    }
    println!(
        "\nPoint the openstack CLI at Ironstone:\n\
         export OS_AUTH_URL={auth_url}\n\
         export OS_IDENTITY_API_VERSION=3\n\
         export OS_USERNAME={username}\n\
         {password_line}\n\
         export OS_PROJECT_NAME={project}\n\
         export OS_USER_DOMAIN_NAME=Default\n\
         export OS_PROJECT_DOMAIN_NAME=Default\n\
         export OS_REGION_NAME=RegionOne\n\
         \nor, in ~/.config/openstack/clouds.yaml (then `export OS_CLOUD=ironstone`):\n\
         clouds:\n  ironstone:\n    auth:\n      auth_url: {auth_url}\n      username: {username}\n      password: <the admin password>\n      project_name: {project}\n      user_domain_name: Default\n      project_domain_name: Default\n    region_name: RegionOne\n    identity_api_version: 3\n"
    );
}
