//! Text round-trips exactly on every engine: whatever string the contract allows comes back
//! from a read and from the list as the very same characters (no normalisation, no trimming, no
//! re-encoding), and the strings the contract refuses are refused alike on every engine.

use contract_tests::fixtures::{as_stored, content_of_json};
use contract_tests::{Engine, Reply, Store, TestServer, send};
use serde_json::{Value, json};

contract_tests::engines!(
    every_string_the_contract_allows_comes_back_exactly,
    composed_and_decomposed_forms_stay_distinct,
    json_escapes_in_the_body_are_decoded,
    control_characters_written_as_escapes_are_refused,
);

/// Strings the contract allows, each with what makes it hard.
const ALLOWED: &[(&str, &str)] = &[
    ("combining acute", "Rene\u{301}e Zoe\u{308}"),
    ("emoji with ZWJ sequences", "👩‍👩‍👧‍👦 🏳️‍🌈 👨🏽‍💻"),
    ("astral plane", "𝔄𝔡𝔞 𠜎𠜱 𓀀 🀄"),
    (
        "right-to-left with marks",
        "\u{200F}مريم الأسطرلابي\u{200E} (עברית) \u{202B}embedded\u{202C}",
    ),
    (
        "quotes and backslashes",
        r#"O"Brien \ "Q" \\server\share\ 'x' \n"#,
    ),
    ("spaces around", "  Ada  "),
    ("inner whitespace", "Ada\u{a0}\u{2003}Lovelace\u{3000}King"),
    (
        "line and paragraph separators",
        "Ada\u{2028}Lovelace\u{2029}",
    ),
    ("invisible characters", "A\u{200B}d\u{2060}a\u{FE0F}"),
    ("noncharacters", "Ada \u{FFFE}\u{FFFF}\u{10FFFF}"),
    ("Latin-1 letters", "Ca\u{f1}o\u{df}\u{ff}"),
    (
        "HTML and SQL look-alikes",
        "<script>alert('x')</script>'; DROP TABLE entries; --",
    ),
];

async fn every_string_the_contract_allows_comes_back_exactly(store: Store) {
    let server = store.start().await;
    let mut cases: Vec<(String, String)> = ALLOWED
        .iter()
        .map(|(what, text)| ((*what).to_owned(), (*text).to_owned()))
        .collect();
    // The longest names allowed, in characters of two, three and four bytes, and in code points
    // that combine.
    cases.push(("200 two-byte characters".to_owned(), "é".repeat(200)));
    cases.push(("200 three-byte characters".to_owned(), "字".repeat(200)));
    cases.push(("200 four-byte characters".to_owned(), "😀".repeat(200)));
    cases.push((
        "200 combining code points".to_owned(),
        "e\u{301}".repeat(100),
    ));
    for (what, text) in cases {
        // Arrange: the text as the name and, where it fits (100 characters), in an address.
        let mut input = json!({ "full_name": text });
        if text.chars().count() <= 100 {
            input["addresses"] = json!([{
                "street_name": text,
                "city": text,
                "locality": text,
                "pincode": "1",
                "country": text,
            }]);
        }

        // Act
        let created = send(server.http().post(server.url("/addresses")).json(&input)).await;

        // Assert: the create's answer, a read and the list all hold exactly the text sent.
        let created = created.expect_json(201);
        assert_eq!(content_of_json(&created), as_stored(&input), "{what}");
        assert_eq!(created["full_name"].as_str(), Some(text.as_str()), "{what}");
        let id = created["id"].as_str().expect("an id");
        let read = read(&server, id).await;
        assert_eq!(read, created, "{what}: read");
        assert_eq!(listed(&server, id).await, created, "{what}: listed");
    }
}

async fn composed_and_decomposed_forms_stay_distinct(store: Store) {
    // Arrange: "é" as one code point, and as "e" with a combining acute accent.
    let server = store.start().await;
    let composed = "Ren\u{e9}e";
    let decomposed = "Rene\u{301}e";
    assert_ne!(composed, decomposed);

    // Act
    let mut ids = Vec::new();
    for name in [composed, decomposed] {
        let created = send(
            server
                .http()
                .post(server.url("/addresses"))
                .json(&json!({ "full_name": name })),
        )
        .await
        .expect_json(201);
        ids.push(created["id"].as_str().expect("an id").to_owned());
    }

    // Assert: each comes back as it was written, through a read and the list.
    for (id, name) in ids.iter().zip([composed, decomposed]) {
        let read = read(&server, id).await;
        assert_eq!(read["full_name"].as_str(), Some(name), "{read}");
        let listed = listed(&server, id).await;
        assert_eq!(listed["full_name"].as_str(), Some(name), "{listed}");
    }
}

async fn json_escapes_in_the_body_are_decoded(store: Store) {
    // Arrange: a body written with JSON escapes, as some clients send every non-ASCII character.
    let server = store.start().await;
    let body = r#"{"full_name": "Ren\u00e9e \ud83d\ude00 \"Q\" \\ \/ \u0041da\u2028!",
                   "addresses": [{"street_name": "Stra\u00dfe", "city": "\u5b57", "pincode": "1",
                                  "country": "\u00cdsland"}]}"#;

    // Act
    let created = send(
        server
            .http()
            .post(server.url("/addresses"))
            .header("content-type", "application/json")
            .body(body),
    )
    .await;

    // Assert: stored as the characters the escapes stand for.
    let created = created.expect_json(201);
    let id = created["id"].as_str().expect("an id");
    for entry in [
        created.clone(),
        read(&server, id).await,
        listed(&server, id).await,
    ] {
        assert_eq!(
            entry["full_name"].as_str(),
            Some("Renée 😀 \"Q\" \\ / Ada\u{2028}!"),
            "{entry}"
        );
        let address = &entry["addresses"][0];
        assert_eq!(address["street_name"].as_str(), Some("Straße"), "{entry}");
        assert_eq!(address["city"].as_str(), Some("字"), "{entry}");
        assert_eq!(address["country"].as_str(), Some("Ísland"), "{entry}");
    }
}

async fn control_characters_written_as_escapes_are_refused(store: Store) {
    let server = store.start().await;
    for escape in [r"\u0000", r"\u001f", r"\u007f", r"\u001b"] {
        for (body, pointer) in [
            (
                format!(r#"{{"full_name": "Ada{escape}Lovelace"}}"#),
                "/full_name",
            ),
            (
                format!(
                    r#"{{"full_name": "Ada", "addresses": [{{"street_name": "Baker Street",
                        "city": "Lon{escape}don", "pincode": "NW1", "country": "UK"}}]}}"#
                ),
                "/addresses/0/city",
            ),
        ] {
            // Act
            let reply = send(
                server
                    .http()
                    .post(server.url("/addresses"))
                    .header("content-type", "application/json")
                    .body(body.clone()),
            )
            .await;

            // Assert: a validation failure naming the field, the same on every engine.
            let problem = reply.expect_problem(400);
            assert_eq!(
                problem.problem_type(),
                "/problems/validation-failed",
                "{body}"
            );
            problem.expect_pointers(&[pointer]);
            let reason = &problem.errors()[0].reason;
            assert!(reason.contains("control"), "{body}: {reason}");
        }
    }
    // Nothing was stored.
    let page = send(server.http().get(server.url("/addresses"))).await;
    assert_eq!(page.expect_json(200)["items"], json!([]));
}

/// The contract's text pattern, `^[^\x00-\x1F\x7F]*[^\s\x00-\x1F\x7F][^\x00-\x1F\x7F]*$`, asks for
/// one character that is not `\s`, and OpenAPI patterns are ECMA-262 regular expressions, whose
/// `\s` is not Rust's `char::is_whitespace`: it includes U+FEFF (zero width no-break space) and
/// leaves out U+0085 (next line). Validation runs before storage, so one engine is enough.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn space_like_characters_are_judged_as_the_contract_pattern_judges_them() {
    let store = Store::new(Engine::Memory).await.expect("a memory store");
    let server = store.start().await;
    let cases = [
        ("\u{FEFF}", 400),
        ("\u{FEFF}\u{A0}", 400),
        ("\u{A0}", 400),
        ("\u{3000}", 400),
        ("\u{85}", 201),
        ("\u{200B}", 201),
        ("\u{FEFF}Ada", 201),
    ];
    let mut disagreements = Vec::new();
    for (name, expected) in cases {
        let reply = send(
            server
                .http()
                .post(server.url("/addresses"))
                .json(&json!({ "full_name": name })),
        )
        .await;
        if reply.status != expected {
            disagreements.push(format!(
                "full_name {name:?}: the contract says {expected}, the server answered {reply:?}"
            ));
        } else if expected == 400 {
            reply.expect_problem(400).expect_pointers(&["/full_name"]);
        }
    }
    assert!(disagreements.is_empty(), "{disagreements:#?}");
}

/// `GET /addresses/{id}`, as JSON.
async fn read(server: &TestServer, id: &str) -> Value {
    let reply = send(server.http().get(server.url(&format!("/addresses/{id}")))).await;
    reply.expect_json(200)
}

/// Entry `id` as the list shows it; the books here hold at most one page.
async fn listed(server: &TestServer, id: &str) -> Value {
    let reply: Reply = send(server.http().get(server.url("/addresses?limit=100"))).await;
    let page = reply.expect_json(200);
    assert_eq!(page["next_cursor"], Value::Null, "one page: {page}");
    page["items"]
        .as_array()
        .expect("a page has items")
        .iter()
        .find(|entry| entry["id"].as_str() == Some(id))
        .cloned()
        .unwrap_or_else(|| panic!("entry {id} is not in the list: {page}"))
}
