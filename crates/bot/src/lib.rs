//! The bot's end-to-end encrypted messaging. The bot is a user in the
//! appservice's namespace (not its sender, which may not sync) with one
//! device of its own: minted once through the appservice login, then kept
//! with its crypto store in the data directory, so restarts reuse it. A
//! matrix-sdk client syncs in the background to keep its keys uploaded and
//! the members' device lists current; sending shares the room key with every
//! device of the room's joined and invited members.

#![recursion_limit = "256"]

mod backup_key;

pub use backup_key::{BackupKeyError, BackupKeyPair, new_backup_key};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use matrix_sdk::authentication::matrix::MatrixSession;
use matrix_sdk::config::{RequestConfig, StoreConfig, SyncSettings};
use matrix_sdk::cross_process_lock::CrossProcessLockConfig;
use matrix_sdk::deserialized_responses::TimelineEventKind;
use matrix_sdk::room::MessagesOptions;
use matrix_sdk::ruma::api::client::filter::{Filter, FilterDefinition, RoomEventFilter};
use matrix_sdk::ruma::api::client::sync::sync_events;
use matrix_sdk::ruma::events::{AnySyncMessageLikeEvent, AnySyncTimelineEvent, SyncMessageLikeEvent};
use matrix_sdk::ruma::{OwnedDeviceId, OwnedTransactionId, OwnedUserId, RoomId, UInt};
use matrix_sdk::{Client, LoopCtrl, RoomState, SessionMeta, SessionTokens};
use matrix_sdk_crypto::store::CryptoStore;
use matrix_sdk_sqlite::{
    SqliteCryptoStore, SqliteEventCacheStore, SqliteMediaStore, SqliteStateStore, SqliteStoreConfig,
};
use matrix_sync_matrix::{AppserviceClient, HomeserverError};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use url::Url;

#[derive(Debug, thiserror::Error)]
pub enum BotError {
    #[error("the bot cannot log in: {0}")]
    Login(#[from] HomeserverError),
    #[error("the bot's Matrix client failed: {0}")]
    Client(Box<matrix_sdk::Error>),
    #[error("the bot's Matrix client cannot be built: {0}")]
    Build(Box<matrix_sdk::ClientBuildError>),
    #[error("the bot's session file {path}: {problem}")]
    Session { path: String, problem: String },
    #[error("the bot's stores cannot be opened (with MATRIX_SYNC_BOT_STORE_PASSPHRASE, if it changed): {0}")]
    Store(#[from] matrix_sdk_sqlite::OpenStoreError),
    #[error("the bot's crypto store failed: {0}")]
    CryptoStore(String),
    #[error("the bot has no key for its session {session_id} in {room_id}")]
    MissingRoomKey { room_id: String, session_id: String },
    #[error(transparent)]
    BackupKey(#[from] BackupKeyError),
}

impl From<matrix_sdk::Error> for BotError {
    fn from(e: matrix_sdk::Error) -> Self {
        BotError::Client(Box::new(e))
    }
}

impl From<matrix_sdk::ClientBuildError> for BotError {
    fn from(e: matrix_sdk::ClientBuildError) -> Self {
        BotError::Build(Box::new(e))
    }
}

#[derive(Debug)]
pub struct BotSettings {
    pub homeserver_url: Url,
    /// Where the session and the crypto store live (`$MATRIX_SYNC_DATA_DIR/bot`),
    /// a folder only the service's user may enter.
    pub dir: PathBuf,
    /// Encrypts the stores (the bot's keys, the rooms' state) at rest: a
    /// key derived from `MATRIX_SYNC_BOT_STORE_PASSPHRASE` (a high-entropy
    /// secret, so a fast derivation; a passphrase handed to the stores
    /// would be stretched by each of the four on the async runtime).
    pub store_key: secrecy::SecretBox<[u8; 32]>,
    pub request_timeout: Duration,
}

/// The stores, encrypted with the passphrase.
const STORE_DIR: &str = "store-encrypted";
/// Where stores were kept before they were encrypted.
const LEGACY_STORE_DIR: &str = "store";

/// What is kept of the bot's device between runs.
#[derive(Debug, Serialize, Deserialize)]
struct SavedSession {
    user_id: String,
    device_id: String,
    access_token: String,
}

/// How far back (pages of 100 events) the bot looks for an earlier notice.
const MAX_PAGES: usize = 10;

/// What the bot finds of an earlier notice of its own in a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EarlierNotice {
    /// There: this message.
    Found(SentNotice),
    /// Not among the messages it can read, but a message of the bot's since
    /// then could not be decrypted (its key has not arrived): it may be
    /// that one.
    Unreadable,
    Absent,
}

/// Where a notice carries its reference, in its (encrypted) content.
const NOTICE_REFERENCE: &str = "org.matrix_sync.reference";

/// A notice for the bot to send.
#[derive(Debug, Clone, Copy)]
pub struct Notice<'a> {
    pub plain: &'a str,
    pub html: &'a str,
    /// What identifies the notice among the bot's (e.g. the request's id).
    pub reference: &'a str,
    /// The same for a retry of the same notice.
    pub txn_id: &'a str,
}

/// A message the bot sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentNotice {
    pub event_id: String,
    /// The megolm session it was encrypted with (`None` in an unencrypted
    /// room): its key is what a recipient's backup needs.
    pub session_id: Option<String>,
}

pub struct Bot {
    client: Client,
    /// The client's own crypto store, kept to read the bot's room keys.
    crypto_store: Arc<SqliteCryptoStore>,
    stop: Arc<AtomicBool>,
    sync_task: std::sync::Mutex<Option<JoinHandle<()>>>,
}

const DEVICE_NAME: &str = "matrix-sync bot";

impl Bot {
    /// Restores the bot's device (or creates it the first time), uploads its
    /// keys with a first sync, and starts syncing in the background.
    pub async fn start(settings: &BotSettings, appservice: &AppserviceClient) -> Result<Self, BotError> {
        create_private_dir(&settings.dir)?;
        let session_path = settings.dir.join("session.json");
        let store_dir = settings.dir.join(STORE_DIR);
        retire_unencrypted_store(&settings.dir, &session_path, appservice).await?;
        let session = match read_session(&session_path)? {
            Some(saved) => refresh_if_revoked(saved, appservice).await?,
            None => {
                // A store without its session belongs to a device we no
                // longer have a token for: start both anew.
                if store_dir.exists() {
                    std::fs::remove_dir_all(&store_dir).map_err(|e| session_error(&store_dir, e))?;
                }
                login(appservice, None).await?
            }
        };
        write_session(&session_path, &session)?;

        // The stores are opened here rather than by the builder so that the
        // crypto store stays at hand (the client does not expose it).
        let config = SqliteStoreConfig::new(&store_dir).key(Some(settings.store_key.expose_secret()));
        let (state_store, event_cache_store, media_store, crypto_store) = tokio::try_join!(
            SqliteStateStore::open_with_config(&config),
            SqliteEventCacheStore::open_with_config(&config),
            SqliteMediaStore::open_with_config(&config),
            SqliteCryptoStore::open_with_config(&config),
        )?;
        let crypto_store = Arc::new(crypto_store);
        let stores = StoreConfig::new(CrossProcessLockConfig::MultiProcess { holder_name: "main".to_owned() })
            .state_store(state_store)
            .event_cache_store(event_cache_store)
            .media_store(media_store)
            .crypto_store(crypto_store.clone());
        let client = Client::builder()
            .homeserver_url(settings.homeserver_url.as_str())
            .store_config(stores)
            .request_config(RequestConfig::new().timeout(settings.request_timeout).retry_limit(3))
            .build()
            .await?;
        let user_id = matrix_sdk::ruma::OwnedUserId::try_from(session.user_id.as_str())
            .map_err(|e| BotError::Session { path: session_path.display().to_string(), problem: e.to_string() })?;
        client
            .restore_session(MatrixSession {
                meta: SessionMeta { user_id, device_id: OwnedDeviceId::from(session.device_id.as_str()) },
                tokens: SessionTokens { access_token: session.access_token.clone(), refresh_token: None },
            })
            .await?;
        // The first sync uploads the device's keys.
        client.sync_once(sync_settings().timeout(Duration::ZERO)).await?;
        tracing::info!(device_id = session.device_id, "the bot's encrypted messaging is ready");

        let stop = Arc::new(AtomicBool::new(false));
        let sync_task = tokio::spawn(sync_forever(client.clone(), stop.clone()));
        Ok(Self { client, crypto_store, stop, sync_task: std::sync::Mutex::new(Some(sync_task)) })
    }

    pub fn device_id(&self) -> Option<String> {
        self.client.device_id().map(ToString::to_string)
    }

    /// Sends an `m.notice` into a room the bot is in. In an encrypted room
    /// the message is encrypted for every device of its members. The same
    /// `txn_id` makes a retry the same message, not a second one, and the
    /// notice's `reference` (inside the encrypted content, where members'
    /// clients ignore it) is what [`Bot::find_own_notice`] finds it by.
    pub async fn send_notice(&self, room_id: &RoomId, notice: &Notice<'_>) -> Result<SentNotice, BotError> {
        let room = self.joined_room(room_id).await?;
        // Between messages the bot shares no room with anyone, so the
        // homeserver tells it nothing of the bot's devices in other
        // processes: ask, so they get the message's key too (one of them
        // may have to take the message over and find it).
        if let Some(own) = self.client.user_id() {
            self.client.encryption().request_user_identity(own).await?;
        }
        let content = serde_json::json!({
            "msgtype": "m.notice",
            "body": notice.plain,
            "format": "org.matrix.custom.html",
            "formatted_body": notice.html,
            NOTICE_REFERENCE: notice.reference,
        });
        let sent = room
            .send_raw("m.room.message", content)
            .with_transaction_id(&OwnedTransactionId::from(notice.txn_id))
            .await?;
        Ok(SentNotice {
            event_id: sent.response.event_id.to_string(),
            session_id: sent.encryption_info.as_ref().and_then(|i| i.session_id()).map(str::to_owned),
        })
    }

    /// The room key of one of the bot's megolm sessions, encrypted to a key
    /// backup's public key: uploaded into a member's backup, it lets every
    /// device they make later read the bot's messages of that session (the
    /// bot's session holds only the bot's messages, exported from its first
    /// index).
    pub async fn room_key_for_backup(
        &self,
        room_id: &RoomId,
        session_id: &str,
        backup_public_key: &str,
    ) -> Result<serde_json::Value, BotError> {
        let session = self
            .crypto_store
            .get_inbound_group_session(room_id, session_id)
            .await
            .map_err(|e| BotError::CryptoStore(e.to_string()))?
            .ok_or_else(|| BotError::MissingRoomKey {
                room_id: room_id.to_string(),
                session_id: session_id.to_owned(),
            })?;
        Ok(backup_key::encrypt_for_backup(session, backup_public_key).await?)
    }

    /// Looks through the room's messages since `since_ms` (milliseconds
    /// since the epoch) for a notice the bot sent, from any of its devices,
    /// with this `reference` (or, sent before notices carried one, a body
    /// containing it): for a process taking over a message another may have
    /// sent before it died.
    pub async fn find_own_notice(
        &self,
        room_id: &RoomId,
        reference: &str,
        since_ms: u64,
    ) -> Result<EarlierNotice, BotError> {
        let room = self.joined_room(room_id).await?;
        let own = self.client.user_id();
        let mut unreadable = false;
        let mut from: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut options = MessagesOptions::backward();
            options.limit = UInt::from(100u32);
            options.from = from.take();
            let page = room.messages(options).await?;
            for event in &page.chunk {
                let raw = event.raw();
                if raw.get_field::<u64>("origin_server_ts").ok().flatten().is_some_and(|ts| ts < since_ms) {
                    return Ok(if unreadable { EarlierNotice::Unreadable } else { EarlierNotice::Absent });
                }
                if raw.get_field::<OwnedUserId>("sender").ok().flatten().as_deref() != own {
                    continue;
                }
                if matches!(event.kind, TimelineEventKind::UnableToDecrypt { .. }) {
                    unreadable = true;
                    continue;
                }
                if let Ok(AnySyncTimelineEvent::MessageLike(AnySyncMessageLikeEvent::RoomMessage(
                    SyncMessageLikeEvent::Original(message),
                ))) = raw.deserialize()
                    && (raw.get_field::<serde_json::Value>("content").ok().flatten().is_some_and(|content| {
                        content.get(NOTICE_REFERENCE).and_then(serde_json::Value::as_str) == Some(reference)
                    }) || message.content.body().contains(reference))
                {
                    return Ok(EarlierNotice::Found(SentNotice {
                        event_id: message.event_id.to_string(),
                        session_id: event.encryption_info().and_then(|i| i.session_id()).map(str::to_owned),
                    }));
                }
            }
            match page.end {
                Some(end) if !page.chunk.is_empty() => from = Some(end),
                _ => break,
            }
        }
        Ok(if unreadable { EarlierNotice::Unreadable } else { EarlierNotice::Absent })
    }

    /// Leaves a room once the bot has said what it had to: members' clients
    /// share their room keys only with devices in the room, so the bot's
    /// device holds none of theirs. Invited again when it has more to say.
    pub async fn leave(&self, room_id: &RoomId) -> Result<(), BotError> {
        match self.client.get_room(room_id) {
            Some(room) if room.state() != RoomState::Left => Ok(room.leave().await?),
            _ => Ok(()),
        }
    }

    /// How many room keys of a room the bot's device holds that another
    /// device made: members' keys, which it should never be handed.
    pub async fn foreign_room_keys(&self, room_id: &RoomId) -> Result<usize, BotError> {
        let own = self.client.encryption().curve25519_key().await;
        let sessions =
            self.crypto_store.get_inbound_group_sessions().await.map_err(|e| BotError::CryptoStore(e.to_string()))?;
        Ok(sessions.iter().filter(|s| s.room_id() == room_id && Some(s.sender_key()) != own).count())
    }

    /// A room the bot is in, as its client knows it.
    async fn joined_room(&self, room_id: &RoomId) -> Result<matrix_sdk::Room, BotError> {
        Ok(match self.client.get_room(room_id) {
            Some(room) if room.state() == RoomState::Joined => room,
            // Not synced yet: joining a room the bot is in already is a no-op
            // on the server and gives the client the room at once.
            _ => self.client.join_room_by_id(room_id).await?,
        })
    }

    /// Stops syncing and closes the stores.
    pub async fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        let task = self.sync_task.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
        if let Err(e) = self.client.pause().await {
            tracing::warn!(error = %e, "cannot close the bot's stores cleanly");
        }
    }
}

/// The state events encrypting a message for a room's members takes.
const STATE_FOR_ENCRYPTION: [&str; 4] =
    ["m.room.create", "m.room.encryption", "m.room.history_visibility", "m.room.member"];

/// What the bot's sync asks for. The bot is in every room the service made
/// but needs little of them: to-device messages and device lists (which
/// always come), and per room what encrypting for it takes, with members
/// loaded lazily (the client fetches a room's members when it first sends
/// there). Unfiltered, every room's whole state (power levels listing
/// hundreds of users) sat in memory: 43 → 90 MB for 60 rooms of 3,000
/// members.
fn sync_settings() -> SyncSettings {
    let only = || Some(STATE_FOR_ENCRYPTION.iter().map(|t| (*t).to_owned()).collect());
    let mut filter = FilterDefinition::with_lazy_loading();
    filter.presence = Filter::ignore_all();
    filter.room.ephemeral = RoomEventFilter::ignore_all();
    filter.room.state.types = only();
    filter.room.timeline.types = only();
    // The latest event only: the bot reads no history.
    filter.room.timeline.limit = Some(1u32.into());
    SyncSettings::default().filter(sync_events::v3::Filter::FilterDefinition(filter))
}

async fn sync_forever(client: Client, stop: Arc<AtomicBool>) {
    let settings = sync_settings().timeout(Duration::from_secs(10));
    let result = client
        .sync_with_result_callback(settings, |result| {
            let stop = stop.clone();
            async move {
                if let Err(e) = result {
                    tracing::warn!(error = %e, "the bot's sync failed; retrying");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
                Ok(if stop.load(Ordering::Relaxed) { LoopCtrl::Break } else { LoopCtrl::Continue })
            }
        })
        .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "the bot's sync loop ended");
    }
}

async fn login(appservice: &AppserviceClient, device_id: Option<&str>) -> Result<SavedSession, BotError> {
    let bot = appservice.ids().bot().to_owned();
    let session = appservice.login(&bot, device_id, DEVICE_NAME).await?;
    Ok(SavedSession {
        user_id: session.user_id.to_string(),
        device_id: session.device_id,
        access_token: session.access_token.expose_secret().to_owned(),
    })
}

/// A saved token that the homeserver no longer accepts is replaced by a new
/// one for the same device, which keeps its keys.
async fn refresh_if_revoked(saved: SavedSession, appservice: &AppserviceClient) -> Result<SavedSession, BotError> {
    let token = secrecy::SecretString::from(saved.access_token.clone());
    match appservice.whoami_with_token(&token).await {
        Ok(_) => Ok(saved),
        Err(e) if e.errcode() == Some("M_UNKNOWN_TOKEN") => {
            tracing::info!("the bot's token was revoked; logging in again on the same device");
            login(appservice, Some(&saved.device_id)).await
        }
        Err(e) => Err(e.into()),
    }
}

/// Creates the bot's folder, or narrows an existing one, to mode 0700: it
/// holds the bot's token and keys.
fn create_private_dir(dir: &Path) -> Result<(), BotError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|e| session_error(dir, e))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| session_error(dir, e))
}

/// A store from before stores were encrypted holds the bot's keys in the
/// clear, and cannot be opened with a passphrase: it is deleted, with its
/// device, and the bot starts on a new device (members' clients encrypt
/// the next messages for that one).
async fn retire_unencrypted_store(
    dir: &Path,
    session_path: &Path,
    appservice: &AppserviceClient,
) -> Result<(), BotError> {
    let legacy = dir.join(LEGACY_STORE_DIR);
    if !legacy.exists() {
        return Ok(());
    }
    if let Some(saved) = read_session(session_path)? {
        // Best effort: a device the homeserver no longer has is fine.
        if let Err(e) = appservice.delete_device(appservice.ids().bot(), &saved.device_id).await {
            tracing::warn!(error = %e, "cannot delete the bot's device of its unencrypted store");
        }
        std::fs::remove_file(session_path).map_err(|e| session_error(session_path, e))?;
    }
    std::fs::remove_dir_all(&legacy).map_err(|e| session_error(&legacy, e))?;
    tracing::info!("the bot's unencrypted store was deleted; it starts on a new device with an encrypted one");
    Ok(())
}

fn session_error(path: &Path, e: impl std::fmt::Display) -> BotError {
    BotError::Session { path: path.display().to_string(), problem: e.to_string() }
}

fn read_session(path: &Path) -> Result<Option<SavedSession>, BotError> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| session_error(path, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(session_error(path, e)),
    }
}

/// The session holds the bot's token: only its owner may read it.
fn write_session(path: &Path, session: &SavedSession) -> Result<(), BotError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let text = serde_json::to_string(session).map_err(|e| session_error(path, e))?;
    let tmp = path.with_extension("json.tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| session_error(&tmp, e))?;
    file.write_all(text.as_bytes()).and_then(|()| file.sync_all()).map_err(|e| session_error(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| session_error(path, e))
}
