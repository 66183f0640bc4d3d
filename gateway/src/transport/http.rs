//! Subgraphs over HTTP: one pooled reqwest client per subgraph, HTTP/1.1 keep-alive or h2c.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use axum::http::header;

use super::{BoxFuture, SubgraphRequest, SubgraphResponse, Transport, TransportError};

/// A subgraph reached over HTTP.
pub struct HttpTransport {
    url: String,
    client: reqwest::Client,
    timeout: Duration,
    max_body: usize,
    /// Slots for requests in flight to this subgraph's origin, shared by every subgraph there.
    slots: Option<Arc<Semaphore>>,
}

/// The request slots of each origin (scheme, host, port), so subgraphs served from one origin
/// share one limit.
pub struct OriginLimits {
    per_origin: usize,
    slots: std::collections::HashMap<String, Arc<Semaphore>>,
}

impl OriginLimits {
    /// At most `per_origin` requests in flight to any one origin; 0 sets no limit.
    pub fn new(per_origin: usize) -> OriginLimits {
        OriginLimits {
            per_origin,
            slots: std::collections::HashMap::new(),
        }
    }

    /// The slots of `url`'s origin, when there is a limit.
    pub fn for_url(&mut self, url: &str) -> Option<Arc<Semaphore>> {
        if self.per_origin == 0 {
            return None;
        }
        let origin = reqwest::Url::parse(url)
            .map(|parsed| parsed.origin().ascii_serialization())
            .unwrap_or_else(|_| url.to_owned());
        let per_origin = self.per_origin;
        Some(
            self.slots
                .entry(origin)
                .or_insert_with(|| Arc::new(Semaphore::new(per_origin)))
                .clone(),
        )
    }
}

impl HttpTransport {
    /// A transport to `url`; each request may take at most `timeout` and answer at most
    /// `max_body` bytes. With `h2c`, requests use HTTP/2 without TLS (prior knowledge).
    pub fn new(
        url: &str,
        timeout: Duration,
        h2c: bool,
        max_body: usize,
        slots: Option<Arc<Semaphore>>,
    ) -> Result<HttpTransport, TransportError> {
        let mut builder = reqwest::Client::builder()
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(256)
            .tcp_nodelay(true);
        if h2c {
            builder = builder.http2_prior_knowledge();
        } else {
            builder = builder.http1_only();
        }
        let client = builder.build().map_err(TransportError::Client)?;
        Ok(HttpTransport {
            url: url.to_owned(),
            client,
            timeout,
            max_body,
            slots,
        })
    }
}

impl Transport for HttpTransport {
    fn send(
        &self,
        request: SubgraphRequest,
    ) -> BoxFuture<'_, Result<SubgraphResponse, TransportError>> {
        Box::pin(async move {
            // Waiting for a slot counts against the timeout; the slot is held until the
            // answer is read.
            let started = tokio::time::Instant::now();
            let _slot = match &self.slots {
                None => None,
                Some(slots) => Some(
                    tokio::time::timeout(self.timeout, slots.clone().acquire_owned())
                        .await
                        .map_err(|_| TransportError::Timeout)?
                        .map_err(|_| {
                            TransportError::Unreachable(
                                "the subgraph's request slots are closed".to_owned(),
                            )
                        })?,
                ),
            };
            let timeout = self.timeout.saturating_sub(started.elapsed());
            let mut builder = self
                .client
                .post(&self.url)
                .timeout(timeout)
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::ACCEPT, "application/json");
            for (name, value) in request.headers.iter() {
                builder = builder.header(name, value);
            }
            let mut response = builder.body(request.body).send().await.map_err(classify)?;
            let status = response.status().as_u16();
            let cache_control = response
                .headers()
                .get(header::CACHE_CONTROL)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            if response
                .content_length()
                .is_some_and(|length| length > self.max_body as u64)
            {
                return Err(TransportError::TooLarge);
            }
            let mut body = bytes::BytesMut::new();
            while let Some(chunk) = response.chunk().await.map_err(classify)? {
                if body.len() + chunk.len() > self.max_body {
                    return Err(TransportError::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            let body = body.freeze();
            Ok(SubgraphResponse::new(status, body, cache_control))
        })
    }
}

fn classify(err: reqwest::Error) -> TransportError {
    if err.is_timeout() {
        TransportError::Timeout
    } else {
        TransportError::Unreachable(err.to_string())
    }
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn subgraphs_on_one_origin_share_their_slots() {
        let mut limits = OriginLimits::new(3);
        let a = limits.for_url("http://127.0.0.1:6200/a").expect("a limit");
        let b = limits.for_url("http://127.0.0.1:6200/b").expect("a limit");
        let other = limits
            .for_url("http://127.0.0.1:6201/graphql")
            .expect("a limit");
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &other));
        assert_eq!(a.available_permits(), 3);
        assert!(
            OriginLimits::new(0)
                .for_url("http://127.0.0.1:1/")
                .is_none()
        );
    }
}
