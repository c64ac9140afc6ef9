/**
 * The Worker's collection sends its deletes as events (issue 18), as Node's does: the cron's
 * retention and POST /admin/gc hand a `delete` per tag or manifest they removed, with the
 * collector as actor, to the REGISTRY_EVENTS queue (miniflare's local queue, watched as it
 * takes them); a dry run sends nothing. Inside workerd with local R2 and Durable Objects,
 * through the real entry point (src/runtime/workers.ts). test/workers/events-e2e.sh follows
 * the cron's events through the queue to a receiver.
 */
import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it, vi } from "vitest";
import type { RegistryEvent } from "../../src/observability/events/envelope.ts";
import type { QueuedEnvelope } from "../../src/observability/events/queued-delivery.ts";
import type { WorkersEnv } from "../../src/runtime/workers-env.ts";

type Worker = typeof import("../../src/runtime/workers.ts").default;
const ORIGIN = "http://registry.test";
const MANIFEST = "application/vnd.oci.image.manifest.v1+json";

/** Every envelope the Worker hands the queue, decoded; the real binding then takes it. */
const sent: { endpoint: string; events: RegistryEvent[] }[] = [];
const watchedQueue = {
  send: (body: QueuedEnvelope) => env.REGISTRY_EVENTS!.send(body),
  sendBatch: async (messages: Iterable<MessageSendRequest<QueuedEnvelope>>) => {
    const list = [...messages];
    for (const { body } of list) sent.push({ endpoint: body.endpoint, events: (JSON.parse(body.body) as { events: RegistryEvent[] }).events });
    return env.REGISTRY_EVENTS!.sendBatch(list);
  },
} as Queue<QueuedEnvelope>;

const workerEnv: WorkersEnv = {
  ...env,
  NOTIFICATIONS: JSON.stringify({ endpoints: [{ name: "ci", url: "http://127.0.0.1:9/", secret: "0123456789abcdef0123", maxAttempts: 1 }] }),
  RETENTION: JSON.stringify([{ repositories: ["kept/*"], keepLastTags: 1 }]),
  REGISTRY_EVENTS: watchedQueue,
};

let worker: Worker;
beforeAll(async () => {
  vi.resetModules();
  vi.spyOn(console, "warn").mockImplementation(() => {});
  vi.spyOn(console, "log").mockImplementation(() => {});
  worker = (await import("../../src/runtime/workers.ts")).default;
});

async function call(path: string, init: RequestInit = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(new Request(`${ORIGIN}${path}`, init) as Request<unknown, IncomingRequestCfProperties>, workerEnv, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return `sha256:${Array.from(hash, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

async function pushImage(repository: string, tag: string): Promise<string> {
  const config = new TextEncoder().encode(JSON.stringify({ architecture: "amd64", os: "linux", repository, tag }));
  const configDigest = await sha256(config);
  expect((await call(`/v2/${repository}/blobs/uploads/?digest=${configDigest}`, { method: "POST", body: config })).status).toBe(201);
  const manifest = new TextEncoder().encode(JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST, config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: config.byteLength }, layers: [] }));
  expect((await call(`/v2/${repository}/manifests/${tag}`, { method: "PUT", headers: { "content-type": MANIFEST }, body: manifest })).status).toBe(201);
  // Retention orders tags by when they were last moved: keep the pushes apart.
  await new Promise((resolve) => setTimeout(resolve, 20));
  return sha256(manifest);
}

const collectorEvents = () => sent.flatMap((envelope) => envelope.events).filter((event) => event.request.method === "GC");

describe("the Worker's collection sends its deletes as events through the queue", () => {
  it("the cron's retention: one delete per tag it removed, the collector as actor", async () => {
    await pushImage("kept/app", "v1");
    await pushImage("kept/app", "v2");
    await pushImage("other/app", "v1");
    await pushImage("other/app", "v2");
    expect(sent.flatMap((envelope) => envelope.events).map((event) => event.action)).toEqual(["push", "push", "push", "push"]);

    await worker.scheduled(createScheduledController({ cron: "17 * * * *" }), workerEnv);

    const events = collectorEvents();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ action: "delete", target: { repository: "kept/app", tag: "v1" }, actor: { name: "garbage-collector" }, source: { instanceID: "cloudflare-workers" } });
    expect(sent.at(-1)!.endpoint).toBe("ci");
    expect((await call("/v2/kept/app/tags/list")).status).toBe(200);
    expect(((await (await call("/v2/kept/app/tags/list")).json()) as { tags: string[] }).tags).toEqual(["v2"]);
  });

  it("POST /admin/gc sends its retention's deletes too, and a dry run sends nothing", async () => {
    await pushImage("kept/web", "v1");
    await pushImage("kept/web", "v2");
    sent.length = 0;
    const dry = await call("/admin/gc?dry-run=true", { method: "POST" });
    expect(dry.status).toBe(200);
    expect(((await dry.json()) as { retention: { tags: unknown[] } }).retention.tags).toEqual([{ repository: "kept/web", tag: "v1" }]);
    expect(sent).toEqual([]);

    const run = await call("/admin/gc", { method: "POST" });
    expect(run.status).toBe(200);
    expect(collectorEvents().map((event) => event.target)).toEqual([{ repository: "kept/web", tag: "v1" }]);
  });
});
