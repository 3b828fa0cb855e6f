"""Loads the Synapse configuration deploy/generate.sh wrote, with Synapse's own loader, and checks it agrees with the rest of the stack. Used by dev/compose-check.sh."""

import logging.config, os, sys, yaml
from synapse.config.appservice import load_appservices
from synapse.config.homeserver import HomeServerConfig

out, tmp = sys.argv[1], sys.argv[2]
def env(name):
    return dict(l.rstrip("\n").split("=", 1) for l in open(f"{tmp}/{name}.env"))
# A secret as the service reads it: NAME, NAME_FILE, or SECRETS_DIR/name.
def secret(e, name):
    if e.get(name):
        return e[name]
    path = e.get(f"{name}_FILE") or f"{e['SECRETS_DIR']}/{name.lower()}"
    return open(path).read().strip()
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
      ("synapse-db", 5432, hs_db["POSTGRES_USER"], hs_db["POSTGRES_DB"], secret(hs_db, "POSTGRES_PASSWORD")),
      "database settings differ from the synapse-db service's")
check(c.registration.registration_shared_secret == secret(config_env, "SYNAPSE_REGISTRATION_SHARED_SECRET"), "registration_shared_secret")
check(secret(env("admin-token"), "SYNAPSE_REGISTRATION_SHARED_SECRET") == c.registration.registration_shared_secret,
      "the admin-token service has another registration shared secret")
check(not c.registration.enable_registration, "open registration")
check(c.server.default_room_version.identifier == "12", "default_room_version")
check(len(c.key.signing_key) == 1, "signing key")
check(c.media.max_upload_size == 50 * 1024 * 1024, "max_upload_size is not the proxy's 50M")
check(c.media.media_store_path == f"{out}/media_store", "media_store_path")

# What Synapse does with the registration at start-up.
[app] = load_appservices(c.server.server_name, c.appservice.app_service_config_files)
check(app.url == "http://matrix-sync:8090" == service["MATRIX_SYNC_APPSERVICE_URL"], f"registration url {app.url}")
check(app.token == secret(service, "MATRIX_BOT_ACCESS_TOKEN") and app.hs_token == secret(service, "MATRIX_AS_HS_TOKEN"),
      "registration tokens differ from the matrix-sync service's")
check(app.is_user_in_namespace(service["MATRIX_BOT_USER_ID"]), "the bot is outside the registration's namespace")
check(not app.is_user_in_namespace(f"@matrix-sync-admin:{c.server.server_name}"), "the admin-token service's admin is in the appservice's namespace")
check(oct(os.stat(f"{out}/homeserver.yaml").st_mode & 0o777) == "0o600", "homeserver.yaml is readable by others")
if os.getuid() == 0:
    check(os.stat(f"{out}/homeserver.yaml").st_uid == 991, "homeserver.yaml not handed to Synapse's user 991")

logging.config.dictConfig(yaml.safe_load(open(c.logging.log_config)))
