//! The command tree: the generated command of each operation under the name a person types,
//! the connection options every command shares, and the dispatch to the code that runs it.

use addressbook_client::cli::{Cli, CliCommand};
use addressbook_client::{Client, Credential};
use anyhow::Context as _;
use clap::{Arg, ArgAction, ArgMatches, Command};

use crate::hand_written;
use crate::output::Output;

/// Where each generated operation sits: `(group, name)`, as in `addressbook entries list`.
///
/// The match has no catch-all on purpose: an operation added to the contract does not compile
/// until it has a name here.
fn place(command: CliCommand) -> (Option<&'static str>, &'static str) {
    match command {
        CliCommand::ListAddresses => (Some("entries"), "list"),
        CliCommand::CreateAddress => (Some("entries"), "create"),
        CliCommand::GetAddress => (Some("entries"), "get"),
        CliCommand::ReplaceAddress => (Some("entries"), "replace"),
        CliCommand::PatchAddress => (Some("entries"), "patch"),
        CliCommand::DeleteAddress => (Some("entries"), "delete"),
        CliCommand::BatchAddresses => (Some("entries"), "batch"),
        CliCommand::RenameLabel => (Some("labels"), "rename"),
        CliCommand::DeleteLabel => (Some("labels"), "delete"),
        CliCommand::ListChanges => (None, "changes"),
        CliCommand::GetHealth => (None, "health"),
        CliCommand::GetReadiness => (None, "readiness"),
    }
}

const GROUP_ABOUT: [(&str, &str); 2] = [
    ("entries", "Read and write address-book entries"),
    ("labels", "Rename or remove a label on every entry"),
];

pub fn root() -> Command {
    let mut root = Command::new("addressbook")
        .about("The address-book service from the command line")
        .long_about(
            "The address-book service from the command line. Answers are printed as JSON on \
             stdout; a refusal is printed as one line on stderr (status, problem type, what \
             went wrong, the request id to quote) and the exit status is 1. Usage errors exit \
             with 2.",
        )
        .version(env!("CARGO_PKG_VERSION"))
        .subcommand_required(true)
        .arg_required_else_help(true)
        .arg(
            Arg::new("url")
                .long("url")
                .env("ADDRESSBOOK_URL")
                .default_value("http://127.0.0.1:8080")
                .global(true)
                .help("The service's base URL"),
        )
        .arg(
            Arg::new("api-key")
                .long("api-key")
                .env("ADDRESSBOOK_API_KEY")
                .hide_env_values(true)
                .global(true)
                .help("An API key (abk_...), sent as X-API-Key"),
        )
        .arg(
            Arg::new("token")
                .long("token")
                .env("ADDRESSBOOK_TOKEN")
                .hide_env_values(true)
                .conflicts_with("api-key")
                .global(true)
                .help("A JWT, sent as Authorization: Bearer"),
        )
        .arg(
            Arg::new("verbose")
                .short('v')
                .long("verbose")
                .action(ArgAction::SetTrue)
                .global(true)
                .help("Also print the status and the ETag, Location and X-Request-Id headers on stderr"),
        );
    let mut groups: Vec<(&str, Command)> = GROUP_ABOUT
        .iter()
        .map(|(name, about)| {
            let group = Command::new(*name)
                .about(*about)
                .subcommand_required(true)
                .arg_required_else_help(true);
            (*name, group)
        })
        .collect();
    for operation in CliCommand::iter() {
        let (group, name) = place(operation);
        let mut command = Cli::<Output>::get_command(operation).name(name);
        if let CliCommand::ListAddresses = operation {
            command = hand_written::with_all_flag(command);
        }
        match group {
            None => root = root.subcommand(command),
            Some(group) => {
                let (_, parent) = groups
                    .iter_mut()
                    .find(|(known, _)| *known == group)
                    .expect("every group has an entry in GROUP_ABOUT");
                *parent = std::mem::take(parent).subcommand(command);
            }
        }
    }
    for (_, group) in groups {
        root = root.subcommand(group);
    }
    root.subcommand(hand_written::metrics_command())
}

pub async fn run(matches: &ArgMatches) -> anyhow::Result<()> {
    let client = client(matches)?;
    let output = Output::new(matches.get_flag("verbose"));
    let (name, sub) = matches.subcommand().context("a command is required")?;
    if name == hand_written::METRICS {
        return hand_written::metrics(&client, &output).await;
    }
    let (group, name, sub) = match sub.subcommand() {
        Some((inner, inner_matches)) if GROUP_ABOUT.iter().any(|(g, _)| *g == name) => {
            (Some(name), inner, inner_matches)
        }
        _ => (None, name, sub),
    };
    let operation = CliCommand::iter()
        .find(|operation| place(*operation) == (group, name))
        .with_context(|| format!("no command {name}"))?;
    if let CliCommand::ListAddresses = operation
        && sub.get_flag(hand_written::ALL)
    {
        return hand_written::list_all(&client, sub, &output).await;
    }
    Cli::new(client, output).execute(operation, sub).await
}

fn client(matches: &ArgMatches) -> anyhow::Result<Client> {
    let url = matches
        .get_one::<String>("url")
        .context("--url has a default")?;
    let credential = if let Some(key) = matches.get_one::<String>("api-key") {
        Some(Credential::ApiKey(key.clone()))
    } else {
        matches
            .get_one::<String>("token")
            .map(|token| Credential::BearerToken(token.clone()))
    };
    let client = match credential {
        Some(credential) => Client::with_credential(url, credential),
        None => Client::try_new(url),
    };
    client.with_context(|| format!("cannot use --url {url}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_tree_is_consistent() {
        root().debug_assert();
    }

    #[test]
    fn every_operation_has_its_own_name() {
        let mut places: Vec<_> = CliCommand::iter().map(place).collect();
        let count = places.len();
        places.sort();
        places.dedup();
        assert_eq!(places.len(), count, "two operations share a name");
    }
}
