//! A TCP proxy in front of the homeserver that misbehaves on purpose, for
//! fault tests: it delays every chunk both ways, and some requests it resets
//! (TCP RST), answers with `429 M_LIMIT_EXCEEDED` and a `retry_after_ms`, or
//! swallows (reads, never answers). A request is a chunk from the client that
//! starts with an HTTP method: clients do not pipeline, so on a kept-alive
//! connection each new request starts a new chunk.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// What goes wrong, by request number (1, 2, …): every `n`th request.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Added before each chunk is passed on, both ways.
    pub latency: Duration,
    pub reset_every: Option<u64>,
    pub rate_limit_every: Option<u64>,
    pub retry_after_ms: u64,
    pub swallow_every: Option<u64>,
}

/// What the proxy did so far.
#[derive(Debug, Default)]
pub struct ProxyCounts {
    pub requests: AtomicU64,
    pub resets: AtomicU64,
    pub rate_limited: AtomicU64,
    pub swallowed: AtomicU64,
}

pub struct FlakyProxy {
    addr: SocketAddr,
    faults: Arc<Mutex<Faults>>,
    pub counts: Arc<ProxyCounts>,
    accept: JoinHandle<()>,
}

impl FlakyProxy {
    /// Listens on a free loopback port and forwards to `upstream`
    /// (`http://host:port`).
    pub async fn start(upstream: &str, faults: Faults) -> Self {
        let upstream: SocketAddr =
            upstream.trim_start_matches("http://").trim_end_matches('/').parse().expect("upstream host:port");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let faults = Arc::new(Mutex::new(faults));
        let counts = Arc::new(ProxyCounts::default());
        let (f, c) = (faults.clone(), counts.clone());
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, upstream, f.clone(), c.clone()));
            }
        });
        Self { addr, faults, counts, accept }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Changes what goes wrong from the next chunk on.
    pub fn set(&self, faults: Faults) {
        *self.faults.lock().unwrap() = faults;
    }

    pub fn count(&self, which: fn(&ProxyCounts) -> &AtomicU64) -> u64 {
        which(&self.counts).load(Ordering::Relaxed)
    }
}

impl Drop for FlakyProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

enum Fate {
    Pass,
    Reset,
    RateLimit(u64),
    Swallow,
}

fn fate(faults: &Faults, n: u64) -> Fate {
    let every = |k: Option<u64>| k.is_some_and(|k| k > 0 && n.is_multiple_of(k));
    if every(faults.reset_every) {
        Fate::Reset
    } else if every(faults.rate_limit_every) {
        Fate::RateLimit(faults.retry_after_ms)
    } else if every(faults.swallow_every) {
        Fate::Swallow
    } else {
        Fate::Pass
    }
}

const METHODS: [&[u8]; 5] = [b"GET ", b"PUT ", b"POST ", b"DELETE ", b"HEAD "];

async fn relay(client: TcpStream, upstream: SocketAddr, faults: Arc<Mutex<Faults>>, counts: Arc<ProxyCounts>) {
    let Ok(server) = TcpStream::connect(upstream).await else { return };
    let (mut from_client, to_client) = client.into_split();
    let (mut from_server, mut to_server) = server.into_split();
    let to_client = Arc::new(tokio::sync::Mutex::new(to_client));
    let latency = || faults.lock().unwrap().latency;
    let down = {
        let (to_client, faults) = (to_client.clone(), faults.clone());
        tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            while let Ok(n) = from_server.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                let delay = faults.lock().unwrap().latency;
                tokio::time::sleep(delay).await;
                if to_client.lock().await.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
            let _ = to_client.lock().await.shutdown().await;
        })
    };
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from_client.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let chunk = &buf[..n];
        if METHODS.iter().any(|m| chunk.starts_with(m)) {
            let number = counts.requests.fetch_add(1, Ordering::Relaxed) + 1;
            let fate = fate(&faults.lock().unwrap(), number);
            match fate {
                Fate::Pass => {}
                Fate::Reset => {
                    counts.resets.fetch_add(1, Ordering::Relaxed);
                    down.abort();
                    // Closing with a zero linger sends RST, not FIN.
                    let _ = from_client.as_ref().set_zero_linger();
                    return;
                }
                Fate::RateLimit(retry_after_ms) => {
                    counts.rate_limited.fetch_add(1, Ordering::Relaxed);
                    down.abort();
                    answer_429(&to_client, retry_after_ms).await;
                    return;
                }
                Fate::Swallow => {
                    counts.swallowed.fetch_add(1, Ordering::Relaxed);
                    down.abort();
                    // Hold the connection open, answer nothing; the client
                    // must give up by itself.
                    tokio::time::sleep(Duration::from_secs(300)).await;
                    return;
                }
            }
        }
        tokio::time::sleep(latency()).await;
        if to_server.write_all(chunk).await.is_err() {
            break;
        }
    }
    let _ = to_server.shutdown().await;
    let _ = down.await;
}

async fn answer_429(to_client: &tokio::sync::Mutex<OwnedWriteHalf>, retry_after_ms: u64) {
    let body =
        format!(r#"{{"errcode":"M_LIMIT_EXCEEDED","error":"Too Many Requests","retry_after_ms":{retry_after_ms}}}"#);
    let response = format!(
        "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut w = to_client.lock().await;
    let _ = w.write_all(response.as_bytes()).await;
    let _ = w.shutdown().await;
}
