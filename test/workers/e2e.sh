#!/usr/bin/env bash
# End-to-end with real clients against the Worker served as `wrangler dev` would on
# 127.0.0.1 (local R2 and Durable Objects, fresh state):
#
#   1. the whole client suite of test/e2e/run.sh (skopeo, podman, umoci, ctr; copy
#      between repositories, multi-arch, tags listed and deleted, odd-sized chunked
#      and streamed pushes), with the request body limit of a Free/Pro zone (100 MB);
#   2. a ~150 MiB layer at that limit: skopeo's single PATCH is refused with a 413
#      that says to push in chunks; the layer then goes up in odd-sized chunks of
#      at most 100 MB, skopeo pushes the rest of the image, and pulls it back intact;
#   3. the Worker restarted on the same state with an Enterprise limit (500 MB):
#      skopeo pushes a new ~150 MiB layer in its one streamed PATCH and pulls it back.
#
#   bash test/workers/e2e.sh        (npm run test:workers:e2e)
#
# E2E_SKIP_CONTAINERD=1 passes through to test/e2e/run.sh.
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo_root"
# shellcheck source=test/workers/worker-dev.sh
source test/workers/worker-dev.sh
# shellcheck source=test/e2e/lib.sh
source test/e2e/lib.sh

e2e_begin "Workers e2e" registry-worker-e2e
on_failure print_worker_log
at_exit stop_worker
isolate_clients
state="$work/state"

# An OCI layout image:TAG with one layer of SIZE random bytes; prints the layer's digest.
build_image() { # layout tag size
  local layout=$1 tag=$2 size=$3 manifest
  [ -d "$layout" ] || umoci init --layout "$layout" >/dev/null
  umoci new --image "$layout:$tag" >/dev/null
  head -c "$size" /dev/urandom >"$work/payload-$tag.bin"
  umoci insert --image "$layout:$tag" "$work/payload-$tag.bin" /payload.bin >/dev/null
  rm "$work/payload-$tag.bin"
  manifest=$(jq -r --arg tag "$tag" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $tag) | .digest' "$layout/index.json")
  jq -r '.layers[0].digest' "$(layout_blob "$layout" "$manifest")"
}

# Pulls REF into a fresh layout and checks the layer arrived intact.
pull_and_compare() { # ref layer-digest
  local pulled="$work/pulled-$RANDOM"
  skopeo copy --src-tls-verify=false "docker://$registry/$1" "oci:$pulled:x" >/dev/null
  expect_equal "sha256 of the layer pulled from $1 ($(stat -c %s "$(layout_blob "$pulled" "$2")") bytes)" "$2" "$(file_digest "$(layout_blob "$pulled" "$2")")"
  rm -rf "$pulled"
}

big=$((150 * 1024 * 1024))
layout="$work/layout"

step "start the Worker with the Free/Pro request body limit (MAX_REQUEST_BYTES=100000000, wrangler.toml)"
start_worker "$state"
registry=${REGISTRY_URL#http://}
ns="e2e-workers"

step "1. the client suite of test/e2e/run.sh against the Worker"
REGISTRY_URL=$REGISTRY_URL E2E_NAMESPACE="$ns/clients" bash test/e2e/run.sh

step "2a. skopeo pushes a 150 MiB layer in one PATCH: refused with 413 naming the limit and the way out"
layer=$(build_image "$layout" big "$big")
echo "layer $layer: $(stat -c %s "$(layout_blob "$layout" "$layer")") bytes"
if skopeo copy --dest-tls-verify=false "oci:$layout:big" "docker://$registry/$ns/big:v1" >"$work/refused.log" 2>&1; then
  fail "skopeo pushed a layer over MAX_REQUEST_BYTES in one PATCH; the Worker should have answered 413"
fi
grep -q "accepts at most 100000000 bytes per request; push the blob in chunks" "$work/refused.log" ||
  { cat "$work/refused.log"; fail "skopeo's error does not carry the registry's 413 explanation"; }
echo "ok: refused: $(grep -o 'this registry accepts at most[^"]*' "$work/refused.log" | head -n 1)"

step "2b. the same layer in odd-sized chunks under the limit (99999999, 7, 33554433, ... bytes), then skopeo pushes the image"
npx --no-install node test/workers/push-in-chunks.ts "$REGISTRY_URL" "$ns/big" "$(layout_blob "$layout" "$layer")" 99999999,7,33554433 | tee "$work/chunks.out"
expect_equal "digest the chunked push reports" "$layer" "$(awk '$1 == "blob" {print $2}' "$work/chunks.out")"
skopeo copy --dest-tls-verify=false "oci:$layout:big" "docker://$registry/$ns/big:v1"
pull_and_compare "$ns/big:v1" "$layer"

step "3. restart with an Enterprise limit (MAX_REQUEST_BYTES=500000000) on the same state: skopeo pushes a new 150 MiB layer in one PATCH"
stop_worker
start_worker "$state" MAX_REQUEST_BYTES=500000000
registry=${REGISTRY_URL#http://}
pull_and_compare "$ns/big:v1" "$layer"
enterprise_layer=$(build_image "$layout" enterprise "$big")
started=$EPOCHREALTIME
skopeo copy --dest-tls-verify=false "oci:$layout:enterprise" "docker://$registry/$ns/enterprise:v1"
echo "pushed in $(( (${EPOCHREALTIME/./} - ${started/./}) / 1000 )) ms"
pull_and_compare "$ns/enterprise:v1" "$enterprise_layer"
expect_equal "tags of $ns/enterprise" '["v1"]' "$(skopeo list-tags --tls-verify=false "docker://$registry/$ns/enterprise" | jq -c .Tags)"

e2e_passed
