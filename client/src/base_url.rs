//! The service's base URL as every generated method expects it: `http(s)://host[:port][/stem]`
//! with no trailing slash (each method appends `/addresses...` to it, so a trailing slash would
//! make every path start with `//` and every call a 404).

/// Why a base URL cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidBaseUrl {
    url: String,
    reason: &'static str,
}

impl std::fmt::Display for InvalidBaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "base URL {:?} {}", self.url, self.reason)
    }
}

impl std::error::Error for InvalidBaseUrl {}

/// `url` checked and without its trailing slashes.
pub fn checked(url: &str) -> Result<String, InvalidBaseUrl> {
    let invalid = |reason| InvalidBaseUrl {
        url: url.to_owned(),
        reason,
    };
    let parsed = reqwest::Url::parse(url).map_err(|_| {
        invalid("is not an absolute URL: write it as http://host:port or https://host")
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("must start with http:// or https://"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid("names no host"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(invalid("must not carry a query or a fragment"));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// What the generated constructors store: [`checked`], or a panic that says what is wrong (the
/// generated `Client::new` cannot return an error; [`crate::Client::try_new`] does).
pub fn normalized(url: &str) -> String {
    checked(url).unwrap_or_else(|err| panic!("addressbook_client::Client: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_slashes_are_dropped() {
        assert_eq!(
            checked("http://127.0.0.1:8080/").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            checked("https://api.example/book//").unwrap(),
            "https://api.example/book"
        );
        assert_eq!(
            checked("http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080"
        );
    }

    #[test]
    fn a_url_without_a_scheme_is_refused_saying_so() {
        let err = checked("127.0.0.1:8080").unwrap_err().to_string();
        assert!(err.contains("http://"), "{err}");
        let err = checked("localhost:8080").unwrap_err().to_string();
        assert!(err.contains("http://"), "{err}");
        let err = checked("ftp://host").unwrap_err().to_string();
        assert!(err.contains("http://"), "{err}");
    }
}
