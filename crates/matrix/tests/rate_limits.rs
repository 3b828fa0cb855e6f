#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

//! How the client treats rate limits and silence. These need a homeserver
//! that misbehaves on cue, which a real Synapse with `rate_limited: false`
//! will not do, so a few canned HTTP answers stand in for it here.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use matrix_sync_core::MatrixIds;
use matrix_sync_matrix::{
    AppserviceClient, CallLabels, ClientSettings, HomeserverError, HomeserverMetrics, Registered,
};
use secrecy::SecretString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serves `answers` in turn (the last one repeats), one per connection;
/// status 0 means "read the request and never answer".
async fn canned(answers: Vec<(u16, &'static str)>) -> (url::Url, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = url::Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    let served = Arc::new(AtomicUsize::new(0));
    let counter = served.clone();
    tokio::spawn(async move {
        let mut silent = Vec::new();
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let (status, body) = answers[n.min(answers.len() - 1)];
            let mut buf = vec![0u8; 65536];
            let _ = socket.read(&mut buf).await;
            if status == 0 {
                silent.push(socket);
                continue;
            }
            let response = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
        }
    });
    (url, served)
}

fn client(url: url::Url, settings: ClientSettings) -> (AppserviceClient, HomeserverMetrics) {
    let metrics = HomeserverMetrics::default();
    let ids = MatrixIds::new("example.org", "@matrix-sync:example.org").unwrap();
    let client = AppserviceClient::new(url, SecretString::from("t"), ids, settings, metrics.clone());
    (client.unwrap(), metrics)
}

#[tokio::test]
async fn waits_as_long_as_the_homeserver_asks_then_succeeds() {
    let limited = r#"{"errcode":"M_LIMIT_EXCEEDED","error":"slow down","retry_after_ms":300}"#;
    let ok = r#"{"user_id":"@a:example.org"}"#;
    let (url, served) = canned(vec![(429, limited), (429, limited), (200, ok)]).await;
    let (client, metrics) = client(url, ClientSettings::default());
    let started = Instant::now();
    assert_eq!(client.register("a").await.unwrap(), Registered::Created);
    assert!(started.elapsed() >= Duration::from_millis(600), "honoured retry_after_ms twice");
    assert_eq!(served.load(Ordering::SeqCst), 3);
    assert_eq!(metrics.count("register"), 3, "every request is counted");
}

#[tokio::test]
async fn gives_up_after_its_retry_limit_with_a_transient_error() {
    let limited = r#"{"errcode":"M_LIMIT_EXCEEDED","error":"slow down","retry_after_ms":10}"#;
    let (url, served) = canned(vec![(429, limited)]).await;
    let settings = ClientSettings { rate_limit_retries: 2, ..ClientSettings::default() };
    let (client, _) = client(url, settings);
    let err = client.register("a").await.unwrap_err();
    assert!(matches!(err, HomeserverError::RateLimited { retry_after_ms: 10, .. }), "{err}");
    assert!(err.is_transient());
    assert_eq!(served.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_silent_homeserver_times_out_instead_of_hanging() {
    let (url, _) = canned(vec![(0, "")]).await;
    let settings = ClientSettings { request_timeout: Duration::from_millis(300), ..ClientSettings::default() };
    let (client, metrics) = client(url, settings);
    let started = Instant::now();
    let err = client.whoami(None).await.unwrap_err();
    assert!(matches!(err, HomeserverError::Timeout { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let timeouts = metrics.calls.get_or_create(&CallLabels { endpoint: "whoami", outcome: "timeout" }).get();
    assert_eq!(timeouts, 1);
}

#[tokio::test]
async fn refusals_are_not_transient_but_server_errors_are() {
    let forbidden = r#"{"errcode":"M_FORBIDDEN","error":"no"}"#;
    let (url, _) = canned(vec![(403, forbidden), (502, "bad gateway")]).await;
    let (client, _) = client(url, ClientSettings::default());
    let err = client.whoami(None).await.unwrap_err();
    assert_eq!(err.errcode(), Some("M_FORBIDDEN"));
    assert!(!err.is_transient());
    let err = client.whoami(None).await.unwrap_err();
    assert!(err.is_transient(), "{err}");
}
