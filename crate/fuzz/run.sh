#!/usr/bin/env bash
# Runs the fuzz targets, each for SECONDS (default 30), or until RUNS executions when
# FUZZ_RUNS is set, starting from the committed seeds (real captures, see seeds/README.md)
# plus the corpus kept from earlier runs (corpus/, not committed).
#
#   bash crate/fuzz/run.sh [SECONDS] [TARGET...]      targets: ssdp description soap http_reply natpmp pcp stun
#
# Installs cargo-fuzz 0.13.2 when missing (cached in ~/.cargo/bin). cargo-fuzz needs nightly
# flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them. Built without a sanitizer
# (the parsers are safe Rust: what we hunt is panics, overflow, hangs and memory blow-ups)
# and with debug assertions, so that arithmetic overflow panics too.
# A crash leaves its input in artifacts/<target>/ and fails the script; turn every one
# into a regression test.
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_EACH="${1:-30}"
shift || true
TARGETS=("$@")
[[ ${#TARGETS[@]} -gt 0 ]] || TARGETS=(ssdp description soap http_reply natpmp pcp stun)
CARGO_FUZZ_VERSION=0.13.2

if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
  echo "fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --quiet
fi
export RUSTC_BOOTSTRAP=1

# Input size caps: a datagram is at most 4 KiB (discovery/ssdp.rs MAX_DATAGRAM), NAT-PMP/PCP at most
# 1100 bytes (RFC 6887), STUN at most 1500 (limits.rs; a little more, so the cap itself is
# exercised); XML gets more room for nesting and entity tricks.
max_len() {
  case "$1" in
    ssdp) echo 4096 ;;
    natpmp | pcp) echo 1100 ;;
    stun) echo 1600 ;;
    *) echo 16384 ;;
  esac
}

# FUZZ_TARGET_DIR: a build cache outside the clone (CI keeps one between runs).
build=(--sanitizer none --debug-assertions ${FUZZ_TARGET_DIR:+--target-dir "$FUZZ_TARGET_DIR"})
cargo fuzz build "${build[@]}" 2>&1 | tail -n 2
status=0
for target in "${TARGETS[@]}"; do
  mkdir -p "corpus/$target" "artifacts/$target"
  limit=(-max_total_time="$SECONDS_EACH")
  [[ -n ${FUZZ_RUNS:-} ]] && limit=(-runs="$FUZZ_RUNS")
  log=$(mktemp)
  started=$(date +%s)
  # -timeout: one input taking over 2 s is a hang (a discovery deadline could not hold);
  # -rss_limit_mb / -malloc_limit_mb: a blow-up of memory is a crash too.
  if cargo fuzz run "${build[@]}" "$target" "corpus/$target" "seeds/$target" -- \
      "${limit[@]}" -max_len="$(max_len "$target")" -timeout=2 -rss_limit_mb=1024 -malloc_limit_mb=256 \
      -artifact_prefix="artifacts/$target/" -print_final_stats=1 >"$log" 2>&1; then
    stat() { grep -m1 "^stat::$1" "$log" | awk '{print $2}'; }
    echo "fuzz: $target: $(stat number_of_executed_units) executions in $(($(date +%s) - started)) s" \
      "($(stat average_exec_per_sec)/s, peak RSS $(stat peak_rss_mb) MB), corpus $(find "corpus/$target" -type f | wc -l) inputs, no crash"
  else
    status=1
    echo "fuzz: $target FAILED:"
    grep -E 'panicked|ERROR|SUMMARY|Test unit written|==[0-9]+==' "$log" | head -n 20
  fi
  rm -f "$log"
done
exit "$status"
