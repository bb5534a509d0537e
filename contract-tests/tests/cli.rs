//! The command-line client `addressbook` against the real server, as a person or a script runs
//! it: JSON on stdout, a refusal as one line on stderr with exit status 1, usage errors with 2,
//! the base URL and credentials from flags or the environment.
//!
//! The CLI talks HTTP only, so these run on the embedded engine alone.

use std::time::Duration;

use contract_tests::binary::cli_binary;
use contract_tests::fixtures::{create_many, full_entry};
use contract_tests::{Engine, Finished, Store, TestServer, auth};
use serde_json::Value;

const RUN_TIMEOUT: Duration = Duration::from_secs(30);

/// `addressbook <args>` with nothing from the caller's environment but `env`.
async fn addressbook(args: &[&str], env: &[(&str, &str)]) -> Finished {
    let mut command = tokio::process::Command::new(cli_binary());
    command
        .args(args)
        .env_remove("ADDRESSBOOK_URL")
        .env_remove("ADDRESSBOOK_API_KEY")
        .env_remove("ADDRESSBOOK_TOKEN")
        .envs(env.iter().copied())
        .kill_on_drop(true);
    let output = tokio::time::timeout(RUN_TIMEOUT, command.output())
        .await
        .unwrap_or_else(|_| panic!("addressbook {args:?} did not exit within {RUN_TIMEOUT:?}"))
        .unwrap_or_else(|err| panic!("cannot run addressbook: {err}"));
    Finished {
        program: "addressbook".to_owned(),
        args: args.iter().map(|arg| (*arg).to_owned()).collect(),
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `addressbook --url <server> <args>`.
async fn against(server: &TestServer, args: &[&str]) -> Finished {
    let mut all = vec!["--url", server.base_url()];
    all.extend_from_slice(args);
    addressbook(&all, &[]).await
}

fn json(run: &Finished) -> Value {
    serde_json::from_str(run.expect_success())
        .unwrap_or_else(|err| panic!("{run:?}: stdout is not one JSON document: {err}"))
}

async fn sqlite() -> Store {
    Store::new(Engine::Sqlite)
        .await
        .expect("the embedded engine needs no setup")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_goes_through_its_whole_life_from_the_command_line() {
    let store = sqlite().await;
    let server = store.start().await;

    let created = json(
        &against(
            &server,
            &["entries", "create", "--full-name", "Irene Adler"],
        )
        .await,
    );
    let id = created["id"].as_str().expect("an id").to_owned();
    assert_eq!(created["full_name"], "Irene Adler");

    let body = store.dir().join("entry.json");
    std::fs::write(&body, full_entry("Irene Norton").to_string()).expect("written");
    let body = body.to_str().expect("a UTF-8 path");

    // `-v` shows the ETag a conditional write needs.
    let read = against(&server, &["-v", "entries", "get", "--id", &id]).await;
    assert_eq!(json(&read)["full_name"], "Irene Adler");
    let etag = read
        .stderr
        .lines()
        .find_map(|line| line.strip_prefix("< etag: "))
        .unwrap_or_else(|| panic!("{read:?}: no ETag shown"))
        .to_owned();

    let replaced = against(
        &server,
        &[
            "entries",
            "replace",
            "--id",
            &id,
            "--if-match",
            &etag,
            "--json-body",
            body,
        ],
    )
    .await;
    assert_eq!(replaced.expect_success(), "", "a 204 prints nothing");

    // The tag is stale now: the refusal is one line naming the problem and the request id.
    let stale = against(
        &server,
        &["entries", "delete", "--id", &id, "--if-match", &etag],
    )
    .await;
    let lines = stale.stderr_lines();
    assert_eq!(stale.status.code(), Some(1), "{stale:?}");
    assert_eq!(lines.len(), 1, "{stale:?}");
    assert!(
        lines[0]
            .starts_with("addressbook: 412 Precondition Failed (/problems/precondition-failed)")
            && lines[0].contains("request id "),
        "{stale:?}"
    );

    let patch = store.dir().join("patch.json");
    std::fs::write(&patch, r#"{"fax_numbers": null}"#).expect("written");
    let patched = against(
        &server,
        &[
            "entries",
            "patch",
            "--id",
            &id,
            "--json-body",
            patch.to_str().expect("UTF-8"),
        ],
    )
    .await;
    let patched = json(&patched);
    assert_eq!(patched["full_name"], "Irene Norton");
    assert_eq!(patched["fax_numbers"], Value::Array(Vec::new()));
    assert!(
        !patched["phone_numbers"]
            .as_array()
            .expect("a list")
            .is_empty()
    );

    let found = json(&against(&server, &["entries", "list", "--q", "norton"]).await);
    let items = found["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{found}");
    assert_eq!(items[0]["id"], id.as_str());

    assert_eq!(
        against(&server, &["entries", "delete", "--id", &id])
            .await
            .expect_success(),
        ""
    );
    let gone = against(&server, &["entries", "get", "--id", &id]).await;
    assert!(
        gone.expect_failure()
            .starts_with("addressbook: 404 Not Found (/problems/not-found): No entry has this id."),
        "{gone:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_all_prints_every_entry_once_a_line_in_order() {
    let store = sqlite().await;
    let server = store.start().await;
    create_many(&server.client(), "Paged", 7, 3).await;

    let run = against(
        &server,
        &[
            "entries",
            "list",
            "--all",
            "--limit",
            "2",
            "--sort",
            "-full_name",
        ],
    )
    .await;

    let names: Vec<String> = run
        .expect_success()
        .lines()
        .map(|line| {
            let entry: Value = serde_json::from_str(line).expect("one JSON object per line");
            entry["full_name"].as_str().expect("a name").to_owned()
        })
        .collect();
    let mut expected: Vec<String> = (0..7).map(|n| format!("Paged {n}")).collect();
    expected.sort();
    expected.reverse();
    assert_eq!(names, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_come_from_flags_or_the_environment() {
    let store = sqlite().await;
    let server = auth::requiring_credentials(&store).start().await;
    let url = server.base_url().to_owned();
    let token = auth::token("acme", &["read", "write"], 600);

    let anonymous = addressbook(&["entries", "list"], &[("ADDRESSBOOK_URL", &url)]).await;
    assert!(
        anonymous
            .expect_failure()
            .starts_with("addressbook: 401 Unauthorized"),
        "{anonymous:?}"
    );

    let from_env = addressbook(
        &["entries", "create", "--full-name", "Mycroft Holmes"],
        &[("ADDRESSBOOK_URL", &url), ("ADDRESSBOOK_TOKEN", &token)],
    )
    .await;
    assert_eq!(json(&from_env)["full_name"], "Mycroft Holmes");

    let from_flag = addressbook(&["--url", &url, "--token", &token, "entries", "list"], &[]).await;
    assert_eq!(json(&from_flag)["items"].as_array().map(Vec::len), Some(1));

    // Nothing of a credential reaches the output.
    let wrong_key = addressbook(
        &[
            "--url",
            &url,
            "--api-key",
            "abk_nope_secretsecret",
            "entries",
            "list",
        ],
        &[],
    )
    .await;
    assert!(wrong_key.expect_failure().contains("401"), "{wrong_key:?}");
    assert!(!wrong_key.stderr.contains("secretsecret"), "{wrong_key:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_in_words_before_anything_is_sent() {
    let store = sqlite().await;
    let server = store.start().await;

    let zero = against(&server, &["entries", "list", "--limit", "0"]).await;
    assert_eq!(zero.status.code(), Some(2), "{zero:?}");
    assert!(zero.stderr.contains("--limit"), "{zero:?}");

    let blank = against(&server, &["entries", "create", "--full-name", "   "]).await;
    assert_eq!(blank.status.code(), Some(2), "{blank:?}");
    assert!(
        blank
            .stderr
            .contains("must contain a character other than white space"),
        "{blank:?}"
    );
    assert!(!blank.stderr.contains("pattern"), "{blank:?}");

    let sort = against(&server, &["entries", "list", "--sort", "name"]).await;
    assert_eq!(sort.status.code(), Some(2), "{sort:?}");
    assert!(
        sort.stderr.contains("must be one of: full_name"),
        "{sort:?}"
    );

    let no_scheme = addressbook(&["--url", "127.0.0.1:8080", "health"], &[]).await;
    assert!(
        no_scheme.expect_failure().contains("http://"),
        "{no_scheme:?}"
    );

    // None of it was stored.
    let page = server
        .client()
        .list_addresses()
        .send()
        .await
        .expect("a page");
    assert!(page.items.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_and_metrics_answer_from_the_command_line() {
    let store = sqlite().await;
    let server = store.start().await;

    assert!(json(&against(&server, &["health"]).await)["uptime"].is_number());
    assert_eq!(json(&against(&server, &["readiness"]).await)["ready"], true);

    let metrics = against(&server, &["metrics"]).await;
    assert!(
        metrics
            .expect_success()
            .contains("# TYPE http_server_request_duration_seconds histogram"),
        "{metrics:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_are_renamed_and_removed_from_the_command_line() {
    let store = sqlite().await;
    let server = store.start().await;
    let body = store.dir().join("labelled.json");
    std::fs::write(
        &body,
        r#"{"full_name": "Irene Adler", "labels": ["clients"]}"#,
    )
    .expect("written");
    json(
        &against(
            &server,
            &[
                "entries",
                "create",
                "--json-body",
                body.to_str().expect("UTF-8"),
            ],
        )
        .await,
    );

    let renamed = json(
        &against(
            &server,
            &[
                "labels",
                "rename",
                "--label",
                "Clients",
                "--to",
                "Customers",
            ],
        )
        .await,
    );
    assert_eq!(
        renamed,
        serde_json::json!({"label": "Customers", "entries": 1})
    );

    let listed = against(
        &server,
        &["entries", "list", "--all", "--label", "customers"],
    )
    .await;
    assert_eq!(listed.expect_success().lines().count(), 1, "{listed:?}");

    let removed = json(&against(&server, &["labels", "delete", "--label", "customers"]).await);
    assert_eq!(removed["entries"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_change_feed_is_followed_from_the_command_line() {
    let store = sqlite().await;
    let server = store.start().await;
    let created = create_many(&server.client(), "Fed", 3, 3).await;

    // A full sync in pages of 2: the first page says more follows, the second catches up.
    let first = json(&against(&server, &["changes", "--limit", "2"]).await);
    assert_eq!(first["changes"].as_array().unwrap().len(), 2, "{first}");
    assert_eq!(first["more"], true);
    let token = first["next_sync_token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let second = json(
        &against(
            &server,
            &["changes", "--limit", "2", "--sync-token", &token],
        )
        .await,
    );
    let mut ids: Vec<&str> = first["changes"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["changes"].as_array().unwrap())
        .map(|change| change["id"].as_str().unwrap())
        .collect();
    // Created three at a time: each once, in whatever order they committed.
    let mut expected: Vec<String> = created.iter().map(|entry| entry.id.to_string()).collect();
    ids.sort_unstable();
    expected.sort();
    assert_eq!(ids, expected);
    assert_eq!(second["more"], false);

    // An edited token is refused in one line, with exit status 1.
    let refused = against(&server, &["changes", "--sync-token", "c1.0.0"]).await;
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    let line = refused.expect_failure();
    assert!(
        line.contains("400") && line.contains("sync_token"),
        "{line}"
    );
}
