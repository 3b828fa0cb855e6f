//! The demo scenario: drives a running matrix-sync through its HTTP API as
//! the platform would, then shows what the users see on the homeserver,
//! using their own tokens.

use matrix_sync_testkit::{LocalHomeserver, UserClient};
use serde_json::{Value, json};
use uuid::Uuid;

#[tokio::main]
async fn main() {
    let Some(env_file) = std::env::args().nth(1) else {
        eprintln!("usage: matrix-sync-demo .dev/demo/env");
        std::process::exit(2);
    };
    let hs = LocalHomeserver::from_file(env_file.as_ref()).unwrap_or_else(|e| {
        eprintln!("cannot read {env_file}: {e}");
        std::process::exit(2);
    });
    if let Err(e) = run(&hs).await {
        eprintln!("demo failed: {e}");
        std::process::exit(1);
    }
}

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value, String> {
        let mut req = self.http.request(method.clone(), format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let response = req.send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        let v: Value = response.json().await.map_err(|e| e.to_string())?;
        println!("  {method} {path} → {status}");
        if status.is_success() { Ok(v) } else { Err(format!("{method} {path}: {status} {v}")) }
    }
}

async fn run(hs: &LocalHomeserver) -> Result<(), String> {
    let api = Api {
        http: reqwest::Client::new(),
        base: format!("http://{}", hs.get("MATRIX_SYNC_LISTEN")),
        token: hs.get("MATRIX_SYNC_API_TOKEN").to_owned(),
    };
    println!("matrix-sync demo — homeserver {} ({}), service {}", hs.url(), hs.server_name(), api.base);

    println!("\n1. The platform provisions two users (as it would on registration):");
    let people = [("Alice", Uuid::new_v4()), ("Bob", Uuid::new_v4())];
    for (name, id) in &people {
        let v = api.call(reqwest::Method::PUT, &format!("/v1/users/{id}"), Some(json!({"display_name": name}))).await?;
        println!("    {name}: platform id {id} → Matrix id {}", v["matrix_user_id"].as_str().unwrap_or("?"));
    }

    println!("\n2. Provisioning again changes nothing (idempotent):");
    let (name, id) = &people[0];
    let v = api.call(reqwest::Method::PUT, &format!("/v1/users/{id}"), Some(json!({"display_name": name}))).await?;
    println!("    {name} provisioned_at is still {}", v["provisioned_at"].as_str().unwrap_or("?"));

    println!("\n3. What each user sees on the homeserver, with a token of their own:");
    for (name, id) in &people {
        let me = UserClient::login(hs, &hs.matrix_id(*id)).await.map_err(|e| format!("{e:?}"))?;
        let whoami = me.whoami().await.map_err(|e| format!("{e:?}"))?;
        let display = me.display_name(&whoami).await.map_err(|e| format!("{e:?}"))?;
        println!(
            "    {name}: whoami = {whoami}, display name = {}, device {}",
            display.unwrap_or_default(),
            me.device_id
        );
    }

    println!("\n4. Readiness and a few metrics:");
    let ready: Value = api
        .http
        .get(format!("{}/readyz", api.base))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    println!("    /readyz: {ready}");
    let metrics = api
        .http
        .get(format!("{}/metrics", api.base))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .text()
        .await
        .map_err(|e| e.to_string())?;
    for line in metrics.lines().filter(|l| l.starts_with("matrix_sync_homeserver_requests_total")) {
        println!("    {line}");
    }
    Ok(())
}
