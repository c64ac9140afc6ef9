#!/usr/bin/env bash
# The spec suite (test/spec, from Node, over HTTP) and the OCI conformance suite
# against the Worker served as `wrangler dev` would on 127.0.0.1, with fresh local R2
# and Durable Object state: the same suites the Node server passes.
#
#   bash test/workers/spec-against-worker.sh        (npm run test:workers:spec)
#
# PART_SIZE is 5 MiB here, the smallest R2 allows, so the spec suite's blobs of a
# few MiB already span several multipart parts.
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo_root"
# shellcheck source=test/workers/worker-dev.sh
source test/workers/worker-dev.sh

state=$(mktemp -d "${TMPDIR:-/tmp}/registry-worker.XXXXXX")
cleanup() {
  local rc=$?
  [ "$rc" -eq 0 ] || print_worker_log
  stop_worker
  rm -rf "$state"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_worker "$state" PART_SIZE=5242880

echo "==> spec suite against the Worker ($REGISTRY_URL)"
REGISTRY_TARGETS=remote npx --no-install vitest run test/spec

echo "==> OCI conformance suite against the Worker ($REGISTRY_URL)"
bash test/conformance/run.sh
