#!/usr/bin/env bash
# End-to-end test with real clients (umoci, skopeo, podman, containerd's ctr and
# a Node client for chunked and streamed uploads) against a registry.
#
#   REGISTRY_URL=http://127.0.0.1:5000 bash test/e2e/run.sh   # a running registry
#   bash test/e2e/run.sh                                     # starts `npm start` itself
#
# Without REGISTRY_URL the script serves this checkout with `npm start` on a free
# 127.0.0.1 port over a temporary DATA_DIR, stops it at the end, and in between
# restarts it once (step h) to prove that images and an unfinished upload survive.
# E2E_NAMESPACE prefixes every repository the test writes: e2e on the registry the
# script starts itself, e2e/run-<time>-<pid> on a given REGISTRY_URL, so that runs
# against one long-lived registry do not see each other's tags.
# E2E_SKIP_CONTAINERD=1 leaves out the containerd step; it is also left out,
# with a note, when containerd or ctr is not installed.
# Everything is offline: images are built from scratch with umoci.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo_root"
# shellcheck source=test/e2e/local-registry.sh
source test/e2e/local-registry.sh
# shellcheck source=test/e2e/lib.sh
source test/e2e/lib.sh

e2e_begin e2e registry-e2e
on_failure print_local_registry_log
at_exit stop_local_registry
at_exit stop_containerd
isolate_clients

# the manifest digest a tag points to in an OCI layout's index.json
layout_ref_digest() { # layout tag
  jq -r --arg tag "$2" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $tag) | .digest' "$1/index.json"
}

umoci_flags=()
[ "$(id -u)" -eq 0 ] || umoci_flags+=(--rootless)

for tool in skopeo podman umoci jq curl sha256sum; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (see .ci/run for the packages)"
done

started_registry=0
if [ -z "${REGISTRY_URL:-}" ]; then
  step "start the registry (npm start)"
  start_local_registry "$work/server"
  started_registry=1
  ns=${E2E_NAMESPACE:-e2e}
else
  ns=${E2E_NAMESPACE:-e2e/run-$(date +%s)-$$}
fi
REGISTRY_URL=${REGISTRY_URL%/}
registry=${REGISTRY_URL#http://}
registry=${registry#https://}
echo "registry under test: $REGISTRY_URL (clients use $registry, namespace $ns)"
curl -sf -o /dev/null "$REGISTRY_URL/v2/" || fail "$REGISTRY_URL/v2/ does not answer 200"

# ---------------------------------------------------------------------------
step "a. build an OCI image offline (umoci) with a 1 KiB and a 50 MiB random layer; push, pull back, compare"
layout="$work/layout"
umoci init --layout "$layout"
umoci new --image "$layout:amd64"
head -c 1024 /dev/urandom >"$work/small.bin"
head -c 50M /dev/urandom >"$work/big.bin"
umoci insert "${umoci_flags[@]}" --image "$layout:amd64" "$work/small.bin" /small.bin
umoci insert "${umoci_flags[@]}" --image "$layout:amd64" "$work/big.bin" /big.bin
umoci config "${umoci_flags[@]}" --image "$layout:amd64" --os linux --architecture amd64 --config.cmd /small.bin
umoci gc --layout "$layout"
app_digest=$(layout_ref_digest "$layout" amd64)
app_manifest="$(layout_blob "$layout" "$app_digest")"
mapfile -t app_layers < <(jq -r '.layers[].digest' "$app_manifest")
app_config=$(jq -r '.config.digest' "$app_manifest")
[ "${#app_layers[@]}" -eq 2 ] || fail "expected 2 layers in the built image, found ${#app_layers[@]}"
echo "built $app_digest: layers ${app_layers[*]} (sizes $(jq -r '[.layers[].size] | join(", ")' "$app_manifest") bytes)"

skopeo copy --preserve-digests --dest-tls-verify=false "oci:$layout:amd64" "docker://$registry/$ns/app:v1"
expect_equal "digest of the manifest bytes the registry serves" "$app_digest" "$(raw_digest --tls-verify=false "docker://$registry/$ns/app:v1")"
expect_equal "Docker-Content-Digest reported for $ns/app:v1" "$app_digest" \
  "$(skopeo inspect --tls-verify=false "docker://$registry/$ns/app:v1" | jq -r .Digest)"

pulled="$work/pulled"
skopeo copy --preserve-digests --src-tls-verify=false "docker://$registry/$ns/app:v1" "oci:$pulled:v1"
expect_equal "manifest digest pulled back" "$app_digest" "$(layout_ref_digest "$pulled" v1)"
for blob in "$app_config" "${app_layers[@]}"; do
  expect_equal "sha256 of pulled blob ($(stat -c %s "$(layout_blob "$pulled" "$blob")") bytes)" \
    "$(file_digest "$(layout_blob "$layout" "$blob")")" "$(file_digest "$(layout_blob "$pulled" "$blob")")"
done

# ---------------------------------------------------------------------------
step "b. copy $ns/app:v1 to $ns/other:v1 inside the registry (cross-repository mount)"
skopeo --debug copy --preserve-digests --src-tls-verify=false --dest-tls-verify=false \
  "docker://$registry/$ns/app:v1" "docker://$registry/$ns/other:v1" >"$work/copy-other.log" 2>&1 ||
  { cat "$work/copy-other.log"; fail "skopeo copy to $ns/other failed"; }
grep -E 'msg="(POST|PATCH|PUT|HEAD) ' "$work/copy-other.log" | sed -E 's/.*msg="([^"]*)".*/  \1/' || true
# skopeo always uploads the config; each layer it should mount from $ns/app, never upload
for blob in "${app_layers[@]}"; do
  grep -q "POST http://$registry/v2/$ns/other/blobs/uploads/?.*mount=sha256%3A${blob#sha256:}" "$work/copy-other.log" ||
    fail "skopeo did not ask to mount $blob into $ns/other (no POST ...?mount= in its debug log)"
  if grep -q "PUT http://$registry/v2/$ns/other/blobs/uploads/.*digest=sha256%3A${blob#sha256:}" "$work/copy-other.log"; then
    fail "skopeo uploaded $blob to $ns/other instead of mounting it: the registry did not mount it"
  fi
  echo "ok: $blob mounted into $ns/other, not uploaded"
done
expect_equal "digest of $ns/other:v1" "$app_digest" "$(raw_digest --tls-verify=false "docker://$registry/$ns/other:v1")"
for blob in "$app_config" "${app_layers[@]}"; do
  size=$(stat -c %s "$(layout_blob "$layout" "$blob")")
  expect_equal "Content-Length of HEAD /v2/$ns/other/blobs/${blob:0:19}..." "$size" \
    "$(curl -sfI "$REGISTRY_URL/v2/$ns/other/blobs/$blob" | tr -d '\r' | awk 'tolower($1)=="content-length:" {print $2}')"
done
# -L: a registry may answer blob GETs with a redirect (e.g. 307 to a presigned S3 URL)
expect_equal "sha256 of the 50 MiB layer read from $ns/other" "${app_layers[1]}" \
  "sha256:$(curl -sfL "$REGISTRY_URL/v2/$ns/other/blobs/${app_layers[1]}" | sha256sum | cut -d' ' -f1)"

# ---------------------------------------------------------------------------
step "c. multi-arch index (amd64 + arm64): push with --all, pull back with --all, compare"
umoci new --image "$layout:arm64"
head -c 3M /dev/urandom >"$work/arm.bin"
umoci insert "${umoci_flags[@]}" --image "$layout:arm64" "$work/arm.bin" /arm.bin
umoci config "${umoci_flags[@]}" --image "$layout:arm64" --os linux --architecture arm64 --config.cmd /arm.bin
arm_digest=$(layout_ref_digest "$layout" arm64)
index_file="$work/index-blob.json"
jq -cn --arg amd "$app_digest" --argjson amdsize "$(stat -c %s "$(layout_blob "$layout" "$app_digest")")" \
  --arg arm "$arm_digest" --argjson armsize "$(stat -c %s "$(layout_blob "$layout" "$arm_digest")")" '{
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [
      { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $amd, size: $amdsize,
        platform: { architecture: "amd64", os: "linux" } },
      { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $arm, size: $armsize,
        platform: { architecture: "arm64", os: "linux" } }
    ]
  }' >"$index_file"
index_digest=$(file_digest "$index_file")
cp "$index_file" "$(layout_blob "$layout" "$index_digest")"
jq --arg digest "$index_digest" --argjson size "$(stat -c %s "$index_file")" \
  '.manifests += [{ mediaType: "application/vnd.oci.image.index.v1+json", digest: $digest, size: $size,
     annotations: { "org.opencontainers.image.ref.name": "multi" } }]' "$layout/index.json" >"$work/layout-index.json"
mv "$work/layout-index.json" "$layout/index.json"
echo "index $index_digest over amd64 $app_digest and arm64 $arm_digest"

skopeo copy --all --preserve-digests --dest-tls-verify=false "oci:$layout:multi" "docker://$registry/$ns/multi:v1"
expect_equal "digest of the index the registry serves" "$index_digest" "$(raw_digest --tls-verify=false "docker://$registry/$ns/multi:v1")"
expect_equal "mediaType of the served index" "application/vnd.oci.image.index.v1+json" \
  "$(skopeo inspect --raw --tls-verify=false "docker://$registry/$ns/multi:v1" | jq -r .mediaType)"
arm_layer=$(jq -r '.layers[0].digest' "$(layout_blob "$layout" "$arm_digest")")
# skopeo inspect reports the index's digest; the platform's image shows in its architecture and layers
expect_equal "image chosen from the index for arm64" "arm64 [\"$arm_layer\"]" \
  "$(skopeo --override-arch arm64 inspect --tls-verify=false "docker://$registry/$ns/multi:v1" | jq -rc '"\(.Architecture) \(.Layers)"')"
expect_equal "image chosen from the index for amd64" "amd64 $(jq -c '[.layers[].digest]' "$app_manifest")" \
  "$(skopeo --override-arch amd64 inspect --tls-verify=false "docker://$registry/$ns/multi:v1" | jq -rc '"\(.Architecture) \(.Layers)"')"
multi_pulled="$work/multi-pulled"
skopeo copy --all --preserve-digests --src-tls-verify=false "docker://$registry/$ns/multi:v1" "oci:$multi_pulled:multi"
expect_equal "index digest pulled back" "$index_digest" "$(layout_ref_digest "$multi_pulled" multi)"
for manifest in "$app_digest" "$arm_digest"; do
  expect_equal "child manifest $manifest pulled back" "$manifest" "$(file_digest "$(layout_blob "$multi_pulled" "$manifest")")"
done
expect_equal "sha256 of the pulled arm64 layer" "$arm_layer" "$(file_digest "$(layout_blob "$multi_pulled" "$arm_layer")")"

# ---------------------------------------------------------------------------
step "d. tags: list, push more, delete one manifest, check what remains"
tags() { skopeo list-tags --tls-verify=false "docker://$registry/$1" | jq -c '.Tags | sort'; }
expect_equal "tags of $ns/app" '["v1"]' "$(tags "$ns/app")"
skopeo copy --preserve-digests --src-tls-verify=false --dest-tls-verify=false \
  "docker://$registry/$ns/app:v1" "docker://$registry/$ns/app:latest"
skopeo copy --preserve-digests --dest-tls-verify=false "oci:$layout:arm64" "docker://$registry/$ns/app:v2"
expect_equal "tags of $ns/app after pushing latest and v2" '["latest","v1","v2"]' "$(tags "$ns/app")"
expect_equal "$ns/app:latest" "$app_digest" "$(raw_digest --tls-verify=false "docker://$registry/$ns/app:latest")"
expect_equal "$ns/app:v2" "$arm_digest" "$(raw_digest --tls-verify=false "docker://$registry/$ns/app:v2")"
# skopeo delete resolves the tag and deletes the manifest by digest (and with it every tag on it)
skopeo delete --tls-verify=false "docker://$registry/$ns/app:v2"
if skopeo inspect --raw --tls-verify=false "docker://$registry/$ns/app:v2" >/dev/null 2>"$work/inspect-v2.err"; then
  fail "$ns/app:v2 can still be read after skopeo delete"
fi
echo "ok: $ns/app:v2 is gone: $(tail -n 1 "$work/inspect-v2.err")"
if skopeo inspect --raw --tls-verify=false "docker://$registry/$ns/app@$arm_digest" >/dev/null 2>&1; then
  fail "$ns/app@$arm_digest can still be read after skopeo delete"
fi
echo "ok: $ns/app@$arm_digest is gone"
expect_equal "tags of $ns/app after the delete" '["latest","v1"]' "$(tags "$ns/app")"
expect_equal "$ns/app:v1 after deleting v2" "$app_digest" "$(raw_digest --tls-verify=false "docker://$registry/$ns/app:v1")"
expect_equal "the index in $ns/multi still serves its arm64 child" "$arm_digest" \
  "$(raw_digest --tls-verify=false "docker://$registry/$ns/multi@$arm_digest")"

# ---------------------------------------------------------------------------
step "e. podman (vfs storage, no daemon): pull, tag, push to $ns/podman (OCI and Docker v2s2 manifests), verify"
podman pull --tls-verify=false "$registry/$ns/app:v1"
podman tag "$registry/$ns/app:v1" "$registry/$ns/podman:v1"
podman push --tls-verify=false "$registry/$ns/podman:v1"
expect_equal "config digest of $ns/podman:v1 (podman recompresses layers; the config is the image ID)" "$app_config" \
  "$(skopeo inspect --raw --tls-verify=false "docker://$registry/$ns/podman:v1" | jq -r .config.digest)"
expect_equal "diff IDs of $ns/podman:v1" "$(jq -c .rootfs.diff_ids "$(layout_blob "$layout" "$app_config")")" \
  "$(skopeo inspect --config --tls-verify=false "docker://$registry/$ns/podman:v1" | jq -c .rootfs.diff_ids)"
podman_pulled="$work/podman-pulled"
skopeo copy --src-tls-verify=false "docker://$registry/$ns/podman:v1" "dir:$podman_pulled"
echo "ok: $ns/podman:v1 copied back with skopeo (every blob digest checked by skopeo)"
# Docker's own manifest format, as the docker CLI pushes it
podman push --tls-verify=false --format v2s2 "$registry/$ns/podman:v1" "$registry/$ns/podman:docker"
expect_equal "mediaType of $ns/podman:docker" "application/vnd.docker.distribution.manifest.v2+json" \
  "$(skopeo inspect --raw --tls-verify=false "docker://$registry/$ns/podman:docker" | jq -r .mediaType)"
podman rmi --all --force >/dev/null
podman pull --tls-verify=false "$registry/$ns/podman:docker"
expect_equal "image ID podman pulled from the Docker-format manifest" "${app_config#sha256:}" \
  "$(podman image inspect --format '{{.Id}}' "$registry/$ns/podman:docker")"
podman rmi --all --force >/dev/null

# ---------------------------------------------------------------------------
step "f. chunked upload (odd-sized PATCHes), streamed upload (no Content-Length), resume after a dropped PATCH; a manifest over all three"
npx --no-install node test/e2e/chunked-push.ts "$REGISTRY_URL" "$ns/chunked" v1 | tee "$work/chunked.out"
chunked_digest=$(awk '$1 == "manifest" {print $2}' "$work/chunked.out")
[ -n "$chunked_digest" ] || fail "chunked-push.ts printed no manifest digest"
chunked_pulled="$work/chunked-pulled"
skopeo copy --preserve-digests --src-tls-verify=false "docker://$registry/$ns/chunked:v1" "oci:$chunked_pulled:v1"
expect_equal "manifest digest of $ns/chunked:v1 pulled by skopeo" "$chunked_digest" "$(layout_ref_digest "$chunked_pulled" v1)"
for blob in $(jq -r '.config.digest, .layers[].digest' "$(layout_blob "$chunked_pulled" "$chunked_digest")"); do
  expect_equal "sha256 of pulled blob ($(stat -c %s "$(layout_blob "$chunked_pulled" "$blob")") bytes)" "$blob" \
    "$(file_digest "$(layout_blob "$chunked_pulled" "$blob")")"
done

# ---------------------------------------------------------------------------
if [ "${E2E_SKIP_CONTAINERD:-0}" = 1 ]; then
  echo; echo "(containerd step skipped: E2E_SKIP_CONTAINERD=1)"
elif ! command -v containerd >/dev/null || ! command -v ctr >/dev/null; then
  echo; echo "(containerd step skipped: containerd/ctr not installed)"
else
  step "g. containerd (private daemon, native snapshotter): ctr pull $ns/app:v1 and $ns/multi:v1"
  start_containerd e2e
  ctr_digest() { ctr images ls | awk -v ref="$1" '$1 == ref {print $3}'; }
  ctr images pull --plain-http --snapshotter native "$registry/$ns/app:v1" | tail -n 3
  expect_equal "digest containerd recorded for $ns/app:v1" "$app_digest" "$(ctr_digest "$registry/$ns/app:v1")"
  ctr images pull --plain-http --snapshotter native --all-platforms "$registry/$ns/multi:v1" | tail -n 3
  expect_equal "digest containerd recorded for $ns/multi:v1" "$index_digest" "$(ctr_digest "$registry/$ns/multi:v1")"
  ctr content get "$arm_layer" | sha256sum | grep -q "^${arm_layer#sha256:} " || fail "containerd's copy of the arm64 layer does not hash to $arm_layer"
  echo "ok: containerd fetched the arm64 layer $arm_layer intact"
  stop_containerd
fi

# ---------------------------------------------------------------------------
if [ "$started_registry" -eq 1 ]; then
  step "h. restart npm start on the same DATA_DIR: images and an unfinished upload survive"
  # the Location of a response (absolute or relative) as an absolute URL
  location_of() { # curl-header-dump
    local location
    location=$(tr -d '\r' <"$1" | awk 'tolower($1) == "location:" {print $2}' | tail -n 1)
    [ -n "$location" ] || fail "no Location header in: $(cat "$1")"
    case "$location" in http://* | https://*) echo "$location" ;; *) echo "$REGISTRY_URL$location" ;; esac
  }
  head -c 9M /dev/urandom >"$work/restart.bin"
  head -c 6M "$work/restart.bin" >"$work/restart-1.bin"
  tail -c 3M "$work/restart.bin" >"$work/restart-2.bin"
  restart_digest=$(file_digest "$work/restart.bin")
  curl -sf -X POST -D "$work/h1" -o /dev/null "$REGISTRY_URL/v2/$ns/restart/blobs/uploads/"
  curl -sf -X PATCH -H "Content-Type: application/octet-stream" -H "Content-Range: 0-$((6 * 1048576 - 1))" \
    --data-binary "@$work/restart-1.bin" -D "$work/h2" -o /dev/null "$(location_of "$work/h1")"
  upload_url=$(location_of "$work/h2")
  port=${REGISTRY_URL##*:}
  stop_local_registry
  curl -s -o /dev/null --max-time 2 "$REGISTRY_URL/v2/" && fail "the registry still answers after it was stopped"
  start_local_registry "$work/server" "$port"
  while read -r ref digest; do
    expect_equal "$ns/$ref after the restart" "$digest" "$(raw_digest --tls-verify=false "docker://$registry/$ns/$ref")"
  done <<EOF
app:v1 $app_digest
multi:v1 $index_digest
chunked:v1 $chunked_digest
EOF
  skopeo copy --preserve-digests --src-tls-verify=false "docker://$registry/$ns/app:v1" "oci:$work/after-restart:v1"
  expect_equal "50 MiB layer pulled after the restart" "${app_layers[1]}" \
    "$(file_digest "$(layout_blob "$work/after-restart" "${app_layers[1]}")")"
  curl -sf -X PATCH -H "Content-Type: application/octet-stream" -H "Content-Range: $((6 * 1048576))-$((9 * 1048576 - 1))" \
    --data-binary "@$work/restart-2.bin" -D "$work/h3" -o /dev/null "$upload_url" ||
    fail "PATCH continuing the upload begun before the restart failed: $(curl -s -X PATCH -H "Content-Range: $((6 * 1048576))-$((9 * 1048576 - 1))" --data-binary "@$work/restart-2.bin" "$upload_url")"
  finish_url=$(location_of "$work/h3")
  case "$finish_url" in *\?*) finish_url="$finish_url&digest=$restart_digest" ;; *) finish_url="$finish_url?digest=$restart_digest" ;; esac
  curl -sf -X PUT -o /dev/null "$finish_url" || fail "PUT finishing the upload begun before the restart failed: $(curl -s -X PUT "$finish_url")"
  expect_equal "blob uploaded across the restart" "$restart_digest" \
    "sha256:$(curl -sfL "$REGISTRY_URL/v2/$ns/restart/blobs/$restart_digest" | sha256sum | cut -d' ' -f1)"
fi

e2e_passed
