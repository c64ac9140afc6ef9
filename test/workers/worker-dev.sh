# shellcheck shell=bash
# Sourced by the scripts in test/workers/: serves this checkout's Worker as
# `wrangler dev` would (test/workers/start-worker.ts: offline, local R2 and
# Durable Objects persisted under a directory of the caller's choosing, built
# once, never reloaded) on a free 127.0.0.1 port, and stops it again.
#
#   start_worker STATE_DIR [NAME=VALUE ...]         exports REGISTRY_URL and WORKER_PID (workerd's pid);
#                                                   on WORKER_PORT when set (a restart on the same address)
#   stop_worker                                     stops wrangler and workerd; safe to call twice
#   print_worker_log                                the log's tail, for a caller that failed

worker_pid=""
worker_log=""

# shellcheck source=test/support/processes.sh
source "$(dirname "${BASH_SOURCE[0]}")/../support/processes.sh"

start_worker() {
  local state=$1 port
  shift
  port=${WORKER_PORT:-$(free_port)}
  mkdir -p "$state"
  worker_log="$state/worker.log"
  # setsid: npx, node and workerd share one new process group, so one kill stops them all.
  WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false \
    setsid npx --no-install node test/workers/start-worker.ts "$port" "$state" "$@" >"$worker_log" 2>&1 &
  worker_pid=$!
  export REGISTRY_URL="http://127.0.0.1:$port"
  echo "started the Worker (pid $worker_pid) on $REGISTRY_URL $*, state in $state"
  wait_until_serving "$REGISTRY_URL/v2/" "$worker_pid" "the Worker" 90 || { tail -n 40 "$worker_log" >&2; return 1; }
  # The workerd process that listens on the port (wrangler runs it as a child).
  WORKER_PID=$(pgrep -g "$worker_pid" -f "workerd serve .*--socket-addr=entry=127.0.0.1:$port" | head -n 1 || true)
  export WORKER_PID
}

stop_worker() {
  [ -n "$worker_pid" ] || return 0
  local pid=$worker_pid
  worker_pid=""
  stop_process_group "$pid" "the Worker"
}

print_worker_log() {
  print_log_tail "$worker_log" "the Worker's log"
}
