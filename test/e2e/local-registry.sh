# shellcheck shell=bash
# Sourced by test/e2e/run.sh and test/conformance/run.sh: when REGISTRY_URL is
# unset, serve this checkout with `npm start` on a free 127.0.0.1 port over a
# throwaway DATA_DIR, and stop it again. PROCESSES defaults to 2 here, not to
# the core count, so the suites always run against several processes sharing
# one DATA_DIR, even on a one-core machine.
#
#   start_local_registry WORKDIR [PORT]
#                                  exports REGISTRY_URL; data in WORKDIR/data, log in
#                                  WORKDIR/registry.log; again on the same WORKDIR (and
#                                  PORT) restarts over the same data
#   stop_local_registry            stops the server (its whole process group); safe to call twice
#   print_local_registry_log       the log's tail, for a caller that failed

local_registry_pid=""
local_registry_log=""

# shellcheck source=test/support/processes.sh
source "$(dirname "${BASH_SOURCE[0]}")/../support/processes.sh"

start_local_registry() {
  local workdir=$1 port=${2:-}
  [ -n "$port" ] || port=$(free_port)
  local_registry_log="$workdir/registry.log"
  mkdir -p "$workdir/data"
  # setsid: npm, its shell and node share one new process group, so one kill stops them all.
  HOST=127.0.0.1 PORT=$port DATA_DIR="$workdir/data" PROCESSES="${PROCESSES:-2}" setsid npm start >>"$local_registry_log" 2>&1 &
  local_registry_pid=$!
  export REGISTRY_URL="http://127.0.0.1:$port"
  echo "started npm start (pid $local_registry_pid) on $REGISTRY_URL, data in $workdir/data, log in $local_registry_log"

  wait_until_serving "$REGISTRY_URL/v2/" "$local_registry_pid" "npm start" 60 || return 1
  echo "$REGISTRY_URL/v2/ answers: $(curl -s -o /dev/null -w '%{http_code}' "$REGISTRY_URL/v2/")"
}

stop_local_registry() {
  [ -n "$local_registry_pid" ] || return 0
  local pid=$local_registry_pid
  local_registry_pid=""
  stop_process_group "$pid" "npm start"
}

# On failure the server's own account is usually the quickest clue.
print_local_registry_log() {
  print_log_tail "$local_registry_log" "the registry log"
}
