#!/usr/bin/env bash
# `npx oci-registry copy` (src/copy/) against the Worker served as `wrangler dev` would on
# 127.0.0.1, with the request body limit of a Free/Pro zone (MAX_REQUEST_BYTES=100000000,
# wrangler.toml) and token auth (examples/teams/registry.json's auth section, a fresh key):
#
#   1. a 300 MiB layer, which skopeo and podman cannot push there (one PATCH, 413), copied in
#      chunks under the limit the Worker advertises (OCI-Chunk-Max-Length), then pulled back
#      by skopeo with its digest checked; credentials from --dest-creds;
#   2. an index with two platforms (linux/amd64, linux/arm64) from an OCI archive, with
#      credentials from an auth file (REGISTRY_AUTH_FILE); skopeo --all pulls both back;
#      without credentials the copy is refused with the registry's 401;
#   3. a copy within the registry mounts every blob (nothing uploaded);
#   4. a 96 MiB layer in 16 MiB chunks with the Worker killed (SIGKILL) mid-layer and started
#      again on the same state and port: the copy resumes from the Range the Worker reports,
#      not from 0, and skopeo pulls the layer back intact;
#   5. the two other sources: an image from another registry (Debian's Distribution 2.8.2 on
#      127.0.0.1, docker://) and a docker-archive (written by skopeo as `docker save` writes
#      one), each pulled back with its layer's digest checked; the archive copied again skips
#      both blobs (already there).
#
#   bash test/workers/copy-e2e.sh        (npm run test:workers:e2e:copy)
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo_root"
# shellcheck source=test/workers/worker-dev.sh
source test/workers/worker-dev.sh
# shellcheck source=test/e2e/lib.sh
source test/e2e/lib.sh

e2e_begin "copy e2e" registry-worker-copy
copy_pid=""
on_failure print_worker_log
at_exit stop_worker
stop_copy() { [ -z "$copy_pid" ] || kill "$copy_pid" 2>/dev/null || true; }
at_exit stop_copy
isolate_clients
copy() { npx --no-install oci-registry copy "$@"; }
creds="alice:alice-secret"

# --- OCI layouts made here, so sizes and platforms are exact -------------------------------
add_blob() { # layout file → digest (the file moves into the layout)
  local digest
  digest=$(sha256sum "$2" | cut -d' ' -f1)
  mv "$2" "$1/blobs/sha256/$digest"
  echo "sha256:$digest"
}
new_layout() {
  mkdir -p "$1/blobs/sha256"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$1/oci-layout"
  echo '{"schemaVersion":2,"manifests":[]}' >"$1/index.json"
}
# An image for linux/ARCH with one layer: a tar of SIZE random bytes. Prints "manifest-digest manifest-size layer-digest".
new_image() { # layout arch size
  local layout=$1 arch=$2 size=$3 tmp layer layer_size config config_size manifest
  tmp=$(mktemp -d "$work/image.XXXXXX")
  head -c "$size" /dev/urandom >"$tmp/payload-$arch.bin"
  tar -cf "$tmp/layer.tar" -C "$tmp" "payload-$arch.bin"
  rm "$tmp/payload-$arch.bin"
  layer_size=$(stat -c %s "$tmp/layer.tar")
  layer=$(add_blob "$layout" "$tmp/layer.tar")
  jq -nc --arg arch "$arch" --arg layer "$layer" '{architecture: $arch, os: "linux", config: {}, rootfs: {type: "layers", diff_ids: [$layer]}}' >"$tmp/config.json"
  config_size=$(stat -c %s "$tmp/config.json")
  config=$(add_blob "$layout" "$tmp/config.json")
  jq -nc --arg c "$config" --argjson cs "$config_size" --arg l "$layer" --argjson ls "$layer_size" \
    '{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: $cs},
      layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar", digest: $l, size: $ls}]}' >"$tmp/manifest.json"
  manifest_size=$(stat -c %s "$tmp/manifest.json")
  manifest=$(add_blob "$layout" "$tmp/manifest.json")
  rmdir "$tmp"
  echo "$manifest $manifest_size $layer"
}
tag_in_layout() { # layout tag digest size media-type
  jq --arg t "$2" --arg d "$3" --argjson s "$4" --arg m "$5" \
    '.manifests += [{mediaType: $m, digest: $d, size: $s, annotations: {"org.opencontainers.image.ref.name": $t}}]' "$1/index.json" >"$1/index.next"
  mv "$1/index.next" "$1/index.json"
}
# (skopeo keeps the layers uncompressed: --dest-oci-accept-uncompressed-layers)
layer_pulled() { # layout digest → the digest of the bytes skopeo pulled under that name
  file_digest "$(layout_blob "$1" "$2")"
}

auth_config=$(teams_auth_config)
step "start the Worker: MAX_REQUEST_BYTES=100000000 (wrangler.toml), token auth (examples/teams)"
WORKER_PORT=$(free_port)
export WORKER_PORT
# The throwaway signing key stays out of the log (start_worker echoes its arguments).
start_worker "$work/state" "AUTH_CONFIG=$auth_config" >/dev/null
echo "the Worker serves $REGISTRY_URL"
registry=${REGISTRY_URL#http://}
curl -s -o /dev/null -w '%{http_code}\n' "$REGISTRY_URL/v2/" | grep -qx 401 || fail "the Worker should ask for a token"

step "1. a 300 MiB layer copied in chunks the Worker accepts (--dest-creds), pulled back by skopeo"
big="$work/big"
new_layout "$big"
read -r manifest manifest_size layer < <(new_image "$big" amd64 $((300 * 1024 * 1024)))
tag_in_layout "$big" v1 "$manifest" "$manifest_size" application/vnd.oci.image.manifest.v1+json
started=$EPOCHREALTIME
copy --dest-tls-verify=false --dest-creds "$creds" "oci:$big:v1" "docker://$registry/blue/big:v1" 2>&1 | tee "$work/big.out"
echo "copied in $(( (${EPOCHREALTIME/./} - ${started/./}) / 1000 )) ms"
grep -q "2 blobs uploaded" "$work/big.out" || fail "the copy did not upload the layer and the config"
# 300 MiB under a 100 MB limit: whole multiples of the 8 MiB part size, 88 MiB each, so 4 requests.
expect_equal "chunks reported before the last" 3 "$(grep -c ' sent$' "$work/big.out")"
grep -q "88.0 MiB of 300.0 MiB sent" "$work/big.out" || fail "the first chunk was not 11 parts of 8 MiB (OCI-Chunk-Min-Length x floor(max/min))"
skopeo copy --dest-oci-accept-uncompressed-layers --src-tls-verify=false --src-creds "$creds" "docker://$registry/blue/big:v1" "oci:$work/big-back:v1" >/dev/null
expect_equal "digest of the 300 MiB layer pulled back" "$layer" "$(layer_pulled "$work/big-back" "$layer")"
rm -rf "$work/big-back"

step "2. an index of two platforms from an OCI archive, credentials from REGISTRY_AUTH_FILE; refused without them"
multi="$work/multi"
new_layout "$multi"
read -r amd64 amd64_size amd64_layer < <(new_image "$multi" amd64 $((3 * 1024 * 1024)))
read -r arm64 arm64_size arm64_layer < <(new_image "$multi" arm64 $((2 * 1024 * 1024)))
jq -nc --arg a "$amd64" --argjson asize "$amd64_size" --arg b "$arm64" --argjson bsize "$arm64_size" \
  '{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [
     {mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $a, size: $asize, platform: {architecture: "amd64", os: "linux"}},
     {mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $b, size: $bsize, platform: {architecture: "arm64", os: "linux"}}]}' >"$work/index.json"
index_size=$(stat -c %s "$work/index.json")
index=$(add_blob "$multi" "$work/index.json")
tag_in_layout "$multi" v1 "$index" "$index_size" application/vnd.oci.image.index.v1+json
tar -cf "$work/multi.tar" -C "$multi" .
if copy --dest-tls-verify=false "oci-archive:$work/multi.tar:v1" "docker://$registry/blue/multi:v1" >"$work/refused.out" 2>&1; then
  fail "a copy without credentials into blue/ succeeded"
fi
grep -q "answered 401" "$work/refused.out" || { cat "$work/refused.out"; fail "the refusal does not say 401"; }
echo "ok: refused without credentials: $(tail -n 1 "$work/refused.out")"
printf '{"auths": {"%s": {"auth": "%s"}}}' "$registry" "$(printf %s "$creds" | base64 -w0)" >"$work/alice-auth.json"
REGISTRY_AUTH_FILE="$work/alice-auth.json" copy --dest-tls-verify=false "oci-archive:$work/multi.tar:v1" "docker://$registry/blue/multi:v1" 2>&1 | tee "$work/multi.out"
grep -q "($index): 4 blobs uploaded" "$work/multi.out" || fail "the index was not copied with its 4 blobs"
skopeo inspect --raw --tls-verify=false --creds "$creds" "docker://$registry/blue/multi:v1" >"$work/index-back.json"
expect_equal "the index as stored" "$index" "sha256:$(sha256sum "$work/index-back.json" | cut -d' ' -f1)"
skopeo copy --all --dest-oci-accept-uncompressed-layers --src-tls-verify=false --src-creds "$creds" "docker://$registry/blue/multi:v1" "oci:$work/multi-back:v1" >/dev/null
expect_equal "amd64 layer pulled back" "$amd64_layer" "$(layer_pulled "$work/multi-back" "$amd64_layer")"
expect_equal "arm64 layer pulled back" "$arm64_layer" "$(layer_pulled "$work/multi-back" "$arm64_layer")"

step "3. a copy within the registry mounts the blobs instead of uploading them"
copy --src-tls-verify=false --dest-tls-verify=false --src-creds "$creds" --dest-creds "$creds" "docker://$registry/blue/big:v1" "docker://$registry/blue/big-copy:v1" 2>&1 | tee "$work/mount.out"
grep -q "0 blobs uploaded (0 B), 0 already there, 2 mounted" "$work/mount.out" || fail "the blobs were not mounted"

step "4. the Worker killed mid-layer and started again: the copy resumes from the Worker's Range"
resume="$work/resume"
new_layout "$resume"
read -r manifest manifest_size layer < <(new_image "$resume" amd64 $((96 * 1024 * 1024)))
tag_in_layout "$resume" v1 "$manifest" "$manifest_size" application/vnd.oci.image.manifest.v1+json
copy --dest-tls-verify=false --dest-creds "$creds" --chunk-size $((16 * 1024 * 1024)) "oci:$resume:v1" "docker://$registry/blue/resume:v1" >"$work/resume.out" 2>&1 &
copy_pid=$!
deadline=$((SECONDS + 60))
until grep -q ' sent$' "$work/resume.out"; do
  [ "$SECONDS" -lt "$deadline" ] || { cat "$work/resume.out"; fail "no chunk was sent within 60 s"; }
  sleep 0.05
done
kill -KILL -- "-$worker_pid"
worker_pid=""
echo "killed the Worker after: $(grep ' sent$' "$work/resume.out" | tail -n 1)"
sleep 1
start_worker "$work/state" "AUTH_CONFIG=$auth_config" >/dev/null
echo "the Worker serves $REGISTRY_URL again, on the same state"
wait "$copy_pid" || { cat "$work/resume.out"; fail "the copy did not survive the restart"; }
copy_pid=""
cat "$work/resume.out"
grep -q "resuming at" "$work/resume.out" || fail "the copy never resumed"
if grep "resuming at" "$work/resume.out" | grep -q "resuming at 0 B"; then fail "the copy started the layer over instead of resuming"; fi
skopeo copy --dest-oci-accept-uncompressed-layers --src-tls-verify=false --src-creds "$creds" "docker://$registry/blue/resume:v1" "oci:$work/resume-back:v1" >/dev/null
expect_equal "digest of the resumed layer pulled back" "$layer" "$(layer_pulled "$work/resume-back" "$layer")"

step "5. from another registry (Distribution 2.8.2, docker://) and from a docker-archive (docker save's format)"
other_port=$(free_port)
mkdir -p "$work/other"
printf 'version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: "127.0.0.1:%s"}\n' "$work/other/storage" "$other_port" >"$work/other/config.yml"
# Distribution reads every REGISTRY_* variable as a setting: REGISTRY_AUTH_FILE (the clients' auth
# file, exported above) would configure an auth provider named "file" and stop it at start.
env -u REGISTRY_AUTH_FILE -u REGISTRY_URL setsid /usr/bin/docker-registry serve "$work/other/config.yml" >"$work/other/registry.log" 2>&1 &
other_pid=$!
stop_other() { stop_process_group "$other_pid" "docker-registry"; }
at_exit stop_other
print_other_log() { print_log_tail "$work/other/registry.log" "docker-registry's log"; }
on_failure print_other_log
wait_until_serving "http://127.0.0.1:$other_port/v2/" "$other_pid" "docker-registry" 30 200
elsewhere="$work/elsewhere"
new_layout "$elsewhere"
read -r manifest manifest_size elsewhere_layer < <(new_image "$elsewhere" amd64 $((6 * 1024 * 1024)))
tag_in_layout "$elsewhere" v1 "$manifest" "$manifest_size" application/vnd.oci.image.manifest.v1+json
skopeo copy --dest-tls-verify=false "oci:$elsewhere:v1" "docker://127.0.0.1:$other_port/team/app:v1" >/dev/null
# skopeo gzips the layer on its way into a registry: what the other registry holds is the source.
source_manifest=$(raw_digest --tls-verify=false "docker://127.0.0.1:$other_port/team/app:v1")
source_layer=$(skopeo inspect --raw --tls-verify=false "docker://127.0.0.1:$other_port/team/app:v1" | jq -r '.layers[0].digest')
copy --src-tls-verify=false --dest-tls-verify=false --dest-creds "$creds" "docker://127.0.0.1:$other_port/team/app:v1" "docker://$registry/blue/from-elsewhere:v1" 2>&1 | tee "$work/elsewhere.out"
grep -q "2 blobs uploaded" "$work/elsewhere.out" || fail "the layer and config were not copied from the other registry"
expect_equal "the manifest as stored, the other registry's" "$source_manifest" "$(raw_digest --tls-verify=false --creds "$creds" "docker://$registry/blue/from-elsewhere:v1")"
skopeo copy --src-tls-verify=false --src-creds "$creds" "docker://$registry/blue/from-elsewhere:v1" "oci:$work/elsewhere-back:v1" >/dev/null
expect_equal "digest of the layer copied from the other registry, pulled back" "$source_layer" "$(layer_pulled "$work/elsewhere-back" "$source_layer")"
archived="$work/archived"
new_layout "$archived"
read -r manifest manifest_size archived_layer < <(new_image "$archived" amd64 $((5 * 1024 * 1024)))
tag_in_layout "$archived" v1 "$manifest" "$manifest_size" application/vnd.oci.image.manifest.v1+json
skopeo copy "oci:$archived:v1" "docker-archive:$work/saved.tar:team/app:v1" >/dev/null
copy --dest-tls-verify=false --dest-creds "$creds" "docker-archive:$work/saved.tar" "docker://$registry/blue/from-archive:v1" 2>&1 | tee "$work/archive.out"
grep -q "2 blobs uploaded" "$work/archive.out" || fail "the layer and config were not copied from the docker-archive"
skopeo copy --dest-oci-accept-uncompressed-layers --src-tls-verify=false --src-creds "$creds" "docker://$registry/blue/from-archive:v1" "oci:$work/archive-back:v1" >/dev/null
expect_equal "digest of the layer copied from the docker-archive, pulled back" "$archived_layer" "$(layer_pulled "$work/archive-back" "$archived_layer")"
copy --dest-tls-verify=false --dest-creds "$creds" "docker-archive:$work/saved.tar" "docker://$registry/blue/from-archive:v2" 2>&1 | tee "$work/again.out"
grep -q "0 blobs uploaded (0 B), 2 already there, 0 mounted" "$work/again.out" || fail "a second copy into the same repository uploaded blobs the registry has"

e2e_passed
