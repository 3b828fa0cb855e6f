#!/usr/bin/env bash
# Checks deploy/ without a container engine (none runs on the project's
# machines), for `make test` and CI:
#
#   1. compose.yaml is valid under the Compose specification with
#      .env.example (`docker compose config`, or Debian's docker-compose 1.29
#      when the v2 plugin is missing), and pins the Synapse the tests run.
#   2. generate.sh refuses the example's placeholder secrets; with secrets
#      filled in by the command .env.example documents, it writes Synapse's
#      configuration from exactly the environment compose gives the `config`
#      service, with the registration printed by this build of matrix-sync, and
#      keeps the signing key when run again.
#   3. Synapse (the version in .dev/venv, dev/synapse.sh's) loads that
#      configuration with an override file from deploy/synapse.d, its signing
#      key and the registration, and its values agree with what compose gives
#      the databases and matrix-sync; the matrix-sync service's own settings
#      print the same registration, and with them (its database, homeserver
#      and address moved onto this machine) `matrix-sync migrate` and `serve`
#      run, /healthz answers, and SIGTERM stops it with exit 0.
#   4. nginx -t accepts the proxy's template, rendered as the nginx image does
#      (with a self-signed certificate in place of the mounted one), also when
#      the server name and the host name are one; the discovery files are JSON.
#   5. systemd-analyze verify accepts deploy/systemd/matrix-sync.service, and
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
for tool in curl envsubst openssl systemd-analyze; do
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
trap '[ -z "$service_pid" ] || kill "$service_pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT

# 1. The compose file, with the example's settings and with filled-in secrets.
grep -q "image: matrixdotorg/synapse:v$synapse_version\$" deploy/compose.yaml \
  || die "deploy/compose.yaml does not pin matrixdotorg/synapse:v$synapse_version (dev/synapse.sh's SYNAPSE_VERSION)"
"${compose[@]}" --env-file deploy/.env.example -f deploy/compose.yaml config > "$tmp/example.yaml" 2> "$tmp/compose.err" \
  || { cat "$tmp/compose.err" >&2; die "compose config rejects deploy/compose.yaml with deploy/.env.example"; }
cp deploy/.env.example "$tmp/.env"
# The command .env.example tells the operator to run.
(cd "$tmp" && while grep -q '=CHANGE_ME$' .env; do sed -i "0,/=CHANGE_ME\$/s//=$(openssl rand -hex 32)/" .env; done)
"${compose[@]}" --env-file "$tmp/.env" -f deploy/compose.yaml config > "$tmp/filled.yaml" 2> "$tmp/compose.err" \
  || { cat "$tmp/compose.err" >&2; die "compose config rejects deploy/compose.yaml with filled-in secrets"; }

# A service's resolved environment as NAME=value lines (compose writes a
# literal $ as $$).
service_env() {
  "$py" - "$1" "$2" <<'PY'
import sys, yaml
services = yaml.safe_load(open(sys.argv[1]))["services"]
env = services[sys.argv[2]].get("environment") or {}
if isinstance(env, list):
    env = dict(e.split("=", 1) for e in env)
for k, v in env.items():
    v = "" if v is None else str(v).replace("$$", "$")
    if "\n" in v:
        sys.exit(f"{sys.argv[2]}: {k} holds a newline")
    print(f"{k}={v}")
PY
}
for s in config matrix-sync proxy synapse-db matrix-sync-db; do
  service_env "$tmp/example.yaml" "$s" > "$tmp/example-$s.env" || die "cannot read the environment of $s"
  service_env "$tmp/filled.yaml" "$s" > "$tmp/$s.env" || die "cannot read the environment of $s"
done

# Runs a command with exactly the environment in file $1 (plus PATH).
with_env() {
  local file="$1"; shift
  local -a vars=()
  mapfile -t vars < "$file"
  env -i PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" "${vars[@]}" "$@"
}

# 2. generate.sh as the `config` service runs it, with /data in the temp dir.
out="$tmp/data"
if with_env "$tmp/example-config.env" MATRIX_SYNC_BIN="$bin" SYNAPSE_DATA_DIR="$out" \
    /bin/sh deploy/generate.sh "$out" > "$tmp/generate.out" 2>&1; then
  die "generate.sh accepted the example's CHANGE_ME placeholders"
fi
grep -q "placeholder" "$tmp/generate.out" || { cat "$tmp/generate.out" >&2; die "generate.sh failed on the example's settings, but not on its placeholders"; }
for run in first second; do
  with_env "$tmp/config.env" MATRIX_SYNC_BIN="$bin" SYNAPSE_DATA_DIR="$out" \
    /bin/sh deploy/generate.sh "$out" > "$tmp/generate.out" 2>&1 \
    || { cat "$tmp/generate.out" >&2; die "generate.sh failed ($run run)"; }
  [ "$run" = second ] || cp "$out/signing.key" "$tmp/signing.key.first"
done
cmp -s "$out/signing.key" "$tmp/signing.key.first" || die "generate.sh replaced the signing key on its second run"
! compgen -G "$out/.generate.*" >/dev/null || die "generate.sh left temporary files in $out"

# 3. Synapse loads it all, and it agrees with the rest of the stack.
mkdir -p "$tmp/synapse.d"
printf 'admin_contact: "mailto:admin@example.org"\n' > "$tmp/synapse.d/50-site.yaml"
with_env "$tmp/matrix-sync.env" "$bin" registration > "$tmp/registration-from-service.yaml" \
  || die "matrix-sync registration fails with the matrix-sync service's settings"
"$py" - "$out" "$tmp" > "$tmp/synapse.out" 2>&1 <<'PY' || { cat "$tmp/synapse.out" >&2; die "the generated Synapse configuration fails its check (the line above says which)"; }
import logging.config, os, sys, yaml
from synapse.config.appservice import load_appservices
from synapse.config.homeserver import HomeServerConfig

out, tmp = sys.argv[1], sys.argv[2]
def env(name):
    return dict(l.rstrip("\n").split("=", 1) for l in open(f"{tmp}/{name}.env"))
config_env, service, proxy, hs_db = env("config"), env("matrix-sync"), env("proxy"), env("synapse-db")

c = HomeServerConfig.load_config("", ["-c", f"{out}/homeserver.yaml", "-c", f"{tmp}/synapse.d"])
def check(ok, what):
    if not ok:
        sys.exit(f"generated config: {what}")

check(c.server.server_name == service["MATRIX_SERVER_NAME"], "server_name")
check(c.server.public_baseurl == f"https://{proxy['MATRIX_HOSTNAME']}/", "public_baseurl")
check(c.server.admin_contact == "mailto:admin@example.org", "deploy/synapse.d's files are not read after it")
[listener] = c.server.listeners
check(listener.port == 8008 and listener.http_options.x_forwarded, "the listener on 8008 with x_forwarded")
check([set(r.names) for r in listener.http_options.resources] == [{"client", "federation"}],
      "client and federation resources")
check(proxy["SYNAPSE_UPSTREAM"] == "http://synapse:8008", "the proxy's upstream is not Synapse's listener")
[db] = c.database.databases
args = db.config["args"]
check(db.config["name"] == "psycopg2", "database engine")
check((args["host"], args["port"], args["user"], args["dbname"], args["password"]) ==
      ("synapse-db", 5432, hs_db["POSTGRES_USER"], hs_db["POSTGRES_DB"], hs_db["POSTGRES_PASSWORD"]),
      "database settings differ from the synapse-db service's")
check(c.registration.registration_shared_secret == config_env["SYNAPSE_REGISTRATION_SHARED_SECRET"], "registration_shared_secret")
check(not c.registration.enable_registration, "open registration")
check(c.server.default_room_version.identifier == "12", "default_room_version")
check(len(c.key.signing_key) == 1, "signing key")
check(c.media.max_upload_size == 50 * 1024 * 1024, "max_upload_size is not the proxy's 50M")
check(c.media.media_store_path == f"{out}/media_store", "media_store_path")

# What Synapse does with the registration at start-up.
[app] = load_appservices(c.server.server_name, c.appservice.app_service_config_files)
check(app.url == "http://matrix-sync:8090" == service["MATRIX_SYNC_APPSERVICE_URL"], f"registration url {app.url}")
check(app.token == service["MATRIX_BOT_ACCESS_TOKEN"] and app.hs_token == service["MATRIX_AS_HS_TOKEN"],
      "registration tokens differ from the matrix-sync service's")
check(app.is_user_in_namespace(service["MATRIX_BOT_USER_ID"]), "the bot is outside the registration's namespace")
check(open(f"{out}/appservice.yaml").read() == open(f"{tmp}/registration-from-service.yaml").read(),
      "the matrix-sync service prints another registration than the one generated")
check(oct(os.stat(f"{out}/homeserver.yaml").st_mode & 0o777) == "0o600", "homeserver.yaml is readable by others")
if os.getuid() == 0:
    check(os.stat(f"{out}/homeserver.yaml").st_uid == 991, "homeserver.yaml not handed to Synapse's user 991")

logging.config.dictConfig(yaml.safe_load(open(c.logging.log_config)))
PY

# The service starts with every setting compose gives it (only its database,
# homeserver, address and data folder moved onto this machine), answers its
# health check and stops cleanly on SIGTERM, as the systemd unit expects.
port="$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
local_env=(DATABASE_URL="sqlite://$tmp/service/matrix-sync.db" MATRIX_HOMESERVER_URL=http://127.0.0.1:9
  MATRIX_SYNC_LISTEN="127.0.0.1:$port" MATRIX_SYNC_DATA_DIR="$tmp/service/data")
with_env "$tmp/matrix-sync.env" "${local_env[@]}" "$bin" migrate > "$tmp/service.out" 2>&1 \
  || { cat "$tmp/service.out" >&2; die "matrix-sync migrate fails with the matrix-sync service's settings"; }
mapfile -t service_vars < "$tmp/matrix-sync.env"
env -i PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" "${service_vars[@]}" "${local_env[@]}" "$bin" serve > "$tmp/service.out" 2>&1 &
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

# 4. The proxy: the template rendered as the nginx image renders it (only the
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
  "$py" - "$tmp/nginx/conf.d/default.conf" <<'PY' || die "the discovery files are not the JSON they should be ($label)"
import json, re, sys
bodies = re.findall(r"return 200 '(.*)';", open(sys.argv[1]).read())
server, client = (json.loads(b) for b in bodies)
host = server["m.server"].removesuffix(":443")
assert client == {"m.homeserver": {"base_url": f"https://{host}"}}, client
PY
}
check_nginx "$tmp/proxy.env" "the example's names"
sed -i 's/^MATRIX_SERVER_NAME=.*/MATRIX_SERVER_NAME=matrix.example.org/' "$tmp/proxy.env"
check_nginx "$tmp/proxy.env" "server name = host name"

# 5. The systemd unit (the binary's absence from /usr/local/bin aside), and
# the Dockerfile's sources.
{ systemd-analyze verify deploy/systemd/matrix-sync.service 2>&1 || true; } \
  | grep -v 'Command /usr/local/bin/matrix-sync is not executable' > "$tmp/systemd.out" || true
[ ! -s "$tmp/systemd.out" ] || { cat "$tmp/systemd.out" >&2; die "systemd-analyze verify complains about deploy/systemd/matrix-sync.service"; }
sed -n 's/^COPY \([^-][^ ]*\( [^ ]*\)*\) [^ ]*$/\1/p' deploy/Dockerfile | tr ' ' '\n' | while read -r src; do
  [ -e "$src" ] || die "deploy/Dockerfile copies $src, which does not exist"
  if grep -qx "$src" .dockerignore; then die "deploy/Dockerfile copies $src, which .dockerignore leaves out"; fi
done

echo "compose-check: deploy/ OK (${compose[*]} config; generate.sh; Synapse $synapse_version loads its config; matrix-sync starts with the stack's settings; nginx -t; systemd unit)"
