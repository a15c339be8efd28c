//! Lists as streams of pages: [`OktaClient::paginate`] follows `Link: rel="next"` verbatim until
//! there is none; [`OktaClient::poll`] is the System Log's polling form, which never ends. Each page
//! is one call through the same engine, so rate limits and retries apply per page.

use std::time::Duration;

use futures::stream::BoxStream;
use futures::StreamExt;
use serde::de::DeserializeOwned;

use super::super::error::OktaError;
use super::super::model::Page;
use super::{Call, OktaClient};

impl OktaClient {
    /// Pages of a list endpoint, following `Link: rel="next"` verbatim until there is none.
    pub fn paginate<T: DeserializeOwned + Send + 'static>(
        &self,
        call: Call,
    ) -> BoxStream<'static, Result<Page<T>, OktaError>> {
        let client = self.clone();
        futures::stream::try_unfold(Some(call), move |state| {
            let client = client.clone();
            async move {
                let Some(call) = state else { return Ok(None) };
                let reply = client.execute(&call).await?;
                let items: Vec<T> = client.decode(&call, &reply)?;
                let next_call = reply.next_link().map(|u| call.following(u));
                Ok(Some((
                    Page {
                        items,
                        request_id: reply.request_id,
                    },
                    next_call,
                )))
            }
        })
        .boxed()
    }

    /// Polls a list endpoint forever (the System Log polling form): follows the next link, and when a
    /// page comes back empty waits `interval` and asks the same link again. Empty pages are not yielded.
    pub fn poll<T: DeserializeOwned + Send + 'static>(
        &self,
        call: Call,
        interval: Duration,
    ) -> BoxStream<'static, Result<Page<T>, OktaError>> {
        let client = self.clone();
        futures::stream::try_unfold(call, move |call| {
            let client = client.clone();
            async move {
                let mut call = call;
                loop {
                    let reply = client.execute(&call).await?;
                    let items: Vec<T> = client.decode(&call, &reply)?;
                    let next = reply.next_link().unwrap_or_else(|| reply.url.clone());
                    call = call.following(next);
                    if items.is_empty() {
                        tokio::time::sleep(interval).await;
                        continue;
                    }
                    return Ok(Some((
                        Page {
                            items,
                            request_id: reply.request_id,
                        },
                        call,
                    )));
                }
            }
        })
        .boxed()
    }
}
