//! What the generator cannot write: `metrics`, whose answer is Prometheus text rather than JSON,
//! and `entries list --all`, which walks every page with the client's page stream.

use std::num::NonZeroU32;

use addressbook_client::{Client, SortOrder, builder, types};
use clap::{Arg, ArgAction, ArgMatches, Command};
use futures::TryStreamExt as _;
use tokio::io::AsyncWriteExt as _;

use crate::output::Output;

pub const METRICS: &str = "metrics";
pub const ALL: &str = "all";

pub fn metrics_command() -> Command {
    Command::new(METRICS).about(
        "The service's metrics, in Prometheus text format, as scraped from /metrics (on the \
         main port unless the server moves them to a port of their own: then give that one \
         as --url)",
    )
}

/// Copies the metrics to stdout as they arrive.
pub async fn metrics(client: &Client, output: &Output) -> anyhow::Result<()> {
    let response = match client.get_metrics().send().await {
        Ok(response) => response,
        Err(err) => return Err(output.failed(err)),
    };
    output.headers(response.status(), response.headers());
    let mut body = response.into_inner_stream();
    let mut stdout = tokio::io::stdout();
    while let Some(chunk) = body.try_next().await? {
        stdout.write_all(&chunk).await?;
    }
    stdout.flush().await?;
    Ok(())
}

/// Adds `--all` to `entries list`, and lets `--sort -full_name` be written without `=` (clap
/// would read a value starting with `-` as a flag).
pub fn with_all_flag(list: Command) -> Command {
    list.mut_arg("sort", |sort| sort.allow_hyphen_values(true))
        .arg(Arg::new(ALL).long(ALL).action(ArgAction::SetTrue).help(
            "Every matching entry instead of one page: one JSON object per line, fetched \
                 page by page (of --limit entries) as they are printed",
        ))
}

/// The arguments of `entries list` that [`list_all`] passes on; a test checks that these are all
/// the generated command has, so a parameter added to the contract cannot be dropped here.
#[cfg(test)]
const LIST_ARGUMENTS: [&str; 7] = ["city", "country", "cursor", "label", "limit", "q", "sort"];

fn list_request<'a>(client: &'a Client, matches: &ArgMatches) -> builder::ListAddresses<'a> {
    let mut request = client.list_addresses();
    if let Some(city) = matches.get_one::<types::ListAddressesCity>("city") {
        request = request.city(city.clone());
    }
    if let Some(country) = matches.get_one::<types::ListAddressesCountry>("country") {
        request = request.country(country.clone());
    }
    if let Some(cursor) = matches.get_one::<types::ListAddressesCursor>("cursor") {
        request = request.cursor(cursor.clone());
    }
    if let Some(label) = matches.get_one::<types::ListAddressesLabel>("label") {
        request = request.label(label.clone());
    }
    if let Some(limit) = matches.get_one::<NonZeroU32>("limit") {
        request = request.limit(*limit);
    }
    if let Some(q) = matches.get_one::<types::ListAddressesQ>("q") {
        request = request.q(q.clone());
    }
    if let Some(sort) = matches.get_one::<SortOrder>("sort") {
        request = request.sort(*sort);
    }
    request
}

/// Prints every entry the listing matches, one compact JSON object per line.
pub async fn list_all(
    client: &Client,
    matches: &ArgMatches,
    output: &Output,
) -> anyhow::Result<()> {
    let mut entries = list_request(client, matches).stream();
    let mut stdout = tokio::io::stdout();
    loop {
        match entries.try_next().await {
            Ok(Some(entry)) => {
                let mut line = serde_json::to_vec(&entry)?;
                line.push(b'\n');
                stdout.write_all(&line).await?;
            }
            Ok(None) => break,
            Err(err) => {
                stdout.flush().await?;
                return Err(output.failed(err));
            }
        }
    }
    stdout.flush().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use addressbook_client::cli::{Cli, CliCommand};

    use super::*;

    #[test]
    fn list_all_passes_on_every_argument_of_the_listing() {
        let generated = Cli::<Output>::get_command(CliCommand::ListAddresses);
        let mut arguments: Vec<&str> = generated
            .get_arguments()
            .map(|arg| arg.get_id().as_str())
            .collect();
        arguments.sort_unstable();
        assert_eq!(arguments, LIST_ARGUMENTS);
    }
}
