#!/usr/bin/env bash
# Checks deploy/ without a container engine (none runs on the project's
# machines), for `make test` and CI:
#
#   1. compose.yaml is valid under the Compose specification with
#      .env.example (`docker compose config`, or Debian's docker-compose 1.29
#      when the v2 plugin is missing), and pins the Synapse the tests run. The
#      operator's set-up, in a copy of deploy/ (cp .env.example .env; sh
#      generate.sh secrets), makes every secret once (0600 files in a 0700
#      folder; a second run changes nothing; a value left in an old .env is
#      kept), and compose then passes every secret as a file: no secret's
#      value anywhere in the resolved file, matrix-sync's secrets as NAME_FILE
#      settings on a volume it mounts read-only and `config`/`admin-token`
#      write.
#   2. generate.sh, run with exactly the environment, secrets and volumes
#      compose gives the `config` service (container paths mapped onto this
#      machine) and this build's `matrix-sync registration`, and with only the
#      tools of the image (Debian's essential packages and curl), refuses to
#      run before the secrets exist; then writes Synapse's configuration and
#      matrix-sync's secret files (0600, for its user) and keeps the signing
#      key when run again.
#   3. Synapse (the version in .dev/venv, dev/synapse.sh's) loads that
#      configuration with an override file from deploy/synapse.d, its signing
#      key and the registration, and its values agree with what compose gives
#      the databases and matrix-sync.
#   4. Synapse serves that configuration (its database and listener moved onto
#      this machine), and `generate.sh admin-token`, as the `admin-token`
#      service runs it, registers a server admin with the shared secret and
#      writes its token (0600, for matrix-sync's user); the token is a server
#      admin's (/_synapse/admin/v2/users answers admin: true); run again, it
#      keeps the token; with the token lost, it logs in with the kept password
#      (on the same device); with MATRIX_SYNC_SYNAPSE_ADMIN=false it writes an
#      empty token; it never prints the token or the password.
#   5. The matrix-sync service's own settings (secrets from the files above)
#      print the same registration, and with them (its database, homeserver
#      and address moved onto this machine) `matrix-sync migrate` and `serve`
#      run, /healthz answers, and SIGTERM stops it with exit 0.
#   6. nginx -t accepts the proxy's template, rendered as the nginx image does
#      (with a self-signed certificate in place of the mounted one), also when
#      the server name and the host name are one; the discovery files are JSON.
#   7. systemd-analyze verify accepts deploy/systemd/matrix-sync.service, and
#      the Dockerfile's sources are in the build context.
#
# Installs what is missing (Debian's docker-compose and nginx-light; Synapse
# into .dev/venv as dev/synapse.sh does). Needs the matrix-sync binary:
# MATRIX_SYNC_BIN, by default $CARGO_TARGET_DIR/debug/matrix-sync (make build).
# Quiet on success (one line), loud on failure.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

die() { echo "dev/compose-check.sh: FAILED: $*" >&2; exit 1; }

bin="${MATRIX_SYNC_BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/matrix-sync/target}/debug/matrix-sync}"
[ -x "$bin" ] || die "no matrix-sync binary at $bin (run make build, or set MATRIX_SYNC_BIN)"

apt_install() {
  echo "Installing $* from Debian's packages for dev/compose-check.sh…" >&2
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@"; } >/dev/null \
    || die "apt-get install $* failed"
}

# The Compose implementation: the v2 plugin if there is one, else v1.
if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
else
  command -v docker-compose >/dev/null || apt_install docker-compose
  compose=(docker-compose)
fi
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || apt_install nginx-light
nginx="$(command -v nginx || echo /usr/sbin/nginx)"
for tool in curl dpkg-query envsubst openssl systemd-analyze; do
  command -v "$tool" >/dev/null || die "$tool is missing"
done

# The Synapse the tests use, installed as dev/synapse.sh installs it.
synapse_version="$(sed -n 's/^SYNAPSE_VERSION="\(.*\)"$/\1/p' dev/synapse.sh)"
[ -n "$synapse_version" ] || die "cannot read SYNAPSE_VERSION from dev/synapse.sh"
venv="$root/.dev/venv"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.synapse-version" 2>/dev/null)" != "$synapse_version" ]; then
  echo "Installing Synapse $synapse_version into $venv (about a minute)…" >&2
  python3 -m venv "$venv" || die "python3 -m venv failed"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "matrix-synapse==$synapse_version" \
    || die "pip install matrix-synapse==$synapse_version failed"
  echo "$synapse_version" > "$venv/.synapse-version"
fi
py="$venv/bin/python"

tmp="$(mktemp -d)"
service_pid=
synapse_pid=
cleanup() {
  [ -z "$service_pid" ] || kill "$service_pid" 2>/dev/null || true
  [ -z "$synapse_pid" ] || kill "$synapse_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# The tools of the matrix-sync image (debian:bookworm-slim, whose essential
# packages this machine's Debian has too, and curl), for the scripts it runs.
mkdir -p "$tmp/image-bin"
while read -r pkg; do
  dpkg -L "$pkg" 2>/dev/null | grep -E '^/(usr/)?s?bin/[^/]+$' || true
done < <(dpkg-query -W -f='${Package}\t${Essential}\n' | awk -F'\t' '$2 == "yes" { print $1 }') \
  | while read -r tool; do ln -sf "$tool" "$tmp/image-bin/$(basename "$tool")"; done
ln -sf "$(command -v dash)" "$tmp/image-bin/sh"
ln -sf "$(command -v curl)" "$tmp/image-bin/curl"
for tool in sh od sha1sum sed grep mktemp chown; do
  [ -x "$tmp/image-bin/$tool" ] || die "cannot find $tool among Debian's essential packages"
done
image_path="$tmp/image-bin"
host_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# The secrets: their settings, and their files in deploy/secrets/.
secret_names=(MATRIX_BOT_ACCESS_TOKEN MATRIX_AS_HS_TOKEN MATRIX_SYNC_API_TOKEN MATRIX_SYNC_BACKUP_SECRET
  MATRIX_SYNC_BOT_STORE_PASSPHRASE MATRIX_SYNC_DB_PASSWORD SYNAPSE_DB_PASSWORD
  SYNAPSE_REGISTRATION_SHARED_SECRET SYNAPSE_MACAROON_SECRET_KEY SYNAPSE_FORM_SECRET)
secret_files=()
for name in "${secret_names[@]}"; do secret_files+=("${name,,}"); done

# 1. The compose file, with the example's settings, then as an operator sets
# it up, in a copy of deploy/.
grep -q "image: matrixdotorg/synapse:v$synapse_version\$" deploy/compose.yaml \
  || die "deploy/compose.yaml does not pin matrixdotorg/synapse:v$synapse_version (dev/synapse.sh's SYNAPSE_VERSION)"
"${compose[@]}" --env-file deploy/.env.example -f deploy/compose.yaml config > "$tmp/example.yaml" 2> "$tmp/compose.err" \
  || { cat "$tmp/compose.err" >&2; die "compose config rejects deploy/compose.yaml with deploy/.env.example"; }
site="$tmp/site/deploy"
mkdir -p "$site"
cp -a deploy/. "$site/"
rm -rf "$site/.env" "$site/secrets"
cp deploy/.env.example "$site/.env"
(cd "$site" && "${compose[@]}" config) > "$tmp/unset.yaml" 2> "$tmp/compose.err" \
  || { cat "$tmp/compose.err" >&2; die "compose config rejects deploy/compose.yaml in a copy of deploy/ with .env.example as .env"; }

# A service as compose runs it, on this machine: its environment as
# NAME=value lines (compose writes a literal $ as $$) and its command, one
# argument a line, with container paths moved onto the files that compose
# would mount there: its secrets (each under a /run/secrets of its own, linked
# to the file compose names) and its volumes ($tmp/volumes/NAME): that is
# dev/compose_service.py.

# Runs a command with exactly the environment in file $1, and PATH: this
# machine's (with_env) or the image's tools only (in_image).
with_env() {
  local file="$1"; shift
  local -a vars=()
  mapfile -t vars < "$file"
  env -i PATH="$host_path" "${vars[@]}" "$@"
}
in_image() {
  local file="$1"; shift
  local -a vars=()
  mapfile -t vars < "$file"
  env -i PATH="$image_path" "${vars[@]}" "$@"
}

# generate.sh, as the `config` service runs it, refuses to start before the
# secrets exist, and says how to make them.
"$py" "$root/dev/compose_service.py" "$tmp/unset.yaml" config "$tmp/unset" "$tmp/unset-config.env" "$tmp/unset-config.cmd" \
  || die "cannot read the service config (with .env.example)"
if in_image "$tmp/unset-config.env" MATRIX_SYNC_BIN="$bin" /bin/sh deploy/generate.sh config "$tmp/unset/out" \
    > "$tmp/generate.out" 2>&1; then
  die "generate.sh config ran without the secrets"
fi
grep -q "generate.sh secrets" "$tmp/generate.out" || { cat "$tmp/generate.out" >&2; die "generate.sh failed without the secrets, but does not say that generate.sh secrets makes them"; }

# The operator's commands (deploy/README.md, "Settings"), twice.
(cd "$site" && env -i PATH="$host_path" sh generate.sh secrets) > "$tmp/secrets.out" 2>&1 \
  || { cat "$tmp/secrets.out" >&2; die "sh generate.sh secrets fails in a fresh copy of deploy/"; }
[ "$(stat -c %a "$site/secrets")" = 700 ] || die "generate.sh secrets: deploy/secrets is not 0700"
for f in "${secret_files[@]}"; do
  [ -f "$site/secrets/$f" ] || die "generate.sh secrets did not make secrets/$f"
  [ "$(stat -c %a "$site/secrets/$f")" = 600 ] || die "generate.sh secrets: secrets/$f is not 0600"
  grep -qxE '[0-9a-f]{64}' "$site/secrets/$f" || die "generate.sh secrets: secrets/$f is not 64 hex digits"
  ! grep -qF -f "$site/secrets/$f" "$tmp/secrets.out" || die "generate.sh secrets prints the value of $f"
done
[ "$(cat "$site"/secrets/* | sort -u | wc -l)" = "${#secret_files[@]}" ] || die "generate.sh secrets made two equal secrets"
(cd "$site/secrets" && sha256sum -- * > "$tmp/secrets.sum")
(cd "$site" && env -i PATH="$host_path" sh generate.sh secrets) > "$tmp/secrets.out" 2>&1 || { cat "$tmp/secrets.out" >&2; die "sh generate.sh secrets fails when run again"; }
(cd "$site/secrets" && sha256sum --quiet -c "$tmp/secrets.sum") > /dev/null 2>&1 || die "generate.sh secrets changed a secret on its second run"
# A site from before secrets were files: the values in its .env are kept
# (the database passwords must not change), placeholders are not.
mkdir -p "$tmp/old-site"
cp deploy/generate.sh "$tmp/old-site/"
printf 'MATRIX_SYNC_DB_PASSWORD=%s\nMATRIX_SYNC_API_TOKEN="%s"\nSYNAPSE_FORM_SECRET=CHANGE_ME\n' \
  0123456789abcdef0123456789abcdef "an old api token of 32 characters or more" > "$tmp/old-site/.env"
(cd "$tmp/old-site" && env -i PATH="$host_path" sh generate.sh secrets) > "$tmp/secrets.out" 2>&1 || { cat "$tmp/secrets.out" >&2; die "generate.sh secrets fails with an old .env"; }
if [ "$(cat "$tmp/old-site/secrets/matrix_sync_db_password")" != 0123456789abcdef0123456789abcdef ] \
  || [ "$(cat "$tmp/old-site/secrets/matrix_sync_api_token")" != "an old api token of 32 characters or more" ]; then
  die "generate.sh secrets does not keep the secrets of an old .env"
fi
grep -qxE '[0-9a-f]{64}' "$tmp/old-site/secrets/synapse_form_secret" || die "generate.sh secrets keeps a CHANGE_ME placeholder"

(cd "$site" && "${compose[@]}" config) > "$tmp/filled.yaml" 2> "$tmp/compose.err" \
  || { cat "$tmp/compose.err" >&2; die "compose config rejects deploy/compose.yaml with the secrets made"; }


for s in config admin-token matrix-sync proxy synapse-db matrix-sync-db; do
  "$py" "$root/dev/compose_service.py" "$tmp/filled.yaml" "$s" "$tmp" "$tmp/$s.env" "$tmp/$s.cmd" \
    || die "cannot read the service $s"
done


# Secrets as files: no secret's value anywhere in what compose resolves (so in
# no service's environment), none of their settings as plain values, the
# databases' passwords as POSTGRES_PASSWORD_FILE, and matrix-sync's secrets as
# NAME_FILE on a volume it mounts read-only, which `config` (and, for the
# admin's token, `admin-token`) mounts at the same place.
"$py" "$root/dev/compose_secrets_check.py" "$tmp/filled.yaml" "$site/secrets" || die "compose.yaml does not pass the secrets as files (the line above says how)"


# 2. generate.sh as the `config` service runs it, with the image's tools.
mapfile -t config_cmd < "$tmp/config.cmd"
[ "${config_cmd[0]}" = config ] || die "the config service does not run generate.sh config"
out="${config_cmd[1]}"
[ "$out" = "$tmp/volumes/synapse-data" ] || die "the config service does not write into the synapse-data volume"
for run in first second; do
  in_image "$tmp/config.env" MATRIX_SYNC_BIN="$bin" /bin/sh deploy/generate.sh config "$out" > "$tmp/generate.out" 2>&1 \
    || { cat "$tmp/generate.out" >&2; die "generate.sh failed ($run run)"; }
  [ "$run" = second ] || cp "$out/signing.key" "$tmp/signing.key.first"
done
cmp -s "$out/signing.key" "$tmp/signing.key.first" || die "generate.sh replaced the signing key on its second run"
! compgen -G "$out/.generate.*" >/dev/null || die "generate.sh left temporary files in $out"
for f in "${secret_files[@]}"; do
  ! grep -qF -f "$site/secrets/$f" "$tmp/generate.out" || die "generate.sh config prints the value of $f"
done
# matrix-sync's copies, for its user.
copies="$tmp/volumes/matrix-sync-secrets"
[ "$(stat -c %a "$copies")" = 700 ] || die "generate.sh config: matrix-sync's secrets folder is not 0700"
for f in matrix_bot_access_token matrix_as_hs_token matrix_sync_api_token matrix_sync_backup_secret \
  matrix_sync_bot_store_passphrase database_url; do
  [ -f "$copies/$f" ] || die "generate.sh config did not write matrix-sync's $f"
  [ "$(stat -c %a "$copies/$f")" = 600 ] || die "generate.sh config: matrix-sync's $f is not 0600"
  if [ "$(id -u)" = 0 ]; then
    [ "$(stat -c %u:%g "$copies/$f")" = 10001:10001 ] || die "generate.sh config: matrix-sync's $f is not its user's (10001)"
  fi
  [ "$f" = database_url ] || cmp -s "$copies/$f" "$site/secrets/$f" || die "generate.sh config: matrix-sync's $f differs from secrets/$f"
done
[ "$(cat "$copies/database_url")" = "postgres://matrix_sync:$(cat "$site/secrets/matrix_sync_db_password")@matrix-sync-db:5432/matrix_sync" ] \
  || die "generate.sh config: matrix-sync's database_url is not matrix-sync-db's with its password"
! compgen -G "$copies/.*.*" >/dev/null || die "generate.sh left temporary files in $copies"

# 3. Synapse loads it all, and it agrees with the rest of the stack.
mkdir -p "$tmp/synapse.d"
printf 'admin_contact: "mailto:admin@example.org"\n' > "$tmp/synapse.d/50-site.yaml"
"$py" "$root/dev/synapse_config_check.py" "$out" "$tmp" > "$tmp/synapse.out" 2>&1 || { cat "$tmp/synapse.out" >&2; die "the generated Synapse configuration fails its check (the line above says which)"; }

# 4. Synapse serves that configuration (SQLite and a loopback port in place of
# its database and listener), and the `admin-token` service's step gives
# matrix-sync a server admin's token.
synapse_port="$(free_port)"
synapse_url="http://127.0.0.1:$synapse_port"
mkdir -p "$tmp/synapse"
cat > "$tmp/synapse/local.yaml" <<YAML
listeners:
  - port: $synapse_port
    bind_addresses: ["127.0.0.1"]
    type: http
    tls: false
    x_forwarded: true
    resources:
      - names: [client, federation]
        compress: false
database:
  name: sqlite3
  args:
    database: "$tmp/synapse/homeserver.db"
YAML
"$py" -m synapse.app.homeserver -c "$out/homeserver.yaml" -c "$tmp/synapse.d" -c "$tmp/synapse/local.yaml" \
  > "$tmp/synapse/out.log" 2>&1 < /dev/null &
synapse_pid=$!
for _ in $(seq 1 240); do
  curl -fsS -o /dev/null "$synapse_url/health" 2>/dev/null && break
  kill -0 "$synapse_pid" 2>/dev/null || { tail -30 "$tmp/synapse/out.log" >&2; die "Synapse exits with the generated configuration"; }
  sleep 0.5
done
curl -fsS -o /dev/null "$synapse_url/health" || { tail -30 "$tmp/synapse/out.log" >&2; die "Synapse did not answer within 120 s"; }

mapfile -t admin_cmd < "$tmp/admin-token.cmd"
[ "${admin_cmd[0]}" = admin-token ] || die "the admin-token service does not run generate.sh admin-token"
[ "${admin_cmd[1]}" = "$copies" ] || die "the admin-token service does not write into matrix-sync's secrets volume"
token_file="$(sed -n 's/^MATRIX_ADMIN_ACCESS_TOKEN_FILE=//p' "$tmp/matrix-sync.env")"
[ "$token_file" = "$copies/matrix_admin_access_token" ] || die "matrix-sync does not read the token admin-token writes"
password_file="$(sed -n 's/^SYNAPSE_ADMIN_PASSWORD_FILE=//p' "$tmp/admin-token.env")"
[ -n "$password_file" ] || die "the admin-token service sets no SYNAPSE_ADMIN_PASSWORD_FILE"
server_name="$(sed -n 's/^MATRIX_SERVER_NAME=//p' "$tmp/admin-token.env")"
admin_id="@$(sed -n 's/^SYNAPSE_ADMIN_USER=//p' "$tmp/admin-token.env"):$server_name"
[ "$admin_id" = "@matrix-sync-admin:$server_name" ] || die "the admin-token service's admin is not @matrix-sync-admin by default"
# Runs generate.sh admin-token as the admin-token service does, against it.
admin_token() {
  in_image "$tmp/admin-token.env" MATRIX_HOMESERVER_URL="$synapse_url" SYNAPSE_WAIT=30 \
    /bin/sh deploy/generate.sh admin-token "${admin_cmd[1]}" > "$tmp/admin-token.out" 2>&1 \
    || { cat "$tmp/admin-token.out" >&2; die "generate.sh admin-token fails ($1)"; }
  ! grep -qF -f "$password_file" "$tmp/admin-token.out" || die "generate.sh admin-token prints the admin's password"
  if [ -s "$token_file" ]; then
    ! grep -qF -f "$token_file" "$tmp/admin-token.out" || die "generate.sh admin-token prints the token"
  fi
}
# Prints what GET /_synapse/admin/v2/users/ADMIN answers to the token in the
# file (status, and whether it says admin), and the admin's devices.
is_admin() {
  "$py" "$root/dev/synapse_admin_status.py" "$synapse_url" "$admin_id" "$1"
}
check_token() {
  local what="$1" answer
  [ -s "$token_file" ] || die "generate.sh admin-token wrote no token ($what)"
  [ "$(stat -c %a "$token_file")" = 600 ] || die "the admin token's file is not 0600 ($what)"
  if [ "$(id -u)" = 0 ]; then
    [ "$(stat -c %u "$token_file")" = 10001 ] || die "the admin token's file is not matrix-sync's user's (10001) ($what)"
  fi
  [ "$(stat -c %a "$password_file")" = 600 ] || die "the admin's password file is not 0600 ($what)"
  answer="$(is_admin "$token_file")"
  [ "$answer" = "200 True 1" ] \
    || die "the admin token is not a server admin's with one device ($what): GET /_synapse/admin/v2/users/$admin_id answers $answer"
}
admin_token "the first run"
grep -q "registered" "$tmp/admin-token.out" || { cat "$tmp/admin-token.out" >&2; die "generate.sh admin-token did not register the admin"; }
check_token "registered"
cp "$token_file" "$tmp/token.first"
admin_token "run again"
cmp -s "$token_file" "$tmp/token.first" || die "generate.sh admin-token replaced a working token when run again"
check_token "run again"
rm "$token_file"
admin_token "the token lost"
check_token "logged in again with the kept password"
! cmp -s "$token_file" "$tmp/token.first" || die "generate.sh admin-token did not log in again"
mkdir -p "$tmp/opt-out"
in_image "$tmp/admin-token.env" MATRIX_HOMESERVER_URL=http://127.0.0.1:9 MATRIX_SYNC_SYNAPSE_ADMIN=false \
  /bin/sh deploy/generate.sh admin-token "$tmp/opt-out" > "$tmp/admin-token.out" 2>&1 \
  || { cat "$tmp/admin-token.out" >&2; die "generate.sh admin-token fails with MATRIX_SYNC_SYNAPSE_ADMIN=false"; }
if [ ! -f "$tmp/opt-out/matrix_admin_access_token" ] || [ -n "$(cat "$tmp/opt-out/matrix_admin_access_token")" ]; then
  die "generate.sh admin-token with MATRIX_SYNC_SYNAPSE_ADMIN=false does not write an empty token"
fi
kill -TERM "$synapse_pid"
wait "$synapse_pid" 2>/dev/null || true
synapse_pid=

# 5. The service starts with every setting compose gives it (only its database,
# homeserver, address and data folder moved onto this machine; its secrets
# from the files written above), answers its health check and stops cleanly on
# SIGTERM, as the systemd unit expects.
with_env "$tmp/matrix-sync.env" "$bin" registration > "$tmp/registration-from-service.yaml" \
  || die "matrix-sync registration fails with the matrix-sync service's settings"
cmp -s "$out/appservice.yaml" "$tmp/registration-from-service.yaml" \
  || die "the matrix-sync service prints another registration than the one generated"
grep -v '^DATABASE_URL_FILE=' "$tmp/matrix-sync.env" > "$tmp/matrix-sync-local.env"
port="$(free_port)"
local_env=(DATABASE_URL="sqlite://$tmp/service/matrix-sync.db" MATRIX_HOMESERVER_URL=http://127.0.0.1:9
  MATRIX_SYNC_LISTEN="127.0.0.1:$port" MATRIX_SYNC_DATA_DIR="$tmp/service/data")
with_env "$tmp/matrix-sync-local.env" "${local_env[@]}" "$bin" migrate > "$tmp/service.out" 2>&1 \
  || { cat "$tmp/service.out" >&2; die "matrix-sync migrate fails with the matrix-sync service's settings"; }
mapfile -t service_vars < "$tmp/matrix-sync-local.env"
env -i PATH="$host_path" "${service_vars[@]}" "${local_env[@]}" "$bin" serve > "$tmp/service.out" 2>&1 &
service_pid=$!  # env execs the service: this is its pid
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null && break
  kill -0 "$service_pid" 2>/dev/null || { wait "$service_pid" || true; cat "$tmp/service.out" >&2; die "matrix-sync serve exits with the matrix-sync service's settings"; }
  sleep 0.1
done
curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" || { kill "$service_pid"; die "matrix-sync serve did not answer /healthz within 10 s"; }
kill -TERM "$service_pid"
service_rc=0
wait "$service_pid" || service_rc=$?
service_pid=
[ "$service_rc" = 0 ] || { cat "$tmp/service.out" >&2; die "matrix-sync serve exited with $service_rc on SIGTERM"; }

# 6. The proxy: the template rendered as the nginx image renders it (only the
# variables NGINX_ENVSUBST_FILTER admits), certificate paths pointed at a
# self-signed pair.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=matrix.example.org" \
  -keyout "$tmp/tls.key" -out "$tmp/tls.crt" >/dev/null 2>&1 || die "openssl could not make a test certificate"
check_nginx() {
  local envfile="$1" label="$2" filter names
  mkdir -p "$tmp/nginx/conf.d"
  filter="$(sed -n 's/^NGINX_ENVSUBST_FILTER=//p' "$envfile")"
  names="$(cut -d= -f1 "$envfile" | grep -E "$filter" | sed 's/.*/${&}/' | tr '\n' ' ')"
  with_env "$envfile" TLS_CERTIFICATE="$tmp/tls.crt" TLS_CERTIFICATE_KEY="$tmp/tls.key" \
    envsubst "$names" < deploy/nginx/templates/default.conf.template > "$tmp/nginx/conf.d/default.conf"
  # shellcheck disable=SC2016  # a literal ${
  ! grep -q '\${' "$tmp/nginx/conf.d/default.conf" || die "nginx template ($label): variables left unrendered"
  cat > "$tmp/nginx/nginx.conf" <<NGINX
pid $tmp/nginx/nginx.pid;
events {}
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    include $tmp/nginx/conf.d/*.conf;
}
NGINX
  "$nginx" -t -e stderr -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" > "$tmp/nginx.out" 2>&1 \
    || { cat "$tmp/nginx.out" >&2; die "nginx -t rejects the proxy's configuration ($label)"; }
  ! grep -q '\[warn\]' "$tmp/nginx.out" || { cat "$tmp/nginx.out" >&2; die "nginx -t warns about the proxy's configuration ($label)"; }
  "$py" "$root/dev/nginx_discovery_check.py" "$tmp/nginx/conf.d/default.conf" || die "the discovery files are not the JSON they should be ($label)"
}
check_nginx "$tmp/proxy.env" "the example's names"
sed -i 's/^MATRIX_SERVER_NAME=.*/MATRIX_SERVER_NAME=matrix.example.org/' "$tmp/proxy.env"
check_nginx "$tmp/proxy.env" "server name = host name"

# 7. The systemd unit (the binary's absence from /usr/local/bin aside), and
# the Dockerfile's sources.
{ systemd-analyze verify deploy/systemd/matrix-sync.service 2>&1 || true; } \
  | grep -v 'Command /usr/local/bin/matrix-sync is not executable' > "$tmp/systemd.out" || true
[ ! -s "$tmp/systemd.out" ] || { cat "$tmp/systemd.out" >&2; die "systemd-analyze verify complains about deploy/systemd/matrix-sync.service"; }
sed -n 's/^COPY \([^-][^ ]*\( [^ ]*\)*\) [^ ]*$/\1/p' deploy/Dockerfile | tr ' ' '\n' | while read -r src; do
  [ -e "$src" ] || die "deploy/Dockerfile copies $src, which does not exist"
  if grep -qx "$src" .dockerignore; then die "deploy/Dockerfile copies $src, which .dockerignore leaves out"; fi
done

echo "compose-check: deploy/ OK (${compose[*]} config, secrets as files; generate.sh secrets, config; Synapse $synapse_version loads and serves its config; admin-token makes a server admin's token, idempotently; matrix-sync starts with the stack's settings; nginx -t; systemd unit)"
