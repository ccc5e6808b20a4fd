#!/usr/bin/env bash
# Where the sequential gap to miniupnpc goes, layer by layer, interleaved over N rounds of
# 1000 add+delete pairs each (medians printed at the end). Needs a bench lab:
#   UNL_PREFIX=bench bash __test__/lab/lab.sh up
#   bash bench/profile/layers.sh 7        (as root; UNL_PREFIX defaults to bench here)
# Layers: miniupnpc (C, blocking) | the Rust core on a current-thread runtime (no N-API, no
# thread hand-off) | the Rust core spawned on a multi-thread runtime from another thread and
# waited for (the addon's hand-off, without N-API) | upnp-native through N-API and Promises,
# with tokio's default 2 workers, with 1 worker (TOKIO_WORKER_THREADS=1), and 1 worker pinned
# to the CPU of the JS thread.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-7}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/tmp/upnp-native-rust-core}
source bench/profile/lab-env.sh
# Built from a copy outside the tree (its Cargo.lock and target stay out of the repo).
work=$CARGO_TARGET_DIR/rust-core-src
mkdir -p "$work/src"
sed "s#path = \"../../../crate\"#path = \"$PWD/crate\"#" bench/profile/rust-core/Cargo.toml >"$work/Cargo.toml"
cp bench/profile/rust-core/src/main.rs "$work/src/main.rs"
nice cargo build --release --quiet --manifest-path "$work/Cargo.toml"
RC=$CARGO_TARGET_DIR/release/rust-core
out=$(mktemp)
rate() { python3 -c "import json,sys; d=json.load(sys.stdin); print(round(d['pairs']/d['elapsedMs']*1000))"; }
for _ in $(seq "$N"); do
  ip netns exec "$NS" bench/out/miniupnpc-bench clean $U >/dev/null
  echo "miniupnpc $(ip netns exec "$NS" bench/out/miniupnpc-bench pairs $U 1000 1 10000 | rate)" >>"$out"
  ip netns exec "$NS" "$RC" 1000 2>/dev/null | head -n1 |
    sed 's/.*current-thread \([0-9]*\).*multi-thread \([0-9]*\).*/rust-core-current-thread \1\nrust-core-multi-thread-handoff \2/' >>"$out" || true
  echo "upnp-native $(ip netns exec "$NS" node bench/profile/seq-binding.js 1000 2 | tail -n1 | awk '{print $2}')" >>"$out"
  echo "upnp-native-1-worker $(ip netns exec "$NS" env TOKIO_WORKER_THREADS=1 node bench/profile/seq-binding.js 1000 2 | tail -n1 | awk '{print $2}')" >>"$out"
  echo "upnp-native-1-worker-pinned $(ip netns exec "$NS" env TOKIO_WORKER_THREADS=1 taskset -c 0 node bench/profile/seq-binding.js 1000 2 | tail -n1 | awk '{print $2}')" >>"$out"
  echo "load $(cut -d' ' -f1 /proc/loadavg)" >>"$out"
done
python3 - "$out" <<'PY'
import collections, statistics, sys
d = collections.defaultdict(list)
for line in open(sys.argv[1]):
    k, v = line.split()
    d[k].append(float(v))
m = statistics.median(d['miniupnpc'])
for k, v in d.items():
    if k == 'load':
        print(f"load average during the rounds: median {statistics.median(v)}, max {max(v)}")
    else:
        print(f"{k:30s} {statistics.median(v):6.0f} pairs/s [{min(v):.0f}-{max(v):.0f}]  {statistics.median(v) / m:4.2f} x miniupnpc")
PY
rm -f "$out"
