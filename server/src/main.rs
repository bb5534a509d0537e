use std::process::ExitCode;

use clap::Parser;

use addressbook_server::cli::{self, Cli};
use addressbook_server::telemetry;

#[tokio::main]
async fn main() -> ExitCode {
    match cli::run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One line that names the problem and its causes, each said once.
            let error: &(dyn std::error::Error + 'static) = err.as_ref();
            eprintln!("addressbook-server: error: {}", telemetry::chain(error));
            ExitCode::FAILURE
        }
    }
}
