//! The figures beside their targets: a Markdown table for people, and the
//! verdicts `make bench` prints.

use serde_json::Value;

pub struct Row {
    pub figure: String,
    pub value: String,
    pub target: &'static str,
    pub met: Option<bool>,
}

fn f(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or(f64::NAN)
}

fn row(figure: impl Into<String>, value: String, target: &'static str, met: Option<bool>) -> Row {
    Row { figure: figure.into(), value, target, met }
}

/// The rows for the scenarios that ran.
pub fn rows(results: &Value) -> Vec<Row> {
    let mut rows = Vec::new();
    let o = &results["onboarding"];
    if o.is_object() {
        let ratio = f(o, "requests_made") / f(o, "requests_minimal");
        rows.push(row(
            "onboarding: requests made / minimal",
            format!("{} / {} = {ratio:.3}", o["requests_made"], o["requests_minimal"]),
            "≤ 1.05",
            Some(ratio <= 1.05),
        ));
        let wall = f(o, "wall_s") / f(o, "baseline_wall_s");
        rows.push(row(
            "onboarding: wall time / raw baseline",
            format!("{:.1} s / {:.1} s = {wall:.2}", f(o, "wall_s"), f(o, "baseline_wall_s")),
            "≤ 1.25",
            Some(wall <= 1.25),
        ));
        for run in o["runs"].as_array().into_iter().flatten() {
            rows.push(row(
                format!("onboarding on {}: wall time, requests", run["db"].as_str().unwrap_or("?")),
                format!("{:.1} s, {}", f(run, "wall_s"), run["requests_made"]),
                "",
                None,
            ));
        }
    }
    let s = &results["storm"];
    if s.is_object() {
        let ratio = f(s, "requests_made") / f(s, "requests_minimal");
        rows.push(row(
            "storm: requests made / minimal",
            format!("{} / {} = {ratio:.3}", s["requests_made"], s["requests_minimal"]),
            "≤ 1.05",
            Some(ratio <= 1.05),
        ));
        rows.push(row(
            "storm: power-levels events / rooms changed",
            format!(
                "{} / {} ({} changes in {:.1} s)",
                s["power_level_events"],
                s["rooms_changed"],
                s["changes"],
                f(s, "sent_in_s")
            ),
            "≤ 1 per room per window",
            Some(f(s, "power_level_events") <= f(s, "rooms_changed")),
        ));
        let converge = f(s, "converge_after_last_s");
        rows.push(row(
            "storm: convergence after the last change",
            format!("{converge:.2} s"),
            "< 2 s",
            Some(converge < 2.0),
        ));
    }
    let a = &results["api_load"];
    if a.is_object() {
        for run in a["runs"].as_array().into_iter().flatten() {
            let db = run["db"].as_str().unwrap_or("?");
            rows.push(row(
                format!("API on {db}: p50 / p99 at {:.0} requests/s", f(run, "achieved_rate")),
                format!("{:.2} ms / {:.2} ms", f(run, "p50_ms"), f(run, "p99_ms")),
                "p99 < 10 ms",
                Some(f(run, "p99_ms") < 10.0),
            ));
            rows.push(row(
                format!("API on {db}: errors"),
                run["errors"].to_string(),
                "0",
                Some(run["errors"].as_u64() == Some(0)),
            ));
            rows.push(row(
                format!("API on {db}: RSS idle / under load"),
                format!("{:.1} MB / {:.1} MB", f(run, "idle_rss_mb"), f(run, "rss_mb")),
                "idle < 60 MB",
                Some(f(run, "idle_rss_mb") < 60.0),
            ));
        }
    }
    if let Some(points) = results["growth"].as_array().filter(|p| !p.is_empty()) {
        // The cost of each further member between two sizes (start-up
        // is paid once, so the ratio of totals would not show linearity).
        let per_member: Vec<f64> = points
            .windows(2)
            .map(|w| (f(&w[1], "wall_s") - f(&w[0], "wall_s")) / (f(&w[1], "members") - f(&w[0], "members")))
            .collect();
        for p in points {
            rows.push(row(
                format!("growth: {} members", p["members"]),
                format!("{:.1} s, {} requests (minimal {})", f(p, "wall_s"), p["requests_made"], p["requests_minimal"]),
                "",
                None,
            ));
        }
        let (lo, hi) = per_member.iter().fold((f64::MAX, 0.0f64), |(lo, hi), x| (lo.min(*x), hi.max(*x)));
        rows.push(row(
            "growth: seconds per further member, between sizes",
            format!("{:.3} – {:.3}", lo, hi),
            "linear (spread ≤ 1.5×)",
            Some(hi <= 1.5 * lo),
        ));
    }
    let l = &results["power_limit"];
    if l.is_object() {
        rows.push(row(
            "power levels: largest room's event",
            format!(
                "{} bytes for {} users ({:.0} bytes each) of {}",
                l["largest_room_event_bytes"],
                l["largest_room_members_listed"],
                f(l, "bytes_per_member"),
                l["event_size_limit"]
            ),
            "",
            None,
        ));
        rows.push(row(
            "power levels: members above level 0 accepted in one community",
            format!("{} (capacity {}), then: {}", l["members_accepted_above_level_0"], l["capacity"], l["refusal"]),
            "refused at capacity",
            Some(l["members_accepted_above_level_0"] == l["capacity"]),
        ));
    }
    rows
}

pub fn markdown(rows: &[Row], header: &str) -> String {
    let mut out = format!("{header}\n\n| figure | value | target | met |\n|---|---|---|---|\n");
    for r in rows {
        let met = match r.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "",
        };
        out.push_str(&format!("| {} | {} | {} | {met} |\n", r.figure, r.value.replace('|', "\\|"), r.target));
    }
    out
}
