#!/usr/bin/env bash
# npm run test:e2e:aws: the real-client end-to-end test (test/e2e/run.sh: skopeo, podman,
# umoci, containerd, chunked and streamed pushes) against `npm start` on S3 (a local
# Ceph RGW) and DynamoDB (dynalite), with blob GETs answered by 307 to presigned S3 URLs,
# so every pull in it goes through the redirect. Needs what .ci/run installs, plus
# ceph-mon, ceph-osd and radosgw.
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo_root"
# shellcheck source=test/e2e/local-registry.sh
source test/e2e/local-registry.sh
# shellcheck source=test/e2e/lib.sh
source test/e2e/lib.sh

e2e_begin "aws e2e" registry-e2e-aws
aws_started=""
on_failure print_local_registry_log
stop_local_aws() { [ -z "$aws_started" ] || npx --no-install node test/aws/local/cli.ts stop "$work/aws"; }
at_exit stop_local_aws
at_exit stop_local_registry

step "local S3 (Ceph RGW) and DynamoDB (dynalite)"
env_lines=$(npx --no-install node test/aws/local/cli.ts start "$work/aws")
aws_started=1
eval "$env_lines"
export BLOB_REDIRECTS=true

step "npm start with BACKEND=aws, blob redirects on"
start_local_registry "$work/server"

step "a blob GET answers 307 to a presigned URL on the local S3"
blob=$work/redirect.bin
head -c 1000 /dev/urandom >"$blob"
digest="sha256:$(sha256sum "$blob" | cut -d' ' -f1)"
curl -sf -X POST -H "Content-Type: application/octet-stream" --data-binary "@$blob" \
  "$REGISTRY_URL/v2/e2e-aws/redirect/blobs/uploads/?digest=$digest" -o /dev/null
read -r status location < <(curl -s -o /dev/null -w '%{http_code} %{redirect_url}\n' "$REGISTRY_URL/v2/e2e-aws/redirect/blobs/$digest")
expect_equal "status of the blob GET" 307 "$status"
case "$location" in "$S3_ENDPOINT/"*X-Amz-Signature=*) ;; *) fail "Location $location is not a presigned URL on $S3_ENDPOINT" ;; esac
[ "$(curl -sfL "$REGISTRY_URL/v2/e2e-aws/redirect/blobs/$digest" | sha256sum | cut -d' ' -f1)" = "${digest#sha256:}" ] ||
  fail "the bytes behind the redirect do not hash to $digest"
echo "ok: 307 to ${location%%\?*}?X-Amz-… and the bytes there hash to $digest"

step "the client suite of test/e2e/run.sh"
bash test/e2e/run.sh
e2e_passed
