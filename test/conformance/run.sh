#!/usr/bin/env bash
# Run the OCI distribution-spec conformance suite (v1.1.1, vendored unchanged
# in test/conformance/suite/, Apache-2.0, see its README.md) against a registry.
#
#   bash test/conformance/run.sh                                       # starts `npm start` itself
#   REGISTRY_URL=http://127.0.0.1:5000 bash test/conformance/run.sh    # a running registry
#
# Without REGISTRY_URL the script serves this checkout with `npm start` on a free
# 127.0.0.1 port over a temporary DATA_DIR, and stops it at the end.
# CONFORMANCE_OUT: where junit.xml, report.html and console.txt go (default: a
#   new temporary directory, kept and printed so the report can be read).
# OCI_CONFORMANCE_DIR: another copy of the suite (default test/conformance/suite).
# OCI_AUTOMATIC_CROSSMOUNT defaults to 1: the registry mounts a blob by itself
#   when `mount` comes without `from`. Other OCI_* variables pass through to the suite.
# CONFORMANCE_USERNAME and CONFORMANCE_PASSWORD: credentials the suite logs in with,
#   for a registry with token auth (npm run conformance:auth).
# Exits non-zero when any test failed; the suite's summary line
# "conformance v1.1.1: N passed, N failed, N skipped" is printed last.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo_root"
# shellcheck source=test/e2e/local-registry.sh
source test/e2e/local-registry.sh

suite=${OCI_CONFORMANCE_DIR:-test/conformance/suite}
if [ ! -x "$suite/conformance.test" ] || [ ! -f "$suite/run.sh" ]; then
  cat >&2 <<EOF
!!!
!!! conformance: NO SUITE at '$suite' (need conformance.test and run.sh there).
!!! It is vendored in test/conformance/suite/; a copy also lives in
!!! ../shared/tools/oci-conformance. Point OCI_CONFORMANCE_DIR at one of them.
!!! Nothing was tested: failing.
!!!
EOF
  exit 1
fi

out=${CONFORMANCE_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/registry-conformance.XXXXXX")}
mkdir -p "$out"
out=$(cd "$out" && pwd)
server_work=""
suite_ran=0

cleanup() {
  local rc=$?
  [ "$rc" -eq 0 ] || [ "$suite_ran" -eq 1 ] || print_local_registry_log
  stop_local_registry
  [ -z "$server_work" ] || rm -rf "$server_work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "${REGISTRY_URL:-}" ]; then
  server_work=$(mktemp -d "${TMPDIR:-/tmp}/registry-conformance-server.XXXXXX")
  start_local_registry "$server_work"
fi

export OCI_AUTOMATIC_CROSSMOUNT=${OCI_AUTOMATIC_CROSSMOUNT:-1}
echo "==> conformance suite ($suite) against ${REGISTRY_URL%/}, OCI_AUTOMATIC_CROSSMOUNT=$OCI_AUTOMATIC_CROSSMOUNT${CONFORMANCE_USERNAME:+, as $CONFORMANCE_USERNAME}, report in $out"
started=$SECONDS
rc=0
credentials=()
[ -z "${CONFORMANCE_USERNAME:-}" ] || credentials=("$CONFORMANCE_USERNAME" "${CONFORMANCE_PASSWORD:-}")
bash "$suite/run.sh" "${REGISTRY_URL%/}" "$out" "${credentials[@]}" >"$out/run.log" 2>&1 || rc=$?
summary=$(tail -n 1 "$out/run.log")
suite_ran=1

if [ "$rc" -ne 0 ]; then
  # the whole console (every request and response of a failure) is in run.log
  cat "$out/run.log"
  echo
  echo "!!! conformance FAILED (exit status $rc); failed specs:"
  if [ -s "$out/junit.xml" ]; then
    grep -o -E '<testcase name="[^"]*"[^>]*status="(failed|panicked|aborted|interrupted|timedout)"' "$out/junit.xml" |
      sed -E 's/^<testcase name="([^"]*)".*/  - \1/' | sed -e 's/&#39;/'"'"'/g' -e 's/&quot;/"/g' -e 's/&amp;/\&/g' || true
  fi
  echo "report: $out/report.html (requests and responses), $out/junit.xml, $out/console.txt"
  print_local_registry_log
else
  echo "report: $out/report.html, $out/junit.xml, $out/console.txt ($((SECONDS - started)) s)"
fi
echo "$summary"
exit "$rc"
