//! Walking every page of a listing as one stream of entries.

use futures::{Stream, StreamExt as _, TryStreamExt as _, stream};

use crate::{Error, builder, types};

impl<'a> builder::ListAddresses<'a> {
    /// Every entry the listing matches, across all its pages, in the listing's order.
    ///
    /// The request's parameters (`q`, `city`, `country`, `sort`, and `limit` as the page size)
    /// hold for every page; each next page is asked for with the `next_cursor` of the one
    /// before, and the stream ends after the page that has none. Pages are fetched one at a
    /// time as the stream is read, so memory stays at one page whatever the size of the book.
    /// A failed page ends the stream with its error; a `cursor` set on the request is where
    /// the walk starts.
    ///
    /// ```no_run
    /// use addressbook_client::futures::TryStreamExt as _;
    ///
    /// # async fn demo(client: addressbook_client::Client) -> Result<(), addressbook_client::Error<addressbook_client::types::Problem>> {
    /// let mut entries = client.list_addresses().q("holm").limit(100_u32).stream();
    /// while let Some(entry) = entries.try_next().await? {
    ///     println!("{} {}", entry.id, entry.full_name.as_str());
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn stream(
        self,
    ) -> impl Stream<Item = Result<types::Entry, Error<types::Problem>>> + Unpin + 'a {
        let pages = stream::try_unfold(Some(self), |request| async move {
            let Some(request) = request else {
                return Ok::<_, Error<types::Problem>>(None);
            };
            let page = request.clone().send().await?.into_inner();
            let next = page.next_cursor.map(|cursor| request.cursor(cursor));
            Ok(Some((stream::iter(page.items).map(Ok), next)))
        });
        Box::pin(pages.try_flatten())
    }
}
