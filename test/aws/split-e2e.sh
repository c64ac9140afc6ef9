#!/usr/bin/env bash
# npm run test:e2e:aws:split: the split deployment (docs/aws.md) with real clients. The Lambda
# handler behind a local Function URL stand-in (test/aws/local/function-url-front.ts: bodies
# buffered, events over 6 MB refused with AWS's 413) serves pulls and the API with UPLOAD_URL
# set; the Node runtime (bin/oci-registry.mjs, BACKEND=aws) takes the uploads; both on one
# Ceph RGW bucket and one dynalite table, with token auth from the same configuration.
# skopeo and podman push an image with a 200 MiB layer through the Lambda's address, skopeo
# pulls it back through presigned redirects, and tokens are checked on both sides; containerd,
# which sends its token to the registry's host only, pushes one too (on the session's grant).
# Needs what .ci/run installs (skopeo, podman, containerd, jq, curl, ceph-mon, ceph-osd, radosgw).
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo_root"
# shellcheck source=test/e2e/lib.sh
source test/e2e/lib.sh

layer_mib=${SPLIT_LAYER_MIB:-200}
e2e_begin "split e2e" registry-e2e-aws-split
aws_started="" upload_pid="" front_pid=""
print_server_logs() {
  print_log_tail "$work/upload.log" "the upload server's log"
  print_log_tail "$work/front.log" "the Function URL front's log"
}
on_failure print_server_logs
stop_servers() {
  [ -z "$front_pid" ] || stop_process_group "$front_pid" "the Function URL front"
  [ -z "$upload_pid" ] || stop_process_group "$upload_pid" "the upload server"
  [ -z "$aws_started" ] || npx --no-install node test/aws/local/cli.ts stop "$work/aws"
}
at_exit stop_servers
at_exit stop_containerd
isolate_clients

step "local S3 (Ceph RGW) and DynamoDB (dynalite)"
env_lines=$(npx --no-install node test/aws/local/cli.ts start "$work/aws")
aws_started=1
eval "$env_lines"

step "the Lambda handler (UPLOAD_URL set) and the Node upload server on them, one auth configuration"
# The example teams (alice: blue/*, password alice-secret), with one signing key both sides share.
AUTH_CONFIG=$(teams_auth_config)
export AUTH_CONFIG
upload_port=$(free_port)
front_port=$(free_port)
upload_url="http://127.0.0.1:$upload_port"
front_url="http://127.0.0.1:$front_port"
# The upload server's challenges name the Lambda's /token (PUBLIC_URL), as the CDK stack sets it.
HOST=127.0.0.1 PORT=$upload_port PROCESSES=1 PUBLIC_URL=$front_url GC_INTERVAL_SECONDS=0 LOG_FORMAT=json \
  setsid node bin/oci-registry.mjs >"$work/upload.log" 2>&1 &
upload_pid=$!
# The Lambda sees https (events carry no scheme; a Function URL is https only): PUBLIC_URL names
# the front's plain-HTTP origin in its challenges, as it names a custom domain on AWS.
PORT=$front_port PUBLIC_URL=$front_url UPLOAD_URL=$upload_url setsid npx --no-install node test/aws/local/function-url-front.ts >"$work/front.out" 2>"$work/front.log" &
front_pid=$!
wait_until_serving "$upload_url/v2/" "$upload_pid" "the upload server" 60 401 || fail "the upload server did not start"
echo "ok: $upload_url/v2/ demands a token"
wait_until_serving "$front_url/v2/" "$front_pid" "the Function URL front" 60 401 || fail "the Function URL front did not start"
echo "ok: $front_url/v2/ demands a token"

token() { # SCOPE: a token from the Lambda's token endpoint, as alice
  curl -sf -u alice:alice-secret "$front_url/token?service=oci-registry&scope=$1" | jq -r .token
}
header() { tr -d '\r' | awk -v name="$1" 'tolower($1) == name ":" { print $2 }'; }
# The front's request lines (JSON; anything else on its stderr is skipped).
front_requests() { jq -R -c 'fromjson? | select(.method != null)' "$work/front.log"; }

step "a POST to the Lambda answers 202 with a Location on the upload server; tokens and the session's grant hold there"
own=$(token "repository:blue/split/auth:pull,push")
other=$(token "repository:blue/split/other:pull,push")
start_session() { curl -s -D - -o /dev/null -X POST -H "Authorization: Bearer $own" "$front_url/v2/blue/split/auth/blobs/uploads/" | header location; }
location=$(start_session)
case "$location" in "$upload_url/v2/blue/split/auth/blobs/uploads/"*"?grant="*) echo "ok: Location ${location%%\?*}?grant=…" ;; *) fail "Location '$location' is not on $upload_url with a grant" ;; esac
session=${location%%\?*}
grant=${location#*\?grant=}
printf 'split' >"$work/chunk"
patch() { # URL RANGE [curl options]: the status of a PATCH of $work/chunk
  local url=$1 range=$2
  shift 2
  curl -s -o "$work/patch.out" -D "$work/patch.headers" -w '%{http_code}' -X PATCH -H "Content-Range: $range" \
    -H "Content-Type: application/octet-stream" --data-binary @"$work/chunk" "$@" "$url"
}
expect_equal "PATCH on the upload server without a token or grant" 401 "$(patch "$session" 0-4)"
grep -qi "realm=\"$front_url/token\"" "$work/patch.headers" || fail "the challenge does not name the Lambda's token endpoint"
expect_equal "PATCH there with a token for blue/split/other" 401 "$(patch "$session" 0-4 -H "Authorization: Bearer $other")"
grep -qi 'insufficient_scope' "$work/patch.headers" || fail "the refusal does not say insufficient_scope"
expect_equal "PATCH there with the token's signature altered" 401 "$(patch "$session" 0-4 -H "Authorization: Bearer ${own%.*}.AAAA${own##*.}")"
expect_equal "PATCH there with the token for blue/split/auth" 202 "$(patch "$session" 0-4 -H "Authorization: Bearer $own")"
# docker and containerd send their token to the registry's host only: the grant carries the session.
expect_equal "PATCH there with the session's grant and no token" 202 "$(patch "$location" 5-9)"
next=$(header location <"$work/patch.headers")
case "$next" in "/v2/blue/split/auth/blobs/uploads/"*"?grant=$grant") echo "ok: the answer's Location keeps the grant" ;; *) fail "the answer's Location '$next' dropped the grant" ;; esac
other_session=$(start_session)
expect_equal "PATCH of another session with this session's grant" 401 "$(patch "${other_session%%\?*}?grant=$grant" 0-4)"
expect_equal "PATCH of this session under another repository's path with its grant" 401 \
  "$(patch "$upload_url/v2/blue/split/other/blobs/uploads/${session##*/}?grant=$grant" 0-4)"
expect_equal "PATCH with the grant's signature altered" 401 "$(patch "$session?grant=${grant%.*}.AAAA${grant##*.}" 10-14)"
expect_equal "PATCH with the grant offered as a bearer token" 401 "$(patch "$session" 10-14 -H "Authorization: Bearer $grant")"
digest="sha256:$(cat "$work/chunk" "$work/chunk" | sha256sum | cut -d' ' -f1)"
expect_equal "PUT closing it with the grant alone" 201 "$(curl -s -o /dev/null -w '%{http_code}' -X PUT "$location&digest=$digest")"
expect_equal "HEAD of the blob through the Lambda" 200 "$(curl -s -o /dev/null -w '%{http_code}' -I -H "Authorization: Bearer $own" "$front_url/v2/blue/split/auth/blobs/$digest")"

step "a mount that does not mount, and a single POST over Lambda's 4.5 MB, answer 202 on the upload server; a small single POST 201"
location=$(curl -s -D - -o /dev/null -X POST -H "Authorization: Bearer $own" \
  "$front_url/v2/blue/split/auth/blobs/uploads/?mount=sha256:$(printf '%064d' 0)&from=blue/split/other" | header location)
case "$location" in "$upload_url/v2/blue/split/auth/blobs/uploads/"*) echo "ok: mount miss: Location ${location%%\?*}?grant=…" ;; *) fail "mount miss: Location '$location' is not on $upload_url" ;; esac
# 4,600,000 bytes reach the function (6,133,336 in base64); 4,800,000 would not (AWS's own 413).
head -c 4600000 /dev/urandom >"$work/big-post"
digest="sha256:$(sha256sum "$work/big-post" | cut -d' ' -f1)"
status=$(curl -s -D "$work/post.headers" -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $own" \
  -H "Content-Type: application/octet-stream" --data-binary @"$work/big-post" "$front_url/v2/blue/split/auth/blobs/uploads/?digest=$digest")
expect_equal "single POST of 4,600,000 bytes" 202 "$status"
location=$(header location <"$work/post.headers")
case "$location" in "$upload_url/"*) ;; *) fail "Location '$location' is not on $upload_url" ;; esac
expect_equal "PUT of the body there" 201 "$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: Bearer $own" \
  -H "Content-Type: application/octet-stream" --data-binary @"$work/big-post" "$location&digest=$digest")"
printf 'small' >"$work/small"
digest="sha256:$(sha256sum "$work/small" | cut -d' ' -f1)"
expect_equal "single POST of 5 bytes" 201 "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $own" \
  -H "Content-Type: application/octet-stream" --data-binary @"$work/small" "$front_url/v2/blue/split/auth/blobs/uploads/?digest=$digest")"

# An OCI layout holding one image whose layer is an uncompressed tar of LAYER_MIB random MiB.
make_image() { # DIR TAG
  local dir=$1 tag=$2 rootfs="$1.rootfs" layer config manifest
  mkdir -p "$dir/blobs/sha256" "$rootfs"
  head -c $((layer_mib * 1024 * 1024)) /dev/urandom >"$rootfs/payload.bin"
  sha256sum "$rootfs/payload.bin" | cut -d' ' -f1 >"$dir.payload"
  tar -C "$rootfs" -cf "$dir/layer.tar" payload.bin
  rm -rf "$rootfs"
  layer=$(sha256sum "$dir/layer.tar" | cut -d' ' -f1)
  mv "$dir/layer.tar" "$dir/blobs/sha256/$layer"
  printf '{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$layer" >"$dir/config.json"
  config=$(sha256sum "$dir/config.json" | cut -d' ' -f1)
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%d}]}' \
    "$config" "$(stat -c %s "$dir/config.json")" "$layer" "$(stat -c %s "$dir/blobs/sha256/$layer")" >"$dir/manifest.json"
  mv "$dir/config.json" "$dir/blobs/sha256/$config"
  manifest=$(sha256sum "$dir/manifest.json" | cut -d' ' -f1)
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' \
    "$manifest" "$(stat -c %s "$dir/manifest.json")" "$tag" >"$dir/index.json"
  mv "$dir/manifest.json" "$dir/blobs/sha256/$manifest"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
}
# Bytes the upload server took in PATCH and PUT requests for REPOSITORY (its JSON request log).
uploaded_bytes() {
  jq -R --arg repo "$1" 'fromjson? | select(.msg == "request" and .repository == $repo and (.method == "PATCH" or .method == "PUT") and .status < 300) | .bytesIn' \
    "$work/upload.log" | awk '{ sum += $1 } END { print sum + 0 }'
}
expect_through_upload_server() { # REPOSITORY
  local bytes
  bytes=$(uploaded_bytes "$1")
  [ "$bytes" -ge $((layer_mib * 1024 * 1024)) ] || fail "the upload server took only $bytes bytes for $1"
  echo "ok: the upload server took $bytes bytes of $1's uploads"
}

step "skopeo copy of an image with a $layer_mib MiB layer through the Lambda's address"
make_image "$work/skopeo-image" v1
started=$SECONDS
skopeo copy --dest-tls-verify=false --dest-creds alice:alice-secret "oci:$work/skopeo-image:v1" "docker://127.0.0.1:$front_port/blue/split/skopeo:v1"
echo "pushed in $((SECONDS - started)) s"
expect_through_upload_server blue/split/skopeo

step "podman push of another image with a $layer_mib MiB layer through the Lambda's address"
make_image "$work/podman-image" v1
skopeo copy -q "oci:$work/podman-image:v1" "containers-storage:[vfs@$work/podman/root+$work/podman/runroot]localhost/split-podman:v1"
rm -rf "$work/podman-image"
started=$SECONDS
podman push --tls-verify=false --creds alice:alice-secret localhost/split-podman:v1 "127.0.0.1:$front_port/blue/split/podman:v1"
echo "pushed in $((SECONDS - started)) s"
expect_through_upload_server blue/split/podman

step "containerd (ctr push: one PUT per layer, its token sent to the registry's host only) through the Lambda's address"
start_containerd split
make_image "$work/containerd-image" v1
tar -C "$work/containerd-image" -cf "$work/containerd-image.tar" .
ctr images import --no-unpack --base-name localhost/split-ctr "$work/containerd-image.tar" >/dev/null
rm -f "$work/containerd-image.tar"
started=$SECONDS
ctr images push --plain-http --user alice:alice-secret "127.0.0.1:$front_port/blue/split/containerd:v1" localhost/split-ctr:v1 | tail -n 2
echo "pushed in $((SECONDS - started)) s"
stop_containerd
expect_through_upload_server blue/split/containerd

step "no request to the Lambda carried a layer: none over 6 MB, no 413"
front_requests | jq -e -s 'map(select(.status == 413 or .bytesIn > 6291456)) | length == 0' >/dev/null || fail "the Lambda was sent a body it cannot take"
echo "ok: largest body the Lambda got: $(front_requests | jq -s 'map(.bytesIn) | max') bytes"

step "skopeo pulls both images back through the Lambda; blob GETs answer 307 to presigned S3 URLs"
before=$(front_requests | wc -l)
for name in skopeo podman containerd; do
  skopeo copy --src-tls-verify=false --src-creds alice:alice-secret "docker://127.0.0.1:$front_port/blue/split/$name:v1" "oci:$work/pulled-$name:v1"
  # skopeo may rewrite the manifest on the way into a layout (media types); the config it names and the file inside the layer are what must survive.
  pulled="$work/pulled-$name/blobs/sha256"
  pulled_manifest="$pulled/$(jq -r '.manifests[0].digest' "$work/pulled-$name/index.json" | cut -d: -f2)"
  expect_equal "config of blue/split/$name:v1 pulled" \
    "$(skopeo inspect --raw --tls-verify=false --creds alice:alice-secret "docker://127.0.0.1:$front_port/blue/split/$name:v1" | jq -r .config.digest)" \
    "$(jq -r .config.digest "$pulled_manifest")"
  # The clients compress the uncompressed layer on push; what matters is the file inside it.
  layer=$(jq -r '.layers[0].digest' "$pulled_manifest" | cut -d: -f2)
  expect_equal "sha256 of the $layer_mib MiB file in the layer of blue/split/$name:v1 pulled" \
    "$(cat "$work/$name-image.payload")" "$(gzip -dcf "$pulled/$layer" | tar -xOf - payload.bin | sha256sum | cut -d' ' -f1)"
done
redirects=$(front_requests | tail -n +"$((before + 1))" | jq -s --arg s3 "$S3_ENDPOINT/" \
  '[.[] | select(.method == "GET" and (.path | test("/blobs/sha256:")))] | {all: length, redirected: map(select(.status == 307 and (.location | startswith($s3)) and (.location | test("X-Amz-Signature=")))) | length}')
expect_equal "blob GETs through the Lambda answered 307 to a presigned URL on $S3_ENDPOINT" \
  "$(jq .all <<<"$redirects")" "$(jq .redirected <<<"$redirects")"
[ "$(jq .all <<<"$redirects")" -ge 6 ] || fail "expected at least 6 blob GETs (3 layers, 3 configs): $redirects"
e2e_passed
