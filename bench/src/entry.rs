//! The entries the benchmark writes: all the same shape and size, so that every POST costs the
//! same and a listing page is the same number of bytes however large the book.

use serde_json::json;

/// Width of the sequence number in every entry; the POST script swaps [`PLACEHOLDER`] for a
/// number this wide, so its bodies are exactly as long as the loaded ones.
pub const SEQ_WIDTH: usize = 7;

/// Stands for the sequence number in the body template the POST script fills in.
pub const PLACEHOLDER: &str = "#######";

/// Size of every entry's JSON, in bytes (checked by a test).
pub const ENTRY_BYTES: usize = 430;

/// Entry `i`: its full name starts with "Jane " (so `q=jane` matches every entry), and its work
/// e-mail `jane.{i:07}@example.org` matches it alone.
pub fn entry(i: usize) -> String {
    body(&format!("{i:0SEQ_WIDTH$}"))
}

/// The body of a POST whose sequence number the wrk script fills in.
pub fn template() -> String {
    body(PLACEHOLDER)
}

/// The work e-mail of entry `i`: a search for it selects that one entry.
pub fn unique_email(i: usize) -> String {
    format!("jane.{i:0SEQ_WIDTH$}@example.org")
}

fn body(seq: &str) -> String {
    assert_eq!(
        seq.len(),
        SEQ_WIDTH,
        "sequence numbers are {SEQ_WIDTH} wide"
    );
    json!({
        "full_name": format!("Jane Rosalind Fairweather {seq}"),
        "addresses": [{
            "kind": "home",
            "street_number": "12-14",
            "street_name": "Upper Acacia Avenue",
            "city": "London",
            "pincode": "SW1A 1AA",
            "country": "United Kingdom"
        }],
        "phone_numbers": [{
            "kind": "mobile",
            "country_code": 44,
            "area_code": "020",
            "local_number": format!("7{seq}")
        }],
        "emails": [
            {"kind": "work", "email": format!("jane.{seq}@example.org")},
            {"kind": "home", "email": format!("rosalind.fairweather.{seq}@example.com")}
        ]
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_and_the_template_have_the_same_size() {
        for i in [0, 7, 1_000, 99_999, 9_999_999] {
            assert_eq!(entry(i).len(), ENTRY_BYTES, "entry {i}");
        }
        assert_eq!(template().len(), ENTRY_BYTES);
        assert_eq!(template().matches(PLACEHOLDER).count(), 4);
    }

    #[test]
    fn the_unique_email_is_in_its_entry() {
        assert!(entry(42).contains(&unique_email(42)));
        assert!(!entry(43).contains(&unique_email(42)));
    }
}
