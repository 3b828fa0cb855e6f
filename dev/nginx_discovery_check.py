"""Checks the proxy's .well-known answers are the JSON Matrix clients and servers expect. Used by dev/compose-check.sh."""

import json, re, sys
bodies = re.findall(r"return 200 '(.*)';", open(sys.argv[1]).read())
server, client = (json.loads(b) for b in bodies)
host = server["m.server"].removesuffix(":443")
assert client == {"m.homeserver": {"base_url": f"https://{host}"}}, client
