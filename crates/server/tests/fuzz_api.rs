#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

//! Hostile input: schemathesis (installed by `dev/schemathesis.sh`) sends
//! thousands of requests generated from the service's own `/openapi.json`,
//! valid and invalid, to a running service with a real homeserver behind
//! it. No answer may be a 5xx, and every answer must be what the document
//! promises (status code, content type, body schema).

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::{Db, TestApp, eventually};
use matrix_sync_testkit::{LocalHomeserver, workspace_root};
use reqwest::Method;

fn schemathesis() -> PathBuf {
    let bin = workspace_root().join(".dev/schemathesis-venv/bin/schemathesis");
    assert!(bin.exists(), "{} is missing: run `make test` (or dev/schemathesis.sh) first", bin.display());
    bin
}

#[tokio::test]
async fn generated_requests_get_no_server_error_and_only_documented_answers() {
    let bin = schemathesis();
    // The fault tests' homeserver: the rooms this makes stay out of the way
    // of the other tests.
    let app = TestApp::spawn_on(LocalHomeserver::for_fault_tests(), Db::Sqlite, &[]).await;
    // The fault tests stop and restart that homeserver: fuzz once it is
    // back (while it is away, provisioning answers 503, rightly).
    eventually("the service is ready", Duration::from_secs(60), || async {
        app.raw(Method::GET, "/readyz").send().await.is_ok_and(|r| r.status().is_success())
    })
    .await;
    let schema = format!("{}/openapi.json", app.base);
    let token = app.api_token().to_owned();
    // Its caches and example database go to a scratch folder.
    let scratch = tempfile::tempdir().unwrap();
    let cwd = scratch.path().to_path_buf();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(bin)
            .current_dir(cwd)
            .args(["--no-color", "run", &schema])
            .args([
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            ])
            // One worker: with two threads, CPython 3.11's parser can trip over
            // itself while Hypothesis reads its own sources ("AST constructor
            // recursion depth mismatch"), failing a run that found nothing.
            .args(["--max-examples", "100", "--seed", "17", "--request-timeout", "40", "--workers", "1"])
            .args(["--header", &format!("Authorization: Bearer {token}")])
            .env("SCHEMATHESIS_HOOKS", "")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stdout}\n{stderr}");
    assert!(output.status.success(), "schemathesis found problems (above)");
    app.stop().await;
}
