#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers on 127.0.0.1:5432 with trust auth for
# the user postgres (what the tests use): starts the machine's cluster if it
# is down, installs Debian's PostgreSQL first if there is none.
#
#   dev/postgres.sh           make sure it runs
#   dev/postgres.sh restart   restart it (the fault tests do, under the service)
set -euo pipefail

ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
wait_ready() {
  for _ in $(seq 1 60); do
    ready && return 0
    sleep 0.5
  done
  echo "dev/postgres.sh: PostgreSQL did not come up on 127.0.0.1:5432" >&2
  exit 1
}
latest_cluster() { ls /etc/postgresql | sort -V | tail -n 1; }

if [ "${1:-}" = restart ]; then
  pg_ctlcluster --skip-systemctl-redirect "$(latest_cluster)" main restart
  wait_ready
  exit 0
fi

if command -v pg_isready >/dev/null && ready; then
  exit 0
fi

if ! command -v pg_ctlcluster >/dev/null; then
  echo "Installing PostgreSQL from Debian's packages…" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
fi

version="$(latest_cluster)"
[ -n "$version" ] || { echo "dev/postgres.sh: no PostgreSQL cluster found" >&2; exit 1; }
conf="/etc/postgresql/$version/main"
# Trust local TCP connections (a development and CI database only).
if ! grep -qE '^host\s+all\s+all\s+127\.0\.0\.1/32\s+trust' "$conf/pg_hba.conf"; then
  tmp="$(mktemp)"
  { printf 'host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n'; cat "$conf/pg_hba.conf"; } > "$tmp"
  cat "$tmp" > "$conf/pg_hba.conf" && rm -f "$tmp"
fi
pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null \
  || pg_ctlcluster --skip-systemctl-redirect "$version" main reload
wait_ready
