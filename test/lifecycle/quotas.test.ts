/** Namespace quotas on files + SQLite, through the HTTP API: what a client sees, and when. */
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FilesystemBlobStore } from "../../src/adapters/filesystem/blob-store.ts";
import { hashWasm } from "../../src/adapters/hash-wasm.ts";
import { openLocalMetadata } from "../../src/adapters/sqlite/open.ts";
import { resolveConfig } from "../../src/config/schema.ts";
import { Quotas } from "../../src/core/quotas.ts";
import { Registry } from "../../src/core/registry.ts";
import { createApp } from "../../src/http/app.ts";
import { MIN_PART_SIZE } from "../../src/ports/blob-store.ts";

const MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const sha256 = (bytes: string) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

async function fixture(limits: Record<string, number>) {
  const root = await mkdtemp(join(tmpdir(), "registry-quota-"));
  const local = openLocalMetadata(root);
  const quotas = new Quotas({ limits, usage: (ns) => local.store.namespaceBytes(ns), holds: (ns, digest) => local.store.namespaceHolds(ns, digest) });
  const app = createApp(new Registry({ blobs: new FilesystemBlobStore(join(root, "blobs")), metadata: local.store, hashing: hashWasm, partSize: MIN_PART_SIZE, quotas }));
  return { app, store: local.store, close: async () => (local.close(), rm(root, { recursive: true, force: true })) };
}

const blob = (app: ReturnType<typeof createApp>, repo: string, text: string) =>
  app.request(`/v2/${repo}/blobs/uploads/?digest=${sha256(text)}`, { method: "POST", body: text, headers: { "Content-Length": String(text.length) } });

describe("namespace quotas", () => {
  it("refuse, before taking its bytes, a blob that would take the namespace over its quota (403 DENIED saying by how much); other namespaces and shared layers are counted as usage counts them", async () => {
    const { app, store, close } = await fixture({ team: 1000 });
    expect((await blob(app, "team/a", "x".repeat(600))).status).toBe(201);
    expect((await blob(app, "team/b", "x".repeat(600))).status).toBe(201); // already held by the namespace: counted once
    expect(await store.namespaceBytes("team")).toBe(600);
    const refused = await blob(app, "team/b", "y".repeat(500));
    expect(refused.status).toBe(403);
    const body = (await refused.json()) as { errors: { code: string; message: string }[] };
    expect(body.errors[0]).toMatchObject({ code: "DENIED" });
    expect(body.errors[0]!.message).toContain("namespace team would store 1100 bytes, over its quota of 1000 (it stores 600)");
    expect((await app.request(`/v2/team/b/blobs/${sha256("y".repeat(500))}`, { method: "HEAD" })).status).toBe(404);
    expect((await blob(app, "other/a", "y".repeat(5000))).status).toBe(201);
    expect((await blob(app, "team_x/a", "z".repeat(5000))).status).toBe(201); // "team_x" is not "team"
    await close();
  });

  it("refuse a chunk whose Content-Length would pass the quota, and at the latest the manifest of a push that got its bytes in without a length", async () => {
    const { app, close } = await fixture({ team: 1000 });
    const start = await app.request("/v2/team/a/blobs/uploads/", { method: "POST" });
    const location = start.headers.get("location")!;
    const patch = await app.request(location, { method: "PATCH", body: "p".repeat(1200), headers: { "Content-Length": "1200", "Content-Range": "0-1199" } });
    expect(patch.status).toBe(403);
    // A stream without a length is taken, then its manifest is refused.
    const streamed = "s".repeat(990);
    const body = new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode(streamed)), c.close()) });
    const put = await app.request(`/v2/team/a/blobs/uploads/?digest=${sha256(streamed)}`, { method: "POST", body, duplex: "half" } as RequestInit);
    expect(put.status).toBe(201);
    const config = "{}";
    await blob(app, "team/a", config);
    const manifest = JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST, config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256(config), size: 2 }, layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: sha256(streamed), size: 990 }] });
    const res = await app.request("/v2/team/a/manifests/v1", { method: "PUT", body: manifest, headers: { "Content-Type": MANIFEST } });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain("over its quota of 1000");
    await close();
  });

  it("the quotas setting is checked at start-up", () => {
    expect(resolveConfig({ quotas: { team: 10 } }, {}).quotas).toEqual({ team: 10 });
    expect(resolveConfig({}, { QUOTAS: '{"a":1}' }).quotas).toEqual({ a: 1 });
    expect(() => resolveConfig({ quotas: { Team: -1 } }, {})).toThrow(/quotas \(config file\) must map namespaces to byte counts/);
  });
});

describe("namespace quotas on streamed uploads", () => {
  it("refuse a blob streamed without any length when its upload is closed, and keep nothing of it", async () => {
    const { app, store, close } = await fixture({ team: 1000 });
    const start = await app.request("/v2/team/a/blobs/uploads/", { method: "POST" });
    const location = start.headers.get("location")!;
    const data = "q".repeat(3000);
    const body = new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode(data)), c.close()) });
    expect((await app.request(location, { method: "PATCH", body, duplex: "half" } as RequestInit)).status).toBe(202);
    const put = await app.request(`${location}${location.includes("?") ? "&" : "?"}digest=${sha256(data)}`, { method: "PUT" });
    expect(put.status).toBe(403);
    expect(await put.text()).toContain("over its quota of 1000");
    expect(await store.namespaceBytes("team")).toBe(0);
    expect((await app.request(location)).status).toBe(404);
    await close();
  });
});
