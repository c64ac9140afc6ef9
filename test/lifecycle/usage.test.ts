/** Usage reports: bytes per repository, per namespace (shared layers once) and overall, on SQLite and through the scanning view every store offers. */
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FilesystemBlobStore } from "../../src/adapters/filesystem/blob-store.ts";
import { hashWasm } from "../../src/adapters/hash-wasm.ts";
import { openLocalMetadata } from "../../src/adapters/sqlite/open.ts";
import { Registry } from "../../src/core/registry.ts";
import { createApp } from "../../src/http/app.ts";
import { measureUsage } from "../../src/lifecycle/usage.ts";
import { MIN_PART_SIZE } from "../../src/ports/blob-store.ts";

const MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const sha256 = (bytes: string) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

describe("usage", () => {
  it("counts a layer once per repository holding it, once per namespace and once overall; deleted content stops counting", async () => {
    const root = await mkdtemp(join(tmpdir(), "registry-usage-"));
    const local = openLocalMetadata(root);
    const app = createApp(new Registry({ blobs: new FilesystemBlobStore(join(root, "blobs")), metadata: local.store, hashing: hashWasm, partSize: MIN_PART_SIZE }));
    const base = "b".repeat(1000);
    const push = async (repo: string, own: string) => {
      for (const blob of [base, own]) await app.request(`/v2/${repo}/blobs/uploads/?digest=${sha256(blob)}`, { method: "POST", body: blob });
      const manifest = JSON.stringify({
        schemaVersion: 2,
        mediaType: MANIFEST,
        config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256(own), size: own.length },
        layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: sha256(base), size: base.length }],
      });
      expect((await app.request(`/v2/${repo}/manifests/v1`, { method: "PUT", body: manifest, headers: { "Content-Type": MANIFEST } })).status).toBe(201);
      return { digest: sha256(manifest), size: manifest.length };
    };
    const a = await push("team/a", "a".repeat(100));
    const b = await push("team/b", "c".repeat(200));
    const c = await push("other/c", "d".repeat(300));

    const usage = await measureUsage(local.store);
    expect(usage.repositories).toEqual([
      { name: "other/c", bytes: 1000 + 300 + c.size },
      { name: "team/b", bytes: 1000 + 200 + b.size },
      { name: "team/a", bytes: 1000 + 100 + a.size },
    ]);
    expect(usage.namespaces).toEqual([
      { name: "team", bytes: 1000 + 100 + 200 + a.size + b.size, repositories: 2 },
      { name: "other", bytes: 1000 + 300 + c.size, repositories: 1 },
    ]);
    expect(usage.totalBytes).toBe(1000 + 100 + 200 + 300 + a.size + b.size + c.size);
    expect(usage.blobs).toBe(7);

    // A deleted image's manifest stops counting at once; its layers still linked count until collected.
    await app.request(`/v2/team/a/manifests/${a.digest}`, { method: "DELETE" });
    const after = await measureUsage(local.store);
    expect(after.repositories.find((r) => r.name === "team/a")?.bytes).toBe(1000 + 100);
    local.close();
    await rm(root, { recursive: true, force: true });
  });
});
