//! Each measurement starts on a quiet machine. A scenario leaves work behind
//! it: Synapse delivers the pushes it held for a stopped service, PostgreSQL
//! vacuums and writes its dirty pages out at the next checkpoint. Measured on
//! top of that, a figure says more about what ran before than about what is
//! measured (the storm took 0.8 s after a fresh start and 3.2 s right after
//! the onboarding runs). So PostgreSQL is checkpointed first, and then the
//! machine must be idle, waiting for the disk included.

use std::time::{Duration, Instant};

/// The share of all cores busy (0–1) below which the machine counts as quiet.
const QUIET: f64 = 0.10;
/// How long it must stay below that.
const WINDOW: Duration = Duration::from_secs(1);
/// Waiting longer than this means something keeps the machine busy; the
/// measurement goes on, and says so.
const PATIENCE: Duration = Duration::from_secs(120);

/// Waits until the machine is quiet; prints how long that took when it took
/// a while, and a warning when it never came.
pub async fn settle(before: &str) {
    let started = Instant::now();
    checkpoint();
    let mut last = busy();
    loop {
        tokio::time::sleep(WINDOW).await;
        let now = busy();
        let share = match (last, now) {
            (Some(a), Some(b)) if b.1 > a.1 => (b.0 - a.0) as f64 / (b.1 - a.1) as f64,
            // No /proc (not Linux): nothing to wait for.
            _ => return,
        };
        if share < QUIET {
            let waited = started.elapsed();
            if waited > 2 * WINDOW {
                eprintln!("  (waited {:.0} s for a quiet machine before {before})", waited.as_secs_f64());
            }
            return;
        }
        if started.elapsed() > PATIENCE {
            eprintln!("  warning: the machine is still {:.0}% busy; measuring {before} anyway", share * 100.0);
            return;
        }
        last = now;
    }
}

/// (busy, total) CPU time of all cores since boot, in clock ticks.
fn busy() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    parse(stat.lines().next()?)
}

/// Writes PostgreSQL's dirty pages now rather than during the measurement
/// (it is the homeserver's database, and one of the service's two).
fn checkpoint() {
    let done = std::process::Command::new("psql")
        .args(["-h", "127.0.0.1", "-U", "postgres", "-q", "-c", "CHECKPOINT"])
        .stdout(std::process::Stdio::null())
        .status();
    if !done.is_ok_and(|s| s.success()) {
        eprintln!("  warning: cannot checkpoint PostgreSQL");
    }
}

/// The aggregate `cpu` line of /proc/stat: user nice system idle iowait irq
/// softirq steal …; only idle is not busy (waiting for the disk is).
fn parse(line: &str) -> Option<(u64, u64)> {
    let mut fields = line.split_whitespace();
    if fields.next()? != "cpu" {
        return None;
    }
    let ticks: Vec<u64> = fields.take(8).map(|f| f.parse().ok()).collect::<Option<_>>()?;
    let total: u64 = ticks.iter().sum();
    let idle = ticks.get(3)?;
    Some((total - idle, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_line_splits_into_busy_and_total() {
        assert_eq!(parse("cpu  100 5 20 800 50 0 25 0 0 0"), Some((200, 1000)));
        assert_eq!(parse("cpu0 1 2 3 4 5 6 7 8"), None);
        assert_eq!(parse("cpu  1 2"), None);
    }
}
