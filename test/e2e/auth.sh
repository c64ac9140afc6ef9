#!/usr/bin/env bash
# Token auth with real clients (skopeo, podman) against `npm start` serving the
# example teams configuration (examples/teams/registry.json):
#   alice (team blue) pushes, pulls and deletes in blue/*; bob (team green) cannot
#   touch blue/*; the robot blue-ci pushes but cannot delete; anyone pulls public/*.
#
#   bash test/e2e/auth.sh                 # starts `npm start` with the example config
#   npm run test:e2e:auth                 # the same
#   REGISTRY_URL=http://127.0.0.1:5000 bash test/e2e/auth.sh
#                                         # a running registry serving examples/teams/registry.json;
#                                         # repositories get a per-run path (blue/run-<id>/app)
# Needs skopeo, podman, umoci, jq and curl (.ci/run installs them). Offline.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo_root"
# shellcheck source=test/e2e/local-registry.sh
source test/e2e/local-registry.sh
# shellcheck source=test/e2e/lib.sh
source test/e2e/lib.sh

# The example's robot token (its hash is in examples/teams/registry.json; see examples/teams/README.md).
robot_token=ocirobot_KtdzRcVRZ2vXyEZNGsnOw7pbdDwWwYrOImJBVvcsVSE

e2e_begin "e2e auth" registry-e2e-auth
on_failure print_local_registry_log
at_exit stop_local_registry
isolate_clients

# Runs a client command that must fail, and shows why it failed.
expect_refused() { # what command...
  local what=$1
  shift
  if "$@" >"$work/refused.out" 2>&1; then
    cat "$work/refused.out" >&2
    fail "$what succeeded but must be refused"
  fi
  echo "ok: $what refused: $(grep -o -m1 -iE 'unauthorized[^"]*|denied[^"]*|authentication required[^"]*|invalid[^"]*|manifest unknown[^"]*' "$work/refused.out" | head -c 200)"
}

for tool in skopeo podman umoci jq curl; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (see .ci/run for the packages)"
done

if [ -z "${REGISTRY_URL:-}" ]; then
  step "start the registry (npm start) with examples/teams/registry.json"
  REGISTRY_CONFIG=examples/teams/registry.json start_local_registry "$work/server"
  run=""
else
  run="/run-$(date +%s)-$$"
fi
REGISTRY_URL=${REGISTRY_URL%/}
registry=${REGISTRY_URL#http://}
blue="$registry/blue$run"
green="$registry/green$run"
public="$registry/public$run"

# ---------------------------------------------------------------------------
step "the registry challenges: GET /v2/ answers 401 with a Bearer challenge naming /token"
status=$(curl -s -o /dev/null -D "$work/v2.headers" -w '%{http_code}' "$REGISTRY_URL/v2/")
expect_equal "status of GET /v2/ without credentials" 401 "$status"
expect_equal "WWW-Authenticate of GET /v2/" "Bearer realm=\"$REGISTRY_URL/token\",service=\"oci-registry\"" \
  "$(tr -d '\r' <"$work/v2.headers" | awk -F': ' 'tolower($1)=="www-authenticate" {print $2}')"
curl -sf "$REGISTRY_URL/token/jwks.json" | jq -e '.keys | length >= 1' >/dev/null || fail "no keys in $REGISTRY_URL/token/jwks.json"
echo "ok: $REGISTRY_URL/token/jwks.json publishes $(curl -sf "$REGISTRY_URL/token/jwks.json" | jq -r '[.keys[].kid] | join(", ")')"

# ---------------------------------------------------------------------------
step "build an image offline (umoci)"
layout="$work/layout"
umoci init --layout "$layout"
umoci new --image "$layout:v1"
head -c 200K /dev/urandom >"$work/payload.bin"
umoci_flags=()
[ "$(id -u)" -eq 0 ] || umoci_flags+=(--rootless)
umoci insert "${umoci_flags[@]}" --image "$layout:v1" "$work/payload.bin" /payload.bin
image_digest=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "v1") | .digest' "$layout/index.json")
echo "built $image_digest"

# ---------------------------------------------------------------------------
step "skopeo: alice pushes blue/app with --dest-creds and pulls it back with --src-creds"
expect_refused "an anonymous push to blue/app" skopeo copy --dest-tls-verify=false "oci:$layout:v1" "docker://$blue/app:v1"
skopeo copy --preserve-digests --dest-tls-verify=false --dest-creds alice:alice-secret "oci:$layout:v1" "docker://$blue/app:v1"
expect_equal "digest of blue/app:v1 read with alice's credentials" "$image_digest" \
  "$(raw_digest --tls-verify=false --creds alice:alice-secret "docker://$blue/app:v1")"
skopeo copy --src-tls-verify=false --src-creds alice:alice-secret "docker://$blue/app:v1" "oci:$work/pulled:v1"
expect_equal "digest of the image alice pulled" "$image_digest" \
  "$(jq -r '.manifests[0].digest' "$work/pulled/index.json")"
expect_refused "an anonymous pull of blue/app" skopeo inspect --raw --tls-verify=false "docker://$blue/app:v1"
expect_refused "alice with a wrong password" skopeo inspect --raw --tls-verify=false --creds alice:wrong "docker://$blue/app:v1"

# ---------------------------------------------------------------------------
step "skopeo: bob (team green) cannot push to or pull from blue/*, and pushes to green/*"
expect_refused "bob pushing to blue/app" \
  skopeo copy --dest-tls-verify=false --dest-creds bob:bob-secret "oci:$layout:v1" "docker://$blue/app:bob"
expect_refused "bob pulling blue/app" skopeo inspect --raw --tls-verify=false --creds bob:bob-secret "docker://$blue/app:v1"
skopeo copy --preserve-digests --dest-tls-verify=false --dest-creds bob:bob-secret "oci:$layout:v1" "docker://$green/app:v1"
echo "ok: bob pushed green/app:v1"
expect_refused "alice pulling green/app" skopeo inspect --raw --tls-verify=false --creds alice:alice-secret "docker://$green/app:v1"
expect_refused "bob deleting blue/app:v1" skopeo delete --tls-verify=false --creds bob:bob-secret "docker://$blue/app:v1"

# ---------------------------------------------------------------------------
step "public/*: blue pushes, anyone pulls without credentials, green cannot push"
skopeo copy --preserve-digests --dest-tls-verify=false --dest-creds alice:alice-secret "oci:$layout:v1" "docker://$public/base:v1"
skopeo copy --src-tls-verify=false "docker://$public/base:v1" "oci:$work/anonymous:v1"
expect_equal "digest of public/base:v1 pulled anonymously" "$image_digest" "$(jq -r '.manifests[0].digest' "$work/anonymous/index.json")"
expect_equal "digest of public/base:v1 read with curl and no token at all" "$image_digest" \
  "sha256:$(curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$REGISTRY_URL/v2/public$run/base/manifests/v1" | sha256sum | cut -d' ' -f1)"
expect_refused "bob pushing to public/base" \
  skopeo copy --dest-tls-verify=false --dest-creds bob:bob-secret "oci:$layout:v1" "docker://$public/base:bob"
expect_refused "an anonymous push to public/base" skopeo copy --dest-tls-verify=false "oci:$layout:v1" "docker://$public/base:anon"

# ---------------------------------------------------------------------------
step "robot blue-ci (token as the Basic password): pushes and pulls blue/*, cannot delete"
skopeo copy --preserve-digests --dest-tls-verify=false --dest-creds "blue-ci:$robot_token" "oci:$layout:v1" "docker://$blue/app:ci"
expect_equal "digest of blue/app:ci" "$image_digest" "$(raw_digest --tls-verify=false --creds "blue-ci:$robot_token" "docker://$blue/app:ci")"
expect_refused "blue-ci deleting blue/app:ci" skopeo delete --tls-verify=false --creds "blue-ci:$robot_token" "docker://$blue/app:ci"
expect_refused "blue-ci with a wrong token" skopeo inspect --raw --tls-verify=false --creds "blue-ci:ocirobot_wrong" "docker://$blue/app:ci"

# ---------------------------------------------------------------------------
step "podman login (own authfile) as alice, then pull, tag, push and pull again"
authfile="$work/podman-auth.json"
echo '{}' >"$authfile"
podman_login() { printf %s "$2" | podman login --tls-verify=false --authfile "$authfile" -u "$1" --password-stdin "$registry"; }
expect_refused "podman login with a wrong password" podman_login alice wrong
podman_login alice alice-secret
jq -e --arg r "$registry" '.auths[$r].auth' "$authfile" >/dev/null || fail "podman login wrote no credentials for $registry into $authfile"
podman pull --tls-verify=false --authfile "$authfile" "$blue/app:v1"
podman tag "$blue/app:v1" "$blue/app:podman"
podman push --tls-verify=false --authfile "$authfile" "$blue/app:podman"
expect_equal "config digest of blue/app:podman (the image ID podman pushed)" \
  "$(jq -r .config.digest "$layout/blobs/sha256/${image_digest#sha256:}")" \
  "$(skopeo inspect --raw --tls-verify=false --creds alice:alice-secret "docker://$blue/app:podman" | jq -r .config.digest)"
podman rmi --all --force >/dev/null
podman pull --tls-verify=false --authfile "$authfile" "$blue/app:podman"
echo "ok: podman pulled blue/app:podman back"
podman logout --authfile "$authfile" "$registry"

step "podman login as bob: pushing to blue/* is refused"
podman_login bob bob-secret
podman tag "$blue/app:podman" "$blue/app:from-bob"
expect_refused "bob pushing blue/app:from-bob with podman" podman push --tls-verify=false --authfile "$authfile" "$blue/app:from-bob"
podman logout --authfile "$authfile" "$registry"
podman rmi --all --force >/dev/null

# ---------------------------------------------------------------------------
step "catalog and delete: alice lists only what she may pull, then deletes blue/app:ci"
token=$(curl -sf -u alice:alice-secret "$REGISTRY_URL/token?service=oci-registry&scope=registry:catalog:*" | jq -r .token)
catalog=$(curl -sf -H "Authorization: Bearer $token" "$REGISTRY_URL/v2/_catalog" | jq -c .repositories)
echo "alice's catalog: $catalog"
jq -e --arg g "green$run/app" 'index($g) == null' <<<"$catalog" >/dev/null || fail "alice's catalog shows green/app"
jq -e --arg b "blue$run/app" 'index($b) != null' <<<"$catalog" >/dev/null || fail "alice's catalog lacks blue/app"
skopeo delete --tls-verify=false --creds alice:alice-secret "docker://$blue/app:ci"
expect_refused "reading blue/app:ci after alice deleted it" skopeo inspect --raw --tls-verify=false --creds alice:alice-secret "docker://$blue/app:ci"

e2e_passed
