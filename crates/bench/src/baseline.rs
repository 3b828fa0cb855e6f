//! The raw baseline: the minimal request set for a platform, sent straight to
//! the homeserver by the service's own client with the same number of
//! requests in flight, and nothing else: no database, no jobs, no planning,
//! no observing. Each request starts as soon as what it depends on is done
//! (a room before its joins and links; a member's Space join before their
//! join of a room restricted to that Space). The service's onboarding time
//! is measured against this.

use std::collections::BTreeMap;
use std::time::Instant;

use futures_util::future::{BoxFuture, FutureExt, Shared, join_all};
use matrix_sync_core::desired::{DesiredJoinRule, DesiredScope};
use matrix_sync_core::rooms::RoomKey;
use matrix_sync_matrix::{AppserviceClient, ClientSettings, HomeserverError, HomeserverMetrics, NewRoom};
use ruma::OwnedRoomId;
use secrecy::SecretString;
use serde_json::json;

use crate::dataset::Platform;
use crate::env::BenchEnv;

pub struct BaselineRun {
    pub wall_s: f64,
    pub requests: u64,
}

pub async fn run(env: &BenchEnv, platform: &Platform) -> Result<BaselineRun, String> {
    let metrics = HomeserverMetrics::default();
    let client = AppserviceClient::new(
        env.homeserver_url.clone(),
        SecretString::from(env.as_token.clone()),
        env.ids.clone(),
        ClientSettings { max_in_flight: env.concurrency, ..ClientSettings::default() },
        metrics.clone(),
    )
    .map_err(|e| e.to_string())?;
    // The rooms' creator is the appservice's sender, which needs no
    // registration.
    let before = metrics.total();
    let started = Instant::now();
    let users: Vec<_> = platform.users().into_iter().map(|u| env.ids.user(u)).collect();
    let registered = join_all(users.iter().map(|u| client.register(u.localpart()))).await;
    registered.into_iter().collect::<Result<Vec<_>, _>>().map_err(|e| format!("baseline register: {e}"))?;
    let desired = platform.desired(&env.ids);
    let done = join_all(desired.iter().map(|d| community(&client, d))).await;
    done.into_iter().collect::<Result<Vec<_>, _>>().map_err(|e| format!("baseline: {e}"))?;
    Ok(BaselineRun { wall_s: started.elapsed().as_secs_f64(), requests: metrics.total() - before })
}

type Done = Shared<BoxFuture<'static, Result<(), String>>>;

/// One community's rooms: each created once its parent exists; its link and
/// joins sent at once, in the background, while the next room is created.
async fn community(client: &AppserviceClient, desired: &DesiredScope) -> Result<(), HomeserverError> {
    let server = client.ids().server_name().to_string();
    let mut created: BTreeMap<RoomKey, OwnedRoomId> = BTreeMap::new();
    let mut joined: BTreeMap<RoomKey, Done> = BTreeMap::new();
    let mut background = Vec::new();
    for room in desired.rooms.iter().filter(|r| !r.archived) {
        let restricted = match &room.join_rule {
            DesiredJoinRule::Invite => None,
            DesiredJoinRule::Restricted { space } => Some(*space),
        };
        let restricted_to = restricted.and_then(|s| created.get(&s).cloned());
        let parent = room.parent.and_then(|p| created.get(&p).cloned());
        let invite: Vec<_> = if restricted.is_none() { room.members.iter().cloned().collect() } else { Vec::new() };
        let alias = room.key.alias_localpart();
        let marker = format!("{}/{}", room.key.scope, room.key.role.as_str());
        let room_id = client
            .create_room(&NewRoom {
                alias_localpart: &alias,
                name: room.name.as_deref(),
                is_space: room.is_space,
                restricted_to: restricted_to.as_deref(),
                encrypted: room.encrypted,
                parent: parent.as_deref(),
                power: &room.power,
                invite: &invite,
                marker: &marker,
                is_direct: false,
            })
            .await?
            .room_id;
        created.insert(room.key, room_id.clone());
        if let Some(parent) = parent {
            let (c, child, server) = (client.clone(), room_id.clone(), server.clone());
            background.push(start(async move {
                let via = json!({ "via": [server], "suggested": true });
                c.put_state(&parent, "m.space.child", child.as_str(), via).await.map_err(|e| e.to_string())
            }));
        }
        // A room restricted to a Space admits its members once they are in it.
        let after = restricted.and_then(|s| joined.get(&s).cloned());
        let (c, members) = (client.clone(), room.members.iter().cloned().collect::<Vec<_>>());
        let joins = start(async move {
            if let Some(after) = after {
                after.await?;
            }
            let results = join_all(members.iter().map(|u| c.join_as(&room_id, u))).await;
            results.into_iter().collect::<Result<Vec<_>, _>>().map(drop).map_err(|e| e.to_string())
        });
        joined.insert(room.key, joins.clone());
        background.push(joins);
    }
    for task in join_all(background).await {
        task.map_err(|detail| HomeserverError::Protocol { endpoint: "baseline", detail })?;
    }
    Ok(())
}

/// Starts `work` now (not when it is first awaited); it can be awaited by
/// several.
fn start(work: impl Future<Output = Result<(), String>> + Send + 'static) -> Done {
    let done = work.boxed().shared();
    tokio::spawn(done.clone());
    done
}
