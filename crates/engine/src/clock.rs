//! The clock the store and the engine agree on.

/// Milliseconds since the Unix epoch, the store's notion of "now".
pub fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
