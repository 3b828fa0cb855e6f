//! The application-service API the homeserver calls (`/_matrix/app/v1/*`),
//! authenticated by the `hs_token`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use matrix_sync_store::Transaction;
use ruma::UserId;
use serde_json::{Value, json};

use crate::auth::{matrix_error, require_hs_token};
use crate::state::AppState;

/// A transaction holds at most 100 events of at most 64 KiB each, plus
/// ephemeral events.
const MAX_TRANSACTION_BYTES: usize = 16 * 1024 * 1024;

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/transactions/{txn_id}", put(transaction))
        .route("/users/{user_id}", get(user_query))
        .route("/rooms/{alias}", get(room_query))
        .route("/ping", post(ping))
        .layer(DefaultBodyLimit::max(MAX_TRANSACTION_BYTES))
        .layer(from_fn_with_state(state, require_hs_token))
}

fn ok() -> Response {
    (StatusCode::OK, axum::Json(json!({}))).into_response()
}

/// Takes a transaction in once: its id and body digest are recorded durably
/// together with the reconcile jobs its events call for, so a replay (after
/// a restart on either side) changes nothing, while new events under a
/// reused id (the homeserver's database restored) are taken in.
async fn transaction(State(state): State<AppState>, Path(txn_id): Path<String>, raw: Bytes) -> Response {
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&raw) else {
        return matrix_error(StatusCode::BAD_REQUEST, "M_BAD_JSON", "the transaction is not a JSON object");
    };
    let Some(Value::Array(events)) = body.get("events") else {
        return matrix_error(StatusCode::BAD_REQUEST, "M_BAD_JSON", "the transaction has no `events` list");
    };
    if txn_id.is_empty() || txn_id.len() > 255 {
        return matrix_error(StatusCode::BAD_REQUEST, "M_INVALID_PARAM", "bad transaction id");
    }
    let digest = body_digest(&raw);
    let txn = Transaction { txn_id: &txn_id, digest: &digest, event_count: events.len() };
    match matrix_sync_engine::push::take_transaction(&state.engine, &txn, events).await {
        Ok(true) => ok(),
        Ok(false) => {
            tracing::debug!(txn_id, "appservice transaction replayed; already taken in");
            ok()
        }
        Err(e) => {
            // Not acknowledged: the homeserver sends it again later.
            tracing::warn!(txn_id, error = %e, "cannot record appservice transaction");
            matrix_error(StatusCode::SERVICE_UNAVAILABLE, "M_UNKNOWN", "cannot record the transaction now")
        }
    }
}

/// What tells a replayed transaction (the same body again) from a new one
/// under an id the homeserver used before its counter restarted.
fn body_digest(body: &[u8]) -> String {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(body);
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// The homeserver asks whether a user in our namespace exists: it does when
/// the platform has provisioned it.
async fn user_query(State(state): State<AppState>, Path(user_id): Path<String>) -> Response {
    let ids = state.homeserver.ids();
    let Some(user) = UserId::parse(&user_id).ok().and_then(|u| ids.platform_user(&u)) else {
        return matrix_error(StatusCode::NOT_FOUND, "M_NOT_FOUND", "not a platform user");
    };
    match state.engine.store.user_mapping(user).await {
        Ok(Some(_)) => ok(),
        Ok(None) => matrix_error(StatusCode::NOT_FOUND, "M_NOT_FOUND", "not provisioned"),
        Err(e) => {
            tracing::warn!(error = %e, "user query failed");
            matrix_error(StatusCode::SERVICE_UNAVAILABLE, "M_UNKNOWN", "try again later")
        }
    }
}

/// Every alias in our namespace is created by the service itself together
/// with its room, so an alias the homeserver does not know does not exist.
async fn room_query(Path(_alias): Path<String>) -> Response {
    matrix_error(StatusCode::NOT_FOUND, "M_NOT_FOUND", "no such room")
}

/// `POST /_matrix/app/v1/ping`: the homeserver checks it can reach us.
async fn ping() -> Response {
    ok()
}
