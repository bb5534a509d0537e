//! Request headers the API parses itself: `If-Match`, `If-None-Match` and `Idempotency-Key`.
//!
//! poem-openapi's `Header<T>` silently drops a value that is not visible ASCII, so an `If-Match`
//! a client did send would be taken as absent and its write would go through unconditionally.
//! Here every line of the header is read as bytes, and a malformed value is a 400 problem that
//! names the header. Entity tags are written and read here too: how a version is spelled in HTTP
//! is the API's business, what it means is the domain's ([`Precondition`]).

use poem::{Request, RequestBody};
use poem_openapi::registry::{MetaParamIn, MetaSchema, MetaSchemaRef};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};

use super::problem::ApiError;
use crate::domain::limits::chars;
use crate::domain::{Precondition, Tag};

/// The ECMAScript pattern of `If-Match` and `If-None-Match` values, as the contract declares it:
/// `*`, or a comma-separated list of entity tags (`"3"`, `W/"3"`), empty elements allowed
/// (RFC 9110, 5.6.1).
pub const ENTITY_TAGS_PATTERN: &str =
    r#"^(\*|[ \t,]*(W/)?"[\x21\x23-\x7E]*"([ \t]*,[ \t,]*(W/)?"[\x21\x23-\x7E]*")*[ \t,]*)$"#;

/// The pattern of `Idempotency-Key` values: printable ASCII.
pub const IDEMPOTENCY_KEY_PATTERN: &str = r"^[\x20-\x7E]+$";

/// The strong entity tag of an entry at `version`, as the `ETag` header carries it.
pub fn entity_tag(version: i64) -> String {
    format!("\"{version}\"")
}

/// A header's value type: its schema in the contract and how its lines are read.
pub trait HeaderValue: Sized + Send {
    fn schema() -> MetaSchema;

    /// Reads every line of the header, in the order sent; there is at least one.
    fn parse(lines: &[&[u8]]) -> Result<Self, String>;
}

/// An optional request header holding a `T`.
pub struct OptionalHeader<T>(pub Option<T>);

impl<'a, T: HeaderValue> ApiExtractor<'a> for OptionalHeader<T> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::Parameter];
    const PARAM_IS_REQUIRED: bool = false;

    type ParamType = ();
    type ParamRawType = ();

    fn param_in() -> Option<MetaParamIn> {
        Some(MetaParamIn::Header)
    }

    fn param_schema_ref() -> Option<MetaSchemaRef> {
        Some(MetaSchemaRef::Inline(Box::new(T::schema())))
    }

    async fn from_request(
        request: &'a Request,
        _body: &mut RequestBody,
        param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let lines: Vec<&[u8]> = request
            .headers()
            .get_all(param_opts.name)
            .iter()
            .map(|value| value.as_bytes())
            .collect();
        if lines.is_empty() {
            return Ok(Self(None));
        }
        T::parse(&lines)
            .map(|value| Self(Some(value)))
            .map_err(|reason| ApiError::invalid_header(param_opts.name, reason).into())
    }
}

/// The value of `If-Match` or `If-None-Match`.
pub struct EntityTags(pub Precondition);

impl HeaderValue for EntityTags {
    fn schema() -> MetaSchema {
        let mut schema = MetaSchema::new("string");
        schema.pattern = Some(ENTITY_TAGS_PATTERN.to_owned());
        schema
    }

    fn parse(lines: &[&[u8]]) -> Result<Self, String> {
        // Several lines of a list header mean the same as one line joined by commas.
        let mut text = String::new();
        for line in lines {
            let line = std::str::from_utf8(line)
                .ok()
                .filter(|line| {
                    line.bytes()
                        .all(|b| b == b'\t' || (0x20..=0x7e).contains(&b))
                })
                .ok_or("must be ASCII text: `*` or entity tags such as \"3\"")?;
            if !text.is_empty() {
                text.push(',');
            }
            text.push_str(line);
        }
        parse_entity_tags(&text)
            .map(Self)
            .ok_or_else(|| "must be `*` or a list of entity tags such as \"3\" or W/\"3\"".into())
    }
}

fn parse_entity_tags(text: &str) -> Option<Precondition> {
    const OWS: [char; 2] = [' ', '\t'];
    if text == "*" {
        return Some(Precondition::Any);
    }
    let mut tags = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            break;
        }
        let (weak, tag) = match rest.strip_prefix("W/") {
            Some(tag) => (true, tag),
            None => (false, rest),
        };
        let (opaque, after) = tag.strip_prefix('"')?.split_once('"')?;
        if !opaque
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x7e).contains(&b))
        {
            return None;
        }
        tags.push(Tag {
            weak,
            version: version_named(opaque),
        });
        rest = after.trim_start_matches(OWS);
        if !rest.is_empty() && !rest.starts_with(',') {
            return None;
        }
    }
    (!tags.is_empty()).then_some(Precondition::Tags(tags))
}

/// The version an opaque tag names, if it is one [`entity_tag`] writes.
fn version_named(opaque: &str) -> Option<i64> {
    opaque
        .parse::<i64>()
        .ok()
        .filter(|version| version.to_string() == opaque)
}

/// The value of `Idempotency-Key`.
pub struct IdempotencyKey(pub String);

impl HeaderValue for IdempotencyKey {
    fn schema() -> MetaSchema {
        let mut schema = MetaSchema::new("string");
        schema.min_length = Some(1);
        schema.max_length = Some(chars::IDEMPOTENCY_KEY);
        schema.pattern = Some(IDEMPOTENCY_KEY_PATTERN.to_owned());
        schema
    }

    fn parse(lines: &[&[u8]]) -> Result<Self, String> {
        let [line] = lines else {
            return Err("must be sent once".into());
        };
        match std::str::from_utf8(line) {
            Ok(key)
                if (1..=chars::IDEMPOTENCY_KEY).contains(&key.len())
                    && key.bytes().all(|b| (0x20..=0x7e).contains(&b)) =>
            {
                Ok(Self(key.to_owned()))
            }
            _ => Err(format!(
                "must be 1 to {} printable ASCII characters",
                chars::IDEMPOTENCY_KEY
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(text: &str) -> Option<Precondition> {
        EntityTags::parse(&[text.as_bytes()])
            .ok()
            .map(|tags| tags.0)
    }

    fn strong(version: i64) -> Tag {
        Tag {
            weak: false,
            version: Some(version),
        }
    }

    #[test]
    fn entity_tag_lists_are_read_as_rfc_9110_writes_them() {
        assert_eq!(tags("*"), Some(Precondition::Any));
        assert_eq!(tags("\"3\""), Some(Precondition::Tags(vec![strong(3)])));
        assert_eq!(
            tags(" \"1\" ,, W/\"2\",\"x,y\" "),
            Some(Precondition::Tags(vec![
                strong(1),
                Tag {
                    weak: true,
                    version: Some(2)
                },
                Tag {
                    weak: false,
                    version: None
                },
            ]))
        );
        assert_eq!(
            tags("\"03\""),
            Some(Precondition::Tags(vec![Tag {
                weak: false,
                version: None
            }])),
            "a tag this service never writes names no version"
        );
        for malformed in [
            "0",
            "3",
            "",
            "\"3",
            "\"3\" \"4\"",
            "*, \"3\"",
            "w/\"3\"",
            "\"a b\"",
        ] {
            assert_eq!(tags(malformed), None, "{malformed:?}");
        }
    }

    #[test]
    fn non_ascii_and_repeated_lines_are_not_ignored() {
        assert!(EntityTags::parse(&["\"3\"".as_bytes(), b"\xe9"]).is_err());
        assert_eq!(
            EntityTags::parse(&[b"\"1\"", b"\"2\""]).unwrap().0,
            Precondition::Tags(vec![strong(1), strong(2)])
        );
        assert!(IdempotencyKey::parse(&[b"k\xc3\xa9"]).is_err());
        assert!(IdempotencyKey::parse(&[b"a", b"b"]).is_err());
        assert_eq!(IdempotencyKey::parse(&[b"a key"]).unwrap().0, "a key");
    }

    /// The contract declares the header's syntax as a pattern; the server accepts exactly what
    /// it matches.
    #[test]
    fn the_parser_agrees_with_the_declared_pattern() {
        let pattern = regress::Regex::new(ENTITY_TAGS_PATTERN).expect("a valid ECMAScript regex");
        for text in [
            "*",
            "\"3\"",
            "W/\"3\"",
            "\"1\", \"2\"",
            "\"1\",,\"2\"",
            ",\"1\"",
            "\"1\",",
            "\"\"",
            "\"x,y\"",
            "0",
            "",
            "*,*",
            "\"3\" \"4\"",
            "W/ \"3\"",
            "\"a\"b",
            " * ",
        ] {
            assert_eq!(
                pattern.find(text).is_some(),
                parse_entity_tags(text).is_some(),
                "{text:?}"
            );
        }
    }
}
