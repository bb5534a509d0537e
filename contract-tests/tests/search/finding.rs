//! What `q`, `city` and `country` find.

use std::collections::BTreeSet;

use contract_tests::fixtures::{minimal_entry, sample_entries};
use contract_tests::{Store, writes};
use uuid::Uuid;

use crate::book::{made_up_entries, seed};
use crate::expected::{found_by, has_address_in, names};
use crate::listing::walk_links;

contract_tests::engines!(
    a_search_finds_entries_by_the_start_of_a_name_word_email_or_phone_number,
    a_search_matches_only_from_the_start_of_a_term,
    a_search_finds_a_term_whatever_characters_follow_the_typed_text,
    every_search_finds_exactly_the_entries_the_contract_describes,
    city_and_country_filter_exactly_in_any_case_and_combine_with_the_search,
);

async fn a_search_finds_entries_by_the_start_of_a_name_word_email_or_phone_number(store: Store) {
    // Arrange
    let server = store.start().await;
    let book = seed(&server).await;
    let search = async |q: &str| -> BTreeSet<String> {
        walk_links(&server, &[("q", q), ("limit", "100")])
            .await
            .iter()
            .map(|e| e.full_name.to_string())
            .collect()
    };
    let set =
        |names: &[&str]| -> BTreeSet<String> { names.iter().map(|n| (*n).to_owned()).collect() };
    let holmeses = set(&["Sherlock Holmes", "Mycroft Holmes"]);
    let adas = set(&["ada lovelace", "Ada Lovelace", "ADA LOVELACE"]);

    // Act and assert: name words and whole names, in any case and any script.
    assert_eq!(search("sher").await, set(&["Sherlock Holmes"]));
    assert_eq!(search("SHERLOCK").await, set(&["Sherlock Holmes"]));
    assert_eq!(search("holm").await, holmeses);
    assert_eq!(search("Sherlock Hol").await, set(&["Sherlock Holmes"]));
    assert_eq!(search("aDa LoVe").await, adas);
    assert_eq!(search("MÜLLER").await, set(&["Jürgen Müller-Lüdenscheidt"]));
    assert_eq!(search("иван").await, set(&["Дмитрий Сергеевич Иванов"]));
    assert_eq!(search("花").await, set(&["山田 花子"]));
    assert_eq!(search("émile").await, set(&["Émile Zola"]));
    // E-mail addresses whole, and their parts before and after the @.
    assert_eq!(search("sherlock@exa").await, set(&["Sherlock Holmes"]));
    assert_eq!(search("s.holmes+violin").await, set(&["Sherlock Holmes"]));
    assert_eq!(search("DIOGENES.example").await, set(&["Mycroft Holmes"]));
    assert_eq!(search("mycroft@").await, set(&["Mycroft Holmes"]));
    // Phone and fax numbers by their digits, however they are written.
    let sherlock = set(&["Sherlock Holmes"]);
    for q in [
        "+44 20 7946 0018",
        "+44 (0)20 7946-0018",
        "79460018",
        "44207946001",
    ] {
        assert_eq!(search(q).await, sherlock, "q={q}");
    }
    for q in ["+44 20 7946", "020 7946", "0207946"] {
        assert_eq!(search(q).await, holmeses, "q={q}");
    }
    assert_eq!(
        search("5550999").await,
        set(&["Zoe Ball"]),
        "fax numbers are found too"
    );
    assert_eq!(
        search("+1 617").await,
        set(&["Margaret O'Connell", "Zoe Ball"])
    );
    // Nothing found is an empty, final page.
    assert!(search("zzz").await.is_empty());
    assert_eq!(book.len(), sample_entries().len() + made_up_entries().len());
}

async fn a_search_matches_only_from_the_start_of_a_term(store: Store) {
    let server = store.start().await;
    seed(&server).await;
    let search = async |q: &str| -> Vec<String> {
        walk_links(&server, &[("q", q)])
            .await
            .iter()
            .map(|e| e.full_name.to_string())
            .collect()
    };

    // "olmes" starts a word of Olmes Ortega only: not the middle of "Holmes".
    assert_eq!(search("olmes").await, ["Olmes Ortega"]);
    for q in [
        "erlock",
        "lmes",
        "lovelace ada",
        "lüdenscheidt",
        "violin",
        "xample.org",
        "9460018",
        "+44 9460018",
        "田",
    ] {
        assert!(search(q).await.is_empty(), "q={q} matched inside a term");
    }
}

async fn a_search_finds_a_term_whatever_characters_follow_the_typed_text(store: Store) {
    // Arrange: names whose first word goes on with characters from the top of the BMP, an
    // emoji, and the last code point of all (U+10FFFF, which a text field may hold: only control
    // characters are refused).
    let server = store.start().await;
    let names = [
        "Ada\u{FFFD}rian Gray",
        "Ada\u{1F600} Smiles",
        "Ada\u{10FFFF}x Last",
        "Ada\u{10FFFF}",
    ];
    for name in names {
        writes::create(&server, &minimal_entry(name), &[])
            .await
            .expect_json(201);
    }

    // Act
    let found: BTreeSet<String> = walk_links(&server, &[("q", "ada")])
        .await
        .iter()
        .map(|e| e.full_name.to_string())
        .collect();

    // Assert
    let expected: BTreeSet<String> = names.iter().map(|n| (*n).to_owned()).collect();
    assert_eq!(
        found, expected,
        "q=ada must find every name with a word starting with \"ada\""
    );
}

async fn every_search_finds_exactly_the_entries_the_contract_describes(store: Store) {
    // Arrange
    let server = store.start().await;
    let book = seed(&server).await;
    let queries = [
        "a",
        "A",
        "j",
        "s",
        "ada",
        "holmes",
        "o",
        "jür",
        "müller-l",
        "山",
        "ελ",
        "д",
        "ف",
        "example.org",
        "example",
        "EXAMPLE.COM",
        "p.",
        "w.",
        "@",
        ".",
        "1",
        "+1",
        "5",
        "55",
        "555",
        "+81 90",
        "(617) 555-0",
        "020",
        "0",
        "9",
        "+91 11 2341",
        "+7",
        "-",
        "é",
        "q",
    ];

    // Act and assert
    for q in queries {
        let found: BTreeSet<Uuid> = walk_links(&server, &[("q", q), ("limit", "100")])
            .await
            .iter()
            .map(|e| e.id)
            .collect();
        let expected: BTreeSet<Uuid> = book
            .iter()
            .filter(|e| found_by(e, q))
            .map(|e| e.id)
            .collect();
        assert_eq!(
            names(&book, &found.iter().copied().collect::<Vec<_>>()),
            names(&book, &expected.iter().copied().collect::<Vec<_>>()),
            "q={q}"
        );
    }
}

async fn city_and_country_filter_exactly_in_any_case_and_combine_with_the_search(store: Store) {
    // Arrange
    let server = store.start().await;
    let book = seed(&server).await;
    let filtered = async |params: &[(&str, &str)]| -> BTreeSet<String> {
        walk_links(&server, params)
            .await
            .iter()
            .map(|e| e.full_name.to_string())
            .collect()
    };
    let set =
        |names: &[&str]| -> BTreeSet<String> { names.iter().map(|n| (*n).to_owned()).collect() };
    let londoners = set(&["Sherlock Holmes", "Mycroft Holmes", "Ada Lovelace"]);

    // Act and assert: whole names in any case; an entry with two addresses there shows once.
    assert_eq!(filtered(&[("city", "London")]).await, londoners);
    assert_eq!(filtered(&[("city", "lONDON")]).await, londoners);
    assert_eq!(filtered(&[("country", "UNITED KINGDOM")]).await, londoners);
    assert_eq!(
        filtered(&[("city", "Boston")]).await,
        set(&["Margaret O'Connell"])
    );
    let nairobi = walk_links(&server, &[("city", "nairobi")]).await;
    assert_eq!(
        nairobi.len(),
        1,
        "an entry with two addresses in one city is listed once"
    );
    assert_eq!(
        filtered(&[("city", "MÜNCHEN")]).await,
        set(&["Jürgen Müller-Lüdenscheidt"])
    );
    assert_eq!(filtered(&[("country", "भारत")]).await, set(&["प्रिया शर्मा"]));
    assert_eq!(
        filtered(&[("country", "india")]).await,
        set(&["प्रिया शर्मा", "राजेश कुमार"])
    );
    // Not a prefix, not a substring.
    for (field, value) in [
        ("city", "Lond"),
        ("city", "London Town"),
        ("city", "ondon"),
        ("country", "United"),
        ("country", "Kingdom"),
    ] {
        assert!(
            filtered(&[(field, value)]).await.is_empty(),
            "{field}={value}"
        );
    }
    // With each other and with the search: every condition must hold.
    assert_eq!(
        filtered(&[("city", "london"), ("country", "United Kingdom")]).await,
        londoners
    );
    assert_eq!(
        filtered(&[("q", "holm"), ("city", "London")]).await,
        set(&["Sherlock Holmes", "Mycroft Holmes"])
    );
    assert_eq!(
        filtered(&[("q", "ada"), ("country", "united kingdom")]).await,
        set(&["Ada Lovelace"])
    );
    assert!(
        filtered(&[("q", "sher"), ("city", "Paris")])
            .await
            .is_empty()
    );
    assert!(
        filtered(&[("city", "London"), ("country", "France")])
            .await
            .is_empty()
    );
    // Against the contract's description, for every city and country in the book.
    let mut places = BTreeSet::new();
    for entry in &book {
        for address in &entry.addresses {
            if let Some(city) = &address.city {
                places.insert(("city", city.to_string()));
            }
            places.insert(("country", address.country.to_string()));
        }
    }
    for (field, value) in places {
        let found: BTreeSet<Uuid> = walk_links(&server, &[(field, &value), ("q", "a")])
            .await
            .iter()
            .map(|e| e.id)
            .collect();
        let expected: BTreeSet<Uuid> = book
            .iter()
            .filter(|e| has_address_in(e, field, &value) && found_by(e, "a"))
            .map(|e| e.id)
            .collect();
        assert_eq!(found, expected, "{field}={value} and q=a");
    }
}
