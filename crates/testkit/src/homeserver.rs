use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The settings `dev/synapse.sh start NAME` wrote to `.dev/NAME/env`.
#[derive(Debug, Clone)]
pub struct LocalHomeserver {
    pub settings: BTreeMap<String, String>,
    /// The instance's folder (`.dev/NAME`): its config, pid file and logs.
    pub dir: PathBuf,
}

impl LocalHomeserver {
    /// The instance the tests use: `MATRIX_SYNC_TEST_ENV` names its env file,
    /// else `.dev/test/env` at the workspace root. Panics with what to run
    /// when it is missing: these tests need a real homeserver.
    pub fn for_tests() -> Self {
        Self::instance("MATRIX_SYNC_TEST_ENV", "test")
    }

    /// The instance the fault tests stop, pause and restart, so that no
    /// other test sees it: `MATRIX_SYNC_FAULTS_ENV`, else `.dev/faults/env`.
    pub fn for_fault_tests() -> Self {
        Self::instance("MATRIX_SYNC_FAULTS_ENV", "faults")
    }

    /// The federating instance the federation tests run the service on:
    /// `MATRIX_SYNC_FEDERATION_ENV`, else `.dev/federation-a/env`.
    pub fn for_federation() -> Self {
        Self::instance("MATRIX_SYNC_FEDERATION_ENV", "federation-a")
    }

    /// The other federating instance, whose users take part from outside:
    /// `MATRIX_SYNC_FEDERATION_PEER_ENV`, else `.dev/federation-b/env`.
    pub fn for_federation_peer() -> Self {
        Self::instance("MATRIX_SYNC_FEDERATION_PEER_ENV", "federation-b")
    }

    fn instance(variable: &str, name: &str) -> Self {
        let path = std::env::var_os(variable)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace_root().join(format!(".dev/{name}/env")));
        Self::from_file(&path).unwrap_or_else(|e| {
            panic!(
                "no local homeserver settings at {} ({e}). Run `make test`, or `dev/synapse.sh start {name}` first.",
                path.display()
            )
        })
    }

    pub fn from_file(path: &Path) -> std::io::Result<Self> {
        let text = std::fs::read_to_string(path)?;
        let settings = text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(Self { settings, dir })
    }

    pub fn get(&self, key: &str) -> &str {
        self.settings
            .get(key)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("{key} missing from the local homeserver settings"))
    }

    pub fn url(&self) -> &str {
        self.get("MATRIX_HOMESERVER_URL")
    }

    pub fn server_name(&self) -> &str {
        self.get("MATRIX_SERVER_NAME")
    }

    pub fn as_token(&self) -> &str {
        self.get("MATRIX_BOT_ACCESS_TOKEN")
    }

    pub fn matrix_id(&self, user: uuid::Uuid) -> String {
        format!("@{}:{}", user.hyphenated(), self.server_name())
    }
}

/// The workspace root of the crate under test, read at run time: `cargo test`
/// sets `CARGO_MANIFEST_DIR` for the test process. (The compile-time value
/// would be wrong when one target directory serves several clones, since
/// cargo reuses artifacts across them.)
pub fn workspace_root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from).unwrap_or_default();
    manifest_dir.ancestors().find(|dir| dir.join("Cargo.lock").exists()).map_or(manifest_dir.clone(), Path::to_path_buf)
}
