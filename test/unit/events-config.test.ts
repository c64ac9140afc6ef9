import { describe, expect, it } from "vitest";
import { readFile } from "node:fs/promises";
import { resolveConfig } from "../../src/config/schema.ts";
import { endpointWants } from "../../src/observability/events/config.ts";
import { signatureOf, type RegistryEvent } from "../../src/observability/events/envelope.ts";
import { createHmac } from "node:crypto";

const SECRET = "0123456789abcdef0123";
const event = (action: RegistryEvent["action"], repository: string): RegistryEvent => ({
  id: "1",
  timestamp: "2026-01-01T00:00:00Z",
  action,
  target: { repository },
  request: { id: "r", method: "PUT" },
  actor: {},
  source: { instanceID: "i" },
});

describe("notifications (NOTIFICATIONS)", () => {
  it("reads endpoints with their defaults, the URL and secret from named variables", () => {
    const config = resolveConfig({ notifications: { endpoints: [{ name: "ci", urlEnv: "U", secretEnv: "S" }] } }, { U: "http://127.0.0.1:9/x", S: SECRET });
    expect(config.notifications.endpoints).toEqual([
      { name: "ci", url: "http://127.0.0.1:9/x", secret: SECRET, headers: {}, repositories: [], actions: [], timeoutMs: 5000, maxAttempts: 8, backoffMs: 1000, maxPending: 10_000 },
    ]);
  });

  it("reports each mistake by endpoint and field, never echoing the secret or a header value", () => {
    const bad = { endpoints: [{ name: "ci", url: "ftp://x", secret: "short-secret", headers: { "X-Key": "line\nbreak-value" }, actions: ["push", "scan"], maxAttempts: 0, extra: 1 }] };
    let message = "";
    try {
      resolveConfig({}, { NOTIFICATIONS: JSON.stringify(bad) });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/notifications \(env NOTIFICATIONS\): endpoint ci: url/);
    expect(message).toMatch(/endpoint ci: the secret must be at least 16 characters/);
    expect(message).toMatch(/endpoint ci: headers must map/);
    expect(message).toMatch(/actions may hold push, pull, delete, gc, not "scan"/);
    expect(message).toMatch(/maxAttempts must be a number from 1 to 100/);
    expect(message).toMatch(/unknown field "extra"/);
    expect(message).not.toContain("short-secret");
    expect(message).not.toContain("break-value");
    expect(() => resolveConfig({}, { NOTIFICATIONS: "{" })).toThrow(/NOTIFICATIONS\) is not valid JSON/);
  });

  it("filters by repository pattern and action", () => {
    const [endpoint] = resolveConfig({ notifications: { endpoints: [{ name: "a", url: "http://h/", repositories: ["team/*"], actions: ["push"] }] } }, {}).notifications.endpoints;
    expect(endpointWants(endpoint!, event("push", "team/app"))).toBe(true);
    expect(endpointWants(endpoint!, event("pull", "team/app"))).toBe(false);
    expect(endpointWants(endpoint!, event("push", "other/app"))).toBe(false);
  });

  it("signs with HMAC-SHA256 of the body as sha256=<hex>", async () => {
    expect(await signatureOf(SECRET, '{"events":[]}')).toBe(`sha256=${createHmac("sha256", SECRET).update('{"events":[]}').digest("hex")}`);
  });

  it("accepts examples/events/registry.json with EVENTS_URL and EVENTS_SECRET set, and names them when unset", async () => {
    const file = JSON.parse(await readFile("examples/events/registry.json", "utf8")) as Record<string, unknown>;
    const config = resolveConfig(file, { EVENTS_URL: "http://127.0.0.1:5080/", EVENTS_SECRET: SECRET });
    expect(config.notifications.endpoints[0]).toMatchObject({ url: "http://127.0.0.1:5080/", secret: SECRET });
    expect(() => resolveConfig(file, {})).toThrow(/urlEnv[\s\S]*secretEnv must name an environment variable that is set/);
  });
});

describe("notifications with backend aws", () => {
  it("need the SQS queue events wait in", () => {
    const env = { BACKEND: "aws", S3_BUCKET: "b", DYNAMODB_TABLE: "t", NOTIFICATIONS: JSON.stringify({ endpoints: [{ name: "ci", url: "http://h/" }] }) };
    expect(() => resolveConfig({}, env)).toThrow(/with backend "aws" need eventsQueueUrl \(env EVENTS_QUEUE_URL\)/);
    expect(resolveConfig({}, { ...env, EVENTS_QUEUE_URL: "https://sqs.eu-west-1.amazonaws.com/1/q" }).eventsQueueUrl).toBe("https://sqs.eu-west-1.amazonaws.com/1/q");
  });
});
