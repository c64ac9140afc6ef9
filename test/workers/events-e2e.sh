#!/usr/bin/env bash
# Events on the Worker end to end (issue 18), through workerd as `wrangler dev` serves it
# (test/workers/worker-dev.sh: local R2, Durable Objects and Queues, offline), with the
# NOTIFICATIONS setting naming a receiver on 127.0.0.1 (test/workers/event-receiver.ts):
#
#   1. skopeo pushes a small image: the manifest PUT sends the envelope to the REGISTRY_EVENTS
#      queue (producer), the local queue hands the batch to the Worker's queue() handler
#      (consumer), which posts it; the receiver answers 500 the first time, the handler asks
#      the queue for a retry after the endpoint's backoff, and the second post is answered
#      200. Both posts carry the same body, Distribution's envelope, with a valid
#      X-Registry-Signature (HMAC-SHA256, checked here with openssl);
#   2. a pull of the manifest and a delete of the tag arrive as pull and delete events;
#   3. the cron (run through wrangler's /__scheduled) applies a retention rule keeping one tag:
#      the tag it deletes arrives as a delete event with the collector as actor.
#
#   bash test/workers/events-e2e.sh        (npm run test:workers:e2e:events)
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo_root"
# shellcheck source=test/workers/worker-dev.sh
source test/workers/worker-dev.sh

# shellcheck source=test/e2e/lib.sh
source test/e2e/lib.sh

e2e_begin "Workers events e2e" registry-worker-events
receiver_pid=""
stop_receiver() { [ -z "$receiver_pid" ] || stop_process_group "$receiver_pid" "the receiver"; }
print_received() { print_log_tail "$work/received.jsonl" "the receiver's record"; }
on_failure print_worker_log
on_failure print_received
at_exit stop_worker
at_exit stop_receiver

secret="workers-events-secret-$RANDOM$RANDOM"
received="$work/received.jsonl"
touch "$received"

step "a receiver on 127.0.0.1 that answers 500 once, then 200"
receiver_port=$(free_port)
setsid npx --no-install node test/workers/event-receiver.ts "$receiver_port" "$received" 500 >"$work/receiver.log" 2>&1 &
receiver_pid=$!
for _ in $(seq 100); do
  grep -q "receiver on" "$work/receiver.log" 2>/dev/null && break
  sleep 0.1
done
grep -q "receiver on" "$work/receiver.log" || fail "the receiver did not start: $(cat "$work/receiver.log")"

step "the Worker with NOTIFICATIONS naming the receiver"
notifications=$(jq -cn --arg url "http://127.0.0.1:$receiver_port/events" --arg secret "$secret" \
  '{endpoints: [{name: "ci", url: $url, secret: $secret, backoffSeconds: 1, maxAttempts: 5}]}')
retention='[{"repositories": ["kept/*"], "keepLastTags": 1}]'
WORKER_TEST_SCHEDULED=1 start_worker "$work/state" "NOTIFICATIONS=$notifications" "RETENTION=$retention" >/dev/null
registry=${REGISTRY_URL#http://}
echo "the Worker on $REGISTRY_URL"

# The record's Nth line (1-based) as FIELD.
record() { sed -n "${1}p" "$received" | jq -r ".$2"; }
body_of() { record "$1" body64 | base64 -d; }
# Waits until the receiver has recorded at least N requests.
wait_for_requests() { # n seconds
  local deadline=$((SECONDS + $2))
  until [ "$(wc -l <"$received")" -ge "$1" ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "the receiver got $(wc -l <"$received") request(s) within $2 s, expected $1"
    sleep 0.2
  done
}
expect_signed() { # n
  local expected
  expected="sha256=$(body_of "$1" | openssl dgst -sha256 -hmac "$secret" -r | cut -d' ' -f1)"
  expect_equal "request $1's X-Registry-Signature" "$expected" "$(record "$1" signature)"
  expect_equal "request $1's Content-Type" "application/vnd.docker.distribution.events.v1+json" "$(record "$1" contentType)"
}

step "skopeo pushes a small image: the push event arrives through the queue, refused once, retried, delivered"
isolate_clients
layout="$work/layout"
umoci init --layout "$layout" >/dev/null
umoci new --image "$layout:v1" >/dev/null
echo "hello from the events test" >"$work/hello.txt"
umoci insert --image "$layout:v1" "$work/hello.txt" /hello.txt >/dev/null
pushed_at=$SECONDS
skopeo copy --dest-tls-verify=false "oci:$layout:v1" "docker://$registry/team/app:v1" >/dev/null
digest=$(curl -fsS -I -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$REGISTRY_URL/v2/team/app/manifests/v1" |
  tr -d '\r' | awk -F': ' 'tolower($1) == "docker-content-digest" { print $2 }')
[ -n "$digest" ] || fail "no Docker-Content-Digest for team/app:v1"
wait_for_requests 2 60
echo "delivered $((SECONDS - pushed_at)) s after the push began"
expect_equal "the first post's answer" 500 "$(record 1 status)"
expect_equal "the retried post's answer" 200 "$(record 2 status)"
[ "$(body_of 1)" = "$(body_of 2)" ] || fail "the retry posted a different body"
echo "ok: the retry posted the same body"
expect_signed 1
expect_signed 2
expect_equal "events in the envelope" 1 "$(body_of 2 | jq '.events | length')"
expect_equal "the event's action" push "$(body_of 2 | jq -r '.events[0].action')"
expect_equal "its repository" team/app "$(body_of 2 | jq -r '.events[0].target.repository')"
expect_equal "its tag" v1 "$(body_of 2 | jq -r '.events[0].target.tag')"
expect_equal "its digest" "$digest" "$(body_of 2 | jq -r '.events[0].target.digest')"
expect_equal "its source" cloudflare-workers "$(body_of 2 | jq -r '.events[0].source.instanceID')"

step "a pull and a tag delete arrive as pull and delete events"
curl -fsS -o /dev/null -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$REGISTRY_URL/v2/team/app/manifests/v1"
expect_equal "DELETE of the tag" 202 "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$REGISTRY_URL/v2/team/app/manifests/v1")"
wait_for_requests 4 30
for n in 3 4; do expect_signed "$n"; done
actions=$(for n in 3 4; do body_of "$n" | jq -r '.events[] | "\(.action) \(.target.repository) \(.target.tag)"'; done | sort | tr '\n' ';')
expect_equal "the events" "delete team/app v1;pull team/app v1;" "$actions"
sleep 2
expect_equal "requests the receiver got (no duplicates)" 4 "$(wc -l <"$received" | tr -d ' ')"

step "the cron's retention deletes a tag: a delete event with the collector as actor"
skopeo copy --dest-tls-verify=false "oci:$layout:v1" "docker://$registry/kept/app:old" >/dev/null
sleep 0.1 # retention keeps the tags moved last: keep the two apart
skopeo copy --dest-tls-verify=false "oci:$layout:v1" "docker://$registry/kept/app:new" >/dev/null
wait_for_requests 6 30
expect_equal "GET /__scheduled (the cron handler)" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$REGISTRY_URL/__scheduled?cron=17+*+*+*+*")"
wait_for_requests 7 30
expect_signed 7
expect_equal "the cron's event" "delete kept/app old garbage-collector GC" "$(body_of 7 | jq -r '.events[] | "\(.action) \(.target.repository) \(.target.tag) \(.actor.name) \(.request.method)"')"
expect_equal "the tags left" '["new"]' "$(curl -fsS "$REGISTRY_URL/v2/kept/app/tags/list" | jq -c .tags)"

e2e_passed
