#!/usr/bin/env bash
# The spec suite (test/spec, over HTTP) against `npm start` serving from three
# processes on one DATA_DIR, so consecutive requests of one test (a PATCH, then
# the PUT that finishes it; a push, then the pull) land on different processes.
#
#   bash test/spec/against-npm-start.sh        (npm run test:spec:node)
#
# PART_SIZE is 5 MiB, the smallest allowed, so the suite's blobs of a few MiB
# already span several multipart parts.
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo_root"
# shellcheck source=test/e2e/local-registry.sh
source test/e2e/local-registry.sh

workdir=$(mktemp -d "${TMPDIR:-/tmp}/registry-spec-node.XXXXXX")
cleanup() {
  local rc=$?
  [ "$rc" -eq 0 ] || print_local_registry_log
  stop_local_registry
  rm -rf "$workdir"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PROCESSES=3 PART_SIZE=5242880 start_local_registry "$workdir"
grep -m1 "registry listening" "$local_registry_log" || true

echo "==> spec suite against npm start with 3 processes ($REGISTRY_URL)"
REGISTRY_TARGETS=remote npx --no-install vitest run test/spec
