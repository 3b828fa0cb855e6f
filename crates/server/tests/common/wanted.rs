//! What the platform wants of one community, and how the tests write it
//! and check the homeserver shows exactly that (the fault and scale-out
//! tests share it).

use std::collections::BTreeMap;
use std::time::Duration;

use matrix_sync_core::power::{CommunityRole, TrustLevels, community_level};
use matrix_sync_testkit::{LocalHomeserver, UserClient};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Api, eventually, rooms_marked_for};

pub async fn put_member(api: &Api, community: Uuid, user: Uuid, trust: i64) -> Option<(StatusCode, Value)> {
    let path = format!("/v1/communities/{community}/members/{user}");
    api.try_call(Method::PUT, &path, Some(json!({ "trust_score": trust }))).await
}

/// Waits until the community is `synced`.
pub async fn synced(api: &Api, community: Uuid, within: Duration) {
    let path = format!("/v1/communities/{community}");
    eventually(&format!("community {community} synced"), within, || async {
        api.call(Method::GET, &path, None).await.1["status"] == "synced"
    })
    .await;
}

/// What the platform wants of one community: its members' trust.
pub struct Wanted {
    pub community: Uuid,
    pub trust: BTreeMap<Uuid, i64>,
}

impl Wanted {
    pub fn new(members: usize) -> Self {
        let trust = (0..members).map(|i| (Uuid::new_v4(), (i as i64 * 17) % 60)).collect();
        Self { community: Uuid::new_v4(), trust }
    }

    /// Creates the community and its members and waits until they are there.
    pub async fn create(&self, api: &Api) {
        self.create_within(api, Duration::from_secs(60)).await;
    }

    pub async fn create_within(&self, api: &Api, within: Duration) {
        let path = format!("/v1/communities/{}", self.community);
        let (status, body) = api.call(Method::PUT, &path, Some(json!({ "name": "Faults" }))).await;
        assert!(status.is_success(), "{body}");
        for (user, trust) in &self.trust {
            let (status, body) = put_member(api, self.community, *user, *trust).await.unwrap();
            assert!(status.is_success(), "{body}");
        }
        synced(api, self.community, within).await;
    }

    /// The `i`th write of a burst: a trust change, or every fourth a newcomer.
    pub fn next_write(&mut self, i: usize) -> (Uuid, i64) {
        let trust = (i as i64 * 23 + 5) % 60;
        let user =
            if i.is_multiple_of(4) { Uuid::new_v4() } else { *self.trust.keys().nth(i % self.trust.len()).unwrap() };
        (user, trust)
    }

    /// What the homeserver shows is exactly what is wanted: one Space and
    /// one General room, every member joined with the level their trust earns.
    pub async fn assert_on_homeserver(&self, hs: &LocalHomeserver) {
        let manager = UserClient::manager(hs);
        let rooms = rooms_marked_for(&manager, self.community).await;
        let markers: Vec<&str> = rooms.iter().map(|(m, _)| m.as_str()).collect();
        let c = self.community;
        assert_eq!(markers, [format!("community:{c}/general"), format!("community:{c}/space")], "no duplicates");
        let general = &rooms[0].1;
        let levels = manager.state(general, "m.room.power_levels", "").await.unwrap();
        let joined = manager.get(&format!("/_matrix/client/v3/rooms/{}/joined_members", enc(general))).await.unwrap();
        for (user, trust) in &self.trust {
            let mxid = hs.matrix_id(*user);
            assert!(joined["joined"].get(&mxid).is_some(), "{mxid} is not in General");
            let have = levels["users"][&mxid].as_i64().unwrap_or(0);
            let want = community_level(&TrustLevels::default(), u64::try_from(*trust).unwrap(), CommunityRole::Member);
            assert_eq!(have, want, "{mxid}'s level (trust {trust})");
        }
    }
}

pub fn enc(segment: &str) -> String {
    matrix_sync_testkit::encode_segment(segment)
}
