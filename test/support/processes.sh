# shellcheck shell=bash
# Sourced by the scripts that start a server for a test run (test/e2e/local-registry.sh,
# test/workers/worker-dev.sh, test/e2e/lib.sh): the process plumbing they share.
#
#   free_port                      a port the kernel picks on 127.0.0.1, closed again before
#                                  the caller binds it (a race only another process grabbing
#                                  the same port in that instant can lose)
#   stop_process_group PID WHAT    SIGTERM to the group led by PID, SIGKILL after 5 s
#   print_log_tail FILE WHAT       the last 60 lines of FILE, on stderr, if it has any
#   wait_until_serving URL PID WHAT SECONDS [STATUS]
#                                  polls URL until it answers (with STATUS, when given); fails with
#                                  the reason once process PID (WHAT) has exited or SECONDS passed

free_port() {
  npx --no-install node -e '
    const server = require("node:net").createServer();
    server.listen(0, "127.0.0.1", () => { console.log(server.address().port); server.close(); });'
}

stop_process_group() {
  local pid=$1 what=$2
  kill -TERM -- "-$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do
    kill -0 -- "-$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  echo "$what (pid $pid) ignored SIGTERM for 5 s; killing it" >&2
  kill -KILL -- "-$pid" 2>/dev/null || true
}

print_log_tail() {
  local file=$1 what=$2
  [ -n "$file" ] && [ -s "$file" ] || return 0
  echo "---- last 60 lines of $what ($file) ----" >&2
  tail -n 60 "$file" >&2
}

wait_until_serving() {
  local url=$1 pid=$2 what=$3 seconds=$4 want=${5:-} status deadline=$((SECONDS + $4))
  while :; do
    # curl writes 000 when nothing answered.
    status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" || true)
    if [ "$status" != 000 ] && { [ -z "$want" ] || [ "$status" = "$want" ]; }; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "FAILED: $what exited before answering $url" >&2
      return 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "FAILED: $url did not answer${want:+ $want} within $seconds s" >&2
      return 1
    fi
    sleep 0.2
  done
}
