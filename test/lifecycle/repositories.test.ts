/** Deleting a whole repository (DELETE /admin/repositories/<name>) and dropping empty ones from the catalog, on files + SQLite. */
import { createHash } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FilesystemBlobStore } from "../../src/adapters/filesystem/blob-store.ts";
import { hashWasm } from "../../src/adapters/hash-wasm.ts";
import { openLocalMetadata } from "../../src/adapters/sqlite/open.ts";
import { resolveConfig } from "../../src/config/schema.ts";
import { Registry } from "../../src/core/registry.ts";
import { createApp } from "../../src/http/app.ts";
import { deleteRepository } from "../../src/lifecycle/repositories.ts";
import { measureUsage } from "../../src/lifecycle/usage.ts";
import { MIN_PART_SIZE } from "../../src/ports/blob-store.ts";
import { collectLocal } from "../../src/runtime/node-gc.ts";

const MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const sha256 = (bytes: string) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

async function fixture() {
  const root = await mkdtemp(join(tmpdir(), "registry-repos-"));
  const local = openLocalMetadata(root);
  const blobs = new FilesystemBlobStore(join(root, "blobs"));
  const config = resolveConfig({ dataDir: root }, {});
  const app = createApp(new Registry({ blobs, metadata: local.store, hashing: hashWasm, partSize: MIN_PART_SIZE }), {
    maintenance: {
      usage: () => measureUsage(local.store),
      collect: ({ dryRun }) => collectLocal(config, local.store, { dryRun, graceMs: 0 }),
      deleteRepository: (name) => deleteRepository(local.store, blobs, name),
    },
  });
  const push = async (repo: string, tag: string, own: string) => {
    for (const blob of ["shared layer", own]) await app.request(`/v2/${repo}/blobs/uploads/?digest=${sha256(blob)}`, { method: "POST", body: blob });
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST,
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256(own), size: own.length },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: sha256("shared layer"), size: 12 }],
    });
    expect((await app.request(`/v2/${repo}/manifests/${tag}`, { method: "PUT", body: manifest, headers: { "Content-Type": MANIFEST } })).status).toBe(201);
    return sha256(manifest);
  };
  const catalog = async () => ((await (await app.request("/v2/_catalog")).json()) as { repositories: string[] }).repositories;
  const files = async () => (await readdir(join(root, "blobs", "blobs", "sha256"))).length;
  return { app, push, catalog, files, close: async () => (local.close(), rm(root, { recursive: true, force: true })) };
}

describe("repository deletion", () => {
  it("deletes every manifest, tag, link and upload of the repository at once; the next collection frees what only it held", async () => {
    const { app, push, catalog, files, close } = await fixture();
    await push("team/a", "v1", "config a");
    await push("team/a", "v2", "config a2");
    await push("team/b", "v1", "config b");
    const upload = await app.request("/v2/team/a/blobs/uploads/", { method: "POST" });
    expect(upload.status).toBe(202);
    expect(await catalog()).toEqual(["team/a", "team/b"]);

    const res = await app.request("/admin/repositories/team/a", { method: "DELETE" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ repository: "team/a", manifests: 2, tags: 2, links: 3, uploads: 1 });
    expect(await catalog()).toEqual(["team/b"]);
    expect((await app.request("/v2/team/a/tags/list")).status).toBe(404);
    expect((await app.request(upload.headers.get("location")!)).status).toBe(404);
    expect((await app.request("/admin/repositories/team/a", { method: "DELETE" })).status).toBe(404);

    const before = await files();
    const gc = (await (await app.request("/admin/gc", { method: "POST" })).json()) as { collection: { blobsDeleted: number } };
    expect(gc.collection.blobsDeleted).toBe(4); // two configs, two manifests; the shared layer stays for team/b
    expect(await files()).toBe(before - 4);
    expect((await app.request("/v2/team/b/manifests/v1", { headers: { Accept: MANIFEST } })).status).toBe(200);
    expect((await app.request(`/v2/team/b/blobs/${sha256("shared layer")}`)).status).toBe(200);
    await close();
  });

  it("garbage collection drops a repository that holds nothing any more from the catalog", async () => {
    const { app, push, catalog, close } = await fixture();
    const digest = await push("team/a", "v1", "config a");
    await push("team/b", "v1", "config b");
    expect((await app.request(`/v2/team/a/manifests/${digest}`, { method: "DELETE" })).status).toBe(202);
    await app.request("/admin/gc", { method: "POST" });
    expect(await catalog()).toEqual(["team/b"]);
    // Pushing to it again registers it again.
    await push("team/a", "v1", "config a");
    expect(await catalog()).toEqual(["team/a", "team/b"]);
    await close();
  });
});
