//! `matrix-sync import FILE`: onboards a whole platform (communities, their
//! members, councils and council members) through the same desired-state
//! path as the API, then lets the workers bring the homeserver there while
//! it shows progress. Re-running it after an interruption is safe: the
//! writes are idempotent and the reconcile does only what is missing.

use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use matrix_sync_core::desired::{Community, CommunityConfig, CommunityMember, Council, community_rooms};
use matrix_sync_core::minimal::MinimalRequests;
use matrix_sync_core::power::{CommunityRole, CouncilRole, TrustLevel, TrustLevels, community_level};
use matrix_sync_core::{MatrixIds, Scope, UserRef};
use matrix_sync_engine::Engine;
use matrix_sync_engine::commands::{self, CommandError, CommunityWrite, CouncilWrite, ProfileInput};
use matrix_sync_engine::rules::{self, Refusal};
use matrix_sync_store::{Debounce, Store};
use serde::Deserialize;
use uuid::Uuid;

use crate::error::refusal_code;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportFile {
    pub communities: Vec<ImportCommunity>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportCommunity {
    pub id: Uuid,
    pub name: String,
    #[serde(default)]
    pub config: ImportConfig,
    pub trust_levels: Option<Vec<TrustLevel>>,
    #[serde(default)]
    pub members: Vec<ImportMember>,
    #[serde(default)]
    pub councils: Vec<ImportCouncil>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ImportConfig {
    #[serde(rename = "matrixEnabled")]
    pub matrix_enabled: Option<bool>,
    #[serde(rename = "matrixGeneralChatEncrypted")]
    pub general_encrypted: Option<bool>,
    #[serde(rename = "matrixCouncilChatsEncrypted")]
    pub council_encrypted: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportMember {
    pub user_id: Uuid,
    pub trust_score: i64,
    #[serde(default = "member_role")]
    pub role: CommunityRole,
    /// As in a member write: the name members see, and the picture.
    pub display_name: Option<String>,
    pub avatar_url: Option<String>,
}

impl ImportMember {
    fn profile(&self) -> ProfileInput<'_> {
        ProfileInput { display_name: self.display_name.as_deref(), avatar_url: self.avatar_url.as_deref() }
    }
}

fn member_role() -> CommunityRole {
    CommunityRole::Member
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportCouncil {
    pub id: Uuid,
    pub name: String,
    #[serde(default)]
    pub members: Vec<ImportCouncilMember>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportCouncilMember {
    pub user_id: Uuid,
    #[serde(default = "council_member_role")]
    pub role: CouncilRole,
}

fn council_member_role() -> CouncilRole {
    CouncilRole::Member
}

/// The fewest homeserver requests that reach what the file describes from
/// an empty homeserver: the yardstick for the requests the import makes.
pub fn minimal_requests(file: &ImportFile, ids: &MatrixIds) -> MinimalRequests {
    let mut users = BTreeSet::new();
    let mut minimal = MinimalRequests::default();
    for c in &file.communities {
        let members: Vec<CommunityMember> = c
            .members
            .iter()
            .map(|m| {
                users.insert(m.user_id);
                CommunityMember {
                    user: ids.user(m.user_id),
                    trust: u64::try_from(m.trust_score).unwrap_or(0),
                    role: m.role,
                }
            })
            .collect();
        let councils: Vec<Council> = c
            .councils
            .iter()
            .map(|k| Council {
                id: k.id,
                name: k.name.clone(),
                deleted: false,
                members: k.members.iter().map(|m| (ids.user(m.user_id), m.role)).collect(),
            })
            .collect();
        let community = Community {
            id: c.id,
            name: c.name.clone(),
            config: CommunityConfig {
                matrix_enabled: c.config.matrix_enabled.unwrap_or(true),
                general_encrypted: c.config.general_encrypted.unwrap_or(false),
                council_encrypted: true,
            },
            trust_levels: c.trust_levels.clone().and_then(|l| TrustLevels::new(l).ok()).unwrap_or_default(),
            deleted: false,
        };
        minimal = minimal + MinimalRequests::from_scratch(&community_rooms(&community, &members, &councils), 0);
    }
    minimal.registrations = users.len();
    minimal
}

/// What the import amounts to on the homeserver.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub communities: usize,
    pub councils: usize,
    pub rooms: usize,
    pub members: usize,
}

/// Reads and checks the whole file before anything is written, so bad input
/// is refused with the place it is at and nothing half-imported.
pub fn read(path: &Path, server_name: &str) -> Result<(ImportFile, Totals), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let file: ImportFile = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut totals = Totals::default();
    let mut seen = BTreeSet::new();
    for (i, c) in file.communities.iter().enumerate() {
        let at = |what: &str| format!("communities[{i}]{what}");
        if !seen.insert(c.id) {
            return Err(format!("{}: community {} appears twice", at(".id"), c.id));
        }
        let refused = |what: &str, refusal: Refusal| format!("{}: {refusal} ({})", at(what), refusal_code(&refusal));
        rules::name(&c.name).map_err(|r| refused(".name", r))?;
        rules::council_encryption(c.config.council_encrypted)
            .map_err(|r| refused(".config.matrixCouncilChatsEncrypted", r))?;
        let levels = match &c.trust_levels {
            Some(levels) => rules::trust_levels(levels.clone()).map_err(|r| refused(".trust_levels", r))?,
            None => TrustLevels::default(),
        };
        let mut members = BTreeSet::new();
        let mut elevated = 0;
        for (j, m) in c.members.iter().enumerate() {
            rules::trust_score(m.trust_score).map_err(|r| refused(&format!(".members[{j}].trust_score"), r))?;
            rules::display_name(m.display_name.as_deref())
                .map_err(|r| refused(&format!(".members[{j}].display_name"), r))?;
            rules::avatar_url(m.avatar_url.as_deref()).map_err(|r| refused(&format!(".members[{j}].avatar_url"), r))?;
            if !members.insert(m.user_id) {
                return Err(format!("{}: {} appears twice", at(&format!(".members[{j}].user_id")), m.user_id));
            }
            if community_level(&levels, u64::try_from(m.trust_score).unwrap_or(0), m.role) > 0 {
                elevated += 1;
            }
        }
        // Every member of a file is a user of this server: one place each.
        rules::power_levels_fit(server_name, rules::power_level_places(server_name, elevated, []))
            .map_err(|r| refused(".members", r))?;
        for (k, council) in c.councils.iter().enumerate() {
            if !seen.insert(council.id) {
                return Err(format!("{}: {} appears twice", at(&format!(".councils[{k}].id")), council.id));
            }
            rules::name(&council.name).map_err(|r| refused(&format!(".councils[{k}].name"), r))?;
            for (j, m) in council.members.iter().enumerate() {
                if !members.contains(&m.user_id) {
                    return Err(format!(
                        "{}: {} is not a member of the community",
                        at(&format!(".councils[{k}].members[{j}].user_id")),
                        m.user_id
                    ));
                }
            }
            totals.members += council.members.len() * 2;
        }
        totals.communities += 1;
        totals.councils += c.councils.len();
        if c.config.matrix_enabled != Some(false) {
            totals.rooms += 2 + 2 * c.councils.len();
            totals.members += c.members.len() * 2;
        }
    }
    Ok((file, totals))
}

/// Why an import wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file asks for what the API would refuse too (the place in the
    /// file, the refusal and its code).
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] matrix_sync_store::StoreError),
    #[error(transparent)]
    Homeserver(#[from] matrix_sync_matrix::HomeserverError),
}

/// A command's refusal, named by its place in the file (`at` is where the
/// community is; `field` the part a refusal of this kind is about).
fn refused(at: &str, error: CommandError) -> ImportError {
    match error {
        CommandError::Refused(refusal) => {
            let field = match &refusal {
                Refusal::InvalidName => ".name",
                Refusal::UnencryptedCouncils => ".config.matrixCouncilChatsEncrypted",
                Refusal::EncryptionCannotBeDisabled => ".config.matrixGeneralChatEncrypted",
                Refusal::InvalidTrustLevels(_) | Refusal::PowerLevelsFull { .. } => ".trust_levels",
                Refusal::NegativeTrustScore(_) => ".trust_score",
                Refusal::NotACommunityMember { .. } => ".user_id",
                Refusal::Archived { .. }
                | Refusal::AlreadyDeleted { .. }
                | Refusal::CouncilInAnotherCommunity { .. }
                | Refusal::UnknownCommunity(_) => ".id",
                Refusal::InvalidDisplayName => ".display_name",
                Refusal::InvalidAvatarUrl => ".avatar_url",
                // Refusals of writes an import does not make.
                Refusal::RemoteProfile(_)
                | Refusal::SignInAvatarNotMxc
                | Refusal::InvalidTitle
                | Refusal::SameUser(_)
                | Refusal::RequestConflict(_)
                | Refusal::NotDeleted { .. }
                | Refusal::Purging { .. }
                | Refusal::Purged { .. } => "",
            };
            ImportError::Refused(format!("{at}{field}: {refusal} ({})", refusal_code(&refusal)))
        }
        CommandError::NotFound(what) => ImportError::Refused(format!("{at}: {what}")),
        CommandError::Store(e) => ImportError::Store(e),
        CommandError::Homeserver(e) => ImportError::Homeserver(e),
    }
}

/// The file states a community whole: what it leaves out is the default,
/// not what was recorded before.
fn community_write(c: &ImportCommunity) -> CommunityWrite {
    CommunityWrite {
        name: c.name.clone(),
        matrix_enabled: Some(c.config.matrix_enabled.unwrap_or(true)),
        general_encrypted: c.config.general_encrypted,
        council_encrypted: c.config.council_encrypted,
        trust_levels: Some(c.trust_levels.clone().unwrap_or_else(|| TrustLevels::default().levels().to_vec())),
    }
}

fn council_write(community: Uuid, council: &ImportCouncil) -> CouncilWrite {
    CouncilWrite { community_id: community, name: council.name.clone() }
}

/// Checks the file against what is recorded, by the commands the API's
/// writes go through (nothing into an archived or hard-deleted community or
/// council, no council moved to another community, encryption never turned
/// off, the power levels' capacity), then writes it through the same
/// commands. Nothing is written until every community passes.
pub async fn write(engine: &Engine, file: &ImportFile) -> Result<(), ImportError> {
    for (i, c) in file.communities.iter().enumerate() {
        let at = format!("communities[{i}]");
        commands::check_community(engine, c.id, &community_write(c)).await.map_err(|e| refused(&at, e))?;
        for (k, council) in c.councils.iter().enumerate() {
            commands::check_council(engine, council.id, &council_write(c.id, council))
                .await
                .map_err(|e| refused(&format!("{at}.councils[{k}]"), e))?;
        }
    }
    // The community's job is due at once (`put_community`): no debounce.
    let at_once = Debounce { quiet_ms: 0, max_wait_ms: 0 };
    for (i, c) in file.communities.iter().enumerate() {
        let at = format!("communities[{i}]");
        commands::put_community(engine, c.id, &community_write(c)).await.map_err(|e| refused(&at, e))?;
        for (j, m) in c.members.iter().enumerate() {
            let user = UserRef::Platform(m.user_id);
            commands::put_member(engine, c.id, &user, m.trust_score, Some(m.role), at_once)
                .await
                .map_err(|e| refused(&format!("{at}.members[{j}]"), e))?;
            commands::put_member_profile(engine, &user, m.profile())
                .await
                .map_err(|e| refused(&format!("{at}.members[{j}]"), e))?;
        }
        for (k, council) in c.councils.iter().enumerate() {
            let at = format!("{at}.councils[{k}]");
            commands::put_council(engine, council.id, &council_write(c.id, council))
                .await
                .map_err(|e| refused(&at, e))?;
            for (j, m) in council.members.iter().enumerate() {
                let user = UserRef::Platform(m.user_id);
                commands::put_council_member(engine, council.id, &user, Some(m.role))
                    .await
                    .map_err(|e| refused(&format!("{at}.members[{j}]"), e))?;
            }
        }
    }
    Ok(())
}

/// The file's members whose name or picture the homeserver does not have
/// yet (their profile task still to run; a dead one counts as done: it is
/// among the dead jobs, with its error).
pub async fn profiles_pending(store: &dyn Store, file: &ImportFile) -> Result<usize, matrix_sync_store::StoreError> {
    let mut pending = 0;
    for member in file.communities.iter().flat_map(|c| &c.members) {
        if member.profile().is_empty() {
            continue;
        }
        let job = store.job_for(matrix_sync_core::Task::Profile(member.user_id)).await?;
        if job.is_some_and(|j| !j.dead) {
            pending += 1;
        }
    }
    Ok(pending)
}

/// How far the homeserver is: communities with nothing left to do, and the
/// rooms and memberships those account for.
pub async fn progress(store: &dyn Store, file: &ImportFile) -> Result<Totals, matrix_sync_store::StoreError> {
    let mut done = Totals::default();
    for c in &file.communities {
        let scope = Scope::Community(c.id);
        if store.job_for(scope.into()).await?.is_some() {
            continue;
        }
        done.communities += 1;
        done.councils += c.councils.len();
        if c.config.matrix_enabled != Some(false) {
            done.rooms += 2 + 2 * c.councils.len();
            done.members += c.members.len() * 2 + c.councils.iter().map(|k| k.members.len() * 2).sum::<usize>();
        }
    }
    Ok(done)
}

/// Progress as a bar on a terminal, as plain lines otherwise.
pub struct Reporter {
    started: Instant,
    terminal: bool,
    last_line: Instant,
}

impl Reporter {
    pub fn new() -> Self {
        Self { started: Instant::now(), terminal: std::io::stderr().is_terminal(), last_line: Instant::now() }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    pub fn show(&mut self, done: Totals, total: Totals) {
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = done.members as f64 / secs;
        let left = total.members.saturating_sub(done.members);
        let eta = if rate > 0.0 { format!("{:.0}s", left as f64 / rate) } else { "?".into() };
        let text = format!(
            "communities {}/{} · rooms {}/{} · memberships {}/{} · {rate:.1}/s · ETA {eta}",
            done.communities, total.communities, done.rooms, total.rooms, done.members, total.members
        );
        let mut err = std::io::stderr();
        if self.terminal {
            let width = 24;
            let filled = (done.communities * width).checked_div(total.communities).unwrap_or(width);
            let _ = write!(err, "\r[{}{}] {text}\x1b[K", "#".repeat(filled), ".".repeat(width - filled));
            let _ = err.flush();
        } else if self.last_line.elapsed() >= Duration::from_secs(2) || done == total {
            let _ = writeln!(err, "[{secs:7.1}s] {text}");
            self.last_line = Instant::now();
        }
    }

    pub fn finish(&self) {
        if self.terminal {
            let _ = writeln!(std::io::stderr());
        }
    }
}

impl Default for Reporter {
    fn default() -> Self {
        Self::new()
    }
}
