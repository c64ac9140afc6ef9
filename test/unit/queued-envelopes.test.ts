import { describe, expect, it } from "vitest";
import { parseNotifications } from "../../src/observability/events/config.ts";
import type { RegistryEvent } from "../../src/observability/events/envelope.ts";
import { envelopesFor, MAX_ENVELOPE_BYTES, MESSAGES_PER_QUEUE_BATCH } from "../../src/observability/events/queued-delivery.ts";

const bytes = (text: string) => new TextEncoder().encode(text).byteLength;

function pushEvents(count: number): RegistryEvent[] {
  return Array.from({ length: count }, (_, i) => ({
    id: crypto.randomUUID(),
    timestamp: new Date().toISOString(),
    action: "push",
    target: { repository: "team/app", digest: `sha256:${"a".repeat(64)}`, mediaType: "application/vnd.oci.image.manifest.v1+json", size: 700, length: 700, tag: `tag-${i}-${"x".repeat(100)}` },
    request: { id: crypto.randomUUID(), method: "PUT", host: "registry.example.com", addr: "203.0.113.9", useragent: "u".repeat(256) },
    actor: { name: "user:alice" },
    source: { instanceID: "cloudflare-workers" },
  }));
}

describe("envelopesFor", () => {
  const { config } = parseNotifications({ endpoints: [{ name: "ci", url: "https://ci.example.com/hook" }, { name: "pulls", url: "https://audit.example.com/hook", actions: ["pull"] }] }, {});

  it("splits a push of 500 tags into envelopes that fit a queue message, every event once and in order", () => {
    const events = pushEvents(500);
    const messages = envelopesFor(config.endpoints, events);
    expect(messages.length).toBeGreaterThan(1);
    expect(messages.every((message) => message.endpoint === "ci")).toBe(true);
    const sent = messages.flatMap((message) => (JSON.parse(message.body) as { events: RegistryEvent[] }).events.map((event) => event.id));
    expect(sent).toEqual(events.map((event) => event.id));
    for (const message of messages) expect(bytes(message.body)).toBeLessThanOrEqual(MAX_ENVELOPE_BYTES);
    // Cloudflare Queues: 128 KB a message, 256 KB a sendBatch; SQS: 256 KiB a batch of 10.
    const sizes = messages.map((message) => bytes(JSON.stringify(message)));
    expect(Math.max(...sizes)).toBeLessThan(128_000);
    for (let at = 0; at < sizes.length; at += MESSAGES_PER_QUEUE_BATCH) expect(sizes.slice(at, at + MESSAGES_PER_QUEUE_BATCH).reduce((a, b) => a + b, 0)).toBeLessThan(256_000);
    for (let at = 0; at < sizes.length; at += 10) expect(sizes.slice(at, at + 10).reduce((a, b) => a + b, 0)).toBeLessThan(256 * 1024);
  });

  it("keeps a few events in one envelope, and gives an endpoint only what its filter wants", () => {
    const messages = envelopesFor(config.endpoints, pushEvents(3));
    expect(messages).toHaveLength(1);
    expect((JSON.parse(messages[0]!.body) as { events: unknown[] }).events).toHaveLength(3);
  });
});
