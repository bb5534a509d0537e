//! Finding entries: the search terms an entry is found by, the filters and orders a listing can
//! ask for. Engines index the terms computed here, so every engine finds exactly the same entries.

use std::collections::BTreeSet;

use super::entry::EntryContent;

/// What a term is for: the free-text search `q`, or one of the exact filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TermKind {
    Text,
    City,
    Country,
    Label,
}

impl TermKind {
    /// The name engines store.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "q",
            Self::City => "city",
            Self::Country => "country",
            Self::Label => "label",
        }
    }
}

/// Lower case with runs of white space folded to one space: how terms and searches compare.
pub fn fold(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

impl EntryContent {
    /// Every `(kind, term)` this entry is found by.
    pub fn search_terms(&self) -> BTreeSet<(TermKind, String)> {
        let mut terms = BTreeSet::new();
        let mut text = |term: String| {
            if !term.is_empty() {
                terms.insert((TermKind::Text, term));
            }
        };
        let name = fold(&self.full_name);
        for word in name.split(' ') {
            text(word.to_owned());
        }
        text(name);
        for email in &self.emails {
            let email = email.email.to_lowercase();
            if let Some((local, domain)) = email.rsplit_once('@') {
                text(local.to_owned());
                text(domain.to_owned());
            }
            text(email);
        }
        for phone in self.phone_numbers.iter().chain(&self.fax_numbers) {
            let area = phone.area_code.as_deref().unwrap_or_default();
            let national = format!("{area}{}", phone.local_number);
            let code = phone.country_code;
            // People dial the area code with its trunk zero at home ("020…") and without it after
            // the country code ("+44 20…"); both are found.
            text(format!(
                "{code}{}{}",
                area.trim_start_matches('0'),
                phone.local_number
            ));
            text(format!("{code}{national}"));
            text(national);
            text(phone.local_number.clone());
        }
        for address in &self.addresses {
            if let Some(city) = &address.city {
                terms.insert((TermKind::City, fold(city)));
            }
            terms.insert((TermKind::Country, fold(&address.country)));
        }
        for label in &self.labels {
            terms.insert((TermKind::Label, fold(label)));
        }
        terms
    }

    /// The key the `full_name` orders sort by: case-insensitive, compared code point by code
    /// point, the same way on every engine.
    pub fn sort_name(&self) -> String {
        fold(&self.full_name)
    }
}

/// Which entries a listing shows. Values are already folded (see [`fold`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Filter {
    /// Entries with a text term starting with this.
    pub text: Option<String>,
    /// Entries with an address in this city.
    pub city: Option<String>,
    /// Entries with an address in this country.
    pub country: Option<String>,
    /// Entries with this label.
    pub label: Option<String>,
}

impl Filter {
    pub fn new(q: Option<&str>, city: Option<&str>, country: Option<&str>) -> Self {
        let text = q.map(|q| {
            // "+44 (20) 7946-0000" is a phone number: search its digits.
            let phone_like = q.chars().any(|c| c.is_ascii_digit())
                && q.chars()
                    .all(|c| c.is_ascii_digit() || " +-().".contains(c));
            if phone_like { digits(q) } else { fold(q) }
        });
        Self {
            text: text.filter(|t| !t.is_empty()),
            city: city.map(fold).filter(|c| !c.is_empty()),
            country: country.map(fold).filter(|c| !c.is_empty()),
            label: None,
        }
    }

    /// This filter, keeping only entries with `label` as well.
    pub fn with_label(mut self, label: Option<&str>) -> Self {
        self.label = label.map(fold).filter(|l| !l.is_empty());
        self
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_none() && self.city.is_none() && self.country.is_none() && self.label.is_none()
    }

    /// Whether an entry with these terms is shown: what engines answer from their indexes.
    pub fn matches(&self, terms: &BTreeSet<(TermKind, String)>) -> bool {
        let has = |kind: TermKind, value: &String| terms.contains(&(kind, value.clone()));
        self.text.as_ref().is_none_or(|text| {
            terms
                .iter()
                .any(|(kind, term)| *kind == TermKind::Text && term.starts_with(text.as_str()))
        }) && self
            .city
            .as_ref()
            .is_none_or(|city| has(TermKind::City, city))
            && self
                .country
                .as_ref()
                .is_none_or(|country| has(TermKind::Country, country))
            && self
                .label
                .as_ref()
                .is_none_or(|label| has(TermKind::Label, label))
    }

    /// The exclusive upper bound of the terms starting with `prefix` (in code point order, which
    /// is UTF-8 byte order), for range scans of an ordered index: `prefix <= term < bound`. The
    /// least string above every extension of `prefix`: its last character raised by one (past
    /// U+10FFFF, dropped and the one before raised). `None` when no string is above them all.
    pub fn prefix_upper_bound(prefix: &str) -> Option<String> {
        let mut chars: Vec<char> = prefix.chars().collect();
        while let Some(last) = chars.pop() {
            let next = match u32::from(last) + 1 {
                0xD800 => Some('\u{E000}'), // surrogates are not characters
                code => char::from_u32(code),
            };
            if let Some(next) = next {
                chars.push(next);
                return Some(chars.into_iter().collect());
            }
        }
        None
    }
}

/// What a listing is ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SortKey {
    FullName,
    #[default]
    CreatedAt,
    UpdatedAt,
}

/// A listing order: a key, ascending or descending, ties broken by id in the same direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Sort {
    pub key: SortKey,
    pub descending: bool,
}

impl Sort {
    /// Every order a listing offers, under the name clients ask for it by: the field, with `-`
    /// in front for descending.
    pub const NAMED: [(&'static str, Sort); 6] = [
        ("full_name", Sort::ascending(SortKey::FullName)),
        ("-full_name", Sort::descending(SortKey::FullName)),
        ("created_at", Sort::ascending(SortKey::CreatedAt)),
        ("-created_at", Sort::descending(SortKey::CreatedAt)),
        ("updated_at", Sort::ascending(SortKey::UpdatedAt)),
        ("-updated_at", Sort::descending(SortKey::UpdatedAt)),
    ];

    const fn ascending(key: SortKey) -> Self {
        Self {
            key,
            descending: false,
        }
    }

    const fn descending(key: SortKey) -> Self {
        Self {
            key,
            descending: true,
        }
    }

    /// The order called `name`, if there is one.
    pub fn named(name: &str) -> Option<Self> {
        Self::NAMED
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, sort)| *sort)
    }

    /// The name clients ask for this order by.
    pub fn name(self) -> &'static str {
        Self::NAMED
            .iter()
            .find(|(_, sort)| *sort == self)
            .map(|(name, _)| *name)
            .expect("every order has a name")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn sherlock() -> EntryContent {
        EntryContent::from_json(&json!({
            "full_name": "Sherlock  Holmes",
            "emails": [{"email": "Sherlock@Example.org"}],
            "phone_numbers": [{"country_code": 44, "area_code": "020", "local_number": "79460000"}],
            "addresses": [{"street_name": "Baker Street", "city": "London", "pincode": "NW1 6XE",
                           "country": "United  Kingdom"}]
        }))
        .unwrap()
    }

    fn finds(q: &str) -> bool {
        Filter::new(Some(q), None, None).matches(&sherlock().search_terms())
    }

    #[test]
    fn names_are_found_by_any_word_prefix_in_any_case() {
        assert!(finds("sher"));
        assert!(finds("HOLM"));
        assert!(finds("sherlock holmes"));
        assert!(finds("Sherlock   Hol"));
        assert!(!finds("olmes"), "a search matches from the start of a term");
        assert!(!finds("watson"));
    }

    #[test]
    fn emails_are_found_whole_or_by_either_part() {
        assert!(finds("sherlock@exa"));
        assert!(finds("example.org"));
    }

    #[test]
    fn phones_are_found_by_their_digits_however_written() {
        assert!(finds("7946"));
        assert!(finds("020 7946"));
        assert!(finds("+44 20 7946 0000"));
        assert!(
            finds("+44 (0)20"),
            "with the trunk zero after the country code too"
        );
        assert!(!finds("+1 555"));
    }

    #[test]
    fn cities_and_countries_match_whole_but_in_any_case() {
        let terms = sherlock().search_terms();
        assert!(Filter::new(None, Some("LONDON"), Some("united kingdom")).matches(&terms));
        assert!(!Filter::new(None, Some("Lond"), None).matches(&terms));
        assert!(!Filter::new(None, None, Some("France")).matches(&terms));
    }

    #[test]
    fn every_order_has_one_name_and_the_default_is_oldest_first() {
        for (name, sort) in Sort::NAMED {
            assert_eq!(Sort::named(name), Some(sort));
            assert_eq!(sort.name(), name);
        }
        assert_eq!(Sort::default().name(), "created_at");
        assert_eq!(Sort::named("name"), None);
    }

    #[test]
    fn the_prefix_bound_is_above_every_extension_and_below_everything_else() {
        let bound = Filter::prefix_upper_bound("sher").unwrap();
        assert_eq!(bound, "shes");
        for extension in [
            "sher",
            "sherlock",
            "sher\u{10FFFF}x",
            "sher\u{10FFFF}\u{10FFFF}",
        ] {
            assert!(extension < bound.as_str(), "{extension:?}");
        }
        assert_eq!(Filter::prefix_upper_bound("a\u{10FFFF}").unwrap(), "b");
        assert_eq!(
            Filter::prefix_upper_bound("a\u{D7FF}").unwrap(),
            "a\u{E000}"
        );
        assert_eq!(Filter::prefix_upper_bound("\u{10FFFF}"), None);
    }
}
