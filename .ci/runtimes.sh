#!/usr/bin/env bash
# Bun and Deno: both load Node-API addons, so upnp-native claims them at the versions proven
# here (docs/platforms.md, "Bun and Deno"). Each comes from the npm registry as its users
# install it (the `bun` and `deno` packages, whose install script keeps the platform's binary),
# pinned and cached, and runs the smoke test, then in one lab each (vitest under that runtime)
# the threads test and one mapping against the lab's miniupnpd (discovery, add, a packet from
# the WAN, delete).
#
# Usage: bash .ci/runtimes.sh [fetch|smoke|lab|all] [bun|deno...]   (as root, from the repo)
# Versions are pinned so that a run is repeatable and the cache stays valid; raise them here
# and in docs/platforms.md, "Bun and Deno".
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=.ci/smoke.sh
source .ci/smoke.sh

declare -A PINNED=([bun]=1.4.4 [deno]=2.9.6)
# The executable inside each installed package, and how it runs a script with Node's access
# (Deno asks for permissions; -A grants them, as a Node program has them).
declare -A EXE=([bun]=node_modules/bun/bin/bun.exe [deno]=node_modules/deno/deno)
declare -A RUN_ARGS=([bun]="" [deno]="run -A")
LAB_TESTS=(__test__/package/threads.test.ts __test__/package/node-matrix.test.ts)

CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/upnp-native-ci"

log() { printf 'runtimes: %s\n' "$*"; }
die() { printf 'runtimes: error: %s\n' "$*" >&2; exit 1; }

exe() { printf '%s/%s-%s/%s' "$CACHE" "$1" "${PINNED[$1]}" "${EXE[$1]}"; }
version_of() { "$(exe "$1")" --version | head -n1 | grep -o '[0-9][0-9.]*' | head -n1; }

fetch() {
  local name="$1" version dir tmp
  version="${PINNED[$name]:-}"
  [[ -n $version ]] || die "unknown runtime $name (known: ${!PINNED[*]})"
  if [[ -x $(exe "$name") ]] && [[ $(version_of "$name") == "$version" ]]; then return 0; fi
  dir="$CACHE/$name-$version"
  log "fetching $name@$version"
  rm -rf "$dir"
  mkdir -p "$dir"
  tmp="$(mktemp -d)"
  # A throwaway npm cache: the installed package is what is kept. Its install script moves
  # the platform package's binary into place.
  npm install --prefix "$dir" --no-save --no-package-lock --no-audit --no-fund --cache "$tmp" "$name@$version" >/dev/null
  rm -rf "$tmp"
  [[ $(version_of "$name") == "$version" ]] || die "$(exe "$name") is not $name $version"
}

smoke() {
  local args
  read -r -a args <<<"${RUN_ARGS[$1]}"
  run_smoke "$1" "$(exe "$1")" "${args[@]}"
}

mode="${1:-all}"; shift || true
names=("$@")
[[ ${#names[@]} -gt 0 ]] || names=(bun deno)

for name in "${names[@]}"; do fetch "$name"; done
[[ $mode == fetch ]] && exit 0

failed=()
if [[ $mode == smoke || $mode == all ]]; then
  for name in "${names[@]}"; do
    log "smoke test with $name $(version_of "$name")"
    smoke "$name" || failed+=("smoke@$name")
  done
fi
if [[ $mode == lab || $mode == all ]]; then
  for name in "${names[@]}"; do
    UNL_RUNTIME="$name ${PINNED[$name]}" UNL_RUNTIME_CMD="$(exe "$name") ${RUN_ARGS[$name]}" \
      bash __test__/lab/lab.sh runtime "${LAB_TESTS[@]}" || failed+=("lab@$name")
  done
fi
if [[ ${#failed[@]} -gt 0 ]]; then die "failed: ${failed[*]}"; fi
log "${names[*]}: all passed"
