# shellcheck shell=bash
# Sourced by the end-to-end scripts with real clients (test/e2e, test/workers, test/aws): the
# frame each of them needs around its checks, written once.
#
#   e2e_begin NAME PREFIX        $work: a new temporary directory ($TMPDIR/PREFIX.XXXXXX). When the
#                                script ends, a trap runs: on failure it says "!!! NAME FAILED in
#                                step: … (exit status N)" and runs the on_failure commands; then the
#                                at_exit commands, the last registered first; then removes $work
#   on_failure COMMAND           a command (a function's name) for a failed run: a log's tail
#   at_exit COMMAND              a command (a function's name) for every ending: stop a server
#   step TITLE                   "==> TITLE"; ends the step before it, keeping its time
#   e2e_passed                   ends the last step, prints each step's time and "NAME: N passed, 0 failed"
#   fail MESSAGE                 "FAIL: MESSAGE" on stderr, and the script ends (status 1)
#   expect_equal WHAT EXPECTED ACTUAL
#   isolate_clients              skopeo and podman (the functions below) see nothing of the host's
#                                configuration, credentials or caches: a policy that accepts
#                                anything, an empty REGISTRY_AUTH_FILE, XDG_RUNTIME_DIR, podman's
#                                storage (vfs) and every temporary file under $work
#   file_digest FILE             sha256:<hex> of FILE
#   layout_blob LAYOUT DIGEST    the path of a blob in an OCI layout
#   raw_digest [OPTIONS] REF     the digest of the exact manifest bytes skopeo reads at REF
#   teams_auth_config            the auth section of examples/teams/registry.json (alice: blue/*,
#                                bob: green/*, …) with a signing key made now, as one JSON line:
#                                it holds a private key, so never echo it
#   start_containerd NAMESPACE   a private containerd (no CRI) under $work/containerd; ctr (below)
#                                speaks to it in NAMESPACE. stop_containerd stops it (safe twice)

# shellcheck source=test/support/processes.sh
source "$(dirname "${BASH_SOURCE[0]}")/../support/processes.sh"

e2e_name=""
e2e_on_failure=()
e2e_at_exit=()
current_step=""
step_started=$EPOCHREALTIME
steps_passed=0
step_times=()

e2e_begin() { # NAME PREFIX
  e2e_name=$1
  work=$(mktemp -d "${TMPDIR:-/tmp}/$2.XXXXXX")
  trap e2e_end EXIT
  trap 'exit 130' INT TERM
}
on_failure() { e2e_on_failure+=("$1"); }
at_exit() { e2e_at_exit+=("$1"); }

e2e_end() {
  local rc=$? i
  if [ "$rc" -ne 0 ]; then
    echo >&2
    echo "!!! $e2e_name FAILED in step: ${current_step:-setup} (exit status $rc)" >&2
    for i in "${!e2e_on_failure[@]}"; do eval "${e2e_on_failure[i]}" || true; done
    echo "$e2e_name: $steps_passed passed, 1 failed"
  fi
  for ((i = ${#e2e_at_exit[@]} - 1; i >= 0; i--)); do eval "${e2e_at_exit[i]}" || true; done
  rm -rf "$work"
  exit "$rc"
}

elapsed() { # since an $EPOCHREALTIME reading, in seconds with one decimal
  local now=${EPOCHREALTIME/[^0-9]/} then=${1/[^0-9]/}
  printf '%d.%d' $(((now - then) / 1000000)) $(((now - then) % 1000000 / 100000))
}
end_step() {
  [ -n "$current_step" ] || return 0
  step_times+=("$(printf '%7ss  %s' "$(elapsed "$step_started")" "$current_step")")
  steps_passed=$((steps_passed + 1))
  current_step=""
}
step() {
  end_step
  current_step=$1
  step_started=$EPOCHREALTIME
  printf '\n==> %s\n' "$current_step"
}
e2e_passed() {
  end_step
  echo
  echo "==> $e2e_name passed; time per step:"
  [ "${#step_times[@]}" -eq 0 ] || printf '%s\n' "${step_times[@]}"
  echo "$e2e_name: $steps_passed passed, 0 failed"
}

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
expect_equal() { # what expected actual
  [ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"
  echo "ok: $1 = $3"
}

isolate_clients() {
  echo '{ "default": [{ "type": "insecureAcceptAnything" }] }' >"$work/policy.json"
  echo '{}' >"$work/auth.json"
  export REGISTRY_AUTH_FILE="$work/auth.json"
  mkdir -p "$work/xdg-runtime" "$work/skopeo-tmp" "$work/podman/tmp"
  chmod 700 "$work/xdg-runtime"
  export XDG_RUNTIME_DIR="$work/xdg-runtime"
}
skopeo() { command skopeo --policy "$work/policy.json" --tmpdir "$work/skopeo-tmp" "$@"; }
podman() {
  command podman --root "$work/podman/root" --runroot "$work/podman/runroot" --storage-driver vfs \
    --cgroup-manager cgroupfs --events-backend file --tmpdir "$work/podman/tmp" "$@"
}

file_digest() { echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"; }
layout_blob() { echo "$1/blobs/sha256/${2#sha256:}"; }
raw_digest() { echo "sha256:$(skopeo inspect --raw "${@:1:$#-1}" "${!#}" | sha256sum | cut -d' ' -f1)"; }

teams_auth_config() {
  local key
  key=$(npx --no-install node scripts/auth-keygen.ts)
  jq -c --argjson key "$key" '.auth + { signingKeys: [$key] }' examples/teams/registry.json
}

containerd_pid=""
containerd_namespace=""
start_containerd() { # NAMESPACE
  local dir="$work/containerd" deadline
  containerd_namespace=$1
  mkdir -p "$dir"
  printf '%s\n' 'version = 2' "root = \"$dir/root\"" "state = \"$dir/state\"" 'disabled_plugins = ["io.containerd.grpc.v1.cri"]' \
    '[grpc]' "  address = \"$dir/containerd.sock\"" '[ttrpc]' "  address = \"$dir/containerd.sock.ttrpc\"" \
    '[debug]' '  address = ""' '[metrics]' '  address = ""' '[plugins."io.containerd.internal.v1.opt"]' "  path = \"$dir/opt\"" >"$dir/config.toml"
  # setsid: containerd and its shims share one new process group, so one kill stops them all.
  setsid containerd --config "$dir/config.toml" >"$dir/containerd.log" 2>&1 &
  containerd_pid=$!
  deadline=$((SECONDS + 20))
  until ctr version >/dev/null 2>&1; do
    kill -0 "$containerd_pid" 2>/dev/null || { cat "$dir/containerd.log"; fail "containerd exited"; }
    [ "$SECONDS" -lt "$deadline" ] || { cat "$dir/containerd.log"; fail "containerd did not answer within 20 s"; }
    sleep 0.2
  done
}
ctr() { command ctr --address "$work/containerd/containerd.sock" --namespace "$containerd_namespace" "$@"; }
stop_containerd() {
  [ -n "$containerd_pid" ] || return 0
  local pid=$containerd_pid
  containerd_pid=""
  stop_process_group "$pid" containerd
}
