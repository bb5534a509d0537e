//! Conditional requests in domain terms. Every write gives an entry a new version; a client may
//! ask for a write only while the entry still has a version it names (`If-Match`), or for a read
//! only once the entry has moved past the versions it holds (`If-None-Match`). How versions are
//! spelled as HTTP entity tags is the API's business; this is what they mean.

/// One entity tag a client sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// A weak tag (`W/"…"`) only ever matches in the weak comparison.
    pub weak: bool,
    /// The version the tag names, or `None` for a tag this service never issues.
    pub version: Option<i64>,
}

/// What a conditional request asks of the entry's current version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// `*`: any current version, as long as the entry exists.
    Any,
    /// One of these tags.
    Tags(Vec<Tag>),
}

/// How tags are compared (RFC 9110, 8.8.3.2): `If-Match` compares strongly, so a weak tag never
/// matches; `If-None-Match` weakly, so it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Strong,
    Weak,
}

impl Precondition {
    /// Whether an entry at `version` satisfies the precondition.
    pub fn matches(&self, version: i64, comparison: Comparison) -> bool {
        match self {
            Self::Any => true,
            Self::Tags(tags) => tags.iter().any(|tag| {
                tag.version == Some(version) && (!tag.weak || comparison == Comparison::Weak)
            }),
        }
    }

    /// The version a write must find when exactly one version can satisfy the precondition in
    /// the strong comparison: the write can then be made conditional on it without reading the
    /// entry first.
    pub fn only_version(&self) -> Option<i64> {
        let Self::Tags(tags) = self else {
            return None;
        };
        let mut strong = tags
            .iter()
            .filter(|tag| !tag.weak)
            .filter_map(|tag| tag.version);
        let first = strong.next()?;
        strong.all(|other| other == first).then_some(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strong(version: i64) -> Tag {
        Tag {
            weak: false,
            version: Some(version),
        }
    }

    fn weak(version: i64) -> Tag {
        Tag {
            weak: true,
            version: Some(version),
        }
    }

    const FOREIGN: Tag = Tag {
        weak: false,
        version: None,
    };

    #[test]
    fn tags_are_compared_as_rfc_9110_says() {
        let tags = |list: Vec<Tag>| Precondition::Tags(list);
        assert!(tags(vec![strong(3)]).matches(3, Comparison::Strong));
        assert!(tags(vec![strong(1), strong(3)]).matches(3, Comparison::Strong));
        assert!(Precondition::Any.matches(3, Comparison::Strong));
        assert!(!tags(vec![strong(4)]).matches(3, Comparison::Strong));
        assert!(!tags(vec![weak(3)]).matches(3, Comparison::Strong));
        assert!(tags(vec![weak(3)]).matches(3, Comparison::Weak));
        assert!(!tags(vec![FOREIGN]).matches(3, Comparison::Weak));
    }

    #[test]
    fn a_write_needs_no_read_when_only_one_version_can_match() {
        assert_eq!(Precondition::Tags(vec![strong(3)]).only_version(), Some(3));
        assert_eq!(
            Precondition::Tags(vec![weak(2), strong(3), FOREIGN]).only_version(),
            Some(3)
        );
        assert_eq!(
            Precondition::Tags(vec![strong(2), strong(3)]).only_version(),
            None
        );
        assert_eq!(Precondition::Tags(vec![weak(3)]).only_version(), None);
        assert_eq!(Precondition::Any.only_version(), None);
    }
}
