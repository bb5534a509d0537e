//! Who is asking: the tenant whose address book a request works on, and what it may do there.
//! Every entry, idempotency key, cursor and page belongs to one tenant, and no operation reaches
//! across tenants. How a caller proves who it is (a token, a key) is the API's business.

use std::fmt;

use super::entry::Timestamp;

/// A tenant's name: 1 to 64 ASCII letters, digits, `.`, `_` or `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tenant(String);

/// The most characters a tenant's name has.
pub const TENANT_CHARS: usize = 64;

/// A name that is not a tenant's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a tenant is 1 to {TENANT_CHARS} ASCII letters, digits, '.', '_' or '-'")]
pub struct InvalidTenant;

impl Tenant {
    /// The tenant of a service without authentication, and of the entries stored before tenants
    /// existed.
    pub const DEFAULT: &'static str = "default";

    pub fn parse(name: &str) -> Result<Self, InvalidTenant> {
        let valid = (1..=TENANT_CHARS).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if valid {
            Ok(Self(name.to_owned()))
        } else {
            Err(InvalidTenant)
        }
    }

    pub fn default_tenant() -> Self {
        Self(Self::DEFAULT.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Read entries: get, list, search.
    Read,
    /// Change entries: create, replace, patch, delete.
    Write,
    /// Manage the service over HTTP.
    Admin,
}

impl Scope {
    pub const ALL: [(&'static str, Scope); 3] = [
        ("read", Scope::Read),
        ("write", Scope::Write),
        ("admin", Scope::Admin),
    ];

    pub fn named(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, scope)| *scope)
    }

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, scope)| *scope == self)
            .map(|(name, _)| *name)
            .expect("every scope has a name")
    }
}

/// The tenant a request acts for and the scopes it was granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub tenant: Tenant,
    scopes: Vec<Scope>,
    /// Which credential the caller presented (a key id, a token's subject), for logs and rate
    /// limits; never the credential itself.
    pub credential: String,
}

impl Caller {
    pub fn new(
        tenant: Tenant,
        scopes: impl IntoIterator<Item = Scope>,
        credential: String,
    ) -> Self {
        let mut scopes: Vec<Scope> = scopes.into_iter().collect();
        scopes.sort_unstable();
        scopes.dedup();
        Self {
            tenant,
            scopes,
            credential,
        }
    }

    /// The one caller of a service that runs without authentication: the default tenant, every
    /// scope.
    pub fn local() -> Self {
        Self::new(
            Tenant::default_tenant(),
            Scope::ALL.map(|(_, scope)| scope),
            "local".to_owned(),
        )
    }

    pub fn may(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    pub fn scopes(&self) -> &[Scope] {
        &self.scopes
    }
}

/// A key a service calls with, as it is kept: only the SHA-256 of its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: String,
    pub tenant: Tenant,
    pub scopes: Vec<Scope>,
    /// Hex.
    pub secret_sha256: String,
    /// What the key is for, for people.
    pub name: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

impl ApiKey {
    /// Scopes as kept: their names, space-separated.
    pub fn scope_names(scopes: &[Scope]) -> String {
        scopes
            .iter()
            .map(|scope| scope.name())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Scopes from their kept names; a name no scope has is dropped.
    pub fn scopes_named(names: &str) -> Vec<Scope> {
        names.split_whitespace().filter_map(Scope::named).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_names_are_short_plain_ascii() {
        for good in ["default", "acme-corp", "t.1_2", &"a".repeat(64)] {
            assert!(Tenant::parse(good).is_ok(), "{good:?}");
        }
        for bad in ["", "a b", "ü", "a/b", &"a".repeat(65), "a\u{0}"] {
            assert_eq!(Tenant::parse(bad), Err(InvalidTenant), "{bad:?}");
        }
    }

    #[test]
    fn a_caller_may_only_what_it_was_granted() {
        let reader = Caller::new(Tenant::default_tenant(), [Scope::Read], "k".into());
        assert!(reader.may(Scope::Read));
        assert!(!reader.may(Scope::Write));
        assert!(Caller::local().may(Scope::Admin));
        for (name, scope) in Scope::ALL {
            assert_eq!(Scope::named(name), Some(scope));
            assert_eq!(scope.name(), name);
        }
    }
}
