//! `addressbook-server healthcheck`, the command a container image runs as its health check: run
//! as a separate process against a real server, exactly as the container runtime runs it. Its
//! exit status is the whole answer (0 healthy, 1 not: 2 means something else to Docker), and a
//! failure says why in one line, which the runtime keeps with the container's health.

use std::time::{Duration, Instant};

use contract_tests::{Engine, Finished, Store};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_server_is_healthy_on_its_port_its_probe_port_and_a_given_url() {
    // Arrange: a server with the probes on a port of their own as well.
    let store = Store::new(Engine::Memory).await.expect("a memory store");
    let server = store
        .start_with(&[("ADDRESSBOOK_SERVER__PROBE_PORT", "0")])
        .await;
    let api_port = port_of(server.base_url());
    let probe_url = server.probe_url().expect("the probe port is logged");
    let probe_port = port_of(&probe_url);

    // Act
    let by_port = store
        .run_subcommand(&["healthcheck", "--port", &api_port.to_string()])
        .await;
    // With a probe port configured the check goes there, not to the API's port (nothing
    // listens on port 1).
    let by_probe_port = store
        .server()
        .env("ADDRESSBOOK_SERVER__PROBE_PORT", &probe_port.to_string())
        .arg("healthcheck")
        .arg("--port")
        .arg("1")
        .run_to_exit()
        .await;
    // With spans exported, as a container's environment may say: still nothing but the answer.
    let by_url = store
        .server()
        .env(
            "ADDRESSBOOK_TRACING__OTLP_ENDPOINT",
            "http://127.0.0.1:1/v1/traces",
        )
        .arg("healthcheck")
        .arg("--url")
        .arg(&server.url("/healthz"))
        .run_to_exit()
        .await;

    // Assert: each exits 0 and says which URL answered.
    let out = by_port.expect_success();
    assert!(
        out.contains(&format!("http://127.0.0.1:{api_port}/healthz: 200")),
        "{by_port:?}"
    );
    let out = by_probe_port.expect_success();
    assert!(
        out.contains(&format!("http://127.0.0.1:{probe_port}/healthz: 200")),
        "{by_probe_port:?}"
    );
    let out = by_url.expect_success();
    assert_eq!(
        out,
        format!("GET {}: 200\n", server.url("/healthz")),
        "{by_url:?}"
    );
    assert!(by_url.stderr.is_empty(), "{by_url:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_answer_no_answer_or_no_server_is_unhealthy_in_one_line() {
    // Arrange: a live server, and a listener that takes connections and never answers.
    let store = Store::new(Engine::Memory).await.expect("a memory store");
    let mut server = store.start().await;
    let api_port = port_of(server.base_url()).to_string();
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a listener on a free port");
    let silent_url = format!("http://{}/healthz", silent.local_addr().expect("bound"));
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((connection, _)) = silent.accept().await {
            held.push(connection);
        }
    });

    // Act + Assert: an answer other than 200.
    let not_found = store
        .run_subcommand(&["healthcheck", "--url", &server.url("/no-such-probe")])
        .await;
    assert!(unhealthy(&not_found).contains("404"), "{not_found:?}");

    // No answer: given up on after the timeout, not the runtime's own (much longer) one.
    let started = Instant::now();
    let silence = store
        .run_subcommand(&["healthcheck", "--url", &silent_url, "--timeout-ms", "300"])
        .await;
    let took = started.elapsed();
    assert!(
        unhealthy(&silence).contains("no answer within 300 ms"),
        "{silence:?}"
    );
    assert!(took < Duration::from_secs(10), "{silence:?}: took {took:?}");
    holder.abort();

    // No server: the port of one that has stopped.
    server.kill().await;
    let gone = store
        .run_subcommand(&["healthcheck", "--port", &api_port])
        .await;
    assert!(unhealthy(&gone).contains("cannot connect"), "{gone:?}");

    // Nothing to check: the harness's `--port 0` means "any free port", known only from a log.
    let unknown = store.run_subcommand(&["healthcheck"]).await;
    assert!(unhealthy(&unknown).contains("--url"), "{unknown:?}");
}

/// Asserts exit status 1 and a single line on stderr, and returns that line.
fn unhealthy(finished: &Finished) -> &str {
    let err = finished.expect_failure();
    assert_eq!(finished.status.code(), Some(1), "{finished:?}");
    assert_eq!(finished.stderr_lines().len(), 1, "{finished:?}");
    err
}

/// The port of `http://host:port…`.
fn port_of(url: &str) -> u16 {
    let authority = url
        .strip_prefix("http://")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("{url} is an http:// URL"));
    let (_, port) = authority
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("{url} has a port"));
    port.parse()
        .unwrap_or_else(|_| panic!("{url} has a numeric port"))
}
