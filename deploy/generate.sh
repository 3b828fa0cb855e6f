#!/bin/sh
# Writes the homeserver's configuration from the one environment that also
# configures matrix-sync (deploy/.env, or /etc/matrix-sync/env on a host
# without containers):
#
#   OUT/homeserver.yaml   Synapse's configuration
#   OUT/log.yaml          Synapse's logging (to standard output)
#   OUT/appservice.yaml   the application-service registration, printed by
#                         `matrix-sync registration` itself from the same settings
#   OUT/signing.key       Synapse's federation signing key, made once and kept
#
#   generate.sh OUT_DIR        (or OUT=... generate.sh)
#
# Run it again after changing the environment, then restart Synapse and
# matrix-sync. It overwrites the three YAML files (put your own Synapse
# settings in a file of their own; see deploy/README.md) and never replaces an
# existing signing key. POSIX sh: it runs in the compose stack's `config`
# container (Debian's dash) and on a host.
#
# Inputs (deploy/.env.example documents each):
#   required  MATRIX_SERVER_NAME MATRIX_HOSTNAME SYNAPSE_DB_PASSWORD
#             SYNAPSE_REGISTRATION_SHARED_SECRET SYNAPSE_MACAROON_SECRET_KEY
#             SYNAPSE_FORM_SECRET, and what `matrix-sync registration` needs:
#             MATRIX_HOMESERVER_URL MATRIX_BOT_USER_ID MATRIX_BOT_ACCESS_TOKEN
#             MATRIX_AS_HS_TOKEN MATRIX_SYNC_APPSERVICE_URL
#   optional  SYNAPSE_DB_HOST (127.0.0.1) SYNAPSE_DB_PORT (5432)
#             SYNAPSE_DB_NAME (synapse) SYNAPSE_DB_USER (synapse)
#             SYNAPSE_LISTEN_ADDRESS (127.0.0.1) SYNAPSE_PORT (8008)
#             SYNAPSE_DATA_DIR (OUT: the media store goes there)
#             SYNAPSE_TRUSTED_KEY_SERVERS (matrix.org; "none" for no key server)
#             SYNAPSE_PRESENCE (false)
#             SYNAPSE_LOG_LEVEL (INFO)
#             SYNAPSE_OWNER (user[:group] that gets the files, when run as root)
#             MATRIX_SYNC_BIN (matrix-sync on the PATH)
set -eu

die() { echo "generate.sh: $*" >&2; exit 1; }

OUT="${1:-${OUT:-}}"
[ -n "$OUT" ] || die "usage: generate.sh OUT_DIR (or set OUT)"

# The value of the variable named $1 ("" when unset).
value() { eval "printf '%s' \"\${$1:-}\""; }

require() {
  for name in "$@"; do
    [ -n "$(value "$name")" ] || die "$name is required (see deploy/.env.example)"
  done
}

# A secret must be set, changed from the example's placeholder, and long.
secret() {
  for name in "$@"; do
    v="$(value "$name")"
    [ -n "$v" ] || die "$name is required; make one with: openssl rand -hex 32"
    case "$v" in
      *CHANGE_ME*) die "$name still has the example's placeholder; make one with: openssl rand -hex 32" ;;
    esac
    [ "${#v}" -ge 20 ] || die "$name is too short (20 characters at least); make one with: openssl rand -hex 32"
  done
}

# A YAML double-quoted scalar.
q() { printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"; }

require MATRIX_SERVER_NAME MATRIX_HOSTNAME
secret SYNAPSE_DB_PASSWORD SYNAPSE_REGISTRATION_SHARED_SECRET SYNAPSE_MACAROON_SECRET_KEY \
  SYNAPSE_FORM_SECRET MATRIX_BOT_ACCESS_TOKEN MATRIX_AS_HS_TOKEN
# Not used here, but checked here too: the stack must not start with them.
[ -z "${MATRIX_SYNC_API_TOKEN:-}" ] || secret MATRIX_SYNC_API_TOKEN
[ -z "${MATRIX_SYNC_BACKUP_SECRET:-}" ] || secret MATRIX_SYNC_BACKUP_SECRET
[ -z "${MATRIX_SYNC_DB_PASSWORD:-}" ] || {
  secret MATRIX_SYNC_DB_PASSWORD
  # It goes into DATABASE_URL as it is.
  case "$MATRIX_SYNC_DB_PASSWORD" in
    *[!A-Za-z0-9._~-]*) die "MATRIX_SYNC_DB_PASSWORD may hold only letters, digits and . _ ~ - (it is part of a URL); make one with: openssl rand -hex 32" ;;
  esac
}
case "$MATRIX_HOSTNAME" in
  */* | *:*) die "MATRIX_HOSTNAME is a host name (matrix.example.org), without scheme, port or path" ;;
esac

data_dir="${SYNAPSE_DATA_DIR:-$OUT}"
bin="${MATRIX_SYNC_BIN:-matrix-sync}"
umask 077
mkdir -p "$OUT" "$data_dir"

trusted_key_servers() {
  servers="${SYNAPSE_TRUSTED_KEY_SERVERS-matrix.org}"
  if [ -z "$servers" ] || [ "$servers" = none ]; then
    echo "trusted_key_servers: []"
    return
  fi
  echo "trusted_key_servers:"
  for s in $servers; do
    echo "  - server_name: $(q "$s")"
  done
  [ "$servers" != matrix.org ] || echo "suppress_key_server_warning: true"
}

presence="${SYNAPSE_PRESENCE:-false}"
case "$presence" in
  true | false) ;;
  *) die "SYNAPSE_PRESENCE must be true or false" ;;
esac
log_level="${SYNAPSE_LOG_LEVEL:-INFO}"
case "$log_level" in
  DEBUG | INFO | WARNING | ERROR) ;;
  *) die "SYNAPSE_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR" ;;
esac
for name in SYNAPSE_PORT SYNAPSE_DB_PORT; do
  case "$(value "$name")" in
    *[!0-9]*) die "$name must be a port number" ;;
  esac
done

# Each file is written beside its place and moved there whole.
tmp="$OUT/.generate.$$"
trap 'rm -f "$tmp".*' EXIT

cat > "$tmp.log" <<LOG
# Made by deploy/generate.sh; it is overwritten on the next run.
version: 1
formatters:
  precise:
    format: '%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(message)s'
handlers:
  console:
    class: logging.StreamHandler
    formatter: precise
    stream: ext://sys.stdout
loggers:
  synapse.storage.SQL:
    level: WARNING
root:
  level: $log_level
  handlers: [console]
disable_existing_loggers: false
LOG

cat > "$tmp.homeserver" <<CONFIG
# Synapse's configuration, made by deploy/generate.sh from the environment;
# it is overwritten on the next run. Put settings of your own in a file of
# their own (deploy/synapse.d/*.yaml in the compose stack), which Synapse
# reads after this one.
server_name: $(q "$MATRIX_SERVER_NAME")
public_baseurl: $(q "https://$MATRIX_HOSTNAME/")
listeners:
  # Client and federation traffic, behind the TLS reverse proxy.
  - port: ${SYNAPSE_PORT:-8008}
    bind_addresses: [$(q "${SYNAPSE_LISTEN_ADDRESS:-127.0.0.1}")]
    type: http
    tls: false
    x_forwarded: true
    resources:
      - names: [client, federation]
        compress: false
database:
  name: psycopg2
  args:
    host: $(q "${SYNAPSE_DB_HOST:-127.0.0.1}")
    port: ${SYNAPSE_DB_PORT:-5432}
    user: $(q "${SYNAPSE_DB_USER:-synapse}")
    password: $(q "$SYNAPSE_DB_PASSWORD")
    dbname: $(q "${SYNAPSE_DB_NAME:-synapse}")
    cp_min: 5
    cp_max: 10
log_config: $(q "$OUT/log.yaml")
media_store_path: $(q "$data_dir/media_store")
# As the reverse proxy's client_max_body_size.
max_upload_size: 50M
signing_key_path: $(q "$OUT/signing.key")
registration_shared_secret: $(q "$SYNAPSE_REGISTRATION_SHARED_SECRET")
macaroon_secret_key: $(q "$SYNAPSE_MACAROON_SECRET_KEY")
form_secret: $(q "$SYNAPSE_FORM_SECRET")
report_stats: false
enable_registration: false
$(trusted_key_servers)
presence:
  enabled: $presence
# matrix-sync: the platform's users, rooms and bot.
app_service_config_files: [$(q "$OUT/appservice.yaml")]
# matrix-sync makes every room with version 12; so should everyone else here.
default_room_version: "12"
CONFIG

# The registration comes from the service itself, from the same settings.
command -v "$bin" >/dev/null 2>&1 || die "$bin not found (set MATRIX_SYNC_BIN to the matrix-sync binary)"
"$bin" registration --output "$tmp.appservice" || die "matrix-sync registration failed (its message is above)"

# Synapse's signing key, in its own format (`ed25519`, a key id `a_` and
# four letters or digits, the seed in unpadded base64), made once:
# federation peers know the server by it.
if [ ! -s "$OUT/signing.key" ]; then
  key_id="a_$(LC_ALL=C tr -dc 'A-Za-z0-9' < /dev/urandom | head -c 4)"
  seed="$(head -c 32 /dev/urandom | base64 | tr -d '=\n')"
  printf 'ed25519 %s %s\n' "$key_id" "$seed" > "$tmp.key"
  mv "$tmp.key" "$OUT/signing.key"
  echo "generate.sh: made a new signing key ($key_id) in $OUT/signing.key; back it up" >&2
fi

mv "$tmp.log" "$OUT/log.yaml"
mv "$tmp.homeserver" "$OUT/homeserver.yaml"
mv "$tmp.appservice" "$OUT/appservice.yaml"

# Synapse runs as another user (991 in its image): hand it what it reads and
# the folder it writes its media to.
if [ -n "${SYNAPSE_OWNER:-}" ] && [ "$(id -u)" = 0 ]; then
  chown "$SYNAPSE_OWNER" "$OUT" "$data_dir" "$OUT/log.yaml" "$OUT/homeserver.yaml" \
    "$OUT/appservice.yaml" "$OUT/signing.key"
fi

echo "generate.sh: wrote homeserver.yaml, log.yaml and appservice.yaml to $OUT" >&2
