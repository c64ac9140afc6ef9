import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { recordEvents } from "../../src/http/events.ts";
import type { RegistryEvent } from "../../src/observability/events/envelope.ts";
import type { LogFields } from "../../src/observability/log.ts";

function appRecording(status: number) {
  const lines: { message: string; fields: LogFields }[] = [];
  const recorded: RegistryEvent[] = [];
  const app = new Hono();
  recordEvents(app, {
    logger: { log: (_level, message, fields = {}) => lines.push({ message, fields }) },
    source: { instanceID: "test" },
    sink: { record: (events) => void recorded.push(...events) },
  });
  app.all("/v2/:name{.+}/manifests/:reference", (c) => c.json({}, status as 200));
  app.all("/v2/:name{.+}/blobs/:digest", (c) => c.body(null, status as 202));
  app.get("/v2/", (c) => c.json({}, status as 200));
  return { app, lines, recorded };
}

describe("recordEvents", () => {
  it("keeps a refused request's malformed escape as sent instead of failing the answer", async () => {
    const { app, lines } = appRecording(401);
    const res = await app.request("/v2/team/app/manifests/%E0%A4%A");
    expect(res.status).toBe(401);
    const audit = lines.find((line) => line.message === "audit");
    expect(audit?.fields).toMatchObject({ outcome: "refused", tag: "%E0%A4%A", repository: "team/app" });
  });

  it("turns a manifest PUT answered 201 into one push event with the decoded tag", async () => {
    const { app, recorded } = appRecording(201);
    const res = await app.request("/v2/team/app/manifests/v%2E1", { method: "PUT", body: "{}", headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" } });
    expect(res.status).toBe(201);
    expect(recorded).toHaveLength(1);
    expect(recorded[0]).toMatchObject({ action: "push", target: { repository: "team/app", tag: "v.1", mediaType: "application/vnd.oci.image.manifest.v1+json" } });
  });

  it("turns a blob DELETE answered 202 into one delete event naming the blob, audited as delete:blob; a 404 into nothing", async () => {
    const digest = `sha256:${"ab".repeat(32)}`;
    const { app, recorded, lines } = appRecording(202);
    expect((await app.request(`http://registry.test/v2/team/app/blobs/${digest}`, { method: "DELETE" })).status).toBe(202);
    expect(recorded).toHaveLength(1);
    expect(recorded[0]).toMatchObject({ action: "delete", target: { repository: "team/app", digest, url: `http://registry.test/v2/team/app/blobs/${digest}` } });
    expect(recorded[0]!.target).not.toHaveProperty("tag");
    expect(lines.find((line) => line.message === "audit")?.fields).toMatchObject({ action: "delete:blob", outcome: "ok", repository: "team/app", digest });
    const missing = appRecording(404);
    expect((await missing.app.request(`/v2/team/app/blobs/${digest}`, { method: "DELETE" })).status).toBe(404);
    expect(missing.recorded).toEqual([]);
  });

  it("does not audit GET /v2/'s 401 challenge as a refusal, and does audit a refused pull", async () => {
    const { app, lines } = appRecording(401);
    expect((await app.request("/v2/")).status).toBe(401);
    expect(lines.filter((line) => line.message === "audit")).toEqual([]);
    expect((await app.request("/v2/team/app/manifests/v1")).status).toBe(401);
    expect(lines.filter((line) => line.message === "audit")).toHaveLength(1);
  });
});
