# Sourced (from the repo root) by the profiling scripts here: the bench lab's client
# namespace, the router's description URL (LAB.routerDescUrl in __test__/lab/lab.ts) and the
# miniupnpc harness, built into bench/out unless it is there already.
# shellcheck shell=bash disable=SC2034
export UNL_PREFIX=${UNL_PREFIX:-bench}
NS=$UNL_PREFIX-client
U=http://192.168.77.1:5000/rootDesc.xml
mkdir -p bench/out
[[ -x bench/out/miniupnpc-bench ]] || gcc -O2 -o bench/out/miniupnpc-bench bench/harness/miniupnpc-bench.c -lminiupnpc -lpthread
