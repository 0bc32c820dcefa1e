#![forbid(unsafe_code)]

use clap::Parser;

use ironstone::cli::{self, Cli};

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("IRONSTONE_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging();
    // actix's system runtime drives the server; its workers run their own runtimes.
    let result = actix_web::rt::System::new().block_on(cli::run(cli));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // An internal error's detail is kept from clients, not from the operator.
        Err(ironstone::error::Error::Internal(detail)) => {
            eprintln!("ironstone: error: {detail}");
            std::process::ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("ironstone: error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
