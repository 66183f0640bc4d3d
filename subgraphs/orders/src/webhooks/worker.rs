//! The worker: claims due deliveries, POSTs them signed, and records each outcome, retrying
//! failures with exponential backoff until a delivery is delivered or dead.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use futures::StreamExt;
use sea_orm::{DatabaseConnection, DbErr};
use subgraph_kit::CancellationToken;
use tokio::sync::Notify;

use super::WebhookError;
use super::settings::Settings;
use super::signature::signature;
use super::store::{self, Outcome};
use crate::entity::{webhook_delivery as delivery, webhook_endpoint as endpoint};

/// How many due deliveries one round claims at most.
const BATCH: u64 = 64;

/// How many requests one worker has in flight at most, so one slow endpoint does not hold up
/// the others' deliveries.
const IN_FLIGHT: usize = 8;

/// How much longer than an attempt's timeout its claim holds: a replica that dies mid-attempt
/// leaves the delivery to the others once the claim lapses.
const CLAIM_MARGIN: Duration = Duration::from_secs(30);

/// The shortest pause between two rounds, so a delivery due but claimed elsewhere never spins
/// the loop.
const MIN_PAUSE: Duration = Duration::from_millis(5);

/// Why one attempt failed.
#[derive(Debug, thiserror::Error)]
enum Failure {
    /// The receiver answered, but not with a 2xx status.
    #[error("HTTP {0}")]
    Status(reqwest::StatusCode),
    /// No answer: connection refused, timeout, TLS.
    #[error("{0}")]
    Network(String),
    /// The endpoint was deactivated (or removed) since the delivery was queued.
    #[error("the endpoint is no longer active")]
    Inactive,
    /// The request could not be signed.
    #[error(transparent)]
    Signing(#[from] WebhookError),
}

/// What the worker holds across rounds.
struct Worker {
    db: DatabaseConnection,
    client: reqwest::Client,
    settings: Settings,
}

/// The worker's HTTP client: each request bounded by `settings.timeout`, redirects not
/// followed.
pub(crate) fn client(settings: &Settings) -> Result<reqwest::Client, WebhookError> {
    reqwest::Client::builder()
        .timeout(settings.timeout)
        // A signed request goes where it was configured to go, nowhere else.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("tributary-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|err| WebhookError::Client(chain(&err)))
}

/// Delivers due deliveries with `client` until `shutdown`, looking again when `wake` is
/// notified (the dispatcher queued some), when the next retry is due, or every
/// `settings.poll`.
pub(crate) async fn work(
    db: DatabaseConnection,
    client: reqwest::Client,
    settings: Settings,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
) {
    let worker = Worker {
        db,
        client,
        settings,
    };
    loop {
        let busy = match worker.round().await {
            Ok(claimed) => claimed as u64 == BATCH,
            Err(err) => {
                tracing::warn!(error = %err, "a webhook round failed; retrying later");
                false
            }
        };
        let pause = if busy {
            Duration::ZERO
        } else {
            worker.pause().await
        };
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = wake.notified() => {}
            () = tokio::time::sleep(pause) => {}
        }
    }
}

impl Worker {
    /// Claims what is due and attempts each claimed delivery; returns how many were due.
    async fn round(&self) -> Result<usize, DbErr> {
        let now = Utc::now().trunc_subsecs(3);
        let due = store::due(&self.db, now, BATCH).await?;
        let count = due.len();
        if due.is_empty() {
            return Ok(0);
        }
        let until = now + self.settings.timeout + CLAIM_MARGIN;
        let mut claimed = Vec::new();
        for delivery in due {
            if store::claim(&self.db, &delivery, now, until).await? {
                claimed.push(delivery::Model {
                    attempts: delivery.attempts + 1,
                    ..delivery
                });
            }
        }
        let endpoints: HashMap<i64, endpoint::Model> =
            store::endpoints(&self.db, claimed.iter().map(|d| d.endpoint_id))
                .await?
                .into_iter()
                .map(|endpoint| (endpoint.id, endpoint))
                .collect();
        futures::stream::iter(claimed)
            .for_each_concurrent(IN_FLIGHT, |delivery| {
                let endpoint = endpoints
                    .get(&delivery.endpoint_id)
                    .filter(|endpoint| endpoint.active);
                async move {
                    let sent = match endpoint {
                        Some(endpoint) => self.send(endpoint, &delivery).await,
                        None => Err(Failure::Inactive),
                    };
                    self.record(&delivery, sent).await;
                }
            })
            .await;
        Ok(count)
    }

    /// One signed POST of `delivery` to `endpoint`: a 2xx answer is success.
    async fn send(
        &self,
        endpoint: &endpoint::Model,
        delivery: &delivery::Model,
    ) -> Result<(), Failure> {
        let timestamp = Utc::now().timestamp();
        let signed = signature(&endpoint.secret, timestamp, &delivery.payload)?;
        let answer = self
            .client
            .post(&endpoint.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("x-tributary-event-id", &delivery.event_id)
            .header("x-tributary-timestamp", timestamp.to_string())
            .header("x-tributary-signature", signed)
            .body(delivery.payload.clone())
            .send()
            .await
            .map_err(|err| Failure::Network(chain(&err)))?;
        // The body is not read: the status is the whole answer, and a receiver that streams
        // one forever must not hold the attempt.
        match answer.status() {
            status if status.is_success() => Ok(()),
            status => Err(Failure::Status(status)),
        }
    }

    /// Records the attempt `delivery.attempts` ended with `sent`, scheduling a retry or giving
    /// the delivery up.
    async fn record(&self, delivery: &delivery::Model, sent: Result<(), Failure>) {
        let now = Utc::now().trunc_subsecs(3);
        let attempt = u32::try_from(delivery.attempts).unwrap_or(u32::MAX);
        let (outcome, error) = match &sent {
            Ok(()) => (Outcome::Delivered, None),
            Err(Failure::Inactive) => (Outcome::Dead, Some(Failure::Inactive.to_string())),
            Err(failure) if attempt >= self.settings.retry.max_attempts => {
                (Outcome::Dead, Some(failure.to_string()))
            }
            Err(failure) => (
                Outcome::Retry(now + self.settings.retry.delay(attempt)),
                Some(failure.to_string()),
            ),
        };
        let fields = (delivery.id, delivery.endpoint_id, &delivery.event_id);
        match &outcome {
            Outcome::Delivered => {
                tracing::info!(delivery = fields.0, endpoint = fields.1, event_id = %fields.2, attempt, "webhook delivered")
            }
            Outcome::Retry(at) => {
                tracing::warn!(delivery = fields.0, endpoint = fields.1, event_id = %fields.2, attempt, error = error.as_deref().unwrap_or_default(), retry_at = %at, "webhook attempt failed; retrying")
            }
            Outcome::Dead => {
                tracing::error!(delivery = fields.0, endpoint = fields.1, event_id = %fields.2, attempt, error = error.as_deref().unwrap_or_default(), "webhook delivery dead; `webhooks replay` sends it again")
            }
        }
        match store::settle(
            &self.db,
            delivery.id,
            delivery.attempts,
            outcome,
            error.as_deref(),
            now,
        )
        .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(
                    delivery = fields.0,
                    attempt,
                    "a webhook attempt outlived its claim; another replica took the delivery over"
                )
            }
            Err(err) => {
                tracing::warn!(delivery = fields.0, attempt, error = %err, "recording a webhook attempt failed; it is attempted again once its claim lapses")
            }
        }
    }

    /// How long to sleep before the next round: until the next retry is due, at most a poll.
    async fn pause(&self) -> Duration {
        let next = match store::next_due(&self.db).await {
            Ok(next) => next,
            Err(err) => {
                tracing::warn!(error = %err, "reading the next webhook retry failed");
                None
            }
        };
        until(next, Utc::now(), self.settings.poll)
    }
}

/// The pause until `next` from `now`, between [`MIN_PAUSE`] and `poll`; `poll` when nothing is
/// pending.
fn until(next: Option<DateTime<Utc>>, now: DateTime<Utc>, poll: Duration) -> Duration {
    let Some(next) = next else {
        return poll;
    };
    (next - now)
        .to_std()
        .unwrap_or(Duration::ZERO)
        .clamp(MIN_PAUSE, poll.max(MIN_PAUSE))
}

/// An error and its causes on one line: reqwest's own message names none of them.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
