"""A compose service as it would run on this machine: its environment and command, with container paths moved onto the files compose would mount there. Used by dev/compose-check.sh."""

import os, sys, yaml
compose_file, name, tmp, env_out, cmd_out = sys.argv[1:]
doc = yaml.safe_load(open(compose_file))
service = doc["services"][name]
mounts = []
secrets_dir = f"{tmp}/containers/{name}/run/secrets"
os.makedirs(secrets_dir, exist_ok=True)
for s in service.get("secrets") or []:
    source = s if isinstance(s, str) else s["source"]
    target = source if isinstance(s, str) else s.get("target") or source
    if target.startswith("/"):
        sys.exit(f"{name}: secret {source} mounted at {target}, outside /run/secrets")
    link = f"{secrets_dir}/{target}"
    if os.path.lexists(link):
        os.remove(link)
    os.symlink(doc["secrets"][source]["file"], link)
mounts.append(("/run/secrets", secrets_dir))
for v in service.get("volumes") or []:
    if isinstance(v, str):
        source, target = v.split(":")[:2]
    else:
        source, target = v["source"], v["target"]
    if source in (doc.get("volumes") or {}):
        source = f"{tmp}/volumes/{source}"
        os.makedirs(source, exist_ok=True)
    mounts.append((target.rstrip("/"), source))
mounts.sort(key=lambda m: -len(m[0]))
def local(value):
    for target, source in mounts:
        if value == target or value.startswith(target + "/"):
            return source + value[len(target):]
    return value
env = service.get("environment") or {}
if isinstance(env, list):
    env = dict(e.split("=", 1) for e in env)
with open(env_out, "w") as out:
    for k, v in env.items():
        v = "" if v is None else str(v).replace("$$", "$")
        if "\n" in v:
            sys.exit(f"{name}: {k} holds a newline")
        out.write(f"{k}={local(v)}\n")
command = service.get("command") or []
if isinstance(command, str):
    command = command.split()
with open(cmd_out, "w") as out:
    for arg in command:
        out.write(local(str(arg)) + "\n")
