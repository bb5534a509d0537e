//! What a listing must hold, computed from the contract's description of the search and the
//! orders, and from the entries as the server stored them.

use std::collections::BTreeSet;

use addressbook_client::types::Entry;
use contract_tests::fixtures;
use uuid::Uuid;

/// Lower case with runs of white space folded to one space.
pub fn fold(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// "Terms are the full name and each of its words, each e-mail address and its parts before and
/// after `@`, and each phone and fax number's digits (the local number; area code and local
/// number; country code, area code and local number)." The contract's own example, `+44 20
/// 7946` for area code `020`, shows the area code is also taken without its trunk zero after
/// the country code.
pub fn terms(entry: &Entry) -> BTreeSet<String> {
    let entry = fixtures::to_json(entry);
    let mut terms = BTreeSet::new();
    let name = fold(entry["full_name"].as_str().expect("a name"));
    terms.extend(name.split(' ').map(str::to_owned));
    terms.insert(name);
    for email in entry["emails"].as_array().expect("a list") {
        let email = email["email"].as_str().expect("an address").to_lowercase();
        let (local, domain) = email.rsplit_once('@').expect("an @");
        terms.insert(local.to_owned());
        terms.insert(domain.to_owned());
        terms.insert(email.clone());
    }
    let phones = entry["phone_numbers"].as_array().expect("a list");
    let faxes = entry["fax_numbers"].as_array().expect("a list");
    for phone in phones.iter().chain(faxes) {
        let code = phone["country_code"].as_u64().expect("a country code");
        let area = phone["area_code"].as_str().unwrap_or_default();
        let local = phone["local_number"].as_str().expect("a local number");
        terms.insert(local.to_owned());
        terms.insert(format!("{area}{local}"));
        terms.insert(format!("{code}{area}{local}"));
        terms.insert(format!("{code}{}{local}", area.trim_start_matches('0')));
    }
    terms
}

/// "Case-insensitive search, as you type: matches entries with a term that starts with this
/// text. A text of digits and phone punctuation is matched by its digits."
pub fn found_by(entry: &Entry, q: &str) -> bool {
    let phone_like = q.chars().any(|c| c.is_ascii_digit())
        && q.chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c));
    let q = if phone_like {
        q.chars().filter(char::is_ascii_digit).collect()
    } else {
        fold(q)
    };
    terms(entry).iter().any(|term| term.starts_with(&q))
}

/// "Only entries with an address in this city (country), compared case-insensitively."
pub fn has_address_in(entry: &Entry, field: &str, value: &str) -> bool {
    fixtures::to_json(entry)["addresses"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|address| address[field].as_str())
        .any(|text| fold(text) == fold(value))
}

/// The key of the `full_name` orders: case-insensitive, compared by code point.
pub fn name_key(entry: &Entry) -> String {
    fold(entry.full_name.as_str())
}

/// `entries` in the order `sort` names, ties broken by id in the same direction.
pub fn sorted(entries: &[Entry], sort: &str) -> Vec<Uuid> {
    let (key, descending) = match sort.strip_prefix('-') {
        Some(key) => (key, true),
        None => (sort, false),
    };
    let mut sorted = entries.to_vec();
    sorted.sort_by(|a, b| {
        let by_key = match key {
            "full_name" => name_key(a).cmp(&name_key(b)),
            "created_at" => a.created_at.cmp(&b.created_at),
            "updated_at" => a.updated_at.cmp(&b.updated_at),
            other => panic!("no sort order {other}"),
        };
        by_key.then(a.id.cmp(&b.id))
    });
    if descending {
        sorted.reverse();
    }
    sorted.iter().map(|e| e.id).collect()
}

pub fn ids(entries: &[Entry]) -> Vec<Uuid> {
    entries.iter().map(|e| e.id).collect()
}

pub fn names(entries: &[Entry], of: &[Uuid]) -> Vec<String> {
    of.iter()
        .map(|id| {
            entries
                .iter()
                .find(|e| e.id == *id)
                .map_or_else(|| id.to_string(), |e| e.full_name.to_string())
        })
        .collect()
}
