//! Keeping a server up: a server that ends or panics before its shutdown is started again on
//! the same address, after a pause that doubles with each failure in a row (100 ms up to 10 s)
//! and resets once it has run for a minute. Each restart is logged.
//!
//! In the one-process launcher this keeps one failed service from leaving the stack half-dead;
//! in production each service is its own process and its orchestrator restarts it.

use std::future::Future;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The first pause before a restart.
const FIRST_PAUSE: Duration = Duration::from_millis(100);
/// The longest pause before a restart.
const LONGEST_PAUSE: Duration = Duration::from_secs(10);
/// A run this long counts as healthy: the next failure starts over from the first pause.
const HEALTHY_RUN: Duration = Duration::from_secs(60);

/// Serves with `serve(listener, shutdown)` until `shutdown` is cancelled, restarting it on
/// `listener`'s address whenever it ends early (an error, an unexpected return, a panic).
pub async fn supervise<F, Fut>(
    name: &'static str,
    listener: TcpListener,
    shutdown: CancellationToken,
    serve: F,
) -> std::io::Result<()>
where
    F: Fn(TcpListener, CancellationToken) -> Fut,
    Fut: Future<Output = std::io::Result<()>> + Send + 'static,
{
    let addr = listener.local_addr()?;
    let mut listener = Some(listener);
    let mut pause = FIRST_PAUSE;
    let mut restarts: u32 = 0;
    loop {
        let current = match listener.take() {
            Some(listener) => listener,
            None => match TcpListener::bind(addr).await {
                Ok(listener) => listener,
                Err(err) => {
                    tracing::error!(server = name, %addr, error = %err, "cannot bind again; retrying");
                    if wait(&shutdown, pause).await {
                        return Ok(());
                    }
                    pause = (pause * 2).min(LONGEST_PAUSE);
                    continue;
                }
            },
        };
        let started = Instant::now();
        let mut run = AbortOnDrop(tokio::spawn(serve(current, shutdown.clone())));
        let outcome = (&mut run.0).await;
        if shutdown.is_cancelled() {
            return outcome.unwrap_or(Ok(()));
        }
        if started.elapsed() >= HEALTHY_RUN {
            pause = FIRST_PAUSE;
        }
        restarts += 1;
        let cause = match outcome {
            Ok(Ok(())) => "it stopped on its own".to_owned(),
            Ok(Err(err)) => err.to_string(),
            Err(join) => format!("it panicked: {join}"),
        };
        tracing::error!(server = name, %addr, restarts, pause_ms = pause.as_millis() as u64, cause, "server ended early; restarting");
        if wait(&shutdown, pause).await {
            return Ok(());
        }
        pause = (pause * 2).min(LONGEST_PAUSE);
    }
}

/// The running server's task, aborted if supervision itself is dropped (a drain that ran out
/// of time), so no server outlives its supervisor.
struct AbortOnDrop(tokio::task::JoinHandle<std::io::Result<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Sleeps `pause`; true when `shutdown` came first.
async fn wait(shutdown: &CancellationToken, pause: Duration) -> bool {
    tokio::select! {
        () = shutdown.cancelled() => true,
        () = tokio::time::sleep(pause) => false,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    /// A server that fails its first two runs (an error, then a panic) and then answers every
    /// connection with "ok" until shutdown.
    async fn flaky(
        runs: Arc<AtomicU32>,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> std::io::Result<()> {
        match runs.fetch_add(1, Ordering::SeqCst) {
            0 => Err(std::io::Error::other("accept failed")),
            1 => panic!("a bug in the server"),
            _ => loop {
                tokio::select! {
                    () = shutdown.cancelled() => return Ok(()),
                    accepted = listener.accept() => {
                        let (mut socket, _) = accepted?;
                        socket.write_all(b"ok").await?;
                    }
                }
            },
        }
    }

    #[tokio::test]
    async fn a_server_that_fails_is_started_again_on_its_address_until_shutdown() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let runs = Arc::new(AtomicU32::new(0));
        let counter = runs.clone();
        let task = tokio::spawn(supervise(
            "flaky",
            listener,
            shutdown.clone(),
            move |l, s| flaky(counter.clone(), l, s),
        ));
        // Two failures cost 100 + 200 ms of pauses; then the third run answers.
        let started = Instant::now();
        let answer = loop {
            if let Ok(mut socket) = tokio::net::TcpStream::connect(addr).await {
                let mut answer = String::new();
                if socket.read_to_string(&mut answer).await.is_ok() && answer == "ok" {
                    break answer;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "never came back"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(answer, "ok");
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        assert!(started.elapsed() >= Duration::from_millis(300));
        shutdown.cancel();
        task.await.unwrap().unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 3, "no restart after shutdown");
    }
}
