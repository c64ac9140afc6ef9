/**
 * The Lambda's SQS event (from the events queue's event source mapping) as queued
 * deliveries: the attempt number is the record's ApproximateReceiveCount; a retry sets the
 * message's visibility to the backoff and reports it as a batch item failure, so SQS keeps
 * it; an ack (delivered or dropped) leaves it out, so SQS deletes it.
 */
import type { Logger } from "../log.ts";
import type { NotificationEndpoint } from "./config.ts";
import { deliverQueued, type QueuedEnvelope } from "./queued-delivery.ts";
import type { DeliveryMetrics } from "./delivery.ts";

export interface SqsRecord {
  messageId: string;
  receiptHandle: string;
  body: string;
  eventSource: string;
  attributes: { ApproximateReceiveCount: string };
}

export interface SqsEvent {
  Records: SqsRecord[];
}

export function isSqsEvent(event: unknown): event is SqsEvent {
  const records = (event as { Records?: unknown }).Records;
  return Array.isArray(records) && records.length > 0 && (records[0] as { eventSource?: unknown }).eventSource === "aws:sqs";
}

export async function consumeSqsEvent(
  event: SqsEvent,
  endpoints: NotificationEndpoint[],
  logger: Logger,
  retryAfter: (receiptHandle: string, seconds: number) => Promise<void>,
  metrics?: DeliveryMetrics,
): Promise<{ batchItemFailures: { itemIdentifier: string }[] }> {
  const failed = new Set<string>();
  const visibility: Promise<void>[] = [];
  const messages = event.Records.flatMap((record) => {
    let body: QueuedEnvelope;
    try {
      body = JSON.parse(record.body) as QueuedEnvelope;
    } catch {
      logger.log("error", "event dropped: an SQS message that is not an event envelope", { messageId: record.messageId });
      return [];
    }
    return [
      {
        body,
        attempts: Number(record.attributes.ApproximateReceiveCount) || 1,
        ack: () => undefined,
        retry: (seconds: number) => {
          failed.add(record.messageId);
          visibility.push(retryAfter(record.receiptHandle, seconds).catch((error: unknown) => logger.log("warn", "could not set the retry delay of an event message", { error: error instanceof Error ? error.message : String(error) })));
        },
      },
    ];
  });
  await deliverQueued(messages, endpoints, logger, metrics);
  await Promise.all(visibility);
  // In the batch's order: deliveries to several endpoints finish in any order.
  return { batchItemFailures: event.Records.filter((record) => failed.has(record.messageId)).map((record) => ({ itemIdentifier: record.messageId })) };
}
