//! A TCP relay in front of a server that counts the connections through it, whatever they
//! carry: a test puts one before a subgraph to see what an engine holds open to it (one
//! WebSocket per subscription, say) and when it lets go.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// A relay on a free loopback port until dropped.
pub struct TcpRelay {
    addr: SocketAddr,
    path: String,
    open: Arc<AtomicUsize>,
    opened: Arc<AtomicUsize>,
    shutdown: CancellationToken,
}

/// Counts a connection open from its creation until it is dropped, however its task ends.
struct Held(Arc<AtomicUsize>);

impl Drop for Held {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl TcpRelay {
    /// A relay to the server of `url` (`http://host:port/path`); its own [`Self::url`] keeps
    /// the path.
    pub async fn before(url: &str) -> TcpRelay {
        let rest = url
            .strip_prefix("http://")
            .unwrap_or_else(|| panic!("an http:// URL, not {url}"));
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let target: SocketAddr = authority
            .parse()
            .unwrap_or_else(|e| panic!("{e}: {authority}"));
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a relay port");
        let addr = listener.local_addr().expect("the relay's address");
        let open = Arc::new(AtomicUsize::new(0));
        let opened = Arc::new(AtomicUsize::new(0));
        let shutdown = CancellationToken::new();
        let (count, total, stop) = (open.clone(), opened.clone(), shutdown.clone());
        tokio::spawn(async move {
            loop {
                let mut inbound = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((inbound, _)) => inbound,
                        Err(_) => continue,
                    },
                    () = stop.cancelled() => return,
                };
                count.fetch_add(1, Ordering::SeqCst);
                total.fetch_add(1, Ordering::SeqCst);
                let held = Held(count.clone());
                let stop = stop.clone();
                tokio::spawn(async move {
                    let _held = held;
                    let Ok(mut outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        () = stop.cancelled() => {}
                    }
                });
            }
        });
        TcpRelay {
            addr,
            path: path.to_owned(),
            open,
            opened,
            shutdown,
        }
    }

    /// The relayed URL: the target's, with the relay's address.
    pub fn url(&self) -> String {
        format!("http://{}{}", self.addr, self.path)
    }

    /// Connections open through the relay now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// Connections opened through the relay since it started.
    pub fn opened(&self) -> usize {
        self.opened.load(Ordering::SeqCst)
    }

    /// Waits until `ready(open connections)` holds, checking every 20 ms; returns the last
    /// count, which fails `ready` only if `within` passed first.
    pub async fn wait_open(&self, within: Duration, ready: impl Fn(usize) -> bool) -> usize {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let open = self.open();
            if ready(open) || tokio::time::Instant::now() >= deadline {
                return open;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for TcpRelay {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
