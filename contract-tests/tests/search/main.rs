//! Searching and sorting a listing: what `q`, `city` and `country` find, the orders `sort` asks
//! for, and walking the pages of a sorted search by cursor or by `Link` header, also while others
//! write. Expected results are computed from the contract's own description of the search terms
//! and orders, applied to the entries as the server stored them.

mod book;
mod expected;
mod finding;
mod listing;
mod paging;
mod while_writing;
