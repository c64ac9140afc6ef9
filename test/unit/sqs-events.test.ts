/**
 * The Lambda's SQS consumer (observability/events/sqs-consumer.ts) against a real receiver on
 * 127.0.0.1, with the queue's visibility call as a recording port (no SQS server runs here):
 * a delivered message is left out of the batch failures (SQS deletes it), a failed one is
 * reported with its visibility set to the backoff for its ApproximateReceiveCount, and the
 * last attempt is dropped with one log line.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHmac } from "node:crypto";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import { parseNotifications } from "../../src/observability/events/config.ts";
import { envelopesFor } from "../../src/observability/events/queued-delivery.ts";
import { consumeSqsEvent, isSqsEvent, type SqsEvent } from "../../src/observability/events/sqs-consumer.ts";
import { createLogger } from "../../src/observability/log.ts";
import type { RegistryEvent } from "../../src/observability/events/envelope.ts";
import { embeddedDeliveryMetrics } from "../../src/observability/embedded-metrics.ts";
import { analyticsDeliveryMetrics } from "../../src/observability/analytics-engine.ts";

const SECRET = "0123456789abcdef0123";
let server: Server;
let port = 0;
const bodies: { body: string; signature: string | undefined }[] = [];
let answer = 200;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      bodies.push({ body: Buffer.concat(chunks).toString(), signature: req.headers["x-registry-signature"] as string | undefined });
      res.writeHead(answer).end();
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  port = (server.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((done) => server.close(() => done())));

const event: RegistryEvent = {
  id: "e1",
  timestamp: "2026-12-06T00:00:00Z",
  action: "push",
  target: { repository: "team/app", digest: `sha256:${"b".repeat(64)}`, tag: "v1" },
  request: { id: "r1", method: "PUT" },
  actor: { name: "user:alice" },
  source: { instanceID: "aws-lambda" },
};

function sqsEvent(receiveCounts: number[]): SqsEvent {
  const { config } = parseNotifications({ endpoints: [{ name: "ci", url: `http://127.0.0.1:${port}/`, secret: SECRET, maxAttempts: 3, backoffSeconds: 5 }] }, {});
  const [envelope] = envelopesFor(config.endpoints, [event]);
  return { Records: receiveCounts.map((count, i) => ({ messageId: `m${i}`, receiptHandle: `h${i}`, body: JSON.stringify(envelope), eventSource: "aws:sqs", attributes: { ApproximateReceiveCount: String(count) } })) };
}

describe("the Lambda's SQS consumer", () => {
  const lines: string[] = [];
  const logger = createLogger({ level: "info", format: "json", write: (line) => lines.push(line) });
  const endpoints = () => parseNotifications({ endpoints: [{ name: "ci", url: `http://127.0.0.1:${port}/`, secret: SECRET, maxAttempts: 3, backoffSeconds: 5 }] }, {}).config.endpoints;

  it("recognises an SQS event, and no other", () => {
    expect(isSqsEvent(sqsEvent([1]))).toBe(true);
    expect(isSqsEvent({ source: "aws.events" })).toBe(false);
    expect(isSqsEvent({ Records: [{ eventSource: "aws:s3" }] })).toBe(false);
  });

  it("posts the envelope signed and reports no failure when the receiver answers 200", async () => {
    answer = 200;
    bodies.length = 0;
    const visibility: [string, number][] = [];
    const result = await consumeSqsEvent(sqsEvent([1]), endpoints(), logger, async (h, s) => void visibility.push([h, s]));
    expect(result.batchItemFailures).toEqual([]);
    expect(visibility).toEqual([]);
    expect(JSON.parse(bodies[0]!.body)).toEqual({ events: [event] });
    expect(bodies[0]!.signature).toBe(`sha256=${createHmac("sha256", SECRET).update(bodies[0]!.body).digest("hex")}`);
  });

  it("reports failures with the backoff as their visibility, and drops the last attempt with one log line", async () => {
    answer = 500;
    const visibility: [string, number][] = [];
    const result = await consumeSqsEvent(sqsEvent([1, 2, 3]), endpoints(), logger, async (h, s) => void visibility.push([h, s]));
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: "m0" }, { itemIdentifier: "m1" }]);
    expect(visibility.sort()).toEqual([
      ["h0", 5],
      ["h1", 10],
    ]);
    expect(lines.filter((l) => l.includes("event dropped after its last attempt"))).toHaveLength(1);
    expect(lines.join("\n")).not.toContain(SECRET);
  });

  it("counts each outcome as a CloudWatch metric (EMF): delivered, failed, and failed then dropped on the last attempt", async () => {
    const emf: string[] = [];
    const metrics = embeddedDeliveryMetrics((line) => emf.push(line));
    answer = 200;
    await consumeSqsEvent(sqsEvent([1]), endpoints(), logger, async () => undefined, metrics);
    answer = 500;
    await consumeSqsEvent(sqsEvent([1, 3]), endpoints(), logger, async () => undefined, metrics);
    const counted = emf.map((line) => JSON.parse(line) as Record<string, unknown> & { _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] } });
    const names = counted.map((line) => line._aws.CloudWatchMetrics[0]!.Metrics[0]!.Name).sort();
    expect(names).toEqual(["EventsDelivered", "EventsDropped", "EventsFailed", "EventsFailed"]);
    for (const line of counted) {
      expect(line._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: "OciRegistry", Dimensions: [["Endpoint"]] });
      expect(line.Endpoint).toBe("ci");
      expect(line[line._aws.CloudWatchMetrics[0]!.Metrics[0]!.Name]).toBe(1);
    }
    expect(emf.join("\n")).not.toContain(SECRET);
  });

  it("counts each outcome as a Workers Analytics Engine data point", async () => {
    const points: { indexes?: string[]; blobs?: string[]; doubles?: number[] }[] = [];
    const metrics = analyticsDeliveryMetrics({ writeDataPoint: (point) => void points.push(point) });
    answer = 500;
    await consumeSqsEvent(sqsEvent([3]), endpoints(), logger, async () => undefined, metrics);
    expect(points).toEqual([
      { indexes: ["event"], blobs: ["event", "ci", "failed"], doubles: [1] },
      { indexes: ["event"], blobs: ["event", "ci", "dropped"], doubles: [1] },
    ]);
  });
});
