/**
 * Delivery from a platform queue (Cloudflare Queues on Workers, SQS on Lambda): the
 * request that made the change sends one message per endpoint, and the queue's consumer
 * posts it. The queue keeps the message and counts its attempts; a failed attempt asks the
 * queue for a retry after the endpoint's backoff, the last one drops it with one log line.
 */
import type { Logger } from "../log.ts";
import { endpointWants, type NotificationEndpoint } from "./config.ts";
import { type DeliveryMetrics, retryDelayMs, sendEnvelope } from "./delivery.ts";
import { envelopeOf, type RegistryEvent } from "./envelope.ts";

/** A queue message's body: the endpoint's name and the envelope to post. */
export interface QueuedEnvelope {
  endpoint: string;
  body: string;
}

/** The queue as a producer needs it. */
export interface EventQueue {
  sendBatch(messages: QueuedEnvelope[]): Promise<void>;
}

/** One received message: its body, the attempts so far including this one, and the queue's verdicts. */
export interface ReceivedEnvelope {
  body: QueuedEnvelope;
  attempts: number;
  ack(): void;
  retry(delaySeconds: number): void;
}

/**
 * Largest envelope body put in one message. Queue messages have limits (Cloudflare Queues:
 * 128 KB a message, 256 KB a batch; SQS: 256 KiB a message and a batch of 10), and the body
 * is escaped once more inside the message: 20 KiB (some 25 events) leaves room for both, so
 * a push that tags hundreds of tags at once becomes several envelopes, never a refused one.
 */
export const MAX_ENVELOPE_BYTES = 20 * 1024;

/** Messages one Workers `sendBatch` carries: 8 of at most ~24 KiB stay under its 256 KB. */
export const MESSAGES_PER_QUEUE_BATCH = 8;

/** The envelopes each endpoint wants of `events` (its filters applied), each at most MAX_ENVELOPE_BYTES (but one event). */
export function envelopesFor(endpoints: NotificationEndpoint[], events: RegistryEvent[]): QueuedEnvelope[] {
  return endpoints.flatMap((endpoint) =>
    sizeBounded(events.filter((event) => endpointWants(endpoint, event))).map((group) => ({ endpoint: endpoint.name, body: envelopeOf(group) })),
  );
}

const utf8 = new TextEncoder();

function sizeBounded(events: RegistryEvent[]): RegistryEvent[][] {
  const groups: RegistryEvent[][] = [];
  let group: RegistryEvent[] = [];
  let bytes = 0;
  for (const event of events) {
    const size = utf8.encode(JSON.stringify(event)).byteLength + 1;
    if (group.length > 0 && bytes + size > MAX_ENVELOPE_BYTES) {
      groups.push(group);
      group = [];
      bytes = 0;
    }
    group.push(event);
    bytes += size;
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

export async function deliverQueued(messages: ReceivedEnvelope[], endpoints: NotificationEndpoint[], logger: Logger, metrics?: DeliveryMetrics): Promise<void> {
  const byName = new Map(endpoints.map((e) => [e.name, e]));
  await Promise.all(
    messages.map(async (message) => {
      const endpoint = byName.get(message.body.endpoint);
      if (!endpoint) {
        message.ack();
        metrics?.dropped(message.body.endpoint);
        return logger.log("warn", "event dropped: its endpoint is no longer configured", { endpoint: message.body.endpoint });
      }
      const failure = await sendEnvelope(endpoint, message.body.body);
      if (failure === null) {
        metrics?.delivered(endpoint.name);
        return message.ack();
      }
      metrics?.failed(endpoint.name);
      if (message.attempts >= endpoint.maxAttempts) {
        message.ack();
        metrics?.dropped(endpoint.name);
        return logger.log("error", "event dropped after its last attempt", { endpoint: endpoint.name, attempts: message.attempts, lastFailure: failure });
      }
      message.retry(Math.max(1, Math.ceil(retryDelayMs(endpoint, message.attempts) / 1000)));
    }),
  );
}
