//! A circuit breaker per subgraph: after `failures` failed requests in a row (no answer, a
//! timeout or an HTTP 5xx) the circuit opens and requests fail at once, without waiting on a
//! subgraph that is down, so pages answer their other parts quickly. After `cooldown` one
//! request is let through as a probe (half-open): its success closes the circuit, its failure
//! opens it for another cooldown.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{BoxFuture, SubgraphRequest, SubgraphResponse, Transport, TransportError};

/// A transport that stops calling a failing subgraph for a while.
pub struct Breaker {
    inner: Arc<dyn Transport>,
    name: String,
    failures: u32,
    cooldown: Duration,
    state: Mutex<State>,
}

/// Where the circuit stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Requests go through; this many have failed in a row.
    Closed(u32),
    /// Requests fail at once until the instant, then one probes.
    Open(Instant),
    /// One probe is on its way; the others fail at once.
    HalfOpen,
}

/// Whether a request may go, and as what.
enum Pass {
    Normal,
    Probe,
}

impl Breaker {
    /// Wraps `inner`, the transport of subgraph `name`: `failures` failures in a row open the
    /// circuit for `cooldown`.
    pub fn new(
        inner: Arc<dyn Transport>,
        name: &str,
        failures: u32,
        cooldown: Duration,
    ) -> Breaker {
        Breaker {
            inner,
            name: name.to_owned(),
            failures: failures.max(1),
            cooldown,
            state: Mutex::new(State::Closed(0)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn admit(&self) -> Option<Pass> {
        let mut state = self.lock();
        match *state {
            State::Closed(_) => Some(Pass::Normal),
            State::Open(until) if Instant::now() >= until => {
                *state = State::HalfOpen;
                Some(Pass::Probe)
            }
            State::Open(_) | State::HalfOpen => None,
        }
    }

    fn record(&self, pass: &Pass, failed: bool) {
        let mut state = self.lock();
        let next = match (*state, failed) {
            (_, false) => State::Closed(0),
            (State::Closed(n), true) if n + 1 < self.failures && matches!(pass, Pass::Normal) => {
                State::Closed(n + 1)
            }
            (_, true) => State::Open(Instant::now() + self.cooldown),
        };
        if next != *state {
            match next {
                State::Open(_) if !matches!(*state, State::Open(_)) => {
                    tracing::warn!(subgraph = %self.name, cooldown_ms = self.cooldown.as_millis() as u64, "subgraph circuit opened");
                    metrics::counter!("tributary_subgraph_circuit_total", "subgraph" => self.name.clone(), "to" => "open").increment(1);
                }
                State::Closed(0) if !matches!(*state, State::Closed(_)) => {
                    tracing::info!(subgraph = %self.name, "subgraph circuit closed");
                    metrics::counter!("tributary_subgraph_circuit_total", "subgraph" => self.name.clone(), "to" => "closed").increment(1);
                }
                _ => {}
            }
        }
        *state = next;
    }
}

impl Transport for Breaker {
    fn send(
        &self,
        request: SubgraphRequest,
    ) -> BoxFuture<'_, Result<SubgraphResponse, TransportError>> {
        let Some(pass) = self.admit() else {
            metrics::counter!("tributary_subgraph_circuit_refused_total", "subgraph" => self.name.clone()).increment(1);
            return Box::pin(async { Err(TransportError::CircuitOpen) });
        };
        Box::pin(async move {
            // A request dropped before its answer (its client left) counts as neither; a probe
            // dropped so lets the next request probe at once.
            let mut guard = ProbeGuard {
                breaker: self,
                pending: matches!(pass, Pass::Probe),
            };
            let outcome = self.inner.send(request).await;
            guard.pending = false;
            let failed = match &outcome {
                Ok(response) => response.status >= 500,
                Err(TransportError::TooLarge) => false,
                Err(_) => true,
            };
            self.record(&pass, failed);
            outcome
        })
    }
}

/// Reopens a half-open circuit whose probe was abandoned, so another request can probe.
struct ProbeGuard<'b> {
    breaker: &'b Breaker,
    pending: bool,
}

impl Drop for ProbeGuard<'_> {
    fn drop(&mut self) {
        if self.pending {
            let mut state = self.breaker.lock();
            if *state == State::HalfOpen {
                *state = State::Open(Instant::now());
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;

    struct Flaky(std::sync::atomic::AtomicBool);

    impl Transport for Flaky {
        fn send(
            &self,
            _: SubgraphRequest,
        ) -> BoxFuture<'_, Result<SubgraphResponse, TransportError>> {
            let up = self.0.load(std::sync::atomic::Ordering::SeqCst);
            Box::pin(async move {
                if up {
                    Ok(SubgraphResponse::new(
                        200,
                        bytes::Bytes::from_static(b"{}"),
                        None,
                    ))
                } else {
                    Err(TransportError::Unreachable("down".to_owned()))
                }
            })
        }
    }

    fn request() -> SubgraphRequest {
        SubgraphRequest {
            body: bytes::Bytes::from_static(b"{}"),
            headers: Arc::default(),
            shareable: true,
        }
    }

    /// What one request through `breaker` comes to: `ok`, `down` or `open`.
    async fn outcome(breaker: &Breaker) -> &'static str {
        match breaker.send(request()).await {
            Ok(_) => "ok",
            Err(TransportError::CircuitOpen) => "open",
            Err(_) => "down",
        }
    }

    #[tokio::test]
    async fn opens_after_failures_in_a_row_probes_after_the_cooldown_and_closes_on_success() {
        let flaky = Arc::new(Flaky(std::sync::atomic::AtomicBool::new(false)));
        let breaker = Breaker::new(flaky.clone(), "s", 3, Duration::from_millis(50));
        for _ in 0..3 {
            assert_eq!(outcome(&breaker).await, "down");
        }
        assert_eq!(outcome(&breaker).await, "open");
        flaky.0.store(true, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(outcome(&breaker).await, "open");
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(outcome(&breaker).await, "ok");
        assert_eq!(*breaker.lock(), State::Closed(0));
    }

    #[tokio::test]
    async fn a_failed_probe_opens_the_circuit_again() {
        let flaky = Arc::new(Flaky(std::sync::atomic::AtomicBool::new(false)));
        let breaker = Breaker::new(flaky, "s", 1, Duration::from_millis(20));
        assert_eq!(outcome(&breaker).await, "down");
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(outcome(&breaker).await, "down");
        assert_eq!(outcome(&breaker).await, "open");
    }
}
