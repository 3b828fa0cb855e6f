#!/usr/bin/env bash
# Builds the chat embed as the npm package @matrix-sync/chat and the pages
# that use it as any host would, from the packed tarball:
#   1. web/: npm ci (from the lock file), typecheck, `npm run build` (lib/:
#      JavaScript and type declarations), `npm pack` into web/pack/;
#   2. web/demo/ (the demo page the service serves at /demo/) and
#      web/tests/host/ (a minimal host page, no framework): each its own
#      small npm project: npm ci from its own lock file, then the tarball
#      with `npm install --no-save` (its hash changes with every change of
#      the embed, so it is in no lock file), checked to hold the lib/ just
#      built, typecheck, `npm run build` into web/dist and web/tests/host/dist;
#   3. Debian's Chromium for the browser tests (installed when missing).
# Each step is skipped when its inputs have not changed since it last ran
# (a hash of them is kept in node_modules/.cache/matrix-sync-web/):
# WEB_FORCE=1 redoes everything.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
web="$root/web"
stamps="$web/node_modules/.cache/matrix-sync-web"
npm_quiet=(--no-audit --no-fund --loglevel=error)

command -v node >/dev/null || { echo "dev/web.sh: node is needed (Debian's nodejs)" >&2; exit 1; }

# The hash of the named files and folders' contents (the folders' file lists included;
# a missing one counts as empty), node_modules and dist left out (not descended into).
inputs_hash() {
  (
    cd "$1" && shift
    { find "$@" \( -name node_modules -o -name dist \) -prune -o -type f -print0 2>/dev/null || true; } |
      sort -z | xargs -0 -r sha256sum
  ) | sha256sum | cut -d' ' -f1
}
# The hash of a folder's files (names and contents), to compare two copies of lib/.
tree_hash() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum) | sha256sum | cut -d' ' -f1; }
# Whether a step's inputs changed since it last succeeded (always with WEB_FORCE=1).
changed() { [ "${WEB_FORCE:-0}" = "1" ] || [ "$(cat "$stamps/$1" 2>/dev/null)" != "$2" ]; }
done_step() { mkdir -p "$stamps" && echo "$2" > "$stamps/$1"; }

# npm ci when the lock file is newer than what is installed.
install_locked() {
  if [ ! -d "$1/node_modules" ] || [ "$1/package-lock.json" -nt "$1/node_modules/.package-lock.json" ]; then
    (cd "$1" && npm ci "${npm_quiet[@]}" >/dev/null)
  fi
}

# ---- 1. The package ----
install_locked "$web"
cd "$web"
lib_inputs="$(inputs_hash "$web" src package.json package-lock.json tsconfig.json tsconfig.lib.json vite.config.ts README.md)"
version="$(node -p 'require("./package.json").version')"
tarball="$web/pack/matrix-sync-chat-$version.tgz"
if changed lib "$lib_inputs" || [ ! -f "$tarball" ] || [ ! -d lib ]; then
  npm run --silent typecheck
  npm run --silent build >/dev/null
  rm -rf pack && mkdir -p pack
  # Built just above: without --ignore-scripts, `prepack` would build it all again.
  npm pack --ignore-scripts --pack-destination pack --silent >/dev/null
  [ -f "$tarball" ] || { echo "dev/web.sh: npm pack did not make $tarball" >&2; exit 1; }
  done_step lib "$lib_inputs"
fi
tarball_hash="$(sha256sum "$tarball" | cut -d' ' -f1)"
lib_hash="$(tree_hash "$web/lib")"

# ---- 2. The pages, from the tarball ----
# $1: the project's folder, $2: where its build lands (checked to exist).
build_page() {
  local project="$1" out="$2" name
  name="$(basename "$project")"
  install_locked "$project"
  # The tarball, unless this very one is installed (npm ci above removes it). Its path and
  # version never change, and npm may keep an installed package of the same version instead
  # of unpacking the new tarball: the old copy goes first, and what lands is checked.
  local installed="$project/node_modules/.matrix-sync-chat.sha256"
  local package="$project/node_modules/@matrix-sync/chat"
  if [ "$(cat "$installed" 2>/dev/null)" != "$tarball_hash" ] || [ ! -d "$package/lib" ] ||
    [ "$(tree_hash "$package/lib")" != "$lib_hash" ]; then
    rm -rf "$package" "$installed"
    (cd "$project" && npm install --no-save "${npm_quiet[@]}" "$tarball" >/dev/null)
    if [ ! -d "$package/lib" ] || [ "$(tree_hash "$package/lib")" != "$lib_hash" ]; then
      echo "dev/web.sh: $package/lib is not the web/lib just built (npm installed another copy of $tarball)" >&2
      exit 1
    fi
    echo "$tarball_hash" > "$installed"
  fi
  local page_inputs
  page_inputs="$tarball_hash $(inputs_hash "$project" . )"
  if changed "page-$name" "$page_inputs" || [ ! -f "$out/index.html" ]; then
    (cd "$project" && npm run --silent typecheck && npm run --silent build -- --logLevel error >/dev/null)
    [ -f "$out/index.html" ] || { echo "dev/web.sh: $project built no $out/index.html" >&2; exit 1; }
    done_step "page-$name" "$page_inputs"
  fi
}
build_page "$web/demo" "$web/dist"
build_page "$web/tests/host" "$web/tests/host/dist"

# ---- 3. Chromium for the browser tests ----
if [ ! -x /usr/bin/chromium ]; then
  echo "Installing Chromium from Debian's packages for the browser tests…" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
