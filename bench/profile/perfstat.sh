#!/usr/bin/env bash
# What one sequential add+delete pair costs the client in the kernel's own counters: CPU time,
# context switches, CPU migrations and page faults (`perf stat` software events, which work in
# a VM without hardware counters). Like callgrind.sh, each client runs with two lengths and
# the difference is divided by the extra pairs, so start-up and discovery cancel out; RUNS
# alternating runs of each (default 3). Needs a lab and perf:
#   UNL_PREFIX=bench bash __test__/lab/lab.sh up
#   bash bench/profile/perfstat.sh           (as root; UNL_PREFIX defaults to bench here)
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v perf >/dev/null || { echo "perfstat.sh: install perf (linux-perf)" >&2; exit 2; }
# shellcheck source=bench/profile/lab-env.sh
source bench/profile/lab-env.sh
RUNS=${RUNS:-3}
EVENTS=task-clock,context-switches,cpu-migrations,page-faults
# name, then the command -> one line: task-clock (ms), context switches, migrations, faults.
count() {
  ip netns exec "$NS" perf stat -x, -e "$EVENTS" -- "$@" 2>&1 >/dev/null |
    awk -F, '$3 ~ /task-clock|context-switches|cpu-migrations|page-faults/ {v[$3]=$1}
      END {print v["task-clock"], v["context-switches"], v["cpu-migrations"], v["page-faults"]}'
}
# Per pair: (long - short) / extra pairs, for each counter; task-clock in µs.
per_pair() {
  awk -v n="$3" -v a="$1" -v b="$2" 'BEGIN {
    split(a, x, " "); split(b, y, " ");
    printf "%.1f µs CPU, %.2f context switches, %.3f migrations, %.2f page faults\n",
      (y[1] - x[1]) * 1000 / n, (y[2] - x[2]) / n, (y[3] - x[3]) / n, (y[4] - x[4]) / n }'
}
for run in $(seq "$RUNS"); do
  m1=$(count bench/out/miniupnpc-bench pairs "$U" 500 1 10000)
  m2=$(count bench/out/miniupnpc-bench pairs "$U" 1500 1 10000)
  echo "run $run miniupnpc:   $(per_pair "$m1" "$m2" 1000)"
  n1=$(count node bench/profile/seq-binding.js 500 2)
  n2=$(count node bench/profile/seq-binding.js 500 4)
  echo "run $run upnp-native: $(per_pair "$n1" "$n2" 1000)"
done
