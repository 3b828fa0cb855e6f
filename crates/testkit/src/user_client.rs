use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::LocalHomeserver;

/// A Matrix error answer, as a user's client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixError {
    pub status: StatusCode,
    pub errcode: String,
    pub message: String,
}

/// A plain client-server client holding one user's own access token.
#[derive(Debug, Clone)]
pub struct UserClient {
    http: reqwest::Client,
    base: String,
    pub user_id: String,
    pub access_token: String,
    pub device_id: String,
}

impl UserClient {
    /// Logs in as a namespace user through the appservice login, which is
    /// how the platform's users get their tokens.
    pub async fn login(hs: &LocalHomeserver, user_id: &str) -> Result<Self, MatrixError> {
        let http = reqwest::Client::new();
        let localpart = user_id.trim_start_matches('@').split(':').next().unwrap_or_default();
        let body = json!({
            "type": "m.login.application_service",
            "identifier": { "type": "m.id.user", "user": localpart },
        });
        let v = send(
            &http,
            Method::POST,
            &format!("{}/_matrix/client/v3/login", hs.url()),
            Some(hs.as_token()),
            Some(body),
        )
        .await?;
        Ok(Self {
            http,
            base: hs.url().to_owned(),
            user_id: v["user_id"].as_str().unwrap_or_default().to_owned(),
            access_token: v["access_token"].as_str().unwrap_or_default().to_owned(),
            device_id: v["device_id"].as_str().unwrap_or_default().to_owned(),
        })
    }

    /// Registers a user in the instance's appservice namespace (as that
    /// instance's own matrix-sync would) and logs them in: for a user of
    /// another homeserver in the federation tests.
    pub async fn register(hs: &LocalHomeserver, localpart: &str) -> Result<Self, MatrixError> {
        let http = reqwest::Client::new();
        let body = json!({ "type": "m.login.application_service", "username": localpart, "inhibit_login": true });
        send(&http, Method::POST, &format!("{}/_matrix/client/v3/register", hs.url()), Some(hs.as_token()), Some(body))
            .await?;
        Self::login(hs, &format!("@{localpart}:{}", hs.server_name())).await
    }

    /// The service's managing identity (the appservice's sender), which
    /// creates and administers rooms: the appservice token without
    /// `?user_id=` acts as it. It has no device.
    pub fn manager(hs: &LocalHomeserver) -> Self {
        let bot = hs.get("MATRIX_BOT_USER_ID");
        let localpart = bot.trim_start_matches('@').split(':').next().unwrap_or_default();
        Self::with_token(hs, &format!("@{localpart}-appservice:{}", hs.server_name()), hs.as_token())
    }

    /// A client for a token obtained elsewhere.
    pub fn with_token(hs: &LocalHomeserver, user_id: &str, access_token: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: hs.url().to_owned(),
            user_id: user_id.to_owned(),
            access_token: access_token.to_owned(),
            device_id: String::new(),
        }
    }

    /// `GET /_matrix/client/v3/account/whoami` with the user's own token.
    pub async fn whoami(&self) -> Result<String, MatrixError> {
        let v = self.get("/_matrix/client/v3/account/whoami").await?;
        Ok(v["user_id"].as_str().unwrap_or_default().to_owned())
    }

    /// The user's display name from their public profile.
    pub async fn display_name(&self, user_id: &str) -> Result<Option<String>, MatrixError> {
        let path = format!("/_matrix/client/v3/profile/{}", encode(user_id));
        let v = self.get(&path).await?;
        Ok(v["displayname"].as_str().map(str::to_owned))
    }

    /// The rooms the user is joined to.
    pub async fn joined_rooms(&self) -> Result<Vec<String>, MatrixError> {
        let v = self.get("/_matrix/client/v3/joined_rooms").await?;
        Ok(v["joined_rooms"].as_array().into_iter().flatten().filter_map(|r| r.as_str().map(str::to_owned)).collect())
    }

    /// One state event's content, as the user can read it.
    pub async fn state(&self, room_id: &str, event_type: &str, state_key: &str) -> Result<Value, MatrixError> {
        self.get(&format!("/_matrix/client/v3/rooms/{}/state/{event_type}/{}", encode(room_id), encode(state_key)))
            .await
    }

    /// The room's whole current state, as the user can read it.
    pub async fn all_state(&self, room_id: &str) -> Result<Vec<Value>, MatrixError> {
        let v = self.get(&format!("/_matrix/client/v3/rooms/{}/state", encode(room_id))).await?;
        Ok(v.as_array().cloned().unwrap_or_default())
    }

    /// Sets a state event as the user (the homeserver decides if they may).
    pub async fn put_state(
        &self,
        room_id: &str,
        event_type: &str,
        state_key: &str,
        content: Value,
    ) -> Result<Value, MatrixError> {
        let path = format!("/_matrix/client/v3/rooms/{}/state/{event_type}/{}", encode(room_id), encode(state_key));
        self.request(Method::PUT, &path, Some(content)).await
    }

    /// `invite`, `kick`, `ban`, `unban` of another user, as this user.
    pub async fn moderate(&self, room_id: &str, verb: &str, user_id: &str) -> Result<Value, MatrixError> {
        let path = format!("/_matrix/client/v3/rooms/{}/{verb}", encode(room_id));
        self.request(Method::POST, &path, Some(json!({ "user_id": user_id }))).await
    }

    /// The room's state events of one type in its timeline, oldest first.
    pub async fn state_history(&self, room_id: &str, event_type: &str) -> Result<Vec<Value>, MatrixError> {
        let filter = encode(&json!({ "types": [event_type] }).to_string());
        let mut events = Vec::new();
        let mut from: Option<String> = None;
        loop {
            let mut path =
                format!("/_matrix/client/v3/rooms/{}/messages?dir=b&limit=100&filter={filter}", encode(room_id));
            if let Some(token) = &from {
                path.push_str(&format!("&from={}", encode(token)));
            }
            let page = self.get(&path).await?;
            let chunk = page["chunk"].as_array().cloned().unwrap_or_default();
            if chunk.is_empty() {
                break;
            }
            events.extend(chunk);
            match page["end"].as_str() {
                Some(end) => from = Some(end.to_owned()),
                None => break,
            }
        }
        events.reverse();
        Ok(events)
    }

    pub async fn get(&self, path: &str) -> Result<Value, MatrixError> {
        self.request(Method::GET, path, None).await
    }

    pub async fn request(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, MatrixError> {
        send(&self.http, method, &format!("{}{path}", self.base), Some(&self.access_token), body).await
    }
}

/// Percent-encodes one path segment.
pub fn encode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes()).collect::<String>().replace('+', "%20")
}

async fn send(
    http: &reqwest::Client,
    method: Method,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Result<Value, MatrixError> {
    let mut req = http.request(method, url);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let unreachable = |e: reqwest::Error| MatrixError {
        status: StatusCode::BAD_GATEWAY,
        errcode: "UNREACHABLE".into(),
        message: e.to_string(),
    };
    let response = req.send().await.map_err(unreachable)?;
    let status = response.status();
    let v: Value = response.json().await.unwrap_or(Value::Null);
    if status.is_success() {
        Ok(v)
    } else {
        Err(MatrixError {
            status,
            errcode: v["errcode"].as_str().unwrap_or_default().to_owned(),
            message: v["error"].as_str().unwrap_or_default().to_owned(),
        })
    }
}
