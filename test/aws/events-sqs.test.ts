/**
 * Events on AWS through a real SQS-compatible server (issue 18): the Lambda handler
 * (src/runtime/lambda.ts) on S3 (Ceph RGW) and DynamoDB (dynalite) with NOTIFICATIONS and
 * EVENTS_QUEUE_URL naming a queue on fauxqs. A push sends the envelope with SendMessageBatch;
 * the test stands in for Lambda's SQS event source mapping: it takes the message with
 * ReceiveMessage, invokes the handler with the SQS event built from it, and deletes what the
 * handler did not report as a batch item failure. A receiver on 127.0.0.1 checks the
 * signature. A failed delivery is handed back by fauxqs after the visibility the handler set
 * with ChangeMessageVisibility, with ApproximateReceiveCount 2, and is then delivered. The
 * scheduled run's retention deletes travel the same way.
 */
import { createHash, createHmac } from "node:crypto";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { APIGatewayProxyResult } from "hono/aws-lambda";
import { DeleteMessageCommand, DeleteQueueCommand, ReceiveMessageCommand, SQSClient, type Message } from "@aws-sdk/client-sqs";
import { createRegistryTable } from "../../src/adapters/dynamodb/table.ts";
import { createLambdaHandler } from "../../src/runtime/lambda.ts";
import type { SqsEvent } from "../../src/observability/events/sqs-consumer.ts";
import { functionUrlEvent, headersOf, type InvokeOptions } from "./local/function-url.ts";
import { startNodeRegistry } from "./local/node-registry.ts";
import { createEventsQueue } from "./local/provision.ts";
import { createBucket, deleteBucket, deleteTable, localAws, localDynamoDb, localS3, registryEnvOnLocalAws, uniqueName } from "./support.ts";

const SECRET = "events-secret-0123456789";
const sha256 = (data: Uint8Array | string) => `sha256:${createHash("sha256").update(data).digest("hex")}`;

interface Received {
  body: string;
  signature: string | undefined;
  contentType: string | undefined;
}

describe("events through SQS (fauxqs) on the Lambda handler", () => {
  const s3 = localS3();
  const dynamodb = localDynamoDb();
  const bucket = uniqueName("events");
  const table = uniqueName("events");
  let sqs: SQSClient;
  let queueUrl: string;
  let receiver: Server;
  const received: Received[] = [];
  /** Statuses the receiver answers with, in turn; 200 once they run out. */
  const answers: number[] = [];
  let handler: ReturnType<typeof createLambdaHandler>;

  beforeAll(async () => {
    const { region } = localAws();
    await createBucket(s3, bucket);
    await createRegistryTable(dynamodb, table);
    queueUrl = await createEventsQueue(uniqueName("events"));
    sqs = new SQSClient({ endpoint: process.env.LOCAL_SQS_ENDPOINT, region });
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        received.push({ body: Buffer.concat(chunks).toString(), signature: req.headers["x-registry-signature"] as string | undefined, contentType: req.headers["content-type"] });
        res.writeHead(answers.shift() ?? 200).end();
      });
    });
    receiver.listen(0, "127.0.0.1");
    await once(receiver, "listening");
    const url = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
    const notifications = { endpoints: [{ name: "ci", url, secret: SECRET, backoffSeconds: 1, maxAttempts: 5 }] };
    handler = createLambdaHandler({
      ...registryEnvOnLocalAws(bucket, table),
      NOTIFICATIONS: JSON.stringify(notifications),
      EVENTS_QUEUE_URL: queueUrl,
      RETENTION: JSON.stringify([{ repositories: ["kept/*"], keepLastTags: 1 }]),
    });
  });
  afterAll(async () => {
    await new Promise<void>((done) => receiver.close(() => done()));
    await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
    sqs.destroy();
    await deleteBucket(s3, bucket);
    await deleteTable(dynamodb, table);
  });

  async function invoke(method: string, target: string, options?: InvokeOptions): Promise<APIGatewayProxyResult> {
    return (await handler(functionUrlEvent(method, target, options))) as APIGatewayProxyResult;
  }

  /** A config blob and a manifest naming it, pushed by tag; returns the manifest's digest. */
  async function pushImage(repository: string, tag: string): Promise<string> {
    const config = JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] }, tag });
    const blob = await invoke("POST", `/v2/${repository}/blobs/uploads/?digest=${sha256(config)}`, { headers: { "content-type": "application/octet-stream" }, body: new TextEncoder().encode(config) });
    expect(blob.statusCode, blob.body).toBe(201);
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256(config), size: config.length },
      layers: [],
    });
    const put = await invoke("PUT", `/v2/${repository}/manifests/${tag}`, { headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" }, body: manifest });
    expect(put.statusCode, put.body).toBe(201);
    expect(headersOf(put)["docker-content-digest"]).toBe(sha256(manifest));
    return sha256(manifest);
  }

  async function receive(waitSeconds: number): Promise<Message[]> {
    const { Messages } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: waitSeconds, VisibilityTimeout: 60, MessageSystemAttributeNames: ["All"] }),
    );
    return Messages ?? [];
  }

  /** What Lambda's event source mapping does with received messages: one SQS event, then deletes the ones not reported as failures. */
  async function invokeWithMessages(messages: Message[]): Promise<string[]> {
    expect(messages.length, "the mapping invokes the function only with messages").toBeGreaterThan(0);
    const event: SqsEvent & { Records: Record<string, unknown>[] } = {
      Records: messages.map((message) => ({
        messageId: message.MessageId!,
        receiptHandle: message.ReceiptHandle!,
        body: message.Body!,
        attributes: {
          ApproximateReceiveCount: message.Attributes!.ApproximateReceiveCount!,
          SentTimestamp: message.Attributes!.SentTimestamp!,
          SenderId: message.Attributes!.SenderId ?? "AIDAEXAMPLE",
          ApproximateFirstReceiveTimestamp: message.Attributes!.ApproximateFirstReceiveTimestamp!,
        },
        messageAttributes: {},
        md5OfBody: message.MD5OfBody!,
        eventSource: "aws:sqs",
        eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:events",
        awsRegion: "us-east-1",
      })),
    };
    const result = (await handler(event as never)) as { batchItemFailures: { itemIdentifier: string }[] };
    const failed = result.batchItemFailures.map((failure) => failure.itemIdentifier);
    for (const message of messages) {
      if (!failed.includes(message.MessageId!)) await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle! }));
    }
    return failed;
  }

  function expectSigned(delivery: Received): { events: { action: string; target: Record<string, unknown>; actor: Record<string, unknown>; source: Record<string, unknown> }[] } {
    expect(delivery.contentType).toBe("application/vnd.docker.distribution.events.v1+json");
    expect(delivery.signature).toBe(`sha256=${createHmac("sha256", SECRET).update(delivery.body).digest("hex")}`);
    return JSON.parse(delivery.body);
  }

  it("a push lands in the queue, and the handler's SQS path posts it signed to the receiver", async () => {
    const digest = await pushImage("team/app", "v1");
    // The request waited for SendMessageBatch: the message is in the queue now, nothing was posted yet.
    expect(received).toHaveLength(0);
    const messages = await receive(2);
    expect(messages).toHaveLength(1);
    expect(messages[0]!.Attributes!.ApproximateReceiveCount).toBe("1");
    expect(JSON.parse(messages[0]!.Body!)).toMatchObject({ endpoint: "ci" });

    expect(await invokeWithMessages(messages)).toEqual([]);
    expect(received).toHaveLength(1);
    const { events } = expectSigned(received[0]!);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ action: "push", target: { repository: "team/app", digest, tag: "v1", mediaType: "application/vnd.oci.image.manifest.v1+json" }, source: { instanceID: "aws-lambda" } });
    // Delivered and deleted: nothing comes back.
    expect(await receive(1)).toEqual([]);
  });

  it("a receiver answering 500 gets the message again after the backoff (ApproximateReceiveCount 2), then delivered", async () => {
    received.length = 0;
    answers.push(500);
    const digest = await pushImage("team/app", "v2");
    const first = await receive(2);
    expect(first).toHaveLength(1);
    expect(await invokeWithMessages(first)).toEqual([first[0]!.MessageId]);
    expect(received).toHaveLength(1);
    expectSigned(received[0]!);

    // ReceiveMessage made it invisible for 60 s; ChangeMessageVisibility (1 s, the endpoint's backoff) brings it back long before.
    const started = Date.now();
    const again = await receive(10);
    const waited = Date.now() - started;
    expect(again).toHaveLength(1);
    expect(waited).toBeLessThan(10_000);
    expect(again[0]!.MessageId).toBe(first[0]!.MessageId);
    expect(again[0]!.Attributes!.ApproximateReceiveCount).toBe("2");

    expect(await invokeWithMessages(again)).toEqual([]);
    expect(received).toHaveLength(2);
    expect(received[1]!.body).toBe(received[0]!.body);
    const { events } = expectSigned(received[1]!);
    expect(events[0]).toMatchObject({ action: "push", target: { repository: "team/app", digest, tag: "v2" } });
    expect(await receive(1)).toEqual([]);
  });

  it("a tag delete is sent through the queue as a delete event", async () => {
    received.length = 0;
    await pushImage("team/gone", "old");
    await invokeWithMessages(await receive(2));
    received.length = 0;
    const deleted = await invoke("DELETE", "/v2/team/gone/manifests/old");
    expect(deleted.statusCode, deleted.body).toBe(202);
    const messages = await receive(2);
    expect(messages).toHaveLength(1);
    expect(await invokeWithMessages(messages)).toEqual([]);
    const { events } = expectSigned(received[0]!);
    expect(events[0]).toMatchObject({ action: "delete", target: { repository: "team/gone", tag: "old" } });
  });

  it("the scheduled run's retention deletes are sent through the queue, the collector as actor", async () => {
    await pushImage("kept/app", "v1");
    await new Promise((resolve) => setTimeout(resolve, 20));
    await pushImage("kept/app", "v2");
    await invokeWithMessages(await receive(2));
    received.length = 0;
    await handler({ source: "aws.events", "detail-type": "Scheduled Event" } as never);
    const messages = await receive(2);
    expect(messages).toHaveLength(1);
    expect(await invokeWithMessages(messages)).toEqual([]);
    const { events } = expectSigned(received[0]!);
    expect(events).toEqual([expect.objectContaining({ action: "delete", target: { repository: "kept/app", tag: "v1" }, actor: { name: "garbage-collector" }, source: { instanceID: "aws-lambda" } })]);
  });

  it("a push to a Node server with BACKEND=aws goes into the same queue, and the Lambda's SQS path delivers it", async () => {
    received.length = 0;
    const notifications = { endpoints: [{ name: "ci", url: `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`, secret: SECRET, backoffSeconds: 1, maxAttempts: 5 }] };
    const env = { ...registryEnvOnLocalAws(bucket, table), BACKEND: "aws", PROCESSES: "1", NOTIFICATIONS: JSON.stringify(notifications), EVENTS_QUEUE_URL: queueUrl };
    const node = await startNodeRegistry(Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined)));
    try {
      const config = JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] }, from: "node" });
      expect((await fetch(`${node.url}/v2/team/node/blobs/uploads/?digest=${sha256(config)}`, { method: "POST", body: config })).status).toBe(201);
      const manifest = JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256(config), size: config.length }, layers: [] });
      const put = await fetch(`${node.url}/v2/team/node/manifests/v1`, { method: "PUT", headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" }, body: manifest });
      expect(put.status, await put.text()).toBe(201);
      const messages = await receive(2);
      expect(messages).toHaveLength(1);
      expect(await invokeWithMessages(messages)).toEqual([]);
      const { events } = expectSigned(received[0]!);
      expect(events).toEqual([expect.objectContaining({ action: "push", target: expect.objectContaining({ repository: "team/node", tag: "v1", digest: sha256(manifest) }) })]);
      expect(events[0]!.source.instanceID).not.toBe("aws-lambda");
      expect(node.output()).not.toContain(SECRET);
    } finally {
      await node.stop();
    }
  });
});
