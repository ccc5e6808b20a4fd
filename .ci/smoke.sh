# shellcheck shell=bash
# Sourced by the runtime matrices (.ci/node-matrix.sh, .ci/runtimes.sh).
# run_smoke LABEL CMD...: __test__/smoke.mjs run by CMD (a runtime and its flags), its output
# prefixed with [LABEL]. The panic checks make Rust print "panicked at" on stderr: shown only
# when the smoke test fails.
run_smoke() {
  local label="$1" out err status=0
  shift
  out="$(mktemp)" err="$(mktemp)"
  "$@" __test__/smoke.mjs >"$out" 2>"$err" || status=$?
  sed "s/^/  [$label] /" "$out"
  [[ $status -eq 0 ]] || sed "s/^/  [$label] /" "$err"
  rm -f "$out" "$err"
  return "$status"
}
