#!/usr/bin/env bash
# Client instructions per sequential add+delete pair, counted by callgrind: stable on a busy
# machine, where times are not. miniupnpc (the C harness) and upnp-native (the binding,
# bench/profile/seq-binding.js), each run twice with different lengths; the difference
# divided by the extra pairs is the steady per-pair cost (start-up, JIT warm-up and
# discovery cancel out). Needs a lab and valgrind:
#   UNL_PREFIX=bench bash __test__/lab/lab.sh up
#   bash bench/profile/callgrind.sh            (as root; UNL_PREFIX defaults to bench here)
#   ADDON=/path/to/symbols.node bash bench/profile/callgrind.sh   (keep the .out files to read)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-$(mktemp -d)}
command -v valgrind >/dev/null || { echo "callgrind.sh: install valgrind" >&2; exit 2; }
source bench/profile/lab-env.sh
count() { # file -> total instructions
  # awk reads to the end: an early exit would SIGPIPE callgrind_annotate (pipefail).
  callgrind_annotate "$1" 2>/dev/null | awk '/PROGRAM TOTALS/ && !seen {gsub(",", "", $1); print $1; seen = 1}'
}
cg() { # name, then the command
  local name=$1
  shift
  ip netns exec "$NS" valgrind --tool=callgrind --smc-check=all-non-file \
    --callgrind-out-file="$OUT/$name.out" "$@" >/dev/null 2>&1
  count "$OUT/$name.out"
}
# miniupnpc: 100 and 300 pairs in one process each.
a=$(cg miniupnpc-100 bench/out/miniupnpc-bench pairs $U 100 1 10000)
b=$(cg miniupnpc-300 bench/out/miniupnpc-bench pairs $U 300 1 10000)
mini=$(((b - a) / 200))
# upnp-native: 2 and 4 rounds of 300 pairs (the JIT settles in the first rounds).
a=$(cg native-2x300 node bench/profile/seq-binding.js 300 2)
b=$(cg native-4x300 node bench/profile/seq-binding.js 300 4)
native=$(((b - a) / 600))
echo "instructions per sequential pair: miniupnpc $mini, upnp-native $native ($(awk "BEGIN {printf \"%.1f\", $native / $mini}") x)"
echo "callgrind files: $OUT"
