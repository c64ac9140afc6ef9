#!/usr/bin/env bash
# Garbage collection end to end with real clients: two images sharing a base
# layer pushed with skopeo, one deleted with `skopeo delete`, `npm run gc`
# (dry run, then for real): the data directory shrinks by exactly the bytes the
# deleted image did not share, and the other image still pulls whole.
#
#   bash test/e2e/gc.sh        (npm run test:e2e:gc)
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo_root"
# shellcheck source=test/e2e/local-registry.sh
source test/e2e/local-registry.sh
# shellcheck source=test/e2e/lib.sh
source test/e2e/lib.sh

e2e_begin "gc e2e" registry-e2e-gc
on_failure print_local_registry_log
at_exit stop_local_registry
isolate_clients
umoci_flags=()
[ "$(id -u)" -eq 0 ] || umoci_flags+=(--rootless)
# Bytes in files under the data directory (apparent sizes; folders do not count).
data_bytes() { find "$work/server/data/blobs" -type f -printf '%s\n' | awk '{ total += $1 } END { print total + 0 }'; }
ref_digest() { jq -r --arg tag "$1" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $tag) | .digest' "$work/layout/index.json"; }

# No periodic collection: the test runs it itself.
GC_INTERVAL_SECONDS=0 start_local_registry "$work/server"
registry=${REGISTRY_URL#http://}
export DATA_DIR="$work/server/data"

step "two images sharing a 20 MiB base layer, each with a layer of its own"
umoci init --layout "$work/layout"
umoci new --image "$work/layout:base"
head -c 20M /dev/urandom >"$work/base.bin"
head -c 12M /dev/urandom >"$work/a.bin"
head -c 7M /dev/urandom >"$work/b.bin"
umoci insert "${umoci_flags[@]}" --image "$work/layout:base" "$work/base.bin" /base.bin
umoci insert "${umoci_flags[@]}" --image "$work/layout:base" --tag a "$work/a.bin" /a.bin
umoci insert "${umoci_flags[@]}" --image "$work/layout:base" --tag b "$work/b.bin" /b.bin
a_digest=$(ref_digest a)
b_digest=$(ref_digest b)
a_manifest=$(layout_blob "$work/layout" "$a_digest")
[ "$(jq -r '.layers[0].digest' "$a_manifest")" = "$(jq -r '.layers[0].digest' "$(layout_blob "$work/layout" "$b_digest")")" ] || fail "the images do not share their base layer"
# What only image a holds: its manifest, its config, its own layer.
unshared=$(($(stat -c %s "$a_manifest") + $(jq -r '.config.size' "$a_manifest") + $(jq -r '.layers[1].size' "$a_manifest")))

skopeo copy --preserve-digests --dest-tls-verify=false "oci:$work/layout:a" "docker://$registry/gc/a:v1"
skopeo copy --preserve-digests --dest-tls-verify=false "oci:$work/layout:b" "docker://$registry/gc/b:v1"
before=$(data_bytes)
echo "data directory holds $before bytes of blobs; image a alone holds $unshared"

step "delete gc/a:v1 (skopeo delete removes the manifest only; its links stay until collected)"
skopeo delete --tls-verify=false "docker://$registry/gc/a:v1"
expect_equal "bytes after the delete, before collecting" "$before" "$(data_bytes)"

step "npm run gc -- --dry-run --grace 0"
dry=$(npm run --silent gc -- --dry-run --grace 0)
echo "$dry"
[[ "$dry" == *"would remove 3 blobs"* ]] || fail "the dry run should name 3 blobs"
expect_equal "bytes after the dry run" "$before" "$(data_bytes)"

step "npm run gc -- --grace 0"
out=$(npm run --silent gc -- --grace 0)
echo "$out"
[[ "$out" == *"removed 3 blobs"* ]] || fail "gc should report 3 blobs removed"
freed=$((before - $(data_bytes)))
# A blob pushed in chunks is kept as its parts plus a small index (.segmented/<key>/index.json, key): a few hundred bytes more.
[ "$freed" -ge "$unshared" ] && [ "$freed" -le $((unshared + 4096)) ] || fail "bytes freed: expected $unshared (plus at most 4 KiB of part indexes), got $freed"
echo "ok: bytes freed = $freed (image a's own blobs: $unshared)"

step "gc/b:v1 still pulls whole; gc/a:v1 is gone"
skopeo copy --preserve-digests --src-tls-verify=false "docker://$registry/gc/b:v1" "oci:$work/pulled:b"
expect_equal "digest of gc/b:v1 pulled" "$b_digest" "$(jq -r '.manifests[0].digest' "$work/pulled/index.json")"
for blob in $(jq -r '.config.digest, .layers[].digest' "$(layout_blob "$work/layout" "$b_digest")"); do
  expect_equal "sha256 of pulled blob ${blob:0:19}..." "$blob" "sha256:$(sha256sum "$work/pulled/blobs/sha256/${blob#sha256:}" | cut -d' ' -f1)"
done
status=$(curl -s -o /dev/null -w '%{http_code}' "$REGISTRY_URL/v2/gc/a/manifests/v1")
expect_equal "GET gc/a:v1" "404" "$status"
e2e_passed
