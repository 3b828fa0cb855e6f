//! `matrix-sync-bench`: run by `make bench` (dev/bench.sh), which starts the
//! homeserver and passes the settings. Writes `results.json` and
//! `results.md` into `BENCH_OUT` and prints the figures beside the targets.

mod baseline;
mod dataset;
mod env;
mod quiet;
mod report;
mod scenarios;
mod service;
mod soak;
mod wrk;

use std::process::ExitCode;
use std::time::Instant;

use serde_json::{Value, json};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("matrix-sync-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let env = env::BenchEnv::load()?;
    let out = std::path::PathBuf::from(std::env::var("BENCH_OUT").map_err(|_| "BENCH_OUT is not set")?);
    // `BENCH_ONLY=storm,growth` runs some scenarios (for working on one).
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    // `make soak` (BENCH_ONLY=soak): its own run and files, not a scenario.
    if only.trim() == "soak" {
        return run_soak(&env, &out).await;
    }
    let wanted = |name: &str| only.is_empty() || only.split(',').any(|s| s.trim() == name);
    let started = Instant::now();
    let mut results = json!({
        "meta": {
            "scale": env.scale,
            "concurrency": env.concurrency,
            "homeserver": "Synapse on PostgreSQL, local",
            "unix_time": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        },
    });
    if wanted("onboarding") {
        results["onboarding"] = scenarios::onboarding(&env).await?;
    }
    if wanted("storm") {
        results["storm"] = scenarios::storm(&env).await?;
    }
    if wanted("api_load") {
        results["api_load"] = scenarios::api_load(&env).await?;
    }
    if wanted("growth") {
        let (points, limit) = scenarios::growth(&env).await?;
        results["growth"] = points;
        results["power_limit"] = limit;
    }
    results["meta"]["total_s"] = Value::from(started.elapsed().as_secs_f64());

    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let text = serde_json::to_string_pretty(&results).map_err(|e| e.to_string())?;
    std::fs::write(out.join("results.json"), text + "\n").map_err(|e| e.to_string())?;
    let rows = report::rows(&results);
    let header = format!(
        "Benchmark (BENCH_SCALE={}, {} homeserver requests in flight; {:.0} s in all)",
        env.scale,
        env.concurrency,
        started.elapsed().as_secs_f64()
    );
    let table = report::markdown(&rows, &header);
    std::fs::write(out.join("results.md"), &table).map_err(|e| e.to_string())?;
    println!("{table}");
    let missed = rows.iter().filter(|r| r.met == Some(false)).count();
    println!("{missed} target(s) missed; written to {}", out.display());
    Ok(())
}

async fn run_soak(env: &env::BenchEnv, out: &std::path::Path) -> Result<(), String> {
    let length = soak::SoakLength::from_env(env)?;
    let outcome = soak::soak(env, length).await?;
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    // The long run without new data keeps its own files beside the default's.
    let name = if length.new_data { "soak".to_owned() } else { format!("soak-{}min", length.minutes) };
    let text = serde_json::to_string_pretty(&outcome.report).map_err(|e| e.to_string())?;
    let json_path = out.join(format!("{name}.json"));
    std::fs::write(&json_path, text + "\n").map_err(|e| e.to_string())?;
    let table = soak::markdown(&outcome.report);
    std::fs::write(out.join(format!("{name}.md")), &table).map_err(|e| e.to_string())?;
    println!("{table}");
    if outcome.passed { Ok(()) } else { Err(format!("the soak failed; see {}", json_path.display())) }
}
