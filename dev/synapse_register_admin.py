"""Registers the homeserver admin with Synapse's shared-secret registration and prints its token (nothing when it exists already). Used by dev/synapse.sh."""

import hashlib, hmac, json, os, secrets, urllib.request, urllib.error
url, secret = os.environ["URL"], os.environ["SECRET"].encode()
def call(method, path, body=None):
    req = urllib.request.Request(url + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)
password = secrets.token_hex(16)
nonce = call("GET", "/_synapse/admin/v1/register")["nonce"]
mac = hmac.new(secret, b"\x00".join([nonce.encode(), b"synapse-admin", password.encode(), b"admin"]), hashlib.sha1).hexdigest()
try:
    reply = call("POST", "/_synapse/admin/v1/register",
                 {"nonce": nonce, "username": "synapse-admin", "password": password, "admin": True, "mac": mac})
    print(reply["access_token"])
except urllib.error.HTTPError as e:
    if e.code != 400:
        raise
    print("")  # exists already: keep the token we have
