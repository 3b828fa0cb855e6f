#!/bin/sh
# The deployment's one script, in three modes. POSIX sh: it runs in the
# compose stack's one-shot containers (Debian's dash, with curl and coreutils)
# and on a host. (Over 500 lines on purpose: the image carries this one file,
# and dev/synapse.sh configures the test homeservers with it too.)
#
#   generate.sh secrets [DIR]
#     Makes each missing secret, one file each (0600) in DIR (0700; by default
#     secrets/ beside this script, which compose.yaml hands to the services
#     as secrets), named as its setting in lower case:
#       matrix_bot_access_token matrix_as_hs_token matrix_sync_api_token
#       matrix_sync_backup_secret matrix_sync_bot_store_passphrase
#       matrix_sync_db_password synapse_db_password
#       synapse_registration_shared_secret synapse_macaroon_secret_key
#       synapse_form_secret
#     A new one is 64 random hex digits, unless the environment or the .env
#     beside this script still holds the setting (as before secrets were
#     files): that value is kept. It never changes an existing file (it only
#     makes it 0600), and prints names, never values.
#
#   generate.sh [config] OUT_DIR        (or OUT=... generate.sh)
#     Writes the homeserver's configuration from the one environment that
#     also configures matrix-sync (deploy/.env and deploy/secrets/, or
#     /etc/matrix-sync/env and /etc/matrix-sync/secrets/ on a host without
#     containers):
#       OUT/homeserver.yaml   Synapse's configuration
#       OUT/log.yaml          Synapse's logging (to standard output)
#       OUT/appservice.yaml   the application-service registration, printed by
#                             `matrix-sync registration` itself from the same
#                             settings
#       OUT/signing.key       Synapse's federation signing key, made once, kept
#     and, with MATRIX_SYNC_SECRETS_DIR, matrix-sync's secrets there, one file
#     each as matrix-sync reads them (NAME_FILE), owned by MATRIX_SYNC_OWNER:
#     matrix_bot_access_token matrix_as_hs_token matrix_sync_api_token
#     matrix_sync_backup_secret matrix_sync_bot_store_passphrase, and
#     database_url (MATRIX_SYNC_DB_URL with MATRIX_SYNC_DB_PASSWORD put in).
#     Run it again after changing the settings, then restart Synapse and
#     matrix-sync. It overwrites those files (put your own Synapse settings in
#     a file of their own; see deploy/README.md) and never replaces an existing
#     signing key.
#
#   generate.sh admin-token DIR
#     Gives matrix-sync a Synapse server admin's access token, for purging the
#     rooms of hard-deleted communities: waits for Synapse
#     (MATRIX_HOMESERVER_URL), registers the admin SYNAPSE_ADMIN_USER with the
#     registration shared secret (Synapse's /_synapse/admin/v1/register), or
#     logs it in if it exists, and writes its token to
#     DIR/matrix_admin_access_token (0600, owned by MATRIX_SYNC_OWNER). The
#     admin's password is made once and kept in SYNAPSE_ADMIN_PASSWORD_FILE
#     (0600). Run again, it keeps a token that still is an admin's, so it adds
#     no device. With MATRIX_SYNC_SYNAPSE_ADMIN=false it writes an empty token
#     file instead: matrix-sync then cannot purge, and a hard delete leaves the
#     rooms abandoned, their messages in Synapse's database.
#
# Secrets (the ten above): each is NAME, or NAME_FILE (a file holding it, as
# matrix-sync takes them), or else the file SECRETS_DIR/name when SECRETS_DIR
# is set; not NAME and NAME_FILE both.
#
# Inputs (deploy/.env.example documents each):
#   config       required  MATRIX_SERVER_NAME MATRIX_HOSTNAME
#                          SYNAPSE_DB_PASSWORD SYNAPSE_REGISTRATION_SHARED_SECRET
#                          SYNAPSE_MACAROON_SECRET_KEY SYNAPSE_FORM_SECRET, and
#                          what `matrix-sync registration` needs:
#                          MATRIX_HOMESERVER_URL MATRIX_BOT_USER_ID
#                          MATRIX_BOT_ACCESS_TOKEN MATRIX_AS_HS_TOKEN
#                          MATRIX_SYNC_APPSERVICE_URL
#                optional  SYNAPSE_DB_HOST (127.0.0.1) SYNAPSE_DB_PORT (5432)
#                          SYNAPSE_DB_NAME (synapse) SYNAPSE_DB_USER (synapse)
#                          SYNAPSE_LISTEN_ADDRESS (127.0.0.1) SYNAPSE_PORT (8008)
#                          SYNAPSE_DATA_DIR (OUT: the media store goes there)
#                          SYNAPSE_TRUSTED_KEY_SERVERS (matrix.org; "none": none)
#                          SYNAPSE_PRESENCE (false)
#                          SYNAPSE_LOG_LEVEL (INFO)
#                          SYNAPSE_OWNER (user[:group] that gets the files, when
#                          run as root)
#                          MATRIX_SYNC_SECRETS_DIR, MATRIX_SYNC_DB_URL (the
#                          database URL without its password), MATRIX_SYNC_OWNER
#                          (user[:group] that gets matrix-sync's files, when run
#                          as root)
#                          MATRIX_SYNC_BIN (matrix-sync on the PATH)
#   admin-token  required  MATRIX_SERVER_NAME SYNAPSE_REGISTRATION_SHARED_SECRET
#                optional  MATRIX_HOMESERVER_URL (http://127.0.0.1:8008)
#                          MATRIX_SYNC_SYNAPSE_ADMIN (true)
#                          SYNAPSE_ADMIN_USER (matrix-sync-admin)
#                          SYNAPSE_ADMIN_PASSWORD_FILE (DIR/synapse_admin_password)
#                          SYNAPSE_WAIT (seconds to wait for Synapse: 300)
#                          MATRIX_SYNC_OWNER
set -eu

die() { echo "generate.sh: $*" >&2; exit 1; }

# The secrets, as settings.
SECRET_NAMES="MATRIX_BOT_ACCESS_TOKEN MATRIX_AS_HS_TOKEN MATRIX_SYNC_API_TOKEN
  MATRIX_SYNC_BACKUP_SECRET MATRIX_SYNC_BOT_STORE_PASSPHRASE MATRIX_SYNC_DB_PASSWORD
  SYNAPSE_DB_PASSWORD SYNAPSE_REGISTRATION_SHARED_SECRET SYNAPSE_MACAROON_SECRET_KEY
  SYNAPSE_FORM_SECRET"

# The value of the variable named $1 ("" when unset).
value() { eval "printf '%s' \"\${$1:-}\""; }

lower() { printf '%s' "$1" | tr 'ABCDEFGHIJKLMNOPQRSTUVWXYZ' 'abcdefghijklmnopqrstuvwxyz'; }

# 64 random hex digits.
random_secret() { od -An -v -N32 -tx1 /dev/urandom | tr -d ' \n'; }

require() {
  for name in "$@"; do
    [ -n "$(value "$name")" ] || die "$name is required (see deploy/.env.example)"
  done
}

# Reads each named secret given as NAME_FILE, or found in SECRETS_DIR (then
# NAME_FILE is set to it, for matrix-sync), into NAME (not exported).
load_secrets() {
  for name in "$@"; do
    file="$(value "${name}_FILE")"
    if [ -z "$file" ] && [ -z "$(value "$name")" ] && [ -n "${SECRETS_DIR:-}" ]; then
      file="$SECRETS_DIR/$(lower "$name")"
      if [ -e "$file" ]; then export "${name}_FILE=$file"; else file=; fi
    fi
    [ -n "$file" ] || continue
    [ -z "$(value "$name")" ] || die "set $name or ${name}_FILE, not both"
    [ -f "$file" ] || die "${name}: $file is not a file (make the secrets with: sh generate.sh secrets; Docker makes an empty folder where a secret's file is missing: remove it first)"
    [ -r "$file" ] || die "${name}: cannot read $file"
    v="$(cat "$file")"
    eval "$name=\$v"
  done
}

# A secret must be set, changed from the example's placeholder, and long:
# secret MIN_LENGTH NAME...
secret() {
  min="$1"; shift
  for name in "$@"; do
    v="$(value "$name")"
    [ -n "$v" ] || die "$name is required; sh generate.sh secrets makes the missing secrets (deploy/README.md)"
    case "$v" in
      *CHANGE_ME*) die "$name still has the example's placeholder; make one with: openssl rand -hex 32" ;;
    esac
    [ "${#v}" -ge "$min" ] || die "$name is too short ($min characters at least); make one with: openssl rand -hex 32"
  done
}

# Writes secret $2 to file $1 (0600; owned by $3 when given and run as root),
# whole: written beside it, then moved. printf is the shell's own, so the
# secret is never in a command's arguments.
put_secret() {
  part="$(dirname "$1")/.$(basename "$1").$$"
  (umask 077 && printf '%s\n' "$2" > "$part") || { rm -f "$part"; die "cannot write $1"; }
  chmod 600 "$part"
  if [ -n "${3:-}" ] && [ "$(id -u)" = 0 ]; then chown "$3" "$part"; fi
  mv -f "$part" "$1"
}

# A YAML double-quoted scalar.
q() { printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"; }

# ---------------------------------------------------------------- secrets

# The value of $1 in the .env beside this script (the compose stack's
# settings, which held the secrets before they were files), unquoted.
from_env_file() {
  env_file="$(dirname "$0")/.env"
  [ -f "$env_file" ] || return 0
  v="$(sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*//p" "$env_file" | tail -n 1)"
  case "$v" in
    \"*\") v="${v#\"}"; v="${v%\"}" ;;
    \'*\') v="${v#\'}"; v="${v%\'}" ;;
  esac
  printf '%s' "$v"
}

secrets_mode() {
  dir="${1:-$(dirname "$0")/secrets}"
  umask 077
  mkdir -p "$dir" || die "cannot make $dir"
  chmod 700 "$dir"
  made=; kept=
  for name in $SECRET_NAMES; do
    file="$dir/$(lower "$name")"
    if [ -e "$file" ]; then
      [ -f "$file" ] || die "$file is not a file (Docker makes an empty folder where a secret's file is missing: remove it, then run this again)"
      chmod 600 "$file"
      continue
    fi
    v="$(value "$name")"
    [ -n "$v" ] || v="$(from_env_file "$name")"
    case "$v" in *CHANGE_ME*) v= ;; esac
    if [ -n "$v" ]; then
      kept="$kept $name"
    else
      v="$(random_secret)"
      [ "${#v}" = 64 ] || die "cannot read /dev/urandom"
      made="$made $(lower "$name")"
    fi
    put_secret "$file" "$v"
  done
  [ -z "$made" ] || echo "generate.sh: made in $dir:$made" >&2
  [ -z "$kept" ] || echo "generate.sh: wrote the values already set for$kept to $dir; delete them from .env (or the environment): they are read from there no more" >&2
  [ -n "$made$kept" ] || echo "generate.sh: every secret is in $dir already" >&2
}

# ---------------------------------------------------------------- admin-token

# Byte escapes (\ooo) for printf, from hex digits.
hex_to_escapes() {
  rest="$1"
  while [ -n "$rest" ]; do
    printf '\\%03o' "$((0x${rest%"${rest#??}"}))"
    rest="${rest#??}"
  done
}

# HMAC-SHA1 (RFC 2104) of standard input keyed by $1, in hex. The key goes
# through the shell's builtins and pipes only, never a command's arguments
# (which `ps` shows).
hmac_sha1() {
  key_hex="$(printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n')"
  if [ "${#key_hex}" -gt 128 ]; then
    key_hex="$(printf '%s' "$1" | sha1sum | cut -c1-40)"
  fi
  ipad=; opad=; i=0; rest="$key_hex"
  while [ "$i" -lt 64 ]; do
    byte=0
    if [ -n "$rest" ]; then
      byte=$((0x${rest%"${rest#??}"}))
      rest="${rest#??}"
    fi
    ipad="$ipad$(printf '\\%03o' $((byte ^ 54)))"
    opad="$opad$(printf '\\%03o' $((byte ^ 92)))"
    i=$((i + 1))
  done
  # shellcheck disable=SC2059  # the formats are the byte escapes made above
  inner="$({ printf "$ipad"; cat; } | sha1sum | cut -c1-40)"
  # shellcheck disable=SC2059
  { printf "$opad"; printf "$(hex_to_escapes "$inner")"; } | sha1sum | cut -c1-40
}

# A string field of the JSON object in file $2.
json_field() { sed -n "s/.*\"$1\" *: *\"\\([^\"]*\\)\".*/\\1/p" "$2" | head -n 1; }

# What Synapse says in error file $1, for a message.
synapse_error() {
  e="$(json_field errcode "$1") $(json_field error "$1")"
  [ "$e" != " " ] || e="$(head -c 200 "$1" | tr -d '\n')"
  printf '%s' "$e"
}

# POSTs standard input (JSON) to $url$1; the answer goes to file $2; prints
# the HTTP status (000: no answer).
post_json() {
  curl -sS --max-time 60 -o "$2" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary @- "$url$1" 2>"$work/curl.err" || true
}

# The HTTP status of GET /_synapse/admin/v2/users/$user_id with token $1: 200
# only if it is a server admin's token (and the answer says so). The token
# goes to curl through its standard input, not its arguments.
admin_status() {
  status="$(printf 'header = "Authorization: Bearer %s"\n' "$1" \
    | curl -sS --max-time 60 -K - -o "$work/admin.json" -w '%{http_code}' \
      "$url/_synapse/admin/v2/users/$user_id" 2>"$work/curl.err" || true)"
  if [ "$status" = 200 ] && ! grep -q '"admin" *: *true' "$work/admin.json"; then
    status=403
  fi
  printf '%s' "$status"
}

admin_token_mode() {
  dir="${1:-}"
  [ -n "$dir" ] || die "usage: generate.sh admin-token DIR"
  umask 077
  mkdir -p "$dir" || die "cannot make $dir"
  token_file="$dir/matrix_admin_access_token"
  owner="${MATRIX_SYNC_OWNER:-}"
  case "${MATRIX_SYNC_SYNAPSE_ADMIN:-true}" in
    true) ;;
    false)
      put_secret "$token_file" "" "$owner"
      echo "generate.sh: MATRIX_SYNC_SYNAPSE_ADMIN=false: no admin token for matrix-sync; a hard delete leaves the rooms abandoned and their messages in Synapse's database" >&2
      return ;;
    *) die "MATRIX_SYNC_SYNAPSE_ADMIN must be true or false" ;;
  esac
  require MATRIX_SERVER_NAME
  load_secrets SYNAPSE_REGISTRATION_SHARED_SECRET
  secret 20 SYNAPSE_REGISTRATION_SHARED_SECRET
  user="${SYNAPSE_ADMIN_USER:-matrix-sync-admin}"
  case "$user" in
    '' | *[!a-z0-9._=/-]*) die "SYNAPSE_ADMIN_USER may hold only lower-case letters, digits and . _ = / -" ;;
  esac
  user_id="@$user:$MATRIX_SERVER_NAME"
  password_file="${SYNAPSE_ADMIN_PASSWORD_FILE:-$dir/synapse_admin_password}"
  url="${MATRIX_HOMESERVER_URL:-http://127.0.0.1:8008}"
  url="${url%/}"
  device=MATRIX_SYNC_ADMIN
  device_name="matrix-sync (purges hard-deleted rooms)"
  command -v curl >/dev/null 2>&1 || die "curl is missing"
  work="$(mktemp -d "${TMPDIR:-/tmp}/generate.XXXXXX")" || die "mktemp failed"
  trap 'rm -rf "$work"' EXIT

  wait="${SYNAPSE_WAIT:-300}"
  case "$wait" in '' | *[!0-9]*) die "SYNAPSE_WAIT is a number of seconds" ;; esac
  waited=0
  until curl -fsS --max-time 5 -o /dev/null "$url/health" 2>/dev/null; do
    [ "$waited" -lt "$wait" ] || die "Synapse does not answer at $url/health (waited $wait s)"
    sleep 2
    waited=$((waited + 2))
  done

  # The token made before, while it still is an admin's.
  token=
  if [ -s "$token_file" ]; then
    token="$(cat "$token_file")"
    status="$(admin_status "$token")"
    case "$status" in
      200) ;;
      401) token= ;;  # logged out, or the database is new: log in again
      403) die "$user_id is no server admin (any more); make it one again, or set MATRIX_SYNC_SYNAPSE_ADMIN=false" ;;
      *) die "Synapse answers $status to the admin token's check at $url: $(synapse_error "$work/admin.json") $(cat "$work/curl.err")" ;;
    esac
  fi

  if [ -z "$token" ]; then
    if [ ! -s "$password_file" ]; then
      mkdir -p "$(dirname "$password_file")"
      put_secret "$password_file" "$(random_secret)"
    fi
    password="$(cat "$password_file")"
    # Registration with the shared secret: a nonce, then the HMAC-SHA1 of
    # nonce\0user\0password\0admin.
    status="$(curl -sS --max-time 60 -o "$work/nonce.json" -w '%{http_code}' \
      "$url/_synapse/admin/v1/register" 2>"$work/curl.err" || true)"
    nonce="$(json_field nonce "$work/nonce.json")"
    if [ "$status" != 200 ] || [ -z "$nonce" ]; then
      die "Synapse gives no registration nonce at $url/_synapse/admin/v1/register ($status): $(synapse_error "$work/nonce.json")"
    fi
    mac="$(printf '%s\000%s\000%s\000admin' "$nonce" "$user" "$password" \
      | hmac_sha1 "$SYNAPSE_REGISTRATION_SHARED_SECRET")"
    status="$(printf '{"nonce":"%s","username":"%s","password":"%s","admin":true,"mac":"%s","device_id":"%s","initial_device_display_name":"%s"}' \
      "$nonce" "$user" "$password" "$mac" "$device" "$device_name" \
      | post_json /_synapse/admin/v1/register "$work/token.json")"
    if [ "$status" = 200 ]; then
      echo "generate.sh: registered the Synapse server admin $user_id for matrix-sync" >&2
    elif [ "$status" = 400 ] && [ "$(json_field errcode "$work/token.json")" = M_USER_IN_USE ]; then
      status="$(printf '{"type":"m.login.password","identifier":{"type":"m.id.user","user":"%s"},"password":"%s","device_id":"%s","initial_device_display_name":"%s"}' \
        "$user" "$password" "$device" "$device_name" \
        | post_json /_matrix/client/v3/login "$work/token.json")"
      [ "$status" = 200 ] \
        || die "$user_id exists, but logging it in with the password in $password_file fails ($status: $(synapse_error "$work/token.json")). If that file was lost, restore it, or set SYNAPSE_ADMIN_USER to another name (deploy/README.md)"
      echo "generate.sh: logged the Synapse server admin $user_id in again (its token was gone or logged out); a running matrix-sync reads the new one when restarted" >&2
    else
      die "Synapse refuses to register $user_id ($status: $(synapse_error "$work/token.json") $(cat "$work/curl.err"))"
    fi
    token="$(json_field access_token "$work/token.json")"
    [ -n "$token" ] || die "Synapse's answer holds no access token"
    status="$(admin_status "$token")"
    [ "$status" = 200 ] || die "$user_id's new token is not a server admin's ($status: $(synapse_error "$work/admin.json"))"
  fi
  put_secret "$token_file" "$token" "$owner"
  echo "generate.sh: $user_id's access token (a server admin's) is in $token_file" >&2
}

case "${1:-}" in
  secrets) shift; secrets_mode "$@"; exit 0 ;;
  admin-token) shift; admin_token_mode "$@"; exit 0 ;;
  config) shift ;;
esac

# ---------------------------------------------------------------- config

OUT="${1:-${OUT:-}}"
[ -n "$OUT" ] || die "usage: generate.sh [config] OUT_DIR (or set OUT), generate.sh secrets [DIR], generate.sh admin-token DIR"

# shellcheck disable=SC2086  # a list of names
load_secrets $SECRET_NAMES
require MATRIX_SERVER_NAME MATRIX_HOSTNAME
secret 20 SYNAPSE_DB_PASSWORD SYNAPSE_REGISTRATION_SHARED_SECRET SYNAPSE_MACAROON_SECRET_KEY \
  SYNAPSE_FORM_SECRET MATRIX_BOT_ACCESS_TOKEN MATRIX_AS_HS_TOKEN
# Not used here (but for matrix-sync's copies), yet checked here too: the
# stack must not start with them.
[ -z "${MATRIX_SYNC_API_TOKEN:-}" ] || {
  secret 32 MATRIX_SYNC_API_TOKEN
  if [ "$MATRIX_SYNC_API_TOKEN" = "$MATRIX_BOT_ACCESS_TOKEN" ] || [ "$MATRIX_SYNC_API_TOKEN" = "$MATRIX_AS_HS_TOKEN" ]; then
    die "MATRIX_SYNC_API_TOKEN must differ from MATRIX_BOT_ACCESS_TOKEN and MATRIX_AS_HS_TOKEN"
  fi
}
[ -z "${MATRIX_SYNC_BACKUP_SECRET:-}" ] || secret 32 MATRIX_SYNC_BACKUP_SECRET
[ -z "${MATRIX_SYNC_BOT_STORE_PASSPHRASE:-}" ] || secret 16 MATRIX_SYNC_BOT_STORE_PASSPHRASE
[ -z "${MATRIX_SYNC_DB_PASSWORD:-}" ] || {
  secret 20 MATRIX_SYNC_DB_PASSWORD
  # It goes into DATABASE_URL as it is.
  case "$MATRIX_SYNC_DB_PASSWORD" in
    *[!A-Za-z0-9._~-]*) die "MATRIX_SYNC_DB_PASSWORD may hold only letters, digits and . _ ~ - (it is part of a URL); make one with: openssl rand -hex 32" ;;
  esac
}
if [ -n "${MATRIX_SYNC_SECRETS_DIR:-}" ]; then
  secret 32 MATRIX_SYNC_API_TOKEN MATRIX_SYNC_BACKUP_SECRET
  secret 16 MATRIX_SYNC_BOT_STORE_PASSPHRASE
  secret 20 MATRIX_SYNC_DB_PASSWORD
  require MATRIX_SYNC_DB_URL
  case "$MATRIX_SYNC_DB_URL" in
    postgres://*@* | postgresql://*@*) ;;
    *) die "MATRIX_SYNC_DB_URL is postgres://USER@HOST:PORT/DATABASE (without the password)" ;;
  esac
  db_user="${MATRIX_SYNC_DB_URL#*://}"
  db_user="${db_user%%@*}"
  case "$db_user" in
    *:* | */*) die "MATRIX_SYNC_DB_URL holds a password or no user; give it as postgres://USER@HOST:PORT/DATABASE" ;;
  esac
fi

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

# matrix-sync's secrets, one file each, as it reads them (NAME_FILE), for
# the user it runs as (compose's matrix-sync-secrets volume).
if [ -n "${MATRIX_SYNC_SECRETS_DIR:-}" ]; then
  mkdir -p "$MATRIX_SYNC_SECRETS_DIR"
  chmod 700 "$MATRIX_SYNC_SECRETS_DIR"
  if [ -n "${MATRIX_SYNC_OWNER:-}" ] && [ "$(id -u)" = 0 ]; then
    chown "$MATRIX_SYNC_OWNER" "$MATRIX_SYNC_SECRETS_DIR"
  fi
  for name in MATRIX_BOT_ACCESS_TOKEN MATRIX_AS_HS_TOKEN MATRIX_SYNC_API_TOKEN \
    MATRIX_SYNC_BACKUP_SECRET MATRIX_SYNC_BOT_STORE_PASSPHRASE; do
    put_secret "$MATRIX_SYNC_SECRETS_DIR/$(lower "$name")" "$(value "$name")" "${MATRIX_SYNC_OWNER:-}"
  done
  db_scheme="${MATRIX_SYNC_DB_URL%%://*}"
  db_rest="${MATRIX_SYNC_DB_URL#*://}"
  put_secret "$MATRIX_SYNC_SECRETS_DIR/database_url" \
    "$db_scheme://$db_user:$MATRIX_SYNC_DB_PASSWORD@${db_rest#*@}" "${MATRIX_SYNC_OWNER:-}"
  echo "generate.sh: wrote matrix-sync's secrets to $MATRIX_SYNC_SECRETS_DIR" >&2
fi

echo "generate.sh: wrote homeserver.yaml, log.yaml and appservice.yaml to $OUT" >&2
