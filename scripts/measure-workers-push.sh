#!/usr/bin/env bash
# Measures the Worker under local workerd (as `wrangler dev` runs it): its
# memory while one streamed PATCH pushes a large layer and while it is pulled
# back, and push/pull throughput. Results go to docs/workers.md by hand.
#
#   bash scripts/measure-workers-push.sh [SIZE_MIB]     (default 1024)
#
# The PATCH has no Content-Length (Transfer-Encoding: chunked), as docker and
# containerd send a layer; MAX_REQUEST_BYTES is raised above the size for this.
# Memory, two ways:
#   - the Worker's isolate (its JS heap plus ArrayBuffer backing stores: what the
#     128 MB limit counts), sampled every 100 ms through the DevTools inspector
#     by scripts/worker-heap.ts; the Durable Objects run in this isolate too;
#   - each workerd process's peak RSS (VmHWM, reset through /proc/PID/clear_refs
#     before each phase). Local workerd also runs wrangler's R2 and Durable
#     Object simulators, which hold much of an object in memory when serving it.
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
# shellcheck source=test/workers/worker-dev.sh
source test/workers/worker-dev.sh

size_mib=${1:-1024}
work=$(mktemp -d "${TMPDIR:-/tmp}/registry-measure.XXXXXX")
sampler=""
heap_sampler=""
cleanup() {
  [ -z "$sampler" ] || kill "$sampler" 2>/dev/null || true
  [ -z "$heap_sampler" ] || kill -INT -- "-$heap_sampler" 2>/dev/null || true
  stop_worker
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

inspector=$(free_port)
WORKER_INSPECTOR_PORT=$inspector start_worker "$work/state" MAX_REQUEST_BYTES=$((size_mib * 1048576 + 1048576))
mapfile -t pids < <(pgrep -g "$worker_pid" workerd)
echo "workerd processes: ${pids[*]} (${WORKER_PID} serves $REGISTRY_URL)"

kib() { awk -v f="$2" '$1 == f":" {print $2}' "/proc/$1/status"; }
reset_peaks() { for pid in "${pids[@]}"; do echo 5 >"/proc/$pid/clear_refs"; done; }
start_heap_sampler() { # log
  setsid npx --no-install node scripts/worker-heap.ts "$inspector" >"$1" 2>&1 &
  heap_sampler=$!
  sleep 2
}
stop_heap_sampler() { # log phase
  kill -INT -- "-$heap_sampler"
  wait "$heap_sampler" 2>/dev/null || true
  heap_sampler=""
  printf '  %-28s Worker isolate %s\n' "$2" "$(grep '^peak:' "$1")"
  [ -z "${MEASURE_VERBOSE:-}" ] || grep -v '^peak:' "$1" | sed 's/^/      /'
}
report_peaks() { # phase
  for pid in "${pids[@]}"; do
    printf '  %-28s workerd %s: peak RSS (VmHWM) %4d MiB, now %4d MiB\n' "$1" "$pid" $(($(kib "$pid" VmHWM) / 1024)) $(($(kib "$pid" VmRSS) / 1024))
  done
}

echo "writing $size_mib MiB of random bytes"
head -c "$((size_mib * 1048576))" /dev/urandom >"$work/layer.bin"
digest="sha256:$(sha256sum "$work/layer.bin" | cut -d' ' -f1)"
report_peaks "idle, after start-up"

reset_peaks
start_heap_sampler "$work/heap-push.log"
(while sleep 0.1; do
  for pid in "${pids[@]}"; do echo "$pid $(kib "$pid" VmRSS)"; done
done) >"$work/rss.log" 2>/dev/null &
sampler=$!

location=$(curl -sf -X POST -D - -o /dev/null "$REGISTRY_URL/v2/measure/layer/blobs/uploads/" | tr -d '\r' | awk 'tolower($1) == "location:" {print $2}')
echo "PATCH $size_mib MiB in one streamed request (Transfer-Encoding: chunked)"
curl -sf -X PATCH -H "Content-Type: application/octet-stream" -H "Transfer-Encoding: chunked" \
  -T "$work/layer.bin" -o /dev/null -w '  push: %{size_upload} bytes in %{time_total} s = %{speed_upload} B/s\n' "$REGISTRY_URL$location"
curl -sf -X PUT -o /dev/null -w '  PUT ?digest= (completes the multipart upload): %{http_code} in %{time_total} s\n' "$REGISTRY_URL$location?digest=$digest"
stop_heap_sampler "$work/heap-push.log" "during the push"
report_peaks "during the push"

reset_peaks
start_heap_sampler "$work/heap-pull.log"
curl -sf -o "$work/pulled.bin" -w '  pull: %{size_download} bytes in %{time_total} s = %{speed_download} B/s\n' "$REGISTRY_URL/v2/measure/layer/blobs/$digest"
stop_heap_sampler "$work/heap-pull.log" "during the pull"
report_peaks "during the pull"
kill "$sampler" 2>/dev/null || true
sampler=""
[ "sha256:$(sha256sum "$work/pulled.bin" | cut -d' ' -f1)" = "$digest" ] && echo "  pulled bytes hash to $digest"
echo "the same bytes again in PATCHes of 99999999 bytes (the way to push on a Free/Pro zone; the blob is known by now,"
echo "so the closing PUT aborts this second copy instead of completing it)"
npx --no-install node test/workers/push-in-chunks.ts "$REGISTRY_URL" measure/chunked "$work/layer.bin" 99999999 | sed 's/^/  /'
for pid in "${pids[@]}"; do
  awk -v p="$pid" '$1 == p && $2 > max {max = $2} END {printf "  workerd %s: highest sampled RSS %d MiB\n", p, max / 1024}' "$work/rss.log"
done
