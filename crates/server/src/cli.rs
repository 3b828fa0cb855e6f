//! The command line: `serve`, `registration`, `migrate`, `import`, `openapi`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use secrecy::ExposeSecret;

use crate::App;
use crate::config::{Config, ConfigError, DatabaseConfig, MatrixConfig, Source};

#[derive(Debug, Parser)]
#[command(name = "matrix-sync", version, about = "Matrix chat for a community platform")]
pub struct Cli {
    /// A TOML file with the same keys as the environment (the environment wins).
    #[arg(long, global = true, env = "MATRIX_SYNC_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log as JSON lines instead of text.
    #[arg(long, global = true, env = "MATRIX_SYNC_LOG_JSON")]
    pub log_json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API and the workers.
    Serve,
    /// Print the application-service registration the homeserver needs.
    Registration {
        /// Write it to this file (mode 0600) instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Create or update the database schema, then exit.
    Migrate,
    /// Print the OpenAPI document of the HTTP API.
    Openapi,
    /// Onboard communities, members and councils from a JSON file, then
    /// bring the homeserver there (safe to run again after an interruption).
    Import {
        file: PathBuf,
        /// Only record the desired state; a running `serve` does the rest.
        #[arg(long)]
        no_wait: bool,
        /// Also write the summary as JSON to this file (for benchmarks).
        #[arg(long, value_name = "FILE")]
        report: Option<PathBuf>,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.log_json);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> ExitCode {
    let source = match Source::from_env(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => return config_error(&e),
    };
    match cli.command {
        Command::Serve => {
            let config = match Config::load(&source) {
                Ok(c) => c,
                Err(e) => return config_error(&e),
            };
            let app = match App::build(config).await {
                Ok(app) => app,
                Err(e) => return fail(&e.to_string()),
            };
            match app.run(shutdown_signal()).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&e.to_string()),
            }
        }
        Command::Registration { output } => {
            let matrix = match MatrixConfig::load(&source) {
                Ok(c) => c,
                Err(e) => return config_error(&e),
            };
            let yaml = matrix_sync_matrix::Registration {
                ids: &matrix.ids,
                url: &matrix.appservice_url,
                as_token: &matrix.as_token,
                hs_token: &matrix.hs_token,
            }
            .to_yaml();
            match output {
                Some(path) => match write_private(&path, &yaml) {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => fail(&format!("cannot write {}: {e}", path.display())),
                },
                None => {
                    print!("{yaml}");
                    ExitCode::SUCCESS
                }
            }
        }
        Command::Migrate => {
            let db = match DatabaseConfig::load(&source) {
                Ok(c) => c,
                Err(e) => return config_error(&e),
            };
            match matrix_sync_store::connect(db.url.expose_secret(), &db.schema).await {
                Ok(store) => {
                    tracing::info!(backend = store.backend(), "database schema is up to date");
                    store.close().await;
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e.to_string()),
            }
        }
        Command::Import { file, no_wait, report } => {
            let mut config = match Config::load(&source) {
                Ok(c) => c,
                Err(e) => return config_error(&e),
            };
            // The import serves no API; its workers only need a port of their own.
            config.api.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
            match import(config, &file, no_wait, report.as_deref()).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&e),
            }
        }
        Command::Openapi => {
            println!("{}", crate::api::openapi_json());
            ExitCode::SUCCESS
        }
    }
}

async fn import(config: Config, path: &Path, no_wait: bool, report: Option<&Path>) -> Result<(), String> {
    let (file, totals) = crate::import::read(path, config.matrix.ids.server_name().as_str())?;
    let minimal = crate::import::minimal_requests(&file, &config.matrix.ids);
    let app = App::build(config).await.map_err(|e| e.to_string())?;
    let state = app.state().clone();
    crate::import::write(&state.engine, &file).await.map_err(|e| e.to_string())?;
    eprintln!(
        "recorded {} communities with {} councils ({} rooms, {} memberships to make)",
        totals.communities, totals.councils, totals.rooms, totals.members
    );
    if no_wait {
        eprintln!("a running `matrix-sync serve` brings the homeserver there");
        return Ok(());
    }
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(app.run(async {
        let _ = stopped.await;
    }));
    let mut reporter = crate::import::Reporter::new();
    let outcome = loop {
        let done = crate::import::progress(state.engine.store.as_ref(), &file).await.map_err(|e| e.to_string())?;
        reporter.show(done, totals);
        // The rooms are done; the members' names and pictures follow.
        let store = state.engine.store.as_ref();
        if done == totals && crate::import::profiles_pending(store, &file).await.map_err(|e| e.to_string())? == 0 {
            break Ok(());
        }
        tokio::select! {
            () = tokio::time::sleep(std::time::Duration::from_millis(200)) => {}
            _ = tokio::signal::ctrl_c() => break Err("interrupted; run the same import again to resume".to_owned()),
        }
    };
    reporter.finish();
    let _ = stop.send(());
    let _ = running.await;
    outcome?;
    eprintln!(
        "done: {} communities, {} councils, {} rooms, {} memberships in {:.1}s",
        totals.communities,
        totals.councils,
        totals.rooms,
        totals.members,
        reporter.elapsed().as_secs_f64()
    );
    // Includes the service's own start-up (registering and syncing the bot).
    eprintln!(
        "homeserver requests: {} made, {} at the least from an empty homeserver",
        state.metrics.homeserver.total(),
        minimal.total()
    );
    if let Some(path) = report {
        let summary = serde_json::json!({
            "wall_s": reporter.elapsed().as_secs_f64(),
            "communities": totals.communities,
            "councils": totals.councils,
            "rooms": totals.rooms,
            "memberships": totals.members,
            "requests_made": state.metrics.homeserver.total(),
            "requests_minimal": minimal.total(),
            "minimal": {
                "registrations": minimal.registrations,
                "room_creations": minimal.room_creations,
                "space_links": minimal.space_links,
                "joins": minimal.joins,
                "power_level_events": minimal.power_level_events,
            },
            "requests_by_endpoint": state.metrics.homeserver.by_endpoint(),
        });
        std::fs::write(path, summary.to_string()).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

/// Writes a file only its owner can read: the registration holds both tokens.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(text.as_bytes())
}

fn config_error(e: &ConfigError) -> ExitCode {
    eprintln!("matrix-sync: configuration: {e}");
    ExitCode::from(2)
}

fn fail(message: &str) -> ExitCode {
    eprintln!("matrix-sync: {message}");
    ExitCode::FAILURE
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received");
}

/// What the bot's Matrix client reports that is no fault: a key backup it
/// is not configured to make (each sync), and account data not set yet (a
/// 404 it handles). Quietened unless `RUST_LOG` names these targets itself.
const QUIET_TARGETS: [&str; 2] = ["matrix_sdk_crypto::backups=error", "matrix_sdk::http_client=off"];

/// At the default level the Matrix SDK says only what is wrong: its info
/// spans carry whole sync filters (kilobytes a line, every sync), which a
/// log meant to be kept has no use for. `RUST_LOG` brings them back.
const SDK_AT_DEFAULT: [&str; 5] = [
    "matrix_sdk=warn",
    "matrix_sdk_base=warn",
    "matrix_sdk_crypto=warn",
    "matrix_sdk_common=warn",
    "matrix_sdk_sqlite=warn",
];

fn init_tracing(json: bool) {
    use tracing_subscriber::EnvFilter;
    let asked = std::env::var("RUST_LOG").unwrap_or_default();
    let (mut filter, quiet) = if asked.trim().is_empty() {
        let all: Vec<&str> = QUIET_TARGETS.iter().chain(SDK_AT_DEFAULT.iter()).copied().collect();
        (EnvFilter::new("info"), all)
    } else {
        (EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")), QUIET_TARGETS.to_vec())
    };
    for directive in quiet {
        let target = directive.split('=').next().unwrap_or_default();
        if !asked.contains(target)
            && let Ok(directive) = directive.parse()
        {
            filter = filter.add_directive(directive);
        }
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
