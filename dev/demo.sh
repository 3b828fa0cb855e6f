#!/usr/bin/env bash
# The demo: a local Synapse, matrix-sync on its embedded defaults (SQLite in
# .dev/demo), and a scenario that shows what the service did, as the users
# see it. The service keeps running afterwards until Ctrl-C (DEMO_EXIT=1 ends
# the demo right after the scenario).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$root/.dev/demo"
target="${CARGO_TARGET_DIR:-$root/target}"
bin="${MATRIX_SYNC_BIN:-$target/debug/matrix-sync}"

# The same build as `make build` (building only these binaries would resolve other
# features and rebuild the Matrix SDK and everything on it).
(cd "$root" && cargo build --quiet --workspace --bins)
"$root/dev/synapse.sh" start demo
"$root/dev/web.sh"

set -a; . "$dir/env"; set +a
# A local test identity provider stands in for the platform's (Keycloak):
# the demo page signs in through /v1/sessions with its tokens.
idp_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$target/debug/matrix-sync-test-idp" "127.0.0.1:$idp_port" > "$dir/idp.log" 2>&1 &
idp=$!
export MATRIX_SYNC_TEST_IDP="http://127.0.0.1:$idp_port"
# For trying the embed by hand: `curl "$(cat .dev/demo/idp.url)/token?sub=<uuid>"` mints a token.
echo "$MATRIX_SYNC_TEST_IDP" > "$dir/idp.url"
export MATRIX_SYNC_OIDC_ISSUER="$MATRIX_SYNC_TEST_IDP/realms/platform"
export MATRIX_SYNC_OIDC_JWKS_URL="$MATRIX_SYNC_TEST_IDP/realms/platform/protocol/openid-connect/certs"
export MATRIX_SYNC_OIDC_AUDIENCE=platform
export MATRIX_SYNC_DEMO_DIR="$root/web/dist"
# The embedded defaults: DATABASE_URL=sqlite://matrix-sync.db and ./data,
# relative to the folder the service runs in.
unset DATABASE_URL MATRIX_SYNC_DATA_DIR
cd "$dir"
"$bin" serve > "$dir/matrix-sync.log" 2>&1 &
service=$!
trap 'kill $service $idp 2>/dev/null || true; wait $service 2>/dev/null || true' EXIT

for _ in $(seq 1 100); do
  curl -fsS "http://$MATRIX_SYNC_LISTEN/readyz" >/dev/null 2>&1 && break
  kill -0 $service 2>/dev/null || { cat "$dir/matrix-sync.log" >&2; exit 1; }
  sleep 0.2
done

MATRIX_SYNC_DEMO_PAGES="$dir/pages.tsv" "$target/debug/matrix-sync-demo" "$dir/env"

# A second sign-in, from a fresh browser, reads the earlier encrypted
# messages (Chromium headless; screenshots in .dev/demo/screens).
echo
echo "11. Alice's history follows her to a second browser (headless Chromium):"
alice_page="$(awk -F '\t' '$1 == "Alice" { print $2 }' "$dir/pages.tsv")"
(cd "$root/web" && ALICE_URL="$alice_page" OUT_DIR="$dir/screens" node tests/second-browser.mjs) | sed 's/^/    /'

if [ "${DEMO_EXIT:-0}" = "1" ]; then
  exit 0
fi
echo
echo "matrix-sync is running at http://$MATRIX_SYNC_LISTEN (log: $dir/matrix-sync.log);"
echo "open the two demo page addresses above, one per browser (or private window); Ctrl-C stops it all."
wait $service
