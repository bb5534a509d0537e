//! Entity tags: every write gives an entry a new version, and its ETag names that version, so a
//! client can ask "only if it has not changed" (`If-Match`) or "only if it has" (`If-None-Match`).

/// Whether a precondition header (`If-Match` or `If-None-Match`) matches the entity tag of
/// `version`. `*` matches any existing entry; otherwise the header is a comma-separated list of
/// entity tags. `If-Match` uses the strong comparison (a weak tag `W/"…"` never matches);
/// `If-None-Match` the weak one (RFC 9110, 13.1.1 and 13.1.2).
pub fn matches(header: &str, version: i64, weak_comparison: bool) -> bool {
    let current = entity_tag(version);
    header.split(',').map(str::trim).any(|tag| {
        if tag == "*" {
            return true;
        }
        match tag.strip_prefix("W/") {
            Some(weak) => weak_comparison && weak == current,
            None => tag == current,
        }
    })
}

/// The strong entity tag of an entry at `version`, quoted as HTTP wants it.
pub fn entity_tag(version: i64) -> String {
    format!("\"{version}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_compared_as_rfc_9110_says() {
        assert!(matches("\"3\"", 3, false));
        assert!(matches("\"1\", \"3\"", 3, false));
        assert!(matches("*", 3, false));
        assert!(!matches("\"4\"", 3, false));
        assert!(!matches("W/\"3\"", 3, false), "If-Match compares strongly");
        assert!(matches("W/\"3\"", 3, true), "If-None-Match compares weakly");
        assert!(!matches("3", 3, true), "an unquoted tag is not a tag");
    }
}
