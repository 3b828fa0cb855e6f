//! What the engine tests share: an engine on a SQLite store and the
//! in-memory homeserver, and running its workers until a task is done.
#![allow(dead_code)] // each test file uses its own part of it

use std::sync::Arc;
use std::time::Duration;

use matrix_sync_core::UserRef;
use matrix_sync_core::power::CommunityRole;
use matrix_sync_core::rooms::RoomKey;
use matrix_sync_core::{Backoff, MatrixIds, Task};
use matrix_sync_engine::commands::{self, CommunityWrite};
use matrix_sync_engine::fake_homeserver::FakeHomeserver;
use matrix_sync_engine::{Engine, EngineSettings};
use matrix_sync_store::{AuditFilter, Debounce, Store};
use ruma::OwnedUserId;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub struct World {
    _dir: tempfile::TempDir,
    pub store: Arc<dyn Store>,
    pub homeserver: Arc<FakeHomeserver>,
    pub engine: Arc<Engine>,
}

pub fn ids() -> MatrixIds {
    MatrixIds::new("example.org", "@matrix-sync:example.org").unwrap()
}

pub fn settings() -> EngineSettings {
    EngineSettings {
        workers: 1,
        anti_entropy: Duration::from_secs(3600),
        backoff: Backoff { base: Duration::from_millis(20), cap: Duration::from_millis(50), max_attempts: 20 },
        retention: Duration::from_secs(3600),
        admin_token: Some("admin-token".into()),
        app_url: None,
        backup_secret: None,
        webhook: None,
    }
}

impl World {
    pub async fn new() -> Self {
        Self::with(settings()).await
    }

    /// An engine with these settings.
    pub async fn with(settings: EngineSettings) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store =
            matrix_sync_store::connect(&format!("sqlite://{}/store.db", dir.path().display()), "").await.unwrap();
        let homeserver = Arc::new(FakeHomeserver::new(ids()));
        let engine = Arc::new(Engine::new(store.clone(), homeserver.clone(), settings));
        Self { _dir: dir, store, homeserver, engine }
    }

    /// Another process on the same database and homeserver (or this one
    /// after a restart): nothing cached.
    pub fn restarted(&self) -> Arc<Engine> {
        Arc::new(Engine::new(self.store.clone(), self.homeserver.clone(), settings()))
    }

    pub async fn community(&self, members: &[(Uuid, i64, CommunityRole)]) -> Uuid {
        let id = Uuid::new_v4();
        let write = CommunityWrite { name: "Gardeners".into(), ..CommunityWrite::default() };
        commands::put_community(&self.engine, id, &write).await.unwrap();
        for (user, trust, role) in members {
            self.put_member(id, *user, *trust, *role).await;
        }
        id
    }

    pub async fn put_member(&self, community: Uuid, user: Uuid, trust: i64, role: CommunityRole) {
        let now_please = Debounce { quiet_ms: 0, max_wait_ms: 0 };
        let user = UserRef::Platform(user);
        commands::put_member(&self.engine, community, &user, trust, Some(role), now_please).await.unwrap();
    }

    /// Runs the workers until the task's job is done (or `limit` passes).
    pub async fn run_until_done(&self, engine: &Arc<Engine>, task: impl Into<Task>, limit: Duration) -> bool {
        let task = task.into();
        let cancel = CancellationToken::new();
        let mut tasks = tokio::task::JoinSet::new();
        engine.spawn_background(&cancel, &mut tasks);
        let deadline = tokio::time::Instant::now() + limit;
        let done = loop {
            if self.store.job_for(task).await.unwrap().is_none() {
                break true;
            }
            if tokio::time::Instant::now() > deadline {
                break false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        cancel.cancel();
        while tasks.join_next().await.is_some() {}
        done
    }

    pub fn level(&self, key: &RoomKey, user: &OwnedUserId) -> Option<i64> {
        self.homeserver.room(key)?.power?.users.get(user).copied()
    }

    pub async fn audit_actions(&self, community: Uuid) -> Vec<String> {
        let filter = AuditFilter { community_id: Some(community), since: None, limit: 1000 };
        self.store.audit(filter).await.unwrap().into_iter().map(|e| e.entry.action).collect()
    }
}
