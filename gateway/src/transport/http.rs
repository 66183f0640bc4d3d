//! Subgraphs over HTTP: one pooled reqwest client per subgraph, HTTP/1.1 keep-alive or h2c.

use std::time::Duration;

use axum::http::header;

use super::{BoxFuture, SubgraphRequest, SubgraphResponse, Transport, TransportError};

/// A subgraph reached over HTTP.
pub struct HttpTransport {
    url: String,
    client: reqwest::Client,
    timeout: Duration,
    max_body: usize,
}

impl HttpTransport {
    /// A transport to `url`; each request may take at most `timeout` and answer at most
    /// `max_body` bytes. With `h2c`, requests use HTTP/2 without TLS (prior knowledge).
    pub fn new(
        url: &str,
        timeout: Duration,
        h2c: bool,
        max_body: usize,
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
        })
    }
}

impl Transport for HttpTransport {
    fn send(
        &self,
        request: SubgraphRequest,
    ) -> BoxFuture<'_, Result<SubgraphResponse, TransportError>> {
        Box::pin(async move {
            let mut builder = self
                .client
                .post(&self.url)
                .timeout(self.timeout)
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
            Ok(SubgraphResponse {
                status,
                body,
                cache_control,
            })
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
