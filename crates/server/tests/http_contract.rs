#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

//! The HTTP contract: authentication, errors for bad input, operations
//! endpoints and the OpenAPI document.

mod common;

use common::{TestApp, assert_error, read};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

#[tokio::test]
async fn v1_needs_the_api_token() {
    let app = TestApp::spawn().await;
    let path = format!("/v1/users/{}", Uuid::new_v4());
    let none = read(app.raw(Method::GET, &path).send().await.unwrap()).await;
    assert_error(&none, StatusCode::UNAUTHORIZED, "unauthorized");
    let wrong = read(app.raw(Method::PUT, &path).bearer_auth("not-the-token").send().await.unwrap()).await;
    assert_error(&wrong, StatusCode::UNAUTHORIZED, "unauthorized");
    let prefix = &app.api_token()[..app.api_token().len() - 1];
    let prefix = read(app.raw(Method::GET, &path).bearer_auth(prefix).send().await.unwrap()).await;
    assert_error(&prefix, StatusCode::UNAUTHORIZED, "unauthorized");
    let basic = read(app.raw(Method::GET, &path).basic_auth("x", Some(app.api_token())).send().await.unwrap()).await;
    assert_error(&basic, StatusCode::UNAUTHORIZED, "unauthorized");
    app.stop().await;
}

#[tokio::test]
async fn bad_input_gets_a_clear_json_error() {
    let app = TestApp::spawn().await;
    let user = Uuid::new_v4();
    let path = format!("/v1/users/{user}");

    for bad in ["not-a-uuid", "1234", "550e8400e29b41d4a716446655440000", "%7B550e8400-e29b-41d4-a716-446655440000%7D"]
    {
        let answer = app.call(Method::PUT, &format!("/v1/users/{bad}"), None).await;
        assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_id");
        let answer = app.call(Method::GET, &format!("/v1/users/{bad}"), None).await;
        assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_id");
    }

    let malformed =
        app.raw(Method::PUT, &path).bearer_auth(app.api_token()).body("{\"display_name\": ").send().await.unwrap();
    assert_error(&read(malformed).await, StatusCode::BAD_REQUEST, "invalid_json");
    let wrong_type = app.call(Method::PUT, &path, Some(json!({"display_name": 42}))).await;
    assert_error(&wrong_type, StatusCode::BAD_REQUEST, "invalid_json");
    let not_object = app.call(Method::PUT, &path, Some(json!([1, 2]))).await;
    assert_error(&not_object, StatusCode::BAD_REQUEST, "invalid_json");
    let blank_name = app.call(Method::PUT, &path, Some(json!({"display_name": "  "}))).await;
    assert_error(&blank_name, StatusCode::BAD_REQUEST, "bad_request");
    let long_name = app.call(Method::PUT, &path, Some(json!({"display_name": "x".repeat(257)}))).await;
    assert_error(&long_name, StatusCode::BAD_REQUEST, "bad_request");

    let huge = json!({"display_name": "x".repeat(100 * 1024)}).to_string();
    let oversized = app.raw(Method::PUT, &path).bearer_auth(app.api_token()).body(huge).send().await.unwrap();
    assert_error(&read(oversized).await, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");

    // Headers: 16 KiB in all is the limit; far larger ones are refused by
    // the HTTP server before they are read; the service answers on.
    let big = "x".repeat(20 * 1024);
    let answer = app.raw(Method::PUT, &path).bearer_auth(app.api_token()).header("x-padding", &big).send().await;
    assert_error(&read(answer.unwrap()).await, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "headers_too_large");
    let huge = "x".repeat(1024 * 1024);
    let answer = app.raw(Method::GET, "/healthz").header("x-padding", &huge).send().await;
    assert!(answer.is_err() || answer.unwrap().status().is_client_error(), "a 1 MiB header is refused");
    let many = (0..200).fold(app.raw(Method::GET, "/healthz"), |req, i| req.header(format!("x-h{i}"), "1"));
    let answer = many.send().await;
    assert!(answer.is_err() || answer.unwrap().status().is_client_error(), "200 headers are refused");
    assert_eq!(app.raw(Method::GET, "/healthz").send().await.unwrap().status(), StatusCode::OK);

    // None of that wrote anything.
    let answer = app.call(Method::GET, &path, None).await;
    assert_error(&answer, StatusCode::NOT_FOUND, "not_found");
    let unknown = app.call(Method::GET, "/v1/nothing-here", None).await;
    assert_error(&unknown, StatusCode::NOT_FOUND, "not_found");
    let wrong_method = app.call(Method::POST, &path, None).await;
    assert_error(&wrong_method, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    app.stop().await;
}

#[tokio::test]
async fn operations_endpoints_answer() {
    let app = TestApp::spawn().await;
    let (status, health) = read(app.raw(Method::GET, "/healthz").send().await.unwrap()).await;
    assert_eq!((status, health["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (status, ready) = read(app.raw(Method::GET, "/readyz").send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_eq!(ready["database"], "ok");
    assert_eq!(ready["homeserver"], "ok");

    // One provisioning, then the metrics show it.
    let (status, _) = app.call(Method::PUT, &format!("/v1/users/{}", Uuid::new_v4()), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, metrics) = read(app.raw(Method::GET, "/metrics").send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let metrics = metrics.as_str().unwrap().to_owned();
    for needle in [
        "matrix_sync_http_requests_total{method=\"PUT\",route=\"/v1/users/{user}\",status=\"200\"} 1",
        "matrix_sync_homeserver_requests_total{endpoint=\"register\",outcome=\"ok\"}",
        "matrix_sync_jobs_pending 0",
        "matrix_sync_jobs_dead 0",
    ] {
        assert!(metrics.contains(needle), "missing {needle} in\n{metrics}");
    }
    app.stop().await;
}

#[tokio::test]
async fn readiness_probes_are_answered_from_a_recent_check() {
    let app = TestApp::spawn().await;
    let whoami = |text: &str| {
        text.lines()
            .filter(|l| l.starts_with("matrix_sync_homeserver_requests_total{endpoint=\"whoami\""))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>()
    };
    let metrics =
        || async { read(app.raw(Method::GET, "/metrics").send().await.unwrap()).await.1.as_str().unwrap().to_owned() };
    let before = whoami(&metrics().await);
    let probes = (0..50).map(|_| async { app.raw(Method::GET, "/readyz").send().await.unwrap().status() });
    let statuses = futures_util::future::join_all(probes).await;
    assert!(statuses.iter().all(|s| *s == StatusCode::OK), "{statuses:?}");
    let asked = whoami(&metrics().await) - before;
    assert!(asked <= 2.0, "50 probes asked the homeserver {asked} times");
    app.stop().await;
}

#[tokio::test]
async fn made_up_methods_add_no_metric_series() {
    let app = TestApp::spawn().await;
    let series = |text: &str| text.lines().filter(|l| l.starts_with("matrix_sync_http_requests_total{")).count();
    let metrics =
        || async { read(app.raw(Method::GET, "/metrics").send().await.unwrap()).await.1.as_str().unwrap().to_owned() };
    let before = metrics().await;
    for i in 0..1_000 {
        let method = Method::from_bytes(format!("MADEUP{i}").as_bytes()).unwrap();
        let answer = app.raw(method, "/healthz").send().await.unwrap();
        assert!(answer.status().is_client_error(), "{}", answer.status());
    }
    let after = metrics().await;
    // The two /metrics reads and the made-up methods: at most two new series.
    assert!(series(&after) <= series(&before) + 2, "before:\n{before}\nafter:\n{after}");
    assert!(after.contains("method=\"other\""), "{after}");
    assert!(!after.contains("MADEUP"), "{after}");
    app.stop().await;
}

#[tokio::test]
async fn openapi_document_describes_the_api() {
    let app = TestApp::spawn().await;
    let (status, doc) = read(app.raw(Method::GET, "/openapi.json").send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for path in ["/v1/users/{user}", "/healthz", "/readyz", "/metrics"] {
        assert!(paths.contains_key(path), "{path} missing");
    }
    assert!(doc["paths"]["/v1/users/{user}"]["put"].is_object());
    assert!(doc["paths"]["/v1/users/{user}"]["get"].is_object());
    assert_eq!(doc["components"]["securitySchemes"]["api_token"]["scheme"], "bearer");
    assert!(doc["components"]["schemas"]["UserRecord"].is_object());
    assert_eq!(matrix_sync::api::openapi_json().parse::<Value>().unwrap(), doc);
    app.stop().await;
}

/// A client that sends `bytes` one a second on `stream` until the server
/// closes the connection; the time until then, or `None` if it was still
/// open once everything was sent.
async fn trickle(mut stream: tokio::net::TcpStream, bytes: &[u8]) -> Option<std::time::Duration> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let started = std::time::Instant::now();
    let mut buf = [0u8; 512];
    for byte in bytes {
        if stream.write_all(std::slice::from_ref(byte)).await.is_err() {
            return Some(started.elapsed());
        }
        // A closed connection shows as a read of nothing (or an error).
        if let Ok(read) = tokio::time::timeout(std::time::Duration::from_secs(1), stream.read(&mut buf)).await {
            match read {
                Ok(0) | Err(_) => return Some(started.elapsed()),
                Ok(_) => {} // an answer (a 408); the close follows
            }
        }
    }
    None
}

const SLOW_HEADERS: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: matrix-sync\r\nUser-Agent: one-byte-a-second\r\n\r\n";

#[tokio::test]
async fn clients_sending_headers_one_byte_a_second_are_cut_off_and_hold_no_slot() {
    use std::time::{Duration, Instant};
    let app = TestApp::spawn_with(
        common::Db::Sqlite,
        &[("MATRIX_SYNC_HTTP_HEADER_TIMEOUT", "2s"), ("MATRIX_SYNC_HTTP_MAX_CONNECTIONS", "4")],
    )
    .await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    // Four slow clients take every connection slot.
    let mut slow = Vec::new();
    for _ in 0..4 {
        let stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        slow.push(tokio::spawn(async move { trickle(stream, SLOW_HEADERS).await }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A well-behaved client still gets its answer: once the slow ones are
    // cut off at the header timeout, their slots are free.
    let started = Instant::now();
    let (status, _) = app.call(Method::GET, "/healthz", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(started.elapsed() < Duration::from_secs(6), "answered after {:?}", started.elapsed());
    for client in slow {
        let cut_off = client.await.unwrap().expect("a slow client was never cut off");
        assert!(cut_off < Duration::from_secs(5), "cut off after {cut_off:?}, the timeout being 2 s");
    }
    // An idle keep-alive connection is closed after the same timeout.
    let mut idle = tokio::net::TcpStream::connect(&addr).await.unwrap();
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        idle.write_all(SLOW_HEADERS).await.unwrap();
        let mut buf = vec![0u8; 4096];
        let n = idle.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"), "answered before idling");
        let started = Instant::now();
        let closed = tokio::time::timeout(Duration::from_secs(6), idle.read(&mut buf)).await;
        assert!(matches!(closed, Ok(Ok(0) | Err(_))), "an idle connection stayed open: {closed:?}");
        assert!(started.elapsed() >= Duration::from_secs(1), "closed before the timeout");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_body_sent_slowly_is_answered_408_and_shutdown_does_not_wait_for_slow_clients() {
    use std::time::{Duration, Instant};
    let app = TestApp::spawn_with(
        common::Db::Sqlite,
        &[
            ("MATRIX_SYNC_HTTP_HEADER_TIMEOUT", "60s"),
            ("MATRIX_SYNC_HTTP_REQUEST_TIMEOUT", "2s"),
            ("MATRIX_SYNC_SHUTDOWN_GRACE", "1s"),
        ],
    )
    .await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    // Headers at once, then a body of 40 bytes one a second.
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "PUT /v1/communities/{} HTTP/1.1\r\nHost: matrix-sync\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n",
        Uuid::new_v4(),
        app.api_token()
    );
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        stream.write_all(head.as_bytes()).await.unwrap();
        let started = Instant::now();
        let mut answer = Vec::new();
        let mut buf = [0u8; 1024];
        while started.elapsed() < Duration::from_secs(10) && !String::from_utf8_lossy(&answer).contains("}}") {
            if stream.write_all(b" ").await.is_err() {
                break;
            }
            if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buf)).await {
                if n == 0 {
                    break;
                }
                answer.extend_from_slice(&buf[..n]);
            }
        }
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("\"request_timeout\""), "{answer}");
        assert!(started.elapsed() < Duration::from_secs(5), "answered after {:?}", started.elapsed());
    }
    // Shutdown with a client half-way through its headers (which the
    // header timeout of a minute would not cut off yet) ends within the
    // shutdown grace.
    let stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let slow = tokio::spawn(async move { trickle(stream, SLOW_HEADERS).await });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let started = Instant::now();
    app.stop().await;
    assert!(started.elapsed() < Duration::from_secs(5), "shutdown took {:?}", started.elapsed());
    assert!(slow.await.unwrap().is_some(), "the slow client's connection was closed");
}

/// The two calls that do not just record and return, while the homeserver
/// cannot be reached: provisioning a user answers 503 and records nothing;
/// a DM is recorded and answered 202 without a room once its wait is over;
/// every other write is taken at once.
#[tokio::test]
async fn calls_that_need_the_homeserver_say_so_while_it_is_down() {
    let closed = format!("http://127.0.0.1:{}", common::free_port());
    let app = TestApp::spawn_with(
        common::Db::Sqlite,
        &[("MATRIX_HOMESERVER_URL", closed.as_str()), ("MATRIX_SYNC_HOMESERVER_TIMEOUT", "2s")],
    )
    .await;
    let user = Uuid::new_v4();
    let down = app.call(Method::PUT, &format!("/v1/users/{user}"), None).await;
    assert_error(&down, StatusCode::SERVICE_UNAVAILABLE, "homeserver_unavailable");
    assert_error(&app.call(Method::GET, &format!("/v1/users/{user}"), None).await, StatusCode::NOT_FOUND, "not_found");

    let started = std::time::Instant::now();
    let dm = json!({ "user_a": user, "user_b": Uuid::new_v4() });
    let (status, body) = app.call(Method::POST, "/v1/dms?wait=2", Some(dm)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert!(body["room_id"].is_null(), "{body}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "the wait was bounded");

    let started = std::time::Instant::now();
    let (status, _) =
        app.call(Method::PUT, &format!("/v1/communities/{}", Uuid::new_v4()), Some(json!({ "name": "Offline" }))).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert!(started.elapsed() < std::time::Duration::from_secs(2), "recorded and answered at once");
    app.stop().await;
}
