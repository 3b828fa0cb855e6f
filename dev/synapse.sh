#!/usr/bin/env bash
# Installs a pinned Synapse into .dev/venv and runs a named local instance of it
# (.dev/NAME) on free loopback ports, registered with matrix-sync as an
# application service. The demo, the tests and CI all use this one script.
#
#   dev/synapse.sh start NAME   install if needed, (re)configure, start, wait until it answers
#   dev/synapse.sh restart NAME stop it if running, then start (a fresh process)
#   dev/synapse.sh stop NAME    stop the instance
#   dev/synapse.sh env NAME     print the instance's settings (shell syntax)
#
# With SYNAPSE_FEDERATION=1 the instance federates (the choice is kept): its
# server name is `localhost:PORT`, PORT being a TLS federation listener whose
# certificate a test CA (.dev/federation-ca) signed, and it trusts that CA and
# loopback peers. Two such instances federate with each other
# (../shared/spec/homeserver-facts.md has the settings that were checked).
#
# The instance's settings (homeserver URL, tokens, listen address for
# matrix-sync) are written to .dev/NAME/env, which the tests and the demo read.
# MATRIX_SYNC_BIN names the matrix-sync binary used to print the registration.
set -euo pipefail

SYNAPSE_VERSION="1.163.2"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dev="$root/.dev"
venv="$dev/venv"

die() { echo "dev/synapse.sh: $*" >&2; exit 1; }

install_synapse() {
  if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.synapse-version" 2>/dev/null)" = "$SYNAPSE_VERSION" ]; then
    return
  fi
  echo "Installing Synapse $SYNAPSE_VERSION into $venv (about a minute)…" >&2
  python3 -m venv "$venv" || die "python3 -m venv failed (is python3-venv installed?)"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "matrix-synapse==$SYNAPSE_VERSION" \
    || die "pip install matrix-synapse==$SYNAPSE_VERSION failed"
  echo "$SYNAPSE_VERSION" > "$venv/.synapse-version"
}

# The instance's database: SQLite (the default) or, with
# SYNAPSE_DATABASE=postgres, a PostgreSQL database of its own on the local
# server (as in production; the benchmark uses it). The choice is kept.
database_kind() {
  local dir="$1"
  if [ -n "${SYNAPSE_DATABASE:-}" ]; then
    echo "$SYNAPSE_DATABASE" > "$dir/database"
  fi
  cat "$dir/database" 2>/dev/null || echo sqlite
}

database_config() {
  local dir="$1"
  case "$(database_kind "$dir")" in
    sqlite) printf 'database:\n  name: sqlite3\n  args:\n    database: "%s"\n' "$dir/homeserver.db" ;;
    postgres)
      printf 'database:\n  name: psycopg2\n  args:\n    user: postgres\n    host: 127.0.0.1\n    port: 5432\n    database: "%s"\n    cp_min: 5\n    cp_max: 10\n' \
        "$(pg_database "$dir")" ;;
    *) die "SYNAPSE_DATABASE must be sqlite or postgres" ;;
  esac
}

pg_database() { echo "synapse_$(basename "$1" | tr -c 'a-z0-9_\n' _)"; }

# Synapse needs the C collation; the database is made once and kept.
ensure_pg_database() {
  local dir="$1" db
  [ "$(database_kind "$dir")" = postgres ] || return 0
  "$venv/bin/python" -c 'import psycopg2' 2>/dev/null \
    || "$venv/bin/pip" install --quiet --disable-pip-version-check psycopg2-binary \
    || die "pip install psycopg2-binary failed"
  "$root/dev/postgres.sh" >/dev/null
  db="$(pg_database "$dir")"
  if [ -z "$(psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]; then
    psql -h 127.0.0.1 -U postgres -q -c "CREATE DATABASE $db ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0" \
      || die "cannot create the PostgreSQL database $db"
  fi
}

# The federation port is the server name's, so it is chosen once and kept
# (a homeserver's name cannot change); empty when the instance does not
# federate.
federation_port() {
  local dir="$1"
  if [ "${SYNAPSE_FEDERATION:-}" = 1 ] && [ ! -f "$dir/federation_port" ]; then
    free_port > "$dir/federation_port"
  fi
  cat "$dir/federation_port" 2>/dev/null || true
}

# One test CA and one leaf certificate for `localhost` serve every federating
# instance; each trusts the CA.
ensure_test_ca() {
  local ca="$dev/federation-ca"
  [ -f "$ca/leaf.pem" ] && return
  mkdir -p "$ca"
  (
    cd "$ca"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=matrix-sync test CA" \
      -keyout ca.key -out ca.pem 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout leaf.key -out leaf.csr 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\n' > leaf.ext
    openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile leaf.ext -out leaf.pem 2>/dev/null
  ) || die "cannot make the federation test certificates (is openssl installed?)"
}

federation_config() {
  local fed_port="$1" ca="$dev/federation-ca"
  [ -n "$fed_port" ] || return 0
  cat <<FEDERATION
  - port: $fed_port
    bind_addresses: ["127.0.0.1"]
    type: http
    tls: true
    x_forwarded: false
    resources:
      - names: [federation]
        compress: false
tls_certificate_path: "$ca/leaf.pem"
tls_private_key_path: "$ca/leaf.key"
federation_custom_ca_list: ["$ca/ca.pem"]
ip_range_whitelist: ["127.0.0.0/8", "::1/128"]
federation:
  client_timeout: 30s
  max_short_retry_delay: 2s
  max_long_retry_delay: 10s
  destination_min_retry_interval: 1s
  destination_retry_multiplier: 1.5
  destination_max_retry_interval: 10s
rc_federation: {window_size: 1000, sleep_limit: 1000, sleep_delay: 1, reject_limit: 1000, concurrent: 100}
FEDERATION
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

secret() { python3 -c 'import secrets; print(secrets.token_hex(24))'; }

# Secrets are made once per instance and kept, so a restart keeps its tokens.
ensure_secrets() {
  local dir="$1"
  if [ ! -f "$dir/secrets" ]; then
    umask 077
    cat > "$dir/secrets" <<SECRETS
AS_TOKEN=$(secret)
HS_TOKEN=$(secret)
API_TOKEN=$(secret)
REGISTRATION_SHARED_SECRET=$(secret)
MACAROON_SECRET_KEY=$(secret)
FORM_SECRET=$(secret)
SECRETS
  fi
  # Added later than the others: kept instances get theirs now.
  if ! grep -q '^BACKUP_SECRET=' "$dir/secrets"; then
    (umask 077; echo "BACKUP_SECRET=$(secret)" >> "$dir/secrets")
  fi
  if ! grep -q '^BOT_STORE_PASSPHRASE=' "$dir/secrets"; then
    (umask 077; echo "BOT_STORE_PASSPHRASE=$(secret)" >> "$dir/secrets")
  fi
  # shellcheck disable=SC1091
  . "$dir/secrets"
}

is_running() {
  local dir="$1"
  [ -f "$dir/homeserver.pid" ] && kill -0 "$(cat "$dir/homeserver.pid")" 2>/dev/null
}

# The configuration is the deployment's (deploy/generate.sh, the one
# template), with a development overlay read after it: loopback listeners
# (and the TLS federation listener), the instance's database, a log file,
# and rate limits high enough for the tests.
write_config() {
  local dir="$1" hs_port="$2" fed_port="$3"
  (
    set -a
    # shellcheck disable=SC1091
    . "$dir/env"
    set +a
    MATRIX_HOSTNAME=localhost SYNAPSE_PORT="$hs_port" SYNAPSE_DATA_DIR="$dir" \
      SYNAPSE_TRUSTED_KEY_SERVERS=none SYNAPSE_LOG_LEVEL="${SYNAPSE_LOG_LEVEL:-WARNING}" \
      SYNAPSE_DB_PASSWORD=replaced-by-the-dev-overlay SYNAPSE_MACAROON_SECRET_KEY="$MACAROON_SECRET_KEY" \
      SYNAPSE_FORM_SECRET="$FORM_SECRET" MATRIX_SYNC_BIN="$(matrix_sync_bin)" \
      sh "$root/deploy/generate.sh" config "$dir"
  ) || die "deploy/generate.sh config failed"
  cat > "$dir/dev-log.yaml" <<LOG
version: 1
formatters:
  precise:
    format: '%(asctime)s %(name)s %(levelname)s %(message)s'
handlers:
  file:
    class: logging.FileHandler
    formatter: precise
    filename: $dir/homeserver.log
root:
  level: ${SYNAPSE_LOG_LEVEL:-WARNING}
  handlers: [file]
disable_existing_loggers: false
LOG
  cat > "$dir/dev.yaml" <<CONFIG
# Read after homeserver.yaml (deploy/generate.sh's): what differs on a
# development machine.
pid_file: "$dir/homeserver.pid"
public_baseurl: "http://127.0.0.1:$hs_port/"
listeners:
  - port: $hs_port
    bind_addresses: ["127.0.0.1"]
    type: http
    tls: false
    x_forwarded: false
    resources:
      - names: [client]
        compress: false
$(federation_config "$fed_port")
$(database_config "$dir")
log_config: "$dir/dev-log.yaml"
rc_message: {per_second: 1000, burst_count: 1000}
rc_registration: {per_second: 1000, burst_count: 1000}
rc_login:
  address: {per_second: 1000, burst_count: 1000}
  account: {per_second: 1000, burst_count: 1000}
  failed_attempts: {per_second: 1000, burst_count: 1000}
rc_joins:
  local: {per_second: 1000, burst_count: 1000}
  remote: {per_second: 1000, burst_count: 1000}
rc_joins_per_room: {per_second: 1000, burst_count: 1000}
rc_invites:
  per_room: {per_second: 1000, burst_count: 1000}
  per_user: {per_second: 1000, burst_count: 1000}
  per_issuer: {per_second: 1000, burst_count: 1000}
rc_admin_redaction: {per_second: 1000, burst_count: 1000}
rc_3pid_validation: {per_second: 1000, burst_count: 1000}
rc_room_creation: {per_second: 1000, burst_count: 1000}
rc_key_requests: {per_second: 1000, burst_count: 1000}
CONFIG
}

matrix_sync_bin() {
  local bin="${MATRIX_SYNC_BIN:-}"
  if [ -z "$bin" ]; then
    (cd "$root" && cargo build --quiet --bin matrix-sync) || die "cargo build failed"
    bin="${CARGO_TARGET_DIR:-$root/target}/debug/matrix-sync"
  fi
  echo "$bin"
}

write_registration() {
  local dir="$1" out="$2"
  (set -a; . "$dir/env"; set +a; "$(matrix_sync_bin)" registration --output "$out") \
    || die "matrix-sync registration failed"
}

start() {
  local name="$1" dir="$dev/$1"
  mkdir -p "$dir"
  if is_running "$dir" && curl -fsS "$(. "$dir/env"; echo "$MATRIX_HOMESERVER_URL")/_matrix/client/versions" >/dev/null 2>&1; then
    # Reuse it unless the registration this build prints has changed.
    write_registration "$dir" "$dir/appservice.yaml.new"
    if cmp -s "$dir/appservice.yaml" "$dir/appservice.yaml.new"; then
      rm -f "$dir/appservice.yaml.new"
      echo "Synapse '$name' is already running ($(. "$dir/env"; echo "$MATRIX_HOMESERVER_URL"))." >&2
      return
    fi
    echo "The registration changed; restarting Synapse '$name'." >&2
    rm -f "$dir/appservice.yaml.new"
    stop "$name"
  fi
  install_synapse
  ensure_secrets "$dir"
  local fed_port
  fed_port="$(federation_port "$dir")"
  if [ -n "$fed_port" ]; then
    ensure_test_ca
    SERVER_NAME="localhost:$fed_port"
  else
    SERVER_NAME="${MATRIX_SERVER_NAME:-localhost}"
  fi
  local hs_port as_port
  hs_port="$(free_port)"
  as_port="$(free_port)"
  cat > "$dir/env" <<ENV
MATRIX_HOMESERVER_URL=http://127.0.0.1:$hs_port
MATRIX_SERVER_NAME=$SERVER_NAME
MATRIX_BOT_USER_ID=@matrix-sync:$SERVER_NAME
MATRIX_BOT_ACCESS_TOKEN=$AS_TOKEN
MATRIX_AS_HS_TOKEN=$HS_TOKEN
MATRIX_SYNC_API_TOKEN=$API_TOKEN
MATRIX_SYNC_BACKUP_SECRET=$BACKUP_SECRET
MATRIX_SYNC_BOT_STORE_PASSPHRASE=$BOT_STORE_PASSPHRASE
MATRIX_SYNC_LISTEN=127.0.0.1:$as_port
MATRIX_SYNC_APP_URL=http://127.0.0.1:$as_port/app
SYNAPSE_REGISTRATION_SHARED_SECRET=$REGISTRATION_SHARED_SECRET
ENV
  chmod 600 "$dir/env"
  ensure_pg_database "$dir"
  # The registration too: generate.sh prints it with the instance's settings.
  write_config "$dir" "$hs_port" "$fed_port"

  : > "$dir/homeserver.log"
  setsid "$venv/bin/python" -m synapse.app.homeserver -c "$dir/homeserver.yaml" -c "$dir/dev.yaml" \
    >"$dir/stdout.log" 2>&1 < /dev/null &
  echo $! > "$dir/homeserver.pid"

  local url="http://127.0.0.1:$hs_port" i
  for i in $(seq 1 120); do
    if curl -fsS "$url/_matrix/client/versions" >/dev/null 2>&1; then
      ensure_admin "$dir" "$url"
      echo "Synapse '$name' is up at $url (settings in $dir/env)." >&2
      return
    fi
    is_running "$dir" || { tail -20 "$dir/stdout.log" "$dir/homeserver.log" >&2; die "Synapse '$name' exited during start-up"; }
    sleep 0.5
  done
  die "Synapse '$name' did not answer at $url within 60 s (see $dir/homeserver.log)"
}

# A homeserver admin (outside the appservice's namespace), registered with the
# shared secret; its token goes into the env as MATRIX_ADMIN_ACCESS_TOKEN so
# hard deletes can purge rooms.
ensure_admin() {
  local dir="$1" url="$2" token
  token="$(URL="$url" SECRET="$REGISTRATION_SHARED_SECRET" python3 "$root/dev/synapse_register_admin.py")" || die "cannot register the homeserver admin"
  if [ -n "$token" ]; then
    echo "$token" > "$dir/admin_token"
    chmod 600 "$dir/admin_token"
  fi
  [ -f "$dir/admin_token" ] || die "the homeserver admin exists but its token was lost; remove $dir to start anew"
  grep -q '^MATRIX_ADMIN_ACCESS_TOKEN=' "$dir/env" || echo "MATRIX_ADMIN_ACCESS_TOKEN=$(cat "$dir/admin_token")" >> "$dir/env"
}

stop() {
  local dir="$dev/$1"
  if is_running "$dir"; then
    local pid; pid="$(cat "$dir/homeserver.pid")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$dir/homeserver.pid"
}

cmd="${1:-}"; name="${2:-}"
[ -n "$name" ] || die "usage: dev/synapse.sh start|restart|stop|env NAME"
case "$cmd" in
  start) start "$name" ;;
  restart) stop "$name"; start "$name" ;;
  stop) stop "$name" ;;
  env) cat "$dev/$name/env" ;;
  *) die "usage: dev/synapse.sh start|restart|stop|env NAME" ;;
esac
