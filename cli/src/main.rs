//! `addressbook`: the address-book service from the command line.
//!
//! The commands are generated from the contract (`addressbook_client::cli`); this binary names
//! them (`commands.rs`), prints what they return (`output.rs`) and adds what the generator cannot
//! write: `metrics`, whose answer is not JSON, and `entries list --all` (`hand_written.rs`).

mod commands;
mod hand_written;
mod output;

use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let matches = commands::root().get_matches();
    match commands::run(&matches).await {
        Ok(()) => ExitCode::SUCCESS,
        // `addressbook metrics | head` closes stdout early, which is not a failure.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            if !output::already_reported(&err) {
                eprintln!("addressbook: {err:#}");
            }
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
