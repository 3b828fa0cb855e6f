//! The demo scenario: drives a running matrix-sync through its HTTP API as
//! the platform would, then shows what the users see on the homeserver,
//! using their own tokens.

use matrix_sync_testkit::{EncryptedUser, LocalHomeserver, UserClient};
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

    let (community_id, members) = community(hs, &api).await?;
    let rooms = council_and_request(hs, &api, community_id, &members).await?;

    println!("\n9. Readiness and a few metrics:");
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
    demo_pages(&api, &members, &rooms).await?;
    Ok(())
}

fn err(e: impl std::fmt::Debug) -> String {
    format!("{e:?}")
}

async fn community(hs: &LocalHomeserver, api: &Api) -> Result<(Uuid, Vec<(&'static str, Uuid)>), String> {
    println!("\n4. A community with members at different trust levels (UC-3, UC-4):");
    let community = Uuid::new_v4();
    let v = api
        .call(
            reqwest::Method::PUT,
            &format!("/v1/communities/{community}?wait=30"),
            Some(json!({"name": "Makers' Collective"})),
        )
        .await?;
    println!(
        "    community {community}: {} (Space {}, General {})",
        v["status"], v["matrix_space_id"], v["matrix_room_id"]
    );
    let general = v["matrix_room_id"].as_str().unwrap_or_default().to_owned();
    let people = [("Alice", 2, "member"), ("Bob", 18, "member"), ("Carol", 35, "member"), ("Dana", 0, "admin")];
    let mut ids = Vec::new();
    for (name, trust, role) in people {
        let id = Uuid::new_v4();
        api.call(reqwest::Method::PUT, &format!("/v1/users/{id}"), Some(json!({"display_name": name}))).await?;
        let v = api
            .call(
                reqwest::Method::PUT,
                &format!("/v1/communities/{community}/members/{id}?wait=30"),
                Some(json!({"trust_score": trust, "role": role})),
            )
            .await?;
        println!("    {name}: trust {trust}, role {role} → power level {} ({})", v["power_level"], v["status"]);
        ids.push((name, id));
    }

    println!("\n5. What Alice sees, with her own token:");
    let alice = UserClient::login(hs, &hs.matrix_id(ids[0].1)).await.map_err(err)?;
    for room in alice.joined_rooms().await.map_err(err)? {
        let name = alice.state(&room, "m.room.name", "").await.map_err(err)?;
        let create = alice.state(&room, "m.room.create", "").await.map_err(err)?;
        let rules = alice.state(&room, "m.room.join_rules", "").await.map_err(err)?;
        let kind = create["type"].as_str().unwrap_or("room");
        println!("    {} — {kind}, join rule {}", name["name"].as_str().unwrap_or("?"), rules["join_rule"]);
    }
    let levels = alice.state(&general, "m.room.power_levels", "").await.map_err(err)?;
    for (name, id) in &ids {
        let level = levels["users"][hs.matrix_id(*id)].as_i64().unwrap_or(0);
        println!("    General: {name} is at level {level}");
    }
    let bob_id = hs.matrix_id(ids[1].1);
    match alice.moderate(&general, "invite", &bob_id).await {
        Err(e) => println!("    Alice (trust 2) tries to invite: the homeserver refuses ({} {})", e.status, e.errcode),
        Ok(_) => println!("    Alice could invite (unexpected)"),
    }

    println!("\n6. Bob's trust rises to 32; his level follows in every room:");
    api.call(
        reqwest::Method::PUT,
        &format!("/v1/communities/{community}/members/{}?wait=30", ids[1].1),
        Some(json!({"trust_score": 32})),
    )
    .await?;
    let levels = alice.state(&general, "m.room.power_levels", "").await.map_err(err)?;
    println!("    General: Bob is now at level {}", levels["users"][&bob_id]);
    let audit = api.call(reqwest::Method::GET, &format!("/v1/audit?community_id={community}&limit=4"), None).await?;
    for e in audit["entries"].as_array().into_iter().flatten() {
        println!(
            "    audit: {} {} {} → {} ({})",
            e["action"].as_str().unwrap_or(""),
            e["user_id"].as_str().unwrap_or(""),
            e["old_level"],
            e["new_level"],
            e["cause"].as_str().unwrap_or("")
        );
    }
    Ok((community, ids))
}

async fn council_and_request(
    hs: &LocalHomeserver,
    api: &Api,
    community: Uuid,
    members: &[(&str, Uuid)],
) -> Result<DemoRooms, String> {
    let id_of = |name: &str| members.iter().find(|(n, _)| *n == name).map(|(_, id)| *id).unwrap_or_default();
    println!("\n7. A council (UC-2): an encrypted Space nested in the community's, for its members only:");
    let council = Uuid::new_v4();
    let v = api
        .call(
            reqwest::Method::PUT,
            &format!("/v1/councils/{council}?wait=30"),
            Some(json!({"community_id": community, "name": "Dispute Resolution Council"})),
        )
        .await?;
    let room = v["matrix_room_id"].as_str().unwrap_or_default().to_owned();
    for (name, role) in [("Carol", "admin"), ("Dana", "moderator")] {
        let v = api
            .call(
                reqwest::Method::PUT,
                &format!("/v1/councils/{council}/members/{}?wait=30", id_of(name)),
                Some(json!({"role": role})),
            )
            .await?;
        println!("    {name}: council {role} → level {}", v["power_level"]);
    }
    let carol = UserClient::login(hs, &hs.matrix_id(id_of("Carol"))).await.map_err(err)?;
    let encryption = carol.state(&room, "m.room.encryption", "").await.map_err(err)?;
    println!("    Carol sees the discussion room {room}, encrypted with {}", encryption["algorithm"]);
    let alice = UserClient::login(hs, &hs.matrix_id(id_of("Alice"))).await.map_err(err)?;
    let path = format!("/_matrix/client/v3/join/{}", matrix_sync_testkit::encode_segment(&room));
    match alice.request(reqwest::Method::POST, &path, Some(json!({}))).await {
        Err(e) => println!("    Alice (not on the council) tries to join: refused ({} {})", e.status, e.errcode),
        Ok(_) => println!("    Alice could join (unexpected)"),
    }

    println!("\n8. Alice shares a table, Bob requests it, Alice accepts (UC-1):");
    let bob_device = EncryptedUser::login(hs, &hs.matrix_id(id_of("Bob"))).await;
    println!("    Bob's chat app signs in with its own device {} and keys", bob_device.device_id());
    let request = Uuid::new_v4();
    let v = api
        .call(
            reqwest::Method::POST,
            &format!("/v1/requests/{request}/accept?wait=30"),
            Some(json!({"community_id": community, "requester_id": id_of("Bob"), "owner_id": id_of("Alice"), "title": "Oak dining table"})),
        )
        .await?;
    let dm = v["matrix_room_id"].as_str().unwrap_or_default().to_owned();
    println!("    coordination DM {dm}: {}", v["status"]);
    match bob_device.wait_for_message(&dm, "Request accepted", std::time::Duration::from_secs(30)).await {
        Some(m) => println!(
            "    Bob's device reads ({}): \"{}\" from {}",
            if m.decrypted { "decrypted end-to-end" } else { "NOT encrypted" },
            m.body,
            m.sender
        ),
        None => println!("    Bob's device did not receive the message in time"),
    }
    let status = api.call(reqwest::Method::GET, &format!("/v1/communities/{community}"), None).await?;
    let general = status["matrix_room_id"].as_str().unwrap_or_default().to_owned();
    Ok(DemoRooms { general, council: room, dm })
}

/// The rooms the demo page shows: General, the council's, the DM.
struct DemoRooms {
    general: String,
    council: String,
    dm: String,
}

async fn demo_pages(api: &Api, members: &[(&str, Uuid)], rooms: &DemoRooms) -> Result<(), String> {
    let Ok(idp) = std::env::var("MATRIX_SYNC_TEST_IDP") else { return Ok(()) };
    println!("\n10. The chat embed, signed in through /v1/sessions (open each in its own browser or private window):");
    let mut pages = String::new();
    for name in ["Alice", "Bob"] {
        let id = members.iter().find(|(n, _)| *n == name).map(|(_, id)| *id).unwrap_or_default();
        let token = api
            .http
            .get(format!("{idp}/token?sub={id}"))
            .send()
            .await
            .map_err(|e| e.to_string())?
            .text()
            .await
            .map_err(|e| e.to_string())?;
        let hash = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("idp_token", &token)
            .append_pair("name", name)
            .append_pair("general", &rooms.general)
            .append_pair("council", &rooms.council)
            .append_pair("dm", &rooms.dm)
            .finish();
        let page = format!("{}/demo/#{hash}", api.base);
        println!("    {name}: {page}");
        pages.push_str(&format!("{name}\t{page}\n"));
    }
    // For the second-browser step of `make demo` (dev/demo.sh).
    if let Ok(path) = std::env::var("MATRIX_SYNC_DEMO_PAGES") {
        std::fs::write(&path, pages).map_err(|e| format!("{path}: {e}"))?;
    }
    Ok(())
}
