#!/usr/bin/env bash
# Token auth with real clients against the Worker served as `wrangler dev` would
# on 127.0.0.1 (local R2 and Durable Objects, fresh state): test/e2e/auth.sh
# (skopeo and podman: alice pushes, pulls and deletes in blue/*, bob cannot touch
# blue/*, the robot blue-ci pushes but cannot delete, anyone pulls public/*), with
# the AUTH_CONFIG secret set to the auth section of examples/teams/registry.json
# plus a signing key made for this run only (nothing private is committed).
#
#   bash test/workers/auth-e2e.sh        (npm run test:workers:e2e:auth)
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo_root"
# shellcheck source=test/workers/worker-dev.sh
source test/workers/worker-dev.sh

work=$(mktemp -d "${TMPDIR:-/tmp}/registry-worker-auth-e2e.XXXXXX")
cleanup() {
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "!!! Workers auth e2e FAILED (exit status $rc)" >&2
    print_worker_log
  fi
  stop_worker
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

key=$(npx --no-install node scripts/auth-keygen.ts)
auth_config=$(jq -c --argjson key "$key" '.auth + { signingKeys: [$key] }' examples/teams/registry.json)
# A binding given to the local Worker as `.dev.vars` or `wrangler secret put` would give it.
start_worker "$work/state" "AUTH_CONFIG=$auth_config" >/dev/null
echo "the Worker serves $REGISTRY_URL with AUTH_CONFIG = examples/teams/registry.json's auth section and a fresh signing key"

REGISTRY_URL=$REGISTRY_URL bash test/e2e/auth.sh
