//! Telling this process's idle workers about new work: due now, or due at a
//! later time they should wake up for (a debounced member write). A burst
//! of writes then costs the workers one look at the queue when the work is
//! due, not one per write.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

use crate::clock::now_millis;

/// Wakes this process's idle workers; see the module.
#[derive(Default)]
pub struct Wakeup {
    notify: Notify,
    /// The earliest announced time work is due (ms); one in the past has
    /// been announced already and is no longer news.
    due: AtomicI64,
}

impl Wakeup {
    /// Work is due now: wake every idle worker.
    pub fn notify_waiters(&self) {
        self.announce(now_millis());
    }

    /// Work will be due at `at` (ms since the epoch). Idle workers are woken
    /// only when that is news (earlier than what they wait for): in a burst
    /// of debounced writes each write moves the work later, and waking every
    /// worker for each one cost more than the write itself.
    pub fn announce(&self, at: i64) {
        let now = now_millis();
        let news =
            self.due.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |due| (due <= now || at < due).then_some(at));
        if news.is_ok() {
            self.notify.notify_waiters();
        }
    }

    /// Resolves at the next announcement.
    pub async fn notified(&self) {
        self.notify.notified().await;
    }

    /// How long until the earliest announced work is due (zero if due).
    pub fn until_due(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.due.load(Ordering::SeqCst) - now_millis()).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_earliest_upcoming_announcement_counts() {
        let w = Wakeup::default();
        let now = now_millis();
        w.announce(now + 10_000);
        w.announce(now + 20_000);
        assert!(w.until_due() > Duration::from_secs(9) && w.until_due() <= Duration::from_secs(10));
        w.announce(now + 5_000);
        assert!(w.until_due() <= Duration::from_secs(5));
        w.notify_waiters();
        assert_eq!(w.until_due(), Duration::ZERO);
        // Once passed, a later time is news again.
        w.announce(now_millis() + 30_000);
        assert!(w.until_due() > Duration::from_secs(29));
    }
}
