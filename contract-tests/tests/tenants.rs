//! Credentials and tenants on a server that requires them: every operation needs a credential
//! with the right scope, and a caller sees nothing of another tenant's book in any status,
//! header, body or log line (another tenant's id is a 404 exactly like an id that does not
//! exist). On PostgreSQL the same holds across two server processes sharing the database.

use contract_tests::auth::{self, bearer, token};
use contract_tests::fixtures::full_entry;
use contract_tests::{Reply, Store, TestServer, send};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

contract_tests::engines!(
    a_tenant_sees_nothing_of_another_tenants_book,
    every_operation_needs_a_credential_with_its_scope,
);

mod across_processes {
    contract_tests::engines!(postgres: a_tenant_sees_nothing_of_another_tenants_book_across_servers);

    async fn a_tenant_sees_nothing_of_another_tenants_book_across_servers(
        store: contract_tests::Store,
    ) {
        let first = contract_tests::auth::requiring_credentials(&store)
            .start()
            .await;
        let second = contract_tests::auth::requiring_credentials(&store)
            .start()
            .await;
        super::isolation_matrix(&first, &second).await;
    }
}

mod start_up {
    use super::*;

    contract_tests::engines!(
        durable: a_server_requiring_credentials_refuses_the_public_cursor_key,
        without_authentication_the_server_says_so_as_it_starts,
    );

    mod production {
        contract_tests::engines!(postgres: the_production_example_refuses_to_start_without_keys);

        async fn the_production_example_refuses_to_start_without_keys(store: super::Store) {
            super::the_production_example_refuses_to_start_without_keys(store).await;
        }
    }

    async fn a_server_requiring_credentials_refuses_the_public_cursor_key(store: Store) {
        let refused = auth::requiring_credentials(&store)
            .env(
                "ADDRESSBOOK_API__CURSOR_KEY",
                "addressbook-local-cursor-key",
            )
            .run_to_exit()
            .await;
        let stderr = refused.expect_failure();
        assert!(stderr.contains("api.cursor_key"), "{stderr}");
        assert!(stderr.contains("ADDRESSBOOK_API__CURSOR_KEY"), "{stderr}");
    }

    async fn the_production_example_refuses_to_start_without_keys(store: Store) {
        let production =
            contract_tests::binary::workspace_root().join("configs/addressbook-production.yaml");
        let refused = store
            .server()
            .config(&production)
            .env("ADDRESSBOOK_API__CURSOR_KEY", auth::CURSOR_KEY)
            .env("ADDRESSBOOK_STORAGE__MIGRATE_ON_START", "true")
            .run_to_exit()
            .await;
        let stderr = refused.expect_failure();
        assert!(stderr.contains("auth.mode is required"), "{stderr}");
        assert!(stderr.contains("keys create"), "{stderr}");
        let refused = store.server().config(&production).run_to_exit().await;
        assert!(refused.expect_failure().contains("api.cursor_key"));
    }

    async fn without_authentication_the_server_says_so_as_it_starts(store: Store) {
        let server = store.start().await;
        assert!(
            server
                .logs()
                .contains("authentication disabled: single local tenant"),
            "{}",
            server.logs()
        );
    }
}

mod keys {
    use super::*;

    contract_tests::engines!(durable: a_key_made_with_keys_create_works_until_it_is_revoked);

    async fn a_key_made_with_keys_create_works_until_it_is_revoked(store: Store) {
        // Arrange: a key made with the management command, as an operator would.
        let keys = |args: &[&str]| {
            let mut options = auth::requiring_credentials(&store).arg("keys");
            for arg in args {
                options = options.arg(arg);
            }
            options.run_to_exit()
        };
        let made = keys(&[
            "create", "--tenant", "acme", "--scope", "read", "--scope", "write", "--name",
            "crm sync",
        ])
        .await;
        let printed = made.expect_success().to_owned();
        let key = printed
            .lines()
            .find(|line| line.starts_with("abk_"))
            .unwrap_or_else(|| panic!("no key printed: {printed}"))
            .to_owned();
        let id = key
            .trim_start_matches("abk_")
            .split('_')
            .next()
            .unwrap()
            .to_owned();

        // Act and assert: the key works, as X-API-Key and as a bearer token.
        let server = auth::requiring_credentials(&store).start().await;
        let created = send(
            server
                .http()
                .post(server.url("/addresses"))
                .header("x-api-key", &key)
                .json(&full_entry("Keyed Entry")),
        )
        .await;
        created.expect_json(201);
        let listed = send(
            server
                .http()
                .get(server.url("/addresses"))
                .header("authorization", format!("Bearer {key}")),
        )
        .await;
        assert_eq!(
            listed.expect_json(200)["items"].as_array().unwrap().len(),
            1
        );
        let listing = keys(&["list"]).await;
        let listing = listing.expect_success();
        assert!(
            listing.contains(&id) && listing.contains("active"),
            "{listing}"
        );
        let secret = key.rsplit('_').next().unwrap();
        assert!(
            !listing.contains(secret),
            "the list shows no secret: {listing}"
        );
        assert!(
            !server.logs().contains(secret),
            "the key is not in the logs"
        );

        // Revoked, it fails (at once on a server started afterwards).
        keys(&["revoke", &id]).await.expect_success();
        drop(server);
        let server = auth::requiring_credentials(&store).start().await;
        let refused = send(
            server
                .http()
                .get(server.url("/addresses"))
                .header("x-api-key", &key),
        )
        .await;
        let problem = refused.expect_problem(401);
        assert_eq!(problem.problem_type(), "/problems/unauthorized");
    }
}

/// An entry of tenant B's that A must never see: its name and e-mail are B's secrets.
fn secret_entry(n: usize) -> Value {
    json!({
        "full_name": format!("Bertha Secretkeeper {n}"),
        "emails": [{"email": format!("bertha{n}@tenant-b.example")}],
        "addresses": [{"street_name": "Hidden Lane", "city": "Bravo City", "pincode": "B1", "country": "Bland"}]
    })
}

const SECRETS: [&str; 4] = ["Bertha", "Secretkeeper", "tenant-b.example", "Bravo City"];

async fn request(
    server: &TestServer,
    token: &str,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Reply {
    let (name, value) = bearer(token);
    let mut builder = server
        .http()
        .request(method, server.url(path))
        .header(name, value);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    if let Some(body) = body {
        builder = builder.json(body);
    }
    send(builder).await
}

async fn a_tenant_sees_nothing_of_another_tenants_book(store: Store) {
    let server = auth::requiring_credentials(&store).start().await;
    isolation_matrix(&server, &server).await;
}

/// Tenant A, on `server_a`, tries every operation on tenant B's entries, made on `server_b`.
async fn isolation_matrix(server_a: &TestServer, server_b: &TestServer) {
    let a = token("tenant-a", &["read", "write"], 600);
    let b = token("tenant-b", &["read", "write"], 600);

    // Arrange: B's book, with a page cursor and an idempotency key; A's one entry.
    let mut b_ids = Vec::new();
    for n in 0..3 {
        let created = request(
            server_b,
            &b,
            Method::POST,
            "/addresses",
            &[],
            Some(&secret_entry(n)),
        )
        .await;
        b_ids.push(created.expect_json(201)["id"].as_str().unwrap().to_owned());
    }
    let keyed = request(
        server_b,
        &b,
        Method::POST,
        "/addresses",
        &[("idempotency-key", "shared-key")],
        Some(&secret_entry(9)),
    )
    .await;
    b_ids.push(keyed.expect_json(201)["id"].as_str().unwrap().to_owned());
    let b_page = request(server_b, &b, Method::GET, "/addresses?limit=1", &[], None).await;
    let b_cursor = b_page.expect_json(200)["next_cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let b_feed = request(server_b, &b, Method::GET, "/changes?limit=1", &[], None).await;
    let b_token = b_feed.expect_json(200)["next_sync_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let b_before: Vec<Value> = {
        let mut all = Vec::new();
        for id in &b_ids {
            all.push(
                request(
                    server_b,
                    &b,
                    Method::GET,
                    &format!("/addresses/{id}"),
                    &[],
                    None,
                )
                .await
                .expect_json(200),
            );
        }
        all
    };
    request(
        server_a,
        &a,
        Method::POST,
        "/addresses",
        &[],
        Some(&full_entry("Alice Ownentry")),
    )
    .await
    .expect_json(201);

    // Act: A at B's entries, one operation after another.
    let missing = Uuid::now_v7().to_string();
    let patch = json!({"full_name": "Taken Over"});
    let mut replies = Vec::new();
    for id in b_ids.iter().chain(std::iter::once(&missing)) {
        let path = format!("/addresses/{id}");
        let tries = [
            (Method::GET, vec![], None),
            (Method::GET, vec![("if-none-match", "\"1\"")], None),
            (
                Method::PUT,
                vec![("if-match", "\"1\"")],
                Some(full_entry("Taken Over")),
            ),
            (Method::PUT, vec![], Some(full_entry("Taken Over"))),
            (Method::DELETE, vec![("if-match", "*")], None),
            (Method::DELETE, vec![], None),
        ];
        for (method, headers, body) in tries {
            let reply = request(server_a, &a, method, &path, &headers, body.as_ref()).await;
            replies.push((id.clone(), reply));
        }
        let (name, value) = bearer(&a);
        let patched = send(
            server_a
                .http()
                .patch(server_a.url(&path))
                .header(name, value)
                .header("content-type", "application/merge-patch+json")
                .body(patch.to_string()),
        )
        .await;
        replies.push((id.clone(), patched));
    }

    // Assert: every one is the 404 of an id that does not exist, word for word.
    let (_, missing_get) = replies.iter().find(|(id, _)| *id == missing).unwrap();
    let expected = missing_get.expect_problem(404);
    for (id, reply) in &replies {
        let problem = reply.expect_problem(404);
        assert_eq!(problem.problem_type(), expected.problem_type(), "{reply:?}");
        assert_eq!(problem.0["detail"], expected.0["detail"], "{reply:?}");
        assert_eq!(problem.0["title"], expected.0["title"], "{reply:?}");
        assert_eq!(
            problem.0["instance"],
            format!("/addresses/{id}"),
            "the instance is A's own request path"
        );
    }

    // A's lists and searches hold only A's entry; B's cursor is refused.
    let mut lists = Vec::new();
    for path in [
        "/addresses".to_owned(),
        "/addresses?q=bertha".to_owned(),
        "/addresses?q=tenant-b.example".to_owned(),
        "/addresses?city=Bravo%20City".to_owned(),
        "/addresses?sort=-full_name".to_owned(),
    ] {
        let reply = request(server_a, &a, Method::GET, &path, &[], None).await;
        let page = reply.expect_json(200);
        let names: Vec<&str> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["full_name"].as_str().unwrap())
            .collect();
        assert!(
            names.iter().all(|name| *name == "Alice Ownentry"),
            "{path}: {names:?}"
        );
        lists.push(reply);
    }
    let cursor = request(
        server_a,
        &a,
        Method::GET,
        &format!("/addresses?limit=1&cursor={b_cursor}"),
        &[],
        None,
    )
    .await;
    cursor.expect_problem(400);
    // A's change feed holds only A's own entry; B's sync token is refused. (On PostgreSQL a
    // change shows once older write transactions on the database server have ended: ask until
    // it does.)
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let (feed, changes) = loop {
        let feed = request(server_a, &a, Method::GET, "/changes", &[], None).await;
        let changes = feed.expect_json(200);
        if !changes["changes"].as_array().unwrap().is_empty()
            || std::time::Instant::now() > deadline
        {
            break (feed, changes);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let names: Vec<&str> = changes["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["entry"]["full_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Alice Ownentry"], "A's feed: {changes}");
    lists.push(feed);
    let token = request(
        server_a,
        &a,
        Method::GET,
        &format!("/changes?sync_token={b_token}"),
        &[],
        None,
    )
    .await;
    token.expect_problem(400);
    // B's idempotency key is B's: A's create with it and B's very body creates A's own entry.
    let replayed = request(
        server_a,
        &a,
        Method::POST,
        "/addresses",
        &[("idempotency-key", "shared-key")],
        Some(&secret_entry(9)),
    )
    .await;
    let created = replayed.expect_json(201);
    assert!(
        !b_ids.contains(&created["id"].as_str().unwrap().to_owned()),
        "A got B's entry"
    );

    // Nothing of B's in any status, header or body A received (but the entry A made itself
    // from B's body above), nor in any log line.
    for reply in replies
        .iter()
        .map(|(_, reply)| reply)
        .chain(&lists)
        .chain([&cursor, &token])
    {
        let text = format!("{:?} {}", reply.headers, reply.text());
        for secret in SECRETS.iter().chain(["shared-key"].iter()) {
            assert!(!text.contains(secret), "A saw {secret:?}: {reply:?}");
        }
        for b_id in &b_ids {
            let body = reply.json();
            let outside_instance = match body.as_object() {
                Some(object) => object
                    .iter()
                    .filter(|(k, _)| *k != "instance")
                    .map(|(_, v)| v.to_string())
                    .collect::<String>(),
                None => reply.text(),
            };
            assert!(
                !outside_instance.contains(b_id.as_str()),
                "A saw B's id {b_id}: {reply:?}"
            );
        }
    }
    for server in [server_a, server_b] {
        let logs = server.logs();
        for secret in SECRETS {
            assert!(
                !logs.contains(secret),
                "a log line holds {secret:?}:\n{logs}"
            );
        }
        assert!(
            !logs.contains(&a) && !logs.contains(&b),
            "a log line holds a token"
        );
    }

    // B's entries are as they were.
    for (id, before) in b_ids.iter().zip(&b_before) {
        let now = request(
            server_b,
            &b,
            Method::GET,
            &format!("/addresses/{id}"),
            &[],
            None,
        )
        .await;
        assert_eq!(&now.expect_json(200), before, "B's entry {id} changed");
    }
}

async fn every_operation_needs_a_credential_with_its_scope(store: Store) {
    let server = auth::requiring_credentials(&store).start().await;
    let writer = token("acme", &["read", "write"], 600);
    let reader = token("acme", &["read"], 600);
    let created = request(
        &server,
        &writer,
        Method::POST,
        "/addresses",
        &[],
        Some(&full_entry("Scoped")),
    )
    .await;
    let id = created.expect_json(201)["id"].as_str().unwrap().to_owned();
    let entry_path = format!("/addresses/{id}");

    // Without a credential, or with one not accepted: 401 and a challenge.
    let expired = token("acme", &["read", "write"], -3600);
    let forged = auth::forged_token("acme");
    let refusals: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("no credential", vec![]),
        ("an expired token", vec![bearer(&expired)]),
        ("a token signed by another key", vec![bearer(&forged)]),
        (
            "another scheme",
            vec![("authorization", "Basic YWxpY2U6c2VjcmV0".to_owned())],
        ),
        ("a token that is no JWT", vec![bearer("not-a-token")]),
        (
            "an unknown API key",
            vec![("x-api-key", "abk_0123456789abcdef_nope".to_owned())],
        ),
    ];
    for (what, headers) in &refusals {
        for (method, path) in [
            (Method::GET, "/addresses"),
            (Method::GET, entry_path.as_str()),
            (Method::DELETE, entry_path.as_str()),
        ] {
            let mut builder = server.http().request(method.clone(), server.url(path));
            for (name, value) in headers {
                builder = builder.header(*name, value);
            }
            let reply = send(builder).await;
            let problem = reply.expect_problem(401);
            assert_eq!(
                problem.problem_type(),
                "/problems/unauthorized",
                "{what}: {reply:?}"
            );
            let challenge = reply
                .header("www-authenticate")
                .unwrap_or_else(|| panic!("{what}: no challenge: {reply:?}"));
            assert!(
                challenge.starts_with("Bearer realm=\"addressbook\""),
                "{what}: {challenge}"
            );
            if !headers.is_empty() {
                assert!(challenge.contains("error="), "{what}: {challenge}");
            }
        }
    }
    let expired_reply = request(&server, &expired, Method::GET, "/addresses", &[], None).await;
    assert!(
        expired_reply
            .header("www-authenticate")
            .unwrap()
            .contains("expired")
    );

    // A credential without the scope: 403, naming it; nothing written.
    for (method, path, body) in [
        (Method::POST, "/addresses", Some(full_entry("Not Allowed"))),
        (
            Method::PUT,
            entry_path.as_str(),
            Some(full_entry("Not Allowed")),
        ),
        (Method::DELETE, entry_path.as_str(), None),
    ] {
        let reply = request(&server, &reader, method, path, &[], body.as_ref()).await;
        let problem = reply.expect_problem(403);
        assert_eq!(problem.problem_type(), "/problems/insufficient-scope");
        assert!(
            reply
                .header("www-authenticate")
                .unwrap()
                .contains("scope=\"write\"")
        );
    }
    let read = request(&server, &reader, Method::GET, &entry_path, &[], None).await;
    assert_eq!(read.expect_json(200)["full_name"], "Scoped");

    // The typed client takes the credential once.
    let client = addressbook_client::Client::with_credential(
        server.base_url(),
        addressbook_client::Credential::BearerToken(reader.clone()),
    )
    .expect("a client");
    let page = client.list_addresses().send().await.expect("a page");
    assert_eq!(page.items.len(), 1);

    // The probes and the documents need none.
    for path in [
        "/healthz",
        "/readiness",
        "/openapi.yaml",
        "/openapi.json",
        "/docs",
    ] {
        let reply = send(server.http().get(server.url(path))).await;
        assert_eq!(reply.status, 200, "{path}: {reply:?}");
    }
    let logs = server.logs();
    for credential in [&writer, &reader, &expired, &forged] {
        assert!(
            !logs.contains(credential.as_str()),
            "a log line holds a token"
        );
    }
    assert!(
        logs.contains("tenant=\"acme\""),
        "the request log names the tenant:\n{logs}"
    );
    assert!(
        logs.contains("client=127.0.0.1"),
        "the request log names the client's address:\n{logs}"
    );
}
