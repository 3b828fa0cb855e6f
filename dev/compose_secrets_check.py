"""Checks that the resolved compose file passes every secret as a file and none as a plain value. Used by dev/compose-check.sh."""

import os, sys, yaml
text = open(sys.argv[1]).read()
doc, secrets_dir = yaml.safe_load(text), sys.argv[2]
def check(ok, what):
    if not ok:
        sys.exit(f"secrets: {what}")
values = {f: open(f"{secrets_dir}/{f}").read().strip() for f in os.listdir(secrets_dir)}
for f, v in values.items():
    check(v not in text, f"the value of secrets/{f} is in the resolved compose file")
check({os.path.dirname(s["file"]) for s in doc["secrets"].values()} == {os.path.realpath(secrets_dir)},
      "the secrets are not files in deploy/secrets/")
check(set(values) == {os.path.basename(s["file"]) for s in doc["secrets"].values()}, "secrets/ and compose's secrets differ")
plain = {"MATRIX_BOT_ACCESS_TOKEN", "MATRIX_AS_HS_TOKEN", "MATRIX_ADMIN_ACCESS_TOKEN", "MATRIX_SYNC_API_TOKEN",
         "MATRIX_SYNC_BACKUP_SECRET", "MATRIX_SYNC_BOT_STORE_PASSPHRASE", "DATABASE_URL", "POSTGRES_PASSWORD",
         "MATRIX_SYNC_DB_PASSWORD", "SYNAPSE_DB_PASSWORD", "SYNAPSE_REGISTRATION_SHARED_SECRET",
         "SYNAPSE_MACAROON_SECRET_KEY", "SYNAPSE_FORM_SECRET"}
def env(name):
    e = doc["services"][name].get("environment") or {}
    return dict(x.split("=", 1) for x in e) if isinstance(e, list) else e
def volumes(name):
    out = {}
    for v in doc["services"][name].get("volumes") or []:
        if isinstance(v, str):
            parts = v.split(":")
            out[parts[1]] = (parts[0], "ro" in parts[2:])
        else:
            out[v["target"]] = (v["source"], bool(v.get("read_only")))
    return out
for name in doc["services"]:
    for k, v in env(name).items():
        check(k not in plain or not v, f"{name} has {k} as a plain value")
for name, secret in (("synapse-db", "synapse_db_password"), ("matrix-sync-db", "matrix_sync_db_password")):
    check(env(name).get("POSTGRES_PASSWORD_FILE") == f"/run/secrets/{secret}", f"{name}: POSTGRES_PASSWORD_FILE")
service = env("matrix-sync")
written_by = {"MATRIX_ADMIN_ACCESS_TOKEN": "admin-token"}
for key in ("MATRIX_BOT_ACCESS_TOKEN", "MATRIX_AS_HS_TOKEN", "MATRIX_ADMIN_ACCESS_TOKEN", "MATRIX_SYNC_API_TOKEN",
            "MATRIX_SYNC_BACKUP_SECRET", "MATRIX_SYNC_BOT_STORE_PASSPHRASE", "DATABASE_URL"):
    path = service.get(f"{key}_FILE") or ""
    check(path.startswith("/"), f"matrix-sync has no {key}_FILE")
    mount = os.path.dirname(path)
    source, read_only = volumes("matrix-sync").get(mount, (None, False))
    check(source is not None and read_only, f"matrix-sync: {key}_FILE is not on a volume it mounts read-only")
    writer = written_by.get(key, "config")
    check(volumes(writer).get(mount, (None,))[0] == source, f"{writer} does not mount {source} at {mount}")
check(not doc["services"]["matrix-sync"].get("secrets"), "matrix-sync reads its secrets from the volume, not from compose's secrets")
