# shellcheck shell=bash
# Sourced by the scripts in test/workers/: serves this checkout's Worker as
# `wrangler dev` would (test/workers/start-worker.ts: offline, local R2 and
# Durable Objects persisted under a directory of the caller's choosing, built
# once, never reloaded) on a free 127.0.0.1 port, and stops it again.
#
#   start_worker STATE_DIR [NAME=VALUE ...]         exports REGISTRY_URL and WORKER_PID (workerd's pid)
#   stop_worker                                     stops wrangler and workerd; safe to call twice
#   print_worker_log                                the log's tail, for a caller that failed

worker_pid=""
worker_log=""

worker_free_port() {
  npx --no-install node -e '
    const server = require("node:net").createServer();
    server.listen(0, "127.0.0.1", () => { console.log(server.address().port); server.close(); });'
}

start_worker() {
  local state=$1 port deadline
  shift
  port=$(worker_free_port)
  mkdir -p "$state"
  worker_log="$state/worker.log"
  # setsid: npx, node and workerd share one new process group, so one kill stops them all.
  WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false \
    setsid npx --no-install node test/workers/start-worker.ts "$port" "$state" "$@" >"$worker_log" 2>&1 &
  worker_pid=$!
  export REGISTRY_URL="http://127.0.0.1:$port"
  echo "started the Worker (pid $worker_pid) on $REGISTRY_URL $*, state in $state"
  deadline=$((SECONDS + 90))
  until curl -s -o /dev/null --max-time 2 "$REGISTRY_URL/v2/"; do
    if ! kill -0 "$worker_pid" 2>/dev/null; then
      echo "FAILED: the Worker exited before answering /v2/" >&2
      tail -n 40 "$worker_log" >&2
      return 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "FAILED: $REGISTRY_URL/v2/ did not answer within 90 s" >&2
      tail -n 40 "$worker_log" >&2
      return 1
    fi
    sleep 0.3
  done
  # The workerd process that listens on the port (wrangler runs it as a child).
  WORKER_PID=$(pgrep -g "$worker_pid" -f "workerd serve .*--socket-addr=entry=127.0.0.1:$port" | head -n 1 || true)
  export WORKER_PID
}

stop_worker() {
  [ -n "$worker_pid" ] || return 0
  local pid=$worker_pid
  worker_pid=""
  kill -TERM -- "-$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do
    kill -0 -- "-$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  echo "the Worker (pid $pid) ignored SIGTERM for 5 s; killing it" >&2
  kill -KILL -- "-$pid" 2>/dev/null || true
}

print_worker_log() {
  [ -n "$worker_log" ] && [ -s "$worker_log" ] || return 0
  echo "---- last 60 lines of the Worker's log ($worker_log) ----" >&2
  tail -n 60 "$worker_log" >&2
}
