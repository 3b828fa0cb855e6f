#!/usr/bin/env bash
# Builds the chat embed and its demo page (web/dist) and makes sure the
# browser tests have what they need: the npm packages (from the lock file)
# and Debian's Chromium (installed when missing).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root/web"

command -v node >/dev/null || { echo "dev/web.sh: node is needed (Debian's nodejs)" >&2; exit 1; }
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent typecheck
npm run --silent build >/dev/null

if [ ! -x /usr/bin/chromium ]; then
  echo "Installing Chromium from Debian's packages for the browser tests…" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
