/**
 * The Worker's probes, request log and Analytics Engine data points, inside workerd with
 * local R2 and Durable Objects. The dataset binding is a recorder given in `env` (what
 * an `[[analytics_engine_datasets]]` binding would be), so the test sees each data point.
 *
 *   npm run test:workers -- test/workers/observability.test.ts
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import type { AnalyticsDataset } from "../../src/observability/analytics-engine.ts";
import type { WorkersEnv } from "../../src/runtime/workers-env.ts";
import worker from "../../src/runtime/workers.ts";

const points: Parameters<AnalyticsDataset["writeDataPoint"]>[0][] = [];
const record = (point: Parameters<AnalyticsDataset["writeDataPoint"]>[0]) => void points.push(point);
const workerEnv = { ...(env as unknown as WorkersEnv), LOG_LEVEL: "info", REGISTRY_ANALYTICS: { writeDataPoint: (point?: AnalyticsEngineDataPoint) => record(point as Parameters<AnalyticsDataset["writeDataPoint"]>[0]) } as AnalyticsEngineDataset };

async function call(path: string, init?: RequestInit): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(new Request(`https://registry.example${path}`, init) as Request<unknown, IncomingRequestCfProperties>, workerEnv, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

async function sha256(bytes: Uint8Array): Promise<string> {
  return `sha256:${[...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

describe("the Worker's health, logs and Analytics Engine metrics", () => {
  it("answers /healthz, and /readyz after reading R2 and a Durable Object", async () => {
    expect((await call("/healthz")).status).toBe(200);
    const ready = await call("/readyz");
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: "ok", checks: { blobs: { ok: true }, metadata: { ok: true } } });
  });

  it("writes one data point per request, with route pattern, status and bytes, and logs a JSON line under the answer's X-Request-Id; a change also logs its audit line", async () => {
    const log = vi.spyOn(console, "log");
    points.length = 0;
    const layer = new TextEncoder().encode("a layer pushed to the Worker");
    const digest = await sha256(layer);
    const push = await call(`/v2/team/app/blobs/uploads/?digest=${digest}`, { method: "POST", body: layer, headers: { "Content-Length": String(layer.length) } });
    expect(push.status).toBe(201);
    const pull = await call(`/v2/team/app/blobs/${digest}`);
    expect(pull.status).toBe(200);
    await pull.arrayBuffer();

    expect(points).toHaveLength(2);
    expect(points[0]).toEqual({
      indexes: ["/v2/:name{.+}/blobs/uploads/"],
      blobs: ["POST", "/v2/:name{.+}/blobs/uploads/", "201", "push", ""],
      doubles: [expect.any(Number), layer.length, 0],
    });
    expect(points[1]!.blobs!.slice(0, 4)).toEqual(["GET", "/v2/:name{.+}/blobs/:digest", "200", "pull"]);
    expect(points[1]!.doubles![2]).toBe(layer.length);
    expect(JSON.stringify(points)).not.toContain("team/app");

    const id = push.headers.get("X-Request-Id");
    const line = log.mock.calls.map((args) => String(args[0])).find((text) => text.includes(`"requestId":"${id}"`));
    expect(JSON.parse(line!)).toMatchObject({ msg: "request", method: "POST", repository: "team/app", status: 201, bytesIn: layer.length });

    // A change is audited: one JSON line naming what changed.
    const removed = await call(`/v2/team/app/blobs/${digest}`, { method: "DELETE" });
    expect(removed.status).toBe(202);
    const audit = log.mock.calls.map((args) => String(args[0])).filter((text) => text.includes('"msg":"audit"')).map((text) => JSON.parse(text) as Record<string, unknown>);
    expect(audit.find((entry) => entry.requestId === removed.headers.get("X-Request-Id"))).toMatchObject({ action: "delete:blob", outcome: "ok", status: 202, repository: "team/app", digest, identity: "anonymous" });
    log.mockRestore();
  });
});
