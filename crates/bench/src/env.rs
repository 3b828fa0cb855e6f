//! The benchmark's settings: the local Synapse instance's env file (written
//! by `dev/synapse.sh`), the service binary, and the scale.

use std::collections::BTreeMap;
use std::path::PathBuf;

use matrix_sync_core::MatrixIds;

pub struct BenchEnv {
    /// The instance's settings, passed on to the service as they are.
    pub vars: BTreeMap<String, String>,
    pub homeserver_url: url::Url,
    pub ids: MatrixIds,
    pub as_token: String,
    pub api_token: String,
    /// Where the homeserver pushes to: the address `serve` listens on.
    pub listen: String,
    /// The `matrix-sync` binary.
    pub bin: PathBuf,
    /// Databases, import files and logs of the runs.
    pub work: PathBuf,
    /// `BENCH_SCALE`: every scenario's size is multiplied by it.
    pub scale: f64,
    /// Homeserver requests in flight at once, for the service and the baseline.
    pub concurrency: usize,
}

impl BenchEnv {
    /// From `BENCH_ENV` (the instance's env file), `MATRIX_SYNC_BIN`,
    /// `BENCH_WORK`, `BENCH_SCALE` and `BENCH_CONCURRENCY`.
    pub fn load() -> Result<Self, String> {
        let var = |k: &str| std::env::var(k).map_err(|_| format!("{k} is not set"));
        let env_file = var("BENCH_ENV")?;
        let text = std::fs::read_to_string(&env_file).map_err(|e| format!("{env_file}: {e}"))?;
        let vars: BTreeMap<String, String> = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        let get = |k: &str| vars.get(k).cloned().ok_or_else(|| format!("{env_file} has no {k}"));
        let homeserver_url =
            get("MATRIX_HOMESERVER_URL")?.parse().map_err(|e| format!("MATRIX_HOMESERVER_URL: {e}"))?;
        let ids =
            MatrixIds::new(&get("MATRIX_SERVER_NAME")?, &get("MATRIX_BOT_USER_ID")?).map_err(|e| e.to_string())?;
        let scale = match std::env::var("BENCH_SCALE") {
            Ok(v) => {
                v.parse::<f64>().ok().filter(|s| *s > 0.0 && *s <= 10.0).ok_or("BENCH_SCALE: a number in (0, 10]")?
            }
            Err(_) => 1.0,
        };
        let concurrency = match std::env::var("BENCH_CONCURRENCY") {
            Ok(v) => v.parse::<usize>().ok().filter(|n| (1..=256).contains(n)).ok_or("BENCH_CONCURRENCY: 1 to 256")?,
            Err(_) => 8,
        };
        let work = PathBuf::from(var("BENCH_WORK")?);
        std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
        Ok(Self {
            homeserver_url,
            ids,
            as_token: get("MATRIX_BOT_ACCESS_TOKEN")?,
            api_token: get("MATRIX_SYNC_API_TOKEN")?,
            listen: get("MATRIX_SYNC_LISTEN")?,
            bin: PathBuf::from(var("MATRIX_SYNC_BIN")?),
            work,
            scale,
            concurrency,
            vars,
        })
    }

    /// A size scaled by `BENCH_SCALE`, at least `min`.
    pub fn scaled(&self, n: usize, min: usize) -> usize {
        ((n as f64 * self.scale).round() as usize).max(min)
    }
}
