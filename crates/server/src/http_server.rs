//! The HTTP server under the router: HTTP/1.1 connections with the limits
//! a service facing slow or hostile clients needs, which `axum::serve` does
//! not set. A client must send a request's headers within the header timeout
//! (the same bound holds an idle keep-alive connection, while it waits for
//! its next request); at most `max_connections` are served at once (more
//! wait in the kernel's backlog); and shutdown stops accepting, lets the
//! requests in flight finish, and after `shutdown_grace` closes whatever is
//! still open (a half-sent request cannot hold the process).
//!
//! The request timeout (a body sent slowly, a handler that hangs) is a
//! middleware of the router: [`crate::api::router`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

/// The limits of the HTTP server (`MATRIX_SYNC_HTTP_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// A request's headers must arrive within this, and an idle
    /// keep-alive connection is closed after it.
    pub header_timeout: Duration,
    /// A request must be read and answered within this (`408` otherwise).
    pub request_timeout: Duration,
    pub max_connections: usize,
    /// How long shutdown waits for connections before closing them.
    pub shutdown_grace: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            // Above the 30 s that `POST /v1/dms` may wait for the homeserver.
            request_timeout: Duration::from_secs(60),
            max_connections: 1024,
            // Within the 10 s a container engine waits after SIGTERM, with
            // time left to stop the workers and close the database.
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then shuts
/// down within `limits.shutdown_grace`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (closing_tx, closing) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut warned_full = false;
    loop {
        // A free slot first: while every slot is taken, new connections
        // wait in the backlog rather than being accepted and starved.
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                if !warned_full {
                    tracing::warn!(max = limits.max_connections, "every connection slot is taken; new ones wait");
                    warned_full = true;
                }
                tokio::select! {
                    () = &mut shutdown => break,
                    slot = slots.clone().acquire_owned() => match slot {
                        Ok(slot) => slot,
                        Err(_) => break, // never closed
                    },
                }
            }
        };
        let (stream, _) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        if slots.available_permits() > 0 {
            warned_full = false;
        }
        let (router, closing) = (router.clone(), closing.clone());
        connections.spawn(async move {
            serve_connection(stream, router, limits.header_timeout, closing).await;
            drop(slot);
        });
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let _ = closing_tx.send(true);
    let drained =
        tokio::time::timeout(limits.shutdown_grace, async { while connections.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(open = connections.len(), "connections still open after the shutdown grace are closed");
        connections.shutdown().await;
    }
    Ok(())
}

async fn serve_connection(
    stream: TcpStream,
    router: Router,
    header_timeout: Duration,
    mut closing: watch::Receiver<bool>,
) {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(header_timeout);
    let connection = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(router));
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => log_end(result),
        () = async { drop(closing.wait_for(|closing| *closing).await) } => {
            // Idle connections close now; a request in flight is answered first.
            connection.as_mut().graceful_shutdown();
            log_end(connection.await);
        }
    }
}

/// A connection ending in an error is the client's doing (gone, too slow):
/// worth a debug line, not more.
fn log_end(result: Result<(), hyper::Error>) {
    if let Err(e) = result {
        tracing::debug!(error = %e, timeout = e.is_timeout(), "a connection ended in an error");
    }
}
