/** Immutable tags through the HTTP API: what a client sees when it tries to move or delete one. */
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FilesystemBlobStore } from "../../src/adapters/filesystem/blob-store.ts";
import { hashWasm } from "../../src/adapters/hash-wasm.ts";
import { MemoryBlobStore } from "../../src/adapters/memory/blob-store.ts";
import { MemoryMetadataStore } from "../../src/adapters/memory/metadata-store.ts";
import { openLocalMetadata } from "../../src/adapters/sqlite/open.ts";
import { resolveConfig } from "../../src/config/schema.ts";
import { Registry } from "../../src/core/registry.ts";
import { createApp } from "../../src/http/app.ts";
import { MIN_PART_SIZE } from "../../src/ports/blob-store.ts";

const MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const sha256 = (bytes: Uint8Array) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
const rules = [{ repositories: ["team/*"], tags: ["v*", "stable"] }];

const backends: Array<[string, () => Promise<{ app: ReturnType<typeof createApp>; close(): Promise<void> }>]> = [
  ["memory", async () => ({ app: createApp(new Registry({ blobs: new MemoryBlobStore(), metadata: new MemoryMetadataStore(), hashing: hashWasm, partSize: MIN_PART_SIZE, immutableTags: rules })), close: async () => {} })],
  [
    "files + SQLite",
    async () => {
      const dir = await mkdtemp(join(tmpdir(), "registry-immutable-"));
      const local = openLocalMetadata(dir);
      const registry = new Registry({ blobs: new FilesystemBlobStore(join(dir, "blobs")), metadata: local.store, hashing: hashWasm, partSize: MIN_PART_SIZE, immutableTags: rules });
      return { app: createApp(registry), close: async () => (local.close(), rm(dir, { recursive: true, force: true })) };
    },
  ],
];

describe.each(backends)("immutable tags: %s", (_name, open) => {
  async function push(app: ReturnType<typeof createApp>, repo: string, tag: string, n: number): Promise<Response> {
    const config = new TextEncoder().encode(`{"n":${n}}`);
    await app.request(`/v2/${repo}/blobs/uploads/?digest=${sha256(config)}`, { method: "POST", body: config as unknown as BodyInit });
    const manifest = JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST, config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256(config), size: config.byteLength }, layers: [] });
    return app.request(`/v2/${repo}/manifests/${tag}`, { method: "PUT", body: manifest, headers: { "Content-Type": MANIFEST } });
  }

  it("refuses to move an immutable tag with 403 DENIED naming the tag and the setting; the same digest, new tags and other tags push as usual", async () => {
    const { app, close } = await open();
    expect((await push(app, "team/app", "v1", 1)).status).toBe(201);
    const moved = await push(app, "team/app", "v1", 2);
    expect(moved.status).toBe(403);
    const body = (await moved.json()) as { errors: { code: string; message: string }[] };
    expect(body.errors[0]?.code).toBe("DENIED");
    expect(body.errors[0]?.message).toContain("tag v1 in team/app is immutable (immutableTags");
    expect((await push(app, "team/app", "v1", 1)).status).toBe(201);
    expect((await push(app, "team/app", "v2", 2)).status).toBe(201);
    expect((await push(app, "team/app", "latest", 1)).status).toBe(201);
    expect((await push(app, "team/app", "latest", 2)).status).toBe(201);
    expect((await push(app, "other/app", "v1", 1)).status).toBe(201);
    expect((await push(app, "other/app", "v1", 2)).status).toBe(201);
    const res = await app.request("/v2/team/app/manifests/v1", { headers: { Accept: MANIFEST } });
    expect(JSON.parse(await res.text()).config.size).toBe(7);
    await close();
  });

  it("refuses DELETE of an immutable tag (403 DENIED); a mutable tag deletes", async () => {
    const { app, close } = await open();
    await push(app, "team/app", "stable", 1);
    await push(app, "team/app", "latest", 1);
    expect((await app.request("/v2/team/app/manifests/stable", { method: "DELETE" })).status).toBe(403);
    expect((await app.request("/v2/team/app/manifests/latest", { method: "DELETE" })).status).toBe(202);
    expect((await app.request("/v2/team/app/manifests/stable", { method: "HEAD" })).status).toBe(200);
    await close();
  });

  it("of several pushes racing to create one immutable tag with different manifests, exactly one wins", async () => {
    const { app, close } = await open();
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => push(app, "team/app", "v9", 100 + i)));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 403)).toHaveLength(5);
    await close();
  });
});

describe("immutableTags setting", () => {
  it("is read from the file or IMMUTABLE_TAGS, and a malformed one is reported with its shape", () => {
    expect(resolveConfig({ immutableTags: rules }, {}).immutableTags).toEqual(rules);
    expect(resolveConfig({}, { IMMUTABLE_TAGS: JSON.stringify(rules) }).immutableTags).toEqual(rules);
    expect(() => resolveConfig({}, { IMMUTABLE_TAGS: '[{"repositories": "team/*"}]' })).toThrow(/immutableTags \(env IMMUTABLE_TAGS\) must be a list of/);
    expect(() => resolveConfig({}, { IMMUTABLE_TAGS: "[" })).toThrow(/is not valid JSON/);
  });
});
