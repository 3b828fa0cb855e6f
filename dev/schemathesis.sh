#!/usr/bin/env bash
# Installs a pinned schemathesis into .dev/schemathesis-venv for the test that
# fuzzes the HTTP API from its own OpenAPI document (crates/server/tests/fuzz_api.rs).
set -euo pipefail
SCHEMATHESIS_VERSION="4.32.5"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.dev/schemathesis-venv"
if [ -x "$venv/bin/schemathesis" ] && [ "$(cat "$venv/.version" 2>/dev/null)" = "$SCHEMATHESIS_VERSION" ]; then
  exit 0
fi
echo "Installing schemathesis $SCHEMATHESIS_VERSION into $venv…" >&2
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
echo "$SCHEMATHESIS_VERSION" > "$venv/.version"
