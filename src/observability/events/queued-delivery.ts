/**
 * Delivery from a platform queue (Cloudflare Queues on Workers, SQS on Lambda): the
 * request that made the change sends one message per endpoint, and the queue's consumer
 * posts it. The queue keeps the message and counts its attempts; a failed attempt asks the
 * queue for a retry after the endpoint's backoff, the last one drops it with one log line.
 */
import type { Logger } from "../log.ts";
import { endpointWants, type NotificationEndpoint } from "./config.ts";
import { retryDelayMs, sendEnvelope } from "./delivery.ts";
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

/** The envelopes each endpoint wants of `events` (its filters applied). */
export function envelopesFor(endpoints: NotificationEndpoint[], events: RegistryEvent[]): QueuedEnvelope[] {
  return endpoints.flatMap((endpoint) => {
    const wanted = events.filter((event) => endpointWants(endpoint, event));
    return wanted.length > 0 ? [{ endpoint: endpoint.name, body: envelopeOf(wanted) }] : [];
  });
}

export async function deliverQueued(messages: ReceivedEnvelope[], endpoints: NotificationEndpoint[], logger: Logger): Promise<void> {
  const byName = new Map(endpoints.map((e) => [e.name, e]));
  await Promise.all(
    messages.map(async (message) => {
      const endpoint = byName.get(message.body.endpoint);
      if (!endpoint) {
        message.ack();
        return logger.log("warn", "event dropped: its endpoint is no longer configured", { endpoint: message.body.endpoint });
      }
      const failure = await sendEnvelope(endpoint, message.body.body);
      if (failure === null) return message.ack();
      if (message.attempts >= endpoint.maxAttempts) {
        message.ack();
        return logger.log("error", "event dropped after its last attempt", { endpoint: endpoint.name, attempts: message.attempts, lastFailure: failure });
      }
      message.retry(Math.max(1, Math.ceil(retryDelayMs(endpoint, message.attempts) / 1000)));
    }),
  );
}
