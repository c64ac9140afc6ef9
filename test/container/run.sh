#!/usr/bin/env bash
# The Containerfile, built and run for real: buildah builds it (chroot isolation, vfs storage:
# no Docker engine, no overlay needed) over Debian base images made here from Debian's archive
# (base-images.sh), podman runs it with a named volume, skopeo pushes and pulls an image
# through it, then the container is stopped (SIGTERM, graceful), started again on the same
# volume, and the image is still there.
#
#   bash test/container/run.sh            # or: npm run test:container
#   CONTAINER_TEST_DIR=/var/tmp/x bash test/container/run.sh   # keeps storage and base images there for the next run
#
# Uses a container storage of its own (CONTAINERS_STORAGE_CONF), never the machine's. The run
# flags below are what a container inside a container needs (runc with cgroupfs: crun refuses
# hybrid cgroups; rlimits no higher than ours; the host's network; no healthcheck timers, which
# need systemd: the test runs the healthcheck itself); an ordinary host needs none of them.
set -euo pipefail
cd "$(dirname "$0")/../.."
source test/container/base-images.sh
source test/support/processes.sh

for command in buildah podman skopeo debootstrap runc curl jq; do
  command -v "$command" >/dev/null || { echo "FAILED: $command is not installed (apt-get install buildah podman skopeo debootstrap runc curl jq)" >&2; exit 1; }
done

workdir=${CONTAINER_TEST_DIR:-$(mktemp -d /tmp/registry-container-XXXXXX)}
mkdir -p "$workdir"
workdir=$(cd "$workdir" && pwd)
cat >"$workdir/storage.conf" <<CONF
[storage]
driver = "vfs"
runroot = "$workdir/run"
graphroot = "$workdir/storage"
CONF
export CONTAINERS_STORAGE_CONF="$workdir/storage.conf"
image=localhost/oci-registry-ci/oci-registry:test
name=oci-registry-test-$$
volume=oci-registry-test-data-$$
podman_flags=(--runtime runc --cgroup-manager cgroupfs)
run_flags=(--network host --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --health-interval disable)

cleanup() {
  podman "${podman_flags[@]}" rm -f -t 0 "$name" >/dev/null 2>&1 || true
  podman "${podman_flags[@]}" volume rm -f "$volume" >/dev/null 2>&1 || true
  [ -n "${CONTAINER_TEST_DIR:-}" ] || rm -rf "$workdir"
}
trap cleanup EXIT
fail() {
  echo "FAILED: $*" >&2
  podman "${podman_flags[@]}" logs "$name" 2>&1 | tail -n 40 >&2 || true
  exit 1
}
step() { printf '\n--> %s\n' "$*"; }

step "base images from Debian's archive"
make_base_images "$workdir"

step "buildah bud --isolation chroot (the Containerfile, both stages)"
started=$SECONDS
ca_flags=()
# A machine that reaches npm through a TLS-intercepting proxy trusts its CA this way; so must npm ci in the build.
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
  ca_flags=(-v "$NODE_EXTRA_CA_CERTS:/run/build-ca.crt:ro" --build-arg NODE_EXTRA_CA_CERTS=/run/build-ca.crt)
fi
buildah bud --isolation chroot --format docker --layers=false "${ca_flags[@]}" \
  --build-arg NODE_IMAGE="$NODE_IMAGE" --build-arg RUNTIME_IMAGE="$RUNTIME_IMAGE" \
  -f Containerfile -t "$image" . >"$workdir/build.log" 2>&1 || { tail -n 40 "$workdir/build.log" >&2; fail "the image did not build"; }
echo "built $image in $((SECONDS - started)) s; $(podman image inspect "$image" --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1000000}')"

step "image configuration: non-root user, DATA_DIR a volume, a HEALTHCHECK, no node_modules"
config=$(podman image inspect "$image" --format json | jq '.[0].Config')
[ "$(jq -r .User <<<"$config")" = "registry:registry" ] || fail "User is $(jq -r .User <<<"$config")"
jq -e '.Volumes | has("/var/lib/registry")' <<<"$config" >/dev/null || fail "no volume at /var/lib/registry"
jq -e '.Env | index("DATA_DIR=/var/lib/registry")' <<<"$config" >/dev/null || fail "DATA_DIR is not /var/lib/registry"
healthcheck=$(podman image inspect "$image" --format json | jq -c '.[0].Healthcheck.Test // .[0].Config.Healthcheck.Test')
[ "$healthcheck" = '["CMD","node","/app/bin/healthcheck.mjs"]' ] || fail "HEALTHCHECK is $healthcheck"
contents=$(podman "${podman_flags[@]}" run --rm "${run_flags[@]}" --entrypoint sh "$image" -c 'ls /app; ls /app/dist | head -3; test ! -e /app/node_modules && test ! -e /app/src && echo clean')
echo "$contents"
grep -qx clean <<<"$contents" || fail "/app holds node_modules or src"

step "podman run -d -v $volume:/var/lib/registry (the README's line, on a free port of the host network)"
port=$(free_port)
podman "${podman_flags[@]}" run -d --name "$name" "${run_flags[@]}" -e PORT="$port" -v "$volume:/var/lib/registry" "$image" >/dev/null
url="http://127.0.0.1:$port"
for _ in $(seq 300); do curl -s -o /dev/null --max-time 2 "$url/v2/" && break; sleep 0.2; done
[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/v2/")" = 200 ] || fail "GET /v2/ does not answer 200"
uid=$(podman "${podman_flags[@]}" top "$name" user 2>/dev/null | tail -n 1 | tr -d ' ') || true
server_pid=$(podman "${podman_flags[@]}" inspect "$name" --format '{{.State.Pid}}')
[ "$(stat -c %u "/proc/$server_pid")" = 10001 ] || fail "the server runs as uid $(stat -c %u "/proc/$server_pid"), not 10001 (registry; podman top says ${uid:-nothing})"
echo "serving on $url as uid 10001"

step "skopeo: push an image through it and pull it back"
skopeo copy -q --dest-tls-verify=false "containers-storage:$RUNTIME_IMAGE" "docker://127.0.0.1:$port/ci/debian:v1"
skopeo copy -q --src-tls-verify=false "docker://127.0.0.1:$port/ci/debian:v1" "oci:$workdir/pulled:v1"
pushed=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://127.0.0.1:$port/ci/debian:v1")
[ -n "$pushed" ] || fail "the pushed image has no digest"
skopeo list-tags --tls-verify=false "docker://127.0.0.1:$port/ci/debian" | jq -e '.Tags == ["v1"]' >/dev/null || fail "tags are not [v1]"
echo "pushed and pulled ci/debian:v1 ($pushed)"

step "HEALTHCHECK: healthy exactly when GET /healthz answers 200"
healthz=$(curl -s -o /dev/null -w '%{http_code}' "$url/healthz")
if podman "${podman_flags[@]}" healthcheck run "$name" >"$workdir/health.out" 2>&1; then health=0; else health=1; fi
echo "GET /healthz: $healthz; podman healthcheck run: $( [ $health = 0 ] && echo healthy || echo unhealthy) ($(head -c 200 "$workdir/health.out"))"
if [ "$healthz" = 200 ]; then [ $health = 0 ] || fail "/healthz answers 200 but the healthcheck fails"
else [ $health = 1 ] || fail "/healthz answers $healthz but the healthcheck passes"; fi
podman "${podman_flags[@]}" exec "$name" node /app/bin/healthcheck.mjs >/dev/null 2>&1 && exec_health=0 || exec_health=1
[ $exec_health = $health ] || fail "the healthcheck command inside the container disagrees with podman healthcheck run"

step "podman stop: SIGTERM, one line, exit status 0"
podman "${podman_flags[@]}" stop -t 20 "$name" >/dev/null
[ "$(podman "${podman_flags[@]}" inspect "$name" --format '{{.State.ExitCode}}')" = 0 ] || fail "exit status $(podman "${podman_flags[@]}" inspect "$name" --format '{{.State.ExitCode}}')"
podman "${podman_flags[@]}" logs "$name" 2>&1 | grep -q "SIGTERM: stopping; requests in flight finish first (at most 8 s)" || fail "no stopping line"
podman "${podman_flags[@]}" rm "$name" >/dev/null

step "a new container on the same volume still has the image"
podman "${podman_flags[@]}" run -d --name "$name" "${run_flags[@]}" -e PORT="$port" -v "$volume:/var/lib/registry" "$image" >/dev/null
for _ in $(seq 300); do curl -s -o /dev/null --max-time 2 "$url/v2/" && break; sleep 0.2; done
again=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://127.0.0.1:$port/ci/debian:v1")
[ "$again" = "$pushed" ] || fail "after the restart ci/debian:v1 is '$again', not $pushed"
echo "ci/debian:v1 is still $again"

step "a bind-mounted DATA_DIR the registry user cannot write: one line saying so, exit status 2"
mkdir -p "$workdir/root-owned"
podman "${podman_flags[@]}" rm -f -t 0 "$name" >/dev/null
set +e
refusal=$(podman "${podman_flags[@]}" run --rm "${run_flags[@]}" -e PORT="$port" -v "$workdir/root-owned:/var/lib/registry" "$image" 2>&1)
status=$?
set -e
echo "$refusal"
[ $status = 2 ] || fail "exit status $status"
grep -q "may not write in /var/lib/registry (EACCES)" <<<"$refusal" || fail "the refusal does not name EACCES"

echo
echo "container: OK"
