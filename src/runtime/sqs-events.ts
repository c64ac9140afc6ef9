/**
 * Events into the SQS queue the AWS deployment delivers from (EVENTS_QUEUE_URL): what the Lambda
 * and a Node server with BACKEND=aws send a change's envelopes to. The Lambda's SQS trigger posts
 * them to the endpoints (observability/events/sqs-consumer.ts); the request waits only for SQS.
 */
import type { RegistryConfig } from "../config/schema.ts";
import type { SqsEventQueue } from "../adapters/sqs/event-queue.ts";
import type { RegistryEvent } from "../observability/events/envelope.ts";
import { envelopesFor } from "../observability/events/queued-delivery.ts";

export interface SqsEvents {
  queue: SqsEventQueue;
  record(events: RegistryEvent[]): Promise<void>;
}

/** Null without endpoints. Loaded only with them: the SQS client is weight every cold start would pay. */
export async function openSqsEvents(config: RegistryConfig): Promise<SqsEvents | null> {
  const endpoints = config.notifications.endpoints;
  if (endpoints.length === 0) return null;
  // A queue URL's origin is its SQS endpoint (what the SDK would switch to itself, with a warning per call).
  const { SQSClient } = await import("@aws-sdk/client-sqs");
  const { SqsEventQueue } = await import("../adapters/sqs/event-queue.ts");
  const queue = new SqsEventQueue(new SQSClient({ endpoint: new URL(config.eventsQueueUrl).origin }), config.eventsQueueUrl);
  return {
    queue,
    async record(events) {
      const envelopes = envelopesFor(endpoints, events);
      if (envelopes.length > 0) await queue.sendBatch(envelopes);
    },
  };
}
