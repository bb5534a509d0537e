//! The listing orders of `list_addresses().sort(..)`, with readable names.
//!
//! The contract's `SortOrder` values (`full_name`, `-full_name`, …) differ only by punctuation,
//! which typify can only tell apart with names like `XfullXname`; this type replaces it, and
//! `build/main.rs` refuses to build if the contract's values ever stop matching these.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A listing order: a key, ascending, or descending (`-` in front in the wire form).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub enum SortOrder {
    #[serde(rename = "full_name")]
    FullName,
    #[serde(rename = "-full_name")]
    FullNameDescending,
    #[serde(rename = "created_at")]
    CreatedAt,
    #[serde(rename = "-created_at")]
    CreatedAtDescending,
    #[serde(rename = "updated_at")]
    UpdatedAt,
    #[serde(rename = "-updated_at")]
    UpdatedAtDescending,
}

impl SortOrder {
    /// Every order, each with its wire form; `build/main.rs` checks these against the contract.
    pub const ALL: [(Self, &'static str); 6] = [
        (Self::FullName, "full_name"),
        (Self::FullNameDescending, "-full_name"),
        (Self::CreatedAt, "created_at"),
        (Self::CreatedAtDescending, "-created_at"),
        (Self::UpdatedAt, "updated_at"),
        (Self::UpdatedAtDescending, "-updated_at"),
    ];

    /// The wire form, as the `sort` query parameter takes it.
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(order, _)| *order == self)
            .map(|(_, text)| *text)
            .expect("every order is listed")
    }
}

impl fmt::Display for SortOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SortOrder {
    type Err = crate::types::error::ConversionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .find(|(_, wire)| *wire == text)
            .map(|(order, _)| *order)
            .ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|(_, wire)| *wire).collect();
                format!("must be one of: {}", known.join(", ")).into()
            })
    }
}

impl TryFrom<&str> for SortOrder {
    type Error = crate::types::error::ConversionError;

    fn try_from(text: &str) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl TryFrom<String> for SortOrder {
    type Error = crate::types::error::ConversionError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_forms_round_trip() {
        for (order, wire) in SortOrder::ALL {
            assert_eq!(order.to_string(), wire);
            assert_eq!(wire.parse::<SortOrder>().unwrap(), order);
            assert_eq!(
                serde_json::to_value(order).unwrap(),
                serde_json::json!(wire)
            );
        }
        assert!("name".parse::<SortOrder>().is_err());
    }
}
