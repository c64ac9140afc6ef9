/**
 * Events on AWS: an SQS queue beside the Lambda. The request that made a change sends one
 * message per endpoint (SendMessageBatch, 10 at a time); the same Lambda, invoked by the
 * queue's event source mapping, posts them. A failed delivery is reported as a batch item
 * failure after its visibility is set to the endpoint's backoff, so SQS hands it back then;
 * ApproximateReceiveCount is the attempt number.
 */
import { ChangeMessageVisibilityCommand, SendMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { EventQueue, QueuedEnvelope } from "../../observability/events/queued-delivery.ts";

export class SqsEventQueue implements EventQueue {
  readonly #client: SQSClient;
  readonly #queueUrl: string;

  constructor(client: SQSClient, queueUrl: string) {
    this.#client = client;
    this.#queueUrl = queueUrl;
  }

  async sendBatch(messages: QueuedEnvelope[]): Promise<void> {
    for (let at = 0; at < messages.length; at += 10) {
      const entries = messages.slice(at, at + 10).map((message, i) => ({ Id: String(i), MessageBody: JSON.stringify(message) }));
      const result = await this.#client.send(new SendMessageBatchCommand({ QueueUrl: this.#queueUrl, Entries: entries }));
      if (result.Failed && result.Failed.length > 0) throw new Error(`SQS refused ${result.Failed.length} event message(s): ${result.Failed[0]!.Code}`);
    }
  }

  /** Hands the message back after `seconds` (SQS's ceiling: 12 hours). */
  async retryAfter(receiptHandle: string, seconds: number): Promise<void> {
    await this.#client.send(new ChangeMessageVisibilityCommand({ QueueUrl: this.#queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: Math.min(seconds, 43_200) }));
  }
}
