//! The book the search tests list: the sample entries shipped in `data/addresses/` and a few
//! made up for what they lack, some changed after their creation.

use addressbook_client::EntryPatch;
use addressbook_client::types::Entry;
use contract_tests::TestServer;
use contract_tests::fixtures::{self, sample_entries, typed};
use futures::{StreamExt, TryStreamExt, stream};
use serde_json::{Value, json};

/// Entries made up for what the samples lack: names equal but for case (ties in name order), a
/// name after every plain Latin one in code point order, a word that is the end of another.
pub fn made_up_entries() -> Vec<Value> {
    vec![
        json!({
            "full_name": "Mycroft Holmes",
            "addresses": [{"street_name": "Pall Mall", "city": "LONDON", "pincode": "SW1Y 5AA",
                           "country": "united kingdom"}],
            "phone_numbers": [{"country_code": 44, "area_code": "020", "local_number": "79460099"}],
            "emails": [{"email": "Mycroft@Diogenes.example"}]
        }),
        json!({"full_name": "Olmes Ortega", "emails": [{"email": "olmes@example.org"}]}),
        json!({"full_name": "ada lovelace"}),
        json!({"full_name": "Ada Lovelace",
               "addresses": [{"street_name": "St James's Square", "city": "London",
                              "pincode": "SW1Y 4JU", "country": "United Kingdom"}]}),
        json!({"full_name": "ADA LOVELACE"}),
        json!({"full_name": "Zoe Ball", "fax_numbers": [{"country_code": 1, "area_code": "617",
                                                          "local_number": "5550999"}]}),
        json!({"full_name": "Émile Zola",
               "addresses": [{"street_name": "Rue de Bruxelles", "city": "Paris", "pincode": "75009",
                              "country": "France"}]}),
    ]
}

/// Creates the sample entries and the made-up ones, a few at a time, then changes a few so that
/// the update order differs from the creation order. Returns every entry as stored.
pub async fn seed(server: &TestServer) -> Vec<Entry> {
    let client = server.client();
    let inputs: Vec<Value> = sample_entries()
        .into_iter()
        .map(|(_, entry)| entry)
        .chain(made_up_entries())
        .collect();
    let created: Vec<Entry> = stream::iter(inputs)
        .map(|input| {
            let client = &client;
            async move {
                client
                    .create_address()
                    .body(typed(&input))
                    .send()
                    .await
                    .map(|created| created.into_inner())
            }
        })
        .buffer_unordered(4)
        .try_collect()
        .await
        .unwrap_or_else(|err| panic!("seeding failed: {err:?}"));
    // Touch every third entry, oldest last, so that updated_at reverses part of created_at.
    let mut by_creation = created.clone();
    by_creation.sort_by_key(|e| (e.created_at, e.id));
    for entry in by_creation.iter().step_by(3).rev() {
        client
            .patch_address()
            .id(entry.id)
            .body(EntryPatch::new())
            .send()
            .await
            .expect("touching an entry");
    }
    let stored = fixtures::list_all(&client).await;
    assert_eq!(stored.len(), created.len());
    stored
}
