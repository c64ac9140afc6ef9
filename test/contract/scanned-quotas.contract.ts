/**
 * Namespace quotas on stores whose repositories live apart (lifecycle/namespace-usage.ts):
 * Durable Objects + R2 inside workerd, DynamoDB + S3 on dynalite and Ceph RGW. Through the
 * HTTP API: what a client sees, and when. Imports only vitest and src.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Quotas } from "../../src/core/quotas.ts";
import { Registry } from "../../src/core/registry.ts";
import { createApp } from "../../src/http/app.ts";
import { namespaceFigures, scannedQuotaDeps } from "../../src/lifecycle/namespace-usage.ts";
import { deleteRepository } from "../../src/lifecycle/repositories.ts";
import type { BlobStore } from "../../src/ports/blob-store.ts";
import { MIN_PART_SIZE } from "../../src/ports/blob-store.ts";
import type { DeletableRepositories, ScannableMetadata } from "../../src/ports/collectable.ts";
import type { Hashing } from "../../src/ports/hashing.ts";
import type { MetadataStore } from "../../src/ports/metadata-store.ts";
import { MANIFEST, pushBlob, pushImage, sha256, text } from "./image-pushes.ts";

export interface QuotaFixture {
  metadata: MetadataStore & ScannableMetadata & DeletableRepositories;
  blobs: BlobStore;
  hashing: Hashing;
  cleanup(): Promise<void>;
}

export function scannedQuotasContract(name: string, create: () => Promise<QuotaFixture>): void {
  let fixture: QuotaFixture | undefined;

  async function setUp(limits: Record<string, number>) {
    fixture = await create();
    const { metadata, blobs, hashing } = fixture;
    const app = createApp(new Registry({ blobs, metadata, hashing, partSize: MIN_PART_SIZE, quotas: new Quotas(scannedQuotaDeps(metadata, limits)) }), {
      maintenance: { usage: async () => ({}), collect: async () => ({}), deleteRepository: (repository) => deleteRepository(metadata, blobs, repository) },
    });
    return { app, metadata };
  }

  const bytes = (char: string, n: number) => text(char.repeat(n));

  describe(`namespace quotas: ${name}`, () => {
    afterEach(async () => {
      await fixture?.cleanup();
      fixture = undefined;
    });

    it("refuse, before taking its bytes, a blob that would take the namespace over its quota (403 DENIED with the figures); a layer the namespace holds counts once; other namespaces are their own", async () => {
      const { app, metadata } = await setUp({ team: 1000 });
      expect((await pushBlob(app, "team/a", bytes("x", 600))).status).toBe(201);
      expect((await pushBlob(app, "team/b", bytes("x", 600))).status).toBe(201); // held by the namespace already
      expect((await namespaceFigures(metadata, "team")).bytes).toBe(600);
      const refused = await pushBlob(app, "team/b", bytes("y", 500));
      expect(refused.status).toBe(403);
      const body = (await refused.json()) as { errors: { code: string; message: string }[] };
      expect(body.errors[0]).toMatchObject({ code: "DENIED" });
      expect(body.errors[0]!.message).toContain("namespace team would store 1100 bytes, over its quota of 1000 (it stores 600)");
      expect((await app.request(`/v2/team/b/blobs/${await sha256(bytes("y", 500))}`, { method: "HEAD" })).status).toBe(404);
      expect((await pushBlob(app, "other/a", bytes("y", 5000))).status).toBe(201);
      expect((await pushBlob(app, "team-x/a", bytes("z", 5000))).status).toBe(201); // "team-x" is not "team"
      expect((await pushBlob(app, "team.x/a", bytes("z", 5000))).status).toBe(201);
    });

    it("refuse a manifest that would pass the quota, whose layer got in without a length; deleting a repository makes room again", async () => {
      const { app } = await setUp({ team: 1000 });
      const streamed = "s".repeat(990);
      const body = new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode(streamed)), c.close()) });
      const put = await app.request(`/v2/team/a/blobs/uploads/?digest=${await sha256(text(streamed))}`, { method: "POST", body, duplex: "half" } as RequestInit);
      expect(put.status).toBe(201);
      const config = text("{}");
      expect((await pushBlob(app, "team/a", config)).status).toBe(201);
      const manifest = JSON.stringify({
        schemaVersion: 2,
        mediaType: MANIFEST,
        config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: await sha256(config), size: 2 },
        layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: await sha256(text(streamed)), size: 990 }],
      });
      const res = await app.request("/v2/team/a/manifests/v1", { method: "PUT", body: manifest, headers: { "Content-Type": MANIFEST } });
      expect(res.status).toBe(403);
      expect(await res.text()).toContain("over its quota of 1000");

      expect((await app.request("/admin/repositories/team/a", { method: "DELETE" })).status).toBe(200);
      expect((await pushImage(app, "team/b", "v1", text('{"b":1}'), [bytes("l", 400)])).status).toBe(201);
    });
  });
}
