//! The service as a library: built from a [`Config`], bound to its listen
//! address (port 0 in tests), run until a shutdown signal, then stopped in
//! order: stop accepting, let requests and background tasks finish, close
//! the database.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use matrix_sync_matrix::{AppserviceClient, ClientSettings, HomeserverMetrics, Registered};
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use matrix_sync_engine::{Engine, EngineSettings};

use crate::config::{Config, KeyBackupMode};
use crate::metrics::Metrics;
use crate::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open the database: {0}")]
    Store(#[from] matrix_sync_store::StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot build the homeserver client: {0}")]
    HttpClient(#[from] reqwest::Error),
    #[error("the HTTP server failed: {0}")]
    Serve(#[source] std::io::Error),
}

pub struct App {
    listener: TcpListener,
    state: AppState,
}

impl App {
    pub async fn build(config: Config) -> Result<Self, StartError> {
        let store = matrix_sync_store::connect(config.database.url.expose_secret(), &config.database.schema).await?;
        let homeserver_metrics = HomeserverMetrics::default();
        let homeserver = AppserviceClient::new(
            config.matrix.homeserver_url.clone(),
            config.matrix.as_token.clone(),
            config.matrix.ids.clone(),
            ClientSettings {
                max_in_flight: config.matrix.concurrency,
                request_timeout: config.matrix.request_timeout,
                ..ClientSettings::default()
            },
            homeserver_metrics.clone(),
        )?;
        let addr = config.api.listen;
        let listener = TcpListener::bind(addr).await.map_err(|source| StartError::Bind { addr, source })?;
        let engine = Arc::new(Engine::new(store, Arc::new(homeserver.clone()), engine_settings(&config)));
        let verifier = match &config.api.oidc {
            Some(oidc) => Some(Arc::new(crate::oidc::TokenVerifier::new(oidc.clone())?)),
            None => None,
        };
        let state = AppState {
            metrics: Arc::new(Metrics::new(homeserver_metrics, &engine.metrics)),
            config: Arc::new(config),
            engine,
            homeserver,
            readiness: Arc::default(),
            verifier,
        };
        Ok(Self { listener, state })
    }

    /// The address actually bound (the port chosen when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or(self.state.config.api.listen)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then stops in order.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), StartError> {
        let Self { listener, state } = self;
        let cancel = CancellationToken::new();
        let mut background = JoinSet::new();
        background.spawn(start_bot(state.clone(), cancel.clone()));
        let bound = listener.local_addr().map_err(StartError::Serve)?;
        if registered_here(&state.config.matrix.appservice_url, bound) {
            background.spawn(announce_to_homeserver(state.homeserver.clone(), cancel.clone()));
        }
        state.engine.spawn_background(&cancel, &mut background);

        tracing::info!(addr = %listener.local_addr().map_err(StartError::Serve)?, backend = state.engine.store.backend(), "matrix-sync is serving");
        let router = crate::api::router(state.clone());
        let served = crate::http_server::serve(listener, router, state.config.api.http, shutdown).await;

        tracing::info!("shutting down: stopping background work");
        cancel.cancel();
        while background.join_next().await.is_some() {}
        if let Some(bot) = state.engine.bot.get() {
            bot.stop().await;
        }
        state.engine.store.close().await;
        tracing::info!("stopped");
        served.map_err(StartError::Serve)
    }
}

/// What the engine takes from the configuration.
fn engine_settings(config: &Config) -> EngineSettings {
    EngineSettings {
        workers: config.reconcile.workers,
        anti_entropy: config.reconcile.anti_entropy,
        backoff: config.reconcile.backoff,
        retention: config.lifecycle.retention,
        admin_token: config.matrix.admin_token.clone(),
        app_url: config.api.app_url.clone(),
        backup_secret: match &config.chat.key_backup {
            KeyBackupMode::Platform { secret } => Some(secret.clone()),
            KeyBackupMode::Off => None,
        },
        webhook: config.webhook.clone(),
    }
}

/// Whether the registration's URL names the port this process listens on.
/// Only then is a ping answered by this process (another process may hold
/// the registration, as in tests, or a proxy may sit in between).
fn registered_here(appservice_url: &str, bound: SocketAddr) -> bool {
    url::Url::parse(appservice_url).ok().and_then(|u| u.port_or_known_default()) == Some(bound.port())
}

/// Once listening, has the homeserver ping us, so that pushes it held back
/// while we were away arrive now rather than after its backoff. Not being
/// reachable at the registration's URL (another process there, a proxy not
/// ready yet) is logged and left to the homeserver's own retries.
async fn announce_to_homeserver(homeserver: AppserviceClient, cancel: CancellationToken) {
    for attempt in 0..5u32 {
        match homeserver.ping_appservice().await {
            Ok(()) => {
                tracing::info!("the homeserver reaches the appservice API");
                return;
            }
            Err(e) => tracing::debug!(error = %e, attempt, "the homeserver's ping did not reach us yet"),
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(2u64.pow(attempt))) => {}
        }
    }
    tracing::warn!("the homeserver cannot reach the appservice API at the registration's URL; pushes will be late");
}

/// The bot stores' key: HKDF-SHA256 of the passphrase, which configuration
/// requires to be long (it is a generated secret, not a person's password).
fn bot_store_key(passphrase: &secrecy::SecretString) -> secrecy::SecretBox<[u8; 32]> {
    let hkdf = hkdf::Hkdf::<sha2::Sha256>::new(None, passphrase.expose_secret().as_bytes());
    let mut key = Box::new([0u8; 32]);
    // 32 bytes is far below HKDF-SHA256's limit, so this cannot fail.
    if hkdf.expand(b"matrix-sync bot store v1", key.as_mut()).is_err() {
        unreachable!("HKDF-SHA256 gives 32 bytes");
    }
    secrecy::SecretBox::new(key)
}

/// Registers the bot (a namespace user that can sync, not the appservice
/// sender) and sets up its encrypted messaging. A homeserver that is down
/// delays this, it does not stop the service: it retries with backoff until
/// it succeeds or shutdown; messages wait for it meanwhile.
async fn start_bot(state: AppState, cancel: CancellationToken) {
    let homeserver = &state.homeserver;
    let bot = homeserver.ids().bot().to_owned();
    let settings = matrix_sync_bot::BotSettings {
        homeserver_url: state.config.matrix.homeserver_url.clone(),
        dir: state.config.lifecycle.data_dir.join("bot"),
        store_key: bot_store_key(&state.config.lifecycle.bot_store_passphrase),
        request_timeout: Duration::from_secs(30),
    };
    let mut delay = Duration::from_millis(500);
    loop {
        let attempt = async {
            match homeserver.register(bot.localpart()).await? {
                Registered::Created => tracing::info!(bot = %bot, "bot registered"),
                Registered::AlreadyExisted => tracing::debug!(bot = %bot, "bot already registered"),
            }
            // Members see the managing identity in every room (a DM reads
            // "Bob and matrix-sync"): it takes the bot's name.
            let manager = homeserver.ids().manager();
            if homeserver.display_name(manager).await?.as_deref() != Some(bot.localpart()) {
                homeserver.set_display_name(manager, bot.localpart()).await?;
            }
            matrix_sync_bot::Bot::start(&settings, homeserver).await
        };
        let result = tokio::select! {
            () = cancel.cancelled() => return,
            result = attempt => result,
        };
        match result {
            Ok(started) => {
                if state.engine.bot.set(started).is_err() {
                    tracing::warn!("the bot was started twice");
                }
                state.engine.wakeup.notify_waiters();
                return;
            }
            Err(e) => {
                let retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
                tracing::warn!(bot = %bot, error = %e, retry_in_ms, "the bot is not ready yet");
            }
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(30));
    }
}
