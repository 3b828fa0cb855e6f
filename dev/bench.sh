#!/usr/bin/env bash
# `make bench`: a local Synapse on PostgreSQL (as in production), the service
# built for release, and the scenarios of crates/bench against them. Writes
# bench/results.json, bench/results.md and bench/growth.png.
#
#   BENCH_SCALE=0.1 make bench        every scenario at a tenth of its size
#   BENCH_ONLY=storm,api_load make bench   some scenarios only
#   make soak (dev/bench.sh soak)     ten minutes of mixed load; bench/soak.md
set -euo pipefail
mode="${1:-bench}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
bin="$target/release"

(cd "$root" && cargo build --release --quiet --bin matrix-sync --bin matrix-sync-bench)

"$root/dev/postgres.sh"
# A fresh Synapse on a fresh PostgreSQL database (runs are comparable), with
# the release build's registration.
"$root/dev/synapse.sh" stop bench
psql -h 127.0.0.1 -U postgres -q -c "DROP DATABASE IF EXISTS synapse_bench"
MATRIX_SYNC_BIN="$bin/matrix-sync" SYNAPSE_DATABASE=postgres "$root/dev/synapse.sh" start bench

export BENCH_ENV="$root/.dev/bench/env"
export BENCH_WORK="$root/.dev/bench/runs"
export BENCH_OUT="${BENCH_OUT:-$root/bench}"
export MATRIX_SYNC_BIN="$bin/matrix-sync"
rm -rf "$BENCH_WORK"
if [ "$mode" = soak ]; then
  BENCH_ONLY=soak "$bin/matrix-sync-bench"
  exit
fi

# The load generator and the chart (the soak needs neither).
if ! command -v wrk >/dev/null; then
  echo "Installing wrk from Debian's packages…" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi

chart_venv="$root/.dev/bench-venv"
if ! "$chart_venv/bin/python" -c 'import matplotlib' 2>/dev/null; then
  echo "Installing matplotlib into $chart_venv (for the chart)…" >&2
  python3 -m venv "$chart_venv"
  "$chart_venv/bin/pip" install --quiet --disable-pip-version-check "matplotlib==3.10.*"
fi

"$bin/matrix-sync-bench"
"$chart_venv/bin/python" "$root/bench/chart.py" "$BENCH_OUT/results.json" "$BENCH_OUT/growth.png"
echo "chart: $BENCH_OUT/growth.png"
