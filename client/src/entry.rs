//! Small conveniences around the generated types: an entry as the input that replaces it, and the
//! response headers callers need typed.

use crate::types::{Entry, EntryInput};
use crate::{ResponseValue, reqwest};

/// An entry's content as the body of a `PUT` that keeps it: read, change, put back.
///
/// ```no_run
/// # async fn demo(client: addressbook_client::Client, id: uuid::Uuid)
/// # -> Result<(), Box<dyn std::error::Error>> {
/// use addressbook_client::{ResponseHeaders as _, types::EntryInput};
/// let read = client.get_address().id(id).send().await?;
/// let etag = read.etag().ok_or("no ETag")?.to_owned();
/// let mut input = EntryInput::from(read.into_inner());
/// input.emails.clear();
/// client.replace_address().id(id).if_match(etag).body(input).send().await?;
/// # Ok(())
/// # }
/// ```
impl From<Entry> for EntryInput {
    fn from(entry: Entry) -> Self {
        Self {
            addresses: entry.addresses,
            emails: entry.emails,
            fax_numbers: entry.fax_numbers,
            // The contract gives both the same constraints, and the server stores only names
            // that met them; a failure here is a server breaking its contract.
            full_name: String::from(entry.full_name)
                .try_into()
                .expect("an entry's full_name satisfies the input's schema"),
            phone_numbers: entry.phone_numbers,
            labels: entry
                .labels
                .into_iter()
                .map(|label| {
                    String::from(label)
                        .try_into()
                        .expect("an entry's labels satisfy the input's schema")
                })
                .collect(),
        }
    }
}

/// Typed access to the headers this service's responses carry.
pub trait ResponseHeaders {
    /// The `ETag` (an entry's version, `"3"`), to send back in `If-Match` or `If-None-Match`.
    fn etag(&self) -> Option<&str>;
    /// The `Location` of a created entry (`/addresses/{id}`).
    fn location(&self) -> Option<&str>;
    /// The `X-Request-Id`, to quote when reporting a problem.
    fn request_id(&self) -> Option<&str>;
}

fn header<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

impl<T> ResponseHeaders for ResponseValue<T> {
    fn etag(&self) -> Option<&str> {
        header(self.headers(), "etag")
    }

    fn location(&self) -> Option<&str> {
        header(self.headers(), "location")
    }

    fn request_id(&self) -> Option<&str> {
        header(self.headers(), "x-request-id")
    }
}
