"""Prints what Synapse's admin API says of a token: the status, whether its user is an admin, and how many devices it has. Used by dev/compose-check.sh."""

import json, sys, urllib.error, urllib.request
url, user, token = sys.argv[1], sys.argv[2], open(sys.argv[3]).read().strip()
def get(path):
    req = urllib.request.Request(url + path, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, {}
status, body = get(f"/_synapse/admin/v2/users/{user}")
_, devices = get(f"/_synapse/admin/v2/users/{user}/devices")
print(status, body.get("admin"), devices.get("total"))
