//! Every limit the service puts on what clients send, declared once. The domain's validation
//! enforces them, the API's schema types declare them to poem-openapi (and so to the generated
//! document), and the drift test proves that document equals `openapi/addressbook.yaml`.

/// The text pattern every free-text field of an entry obeys: no control characters (U+0000 to
/// U+001F, U+007F) and at least one character that is not white space. ECMAScript syntax, as
/// OpenAPI means it.
pub const TEXT_PATTERN: &str = r"^[^\x00-\x1F\x7F]*[^\s\x00-\x1F\x7F][^\x00-\x1F\x7F]*$";

/// The pattern of search and filter parameters: any text without control characters. No stored
/// term holds one, and PostgreSQL cannot even compare a text holding U+0000.
pub const SEARCH_PATTERN: &str = r"^[^\x00-\x1F\x7F]*$";

/// The characters both patterns refuse (U+0000 to U+001F and U+007F). They have no place in a
/// name or an address, and PostgreSQL cannot store U+0000 at all.
pub fn is_control(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}')
}

/// The most characters of each text field of an entry.
pub mod chars {
    pub const FULL_NAME: usize = 200;
    pub const BUILDING_NAME: usize = 100;
    pub const UNIT_NUMBER: usize = 20;
    pub const STREET_NUMBER: usize = 20;
    pub const STREET_NAME: usize = 200;
    pub const LOCALITY: usize = 100;
    pub const CITY: usize = 100;
    pub const PROVINCE: usize = 100;
    pub const PINCODE: usize = 20;
    pub const COUNTRY: usize = 100;
    pub const EMAIL: usize = 254;
    /// A label, and the `label` filter.
    pub const LABEL: usize = 50;
    /// The free-text search `q`.
    pub const QUERY: usize = 200;
    /// The `city` and `country` filters.
    pub const FILTER: usize = 100;
    /// A pagination cursor.
    pub const CURSOR: usize = 2048;
    /// An `Idempotency-Key`.
    pub const IDEMPOTENCY_KEY: usize = 255;
}

/// The most digits of each part of a phone number.
pub mod digits {
    pub const AREA_CODE: usize = 8;
    pub const LOCAL_NUMBER: usize = 15;
}

/// The most items in each list of an entry (addresses, phone and fax numbers, e-mails, labels).
pub const MAX_ITEMS: usize = 20;

/// ITU country calling codes run from 1 to 999.
pub const COUNTRY_CODE_MIN: u16 = 1;
pub const COUNTRY_CODE_MAX: u16 = 999;

/// How many entries one page may hold, and how many it holds when the client does not say.
pub const PAGE_LIMIT_MAX: u8 = 100;
pub const PAGE_LIMIT_DEFAULT: u8 = 20;

/// How many changes one page of the change feed may hold, and how many it holds when the client
/// does not say: a sync moves much of the book, so its pages are larger.
pub const CHANGE_LIMIT_MAX: u16 = 1000;
pub const CHANGE_LIMIT_DEFAULT: u16 = 100;
