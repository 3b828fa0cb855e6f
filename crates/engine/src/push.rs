//! Events the homeserver pushes: which call for a reconcile (changes the
//! service did not make to the state it manages; the service's own changes,
//! the manager's and the bot's, and users joining or leaving by themselves,
//! which is how the service's own joins look, do not), and taking a
//! transaction of them in once.

use std::collections::{BTreeMap, BTreeSet};

use matrix_sync_core::Scope;
use matrix_sync_store::{NewMessage, StoreError, Transaction};
use serde_json::Value;

use crate::Engine;
use crate::clock::now_millis;

/// Takes a pushed transaction in: the cached views of every room whose
/// state someone else changed are made stale (in every process), and the
/// transaction id with its body digest is recorded durably together with
/// the jobs its foreign changes call for, so a replay changes nothing.
/// Returns `false` for a replay.
pub async fn take_transaction(engine: &Engine, txn: &Transaction<'_>, events: &[Value]) -> Result<bool, StoreError> {
    let ids = engine.homeserver.ids();
    let service = [ids.bot().as_str(), ids.manager().as_str()];
    let foreign = rooms_with_foreign_changes(events, &service);
    let changed = rooms_with_state_changes(events, &service);
    // Every foreign change is also a state change: route each room once.
    let jobs = job_scopes(engine, &changed).await?;
    for scope in jobs.values().collect::<BTreeSet<_>>() {
        engine.store.bump_scope_version(*scope).await?;
    }
    let scopes: BTreeSet<_> = foreign.iter().filter_map(|room| jobs.get(room).copied()).collect();
    let scopes: Vec<Scope> = scopes.into_iter().collect();
    let messages =
        if engine.settings.webhook.is_some() { messages_in_known_rooms(engine, events).await? } else { vec![] };
    let taken = engine.store.accept_transaction(txn, &scopes, &messages, now_millis()).await?;
    if taken {
        tracing::debug!(
            txn_id = txn.txn_id,
            events = events.len(),
            scopes = scopes.len(),
            messages = messages.len(),
            "appservice transaction taken in"
        );
    }
    Ok(taken)
}

/// The messages (for the webhook) among the events, in rooms the service made.
async fn messages_in_known_rooms(engine: &Engine, events: &[Value]) -> Result<Vec<NewMessage>, StoreError> {
    let messages: Vec<NewMessage> = events.iter().filter_map(message_of).collect();
    if messages.is_empty() {
        return Ok(messages);
    }
    let mut rooms: Vec<String> = messages.iter().map(|m| m.room_id.clone()).collect();
    rooms.sort();
    rooms.dedup();
    let known: BTreeSet<String> = engine.store.known_rooms(&rooms).await?.into_iter().map(|r| r.room_id).collect();
    Ok(messages.into_iter().filter(|m| known.contains(&m.room_id)).collect())
}

/// A message event (not state) as the webhook's record of it.
fn message_of(event: &Value) -> Option<NewMessage> {
    let kind = event["type"].as_str()?;
    if event.get("state_key").is_some() || !crate::webhook::MESSAGE_TYPES.contains(&kind) {
        return None;
    }
    Some(NewMessage {
        event_id: event["event_id"].as_str()?.to_owned(),
        room_id: event["room_id"].as_str()?.to_owned(),
        sender: event["sender"].as_str()?.to_owned(),
        origin_server_ts: event["origin_server_ts"].as_i64().unwrap_or_default(),
    })
}

/// The job that reconciles each of the given rooms the service knows; a
/// scope's job is looked up once however many of its rooms changed.
async fn job_scopes(engine: &Engine, rooms: &[String]) -> Result<BTreeMap<String, Scope>, StoreError> {
    let mut job_of: BTreeMap<Scope, Scope> = BTreeMap::new();
    let mut jobs = BTreeMap::new();
    for room in engine.store.known_rooms(rooms).await? {
        let scope = room.scope;
        let job = match job_of.get(&scope) {
            Some(job) => *job,
            None => {
                let job = crate::reconcile::job_scope(engine, scope).await?;
                job_of.insert(scope, job);
                job
            }
        };
        jobs.insert(room.room_id, job);
    }
    Ok(jobs)
}

/// State the service owns in its rooms; a change by anyone else is drift.
const MANAGED_STATE: [&str; 7] = [
    "m.room.power_levels",
    "m.room.join_rules",
    "m.room.encryption",
    "m.room.name",
    "m.room.history_visibility",
    "m.space.child",
    "m.space.parent",
];

/// State events someone other than the service's own identities sent (the
/// service's joins, sent as the user, included).
fn state_by_others<'a>(events: &'a [Value], service: &'a [&'a str]) -> impl Iterator<Item = &'a Value> {
    events
        .iter()
        .filter(|e| e.get("state_key").is_some())
        .filter(move |e| e["sender"].as_str().is_some_and(|s| !service.contains(&s)))
}

fn rooms_of<'a>(events: impl Iterator<Item = &'a Value>) -> Vec<String> {
    let mut rooms: Vec<String> = events.filter_map(|e| e["room_id"].as_str().map(str::to_owned)).collect();
    rooms.sort();
    rooms.dedup();
    rooms
}

/// The rooms whose events show a change someone other than the service made.
pub fn rooms_with_foreign_changes(events: &[Value], service: &[&str]) -> Vec<String> {
    rooms_of(state_by_others(events, service).filter(|e| {
        let kind = e["type"].as_str().unwrap_or_default();
        if kind == "m.room.member" {
            // Someone else changed this user's membership (kick, ban, invite).
            e["state_key"].as_str() != e["sender"].as_str()
        } else {
            MANAGED_STATE.contains(&kind)
        }
    }))
}

/// The rooms whose state someone other than the service changed: views of them
/// cached before are stale.
pub fn rooms_with_state_changes(events: &[Value], service: &[&str]) -> Vec<String> {
    rooms_of(state_by_others(events, service))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_foreign_changes_to_managed_state_count() {
        let bot = "@matrix-sync:example.org";
        let service = [bot, "@matrix-sync-appservice:example.org"];
        let ev = |room: &str, kind: &str, sender: &str, state_key: Option<&str>| {
            let mut e = json!({"room_id": room, "type": kind, "sender": sender, "content": {}});
            if let Some(k) = state_key {
                e["state_key"] = json!(k);
            }
            e
        };
        let events = vec![
            ev("!a:x", "m.room.power_levels", bot, Some("")),
            ev("!b:x", "m.room.power_levels", "@admin:x", Some("")),
            ev("!c:x", "m.room.message", "@admin:x", None),
            ev("!d:x", "m.room.member", "@u:x", Some("@u:x")),
            ev("!e:x", "m.room.member", "@mod:x", Some("@u:x")),
            ev("!f:x", "m.room.topic", "@mod:x", Some("")),
            ev("!b:x", "m.room.join_rules", "@admin:x", Some("")),
            ev("!g:x", "m.room.power_levels", service[1], Some("")),
        ];
        assert_eq!(rooms_with_foreign_changes(&events, &service), vec!["!b:x", "!e:x"]);
        assert_eq!(rooms_with_state_changes(&events, &service), vec!["!b:x", "!d:x", "!e:x", "!f:x"]);
    }
}
