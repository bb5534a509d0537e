use std::process::ExitCode;

use clap::Parser;

use addressbook_server::cli::{self, Cli};

#[tokio::main]
async fn main() -> ExitCode {
    match cli::run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One line that names the problem; `{:#}` includes its causes.
            eprintln!("addressbook-server: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
