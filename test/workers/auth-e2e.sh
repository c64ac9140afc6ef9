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
# shellcheck source=test/e2e/lib.sh
source test/e2e/lib.sh

e2e_begin "Workers auth e2e" registry-worker-auth-e2e
on_failure print_worker_log
at_exit stop_worker

auth_config=$(teams_auth_config)
# A binding given to the local Worker as `.dev.vars` or `wrangler secret put` would give it.
start_worker "$work/state" "AUTH_CONFIG=$auth_config" >/dev/null
echo "the Worker serves $REGISTRY_URL with AUTH_CONFIG = examples/teams/registry.json's auth section and a fresh signing key"

REGISTRY_URL=$REGISTRY_URL bash test/e2e/auth.sh
