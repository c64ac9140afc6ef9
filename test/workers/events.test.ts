/**
 * Events on Workers (issue 18) inside workerd with miniflare's local Cloudflare Queues:
 * the REGISTRY_EVENTS binding takes the envelopes a change produces, and the consumer asks
 * the queue to retry a failed delivery after the endpoint's backoff and drops (acks) the
 * message after its last attempt. The posting itself (envelope, signature, 2xx) is the same
 * code the Node process tests check against a real receiver (test/process/events.test.ts).
 */
import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { parseNotifications } from "../../src/observability/events/config.ts";
import { deliverQueued, envelopesFor, type QueuedEnvelope } from "../../src/observability/events/queued-delivery.ts";
import type { RegistryEvent } from "../../src/observability/events/envelope.ts";
import { createLogger } from "../../src/observability/log.ts";
import worker from "../../src/runtime/workers.ts";

const lines: string[] = [];
const logger = createLogger({ level: "debug", format: "json", write: (line) => lines.push(line) });
// Port 9 (discard) on loopback: nothing listens, every attempt fails at once.
const { config } = parseNotifications({ endpoints: [{ name: "ci", url: "http://127.0.0.1:9/", secret: "0123456789abcdef0123", maxAttempts: 3, backoffSeconds: 4, repositories: ["team/*"] }] }, {});
const push: RegistryEvent = {
  id: "e1",
  timestamp: new Date().toISOString(),
  action: "push",
  target: { repository: "team/app", digest: `sha256:${"a".repeat(64)}`, tag: "v1" },
  request: { id: "r1", method: "PUT" },
  actor: {},
  source: { instanceID: "cloudflare-workers" },
};

function batchOf(attempts: number[]) {
  const [envelope] = envelopesFor(config.endpoints, [push]);
  return createMessageBatch<QueuedEnvelope>(
    "oci-registry-events",
    attempts.map((count, i) => ({ id: `m${i}`, timestamp: Date.now(), attempts: count, body: envelope! })),
  );
}

/** The batch's messages as the consumer sees them; the delays asked for are noted (the queue result does not report them). */
function received(batch: ReturnType<typeof batchOf>, delays: Record<string, number>) {
  return batch.messages.map((m) => ({
    body: m.body,
    attempts: m.attempts,
    ack: () => m.ack(),
    retry: (delaySeconds: number) => {
      delays[m.id] = delaySeconds;
      m.retry({ delaySeconds });
    },
  }));
}

describe("events through Cloudflare Queues", () => {
  it("sends one envelope per endpoint that wants the event to the REGISTRY_EVENTS queue", async () => {
    expect(envelopesFor(config.endpoints, [{ ...push, target: { repository: "other/app" } }])).toEqual([]);
    const envelopes = envelopesFor(config.endpoints, [push]);
    expect(envelopes).toHaveLength(1);
    expect(JSON.parse(envelopes[0]!.body)).toEqual({ events: [push] });
    await env.REGISTRY_EVENTS!.sendBatch(envelopes.map((body) => ({ body, contentType: "json" })));
  });

  it("asks the queue to retry a failed delivery after the backoff, doubling, and drops it after maxAttempts", async () => {
    const batch = batchOf([1, 2, 3]);
    const ctx = createExecutionContext();
    const delays: Record<string, number> = {};
    await deliverQueued(received(batch, delays), config.endpoints, logger);
    const result = await getQueueResult(batch, ctx);
    expect(result.retryMessages.map((m) => m.msgId)).toEqual(["m0", "m1"]);
    expect(delays).toEqual({ m0: 4, m1: 8 });
    expect(result.explicitAcks).toEqual(["m2"]);
    expect(lines.filter((line) => line.includes("event dropped after its last attempt"))).toHaveLength(1);
    expect(lines.join("\n")).not.toContain("0123456789abcdef0123");
  });

  it("the Worker's queue() handler acks a message whose endpoint is no longer configured", async () => {
    const batch = batchOf([1]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toEqual(["m0"]);
    expect(result.retryMessages).toEqual([]);
  });
});
