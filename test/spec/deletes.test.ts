import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { targetFactories } from "../support/targets.ts";
import {
  blobStatus,
  bytesOf,
  expectOciError,
  manifestStatus,
  pushBlob,
  pushImage,
  randomBytes,
  randomDigest,
  uniqueRepo,
  withQuery,
  type RegistryTarget,
} from "./helpers.ts";

describe.each(targetFactories)("deletes ($name)", (factory) => {
  let t: RegistryTarget;
  beforeAll(async () => {
    t = await factory.start();
  });
  afterAll(() => t.close());

  function del(path: string): Promise<Response> {
    return t.request(path, { method: "DELETE" });
  }

  describe("spec § Deleting Blobs (end-10)", () => {
    it("answers DELETE of a blob with 202, after which HEAD and GET answer 404", async () => {
      const repo = uniqueRepo("delblob");
      const digest = await pushBlob(t, repo, randomBytes(100));
      const res = await del(`/v2/${repo}/blobs/${digest}`);
      await res.arrayBuffer();
      expect(res.status).toBe(202);
      expect(await blobStatus(t, repo, digest)).toBe(404);
      await expectOciError(await t.request(`/v2/${repo}/blobs/${digest}`), 404, "BLOB_UNKNOWN");
    });

    it("answers DELETE of an unknown blob with 404 BLOB_UNKNOWN", async () => {
      const repo = uniqueRepo("delblob");
      await pushBlob(t, repo, randomBytes(10));
      await expectOciError(await del(`/v2/${repo}/blobs/${randomDigest()}`), 404, "BLOB_UNKNOWN");
    });

    it("answers a second DELETE of the same blob with 404", async () => {
      const repo = uniqueRepo("delblob");
      const digest = await pushBlob(t, repo, randomBytes(10));
      const first = await del(`/v2/${repo}/blobs/${digest}`);
      await first.arrayBuffer();
      expect(first.status).toBe(202);
      await expectOciError(await del(`/v2/${repo}/blobs/${digest}`), 404, "BLOB_UNKNOWN");
    });

    it("deletes the blob from the named repository only", async () => {
      const a = uniqueRepo("delblob");
      const b = uniqueRepo("delblob");
      const data = randomBytes(64);
      const digest = await pushBlob(t, a, data);
      const mount = await t.request(withQuery(`/v2/${b}/blobs/uploads/`, { mount: digest, from: a }), { method: "POST" });
      await mount.arrayBuffer();
      expect(mount.status).toBe(201);
      const res = await del(`/v2/${a}/blobs/${digest}`);
      await res.arrayBuffer();
      expect(res.status).toBe(202);
      expect(await blobStatus(t, a, digest)).toBe(404);
      const pulled = await t.request(`/v2/${b}/blobs/${digest}`);
      expect(pulled.status).toBe(200);
      expect(await bytesOf(pulled)).toEqual(data);
    });

    it("accepts the same blob again after it was deleted", async () => {
      const repo = uniqueRepo("delblob");
      const data = randomBytes(80);
      const digest = await pushBlob(t, repo, data);
      const res = await del(`/v2/${repo}/blobs/${digest}`);
      await res.arrayBuffer();
      expect(res.status).toBe(202);
      await pushBlob(t, repo, data);
      const pulled = await t.request(`/v2/${repo}/blobs/${digest}`);
      expect(pulled.status).toBe(200);
      expect(await bytesOf(pulled)).toEqual(data);
    });
  });

  describe("spec § Deleting Manifests (end-9)", () => {
    it("answers DELETE of a manifest with 202, after which GET and HEAD answer 404", async () => {
      const repo = uniqueRepo("delmanifest");
      const image = await pushImage(t, repo);
      const res = await del(`/v2/${repo}/manifests/${image.digest}`);
      await res.arrayBuffer();
      expect(res.status).toBe(202);
      expect(await manifestStatus(t, repo, image.digest)).toBe(404);
      await expectOciError(await t.request(`/v2/${repo}/manifests/${image.digest}`), 404, "MANIFEST_UNKNOWN");
    });

    it("answers DELETE of an unknown manifest digest with 404", async () => {
      const repo = uniqueRepo("delmanifest");
      await pushImage(t, repo);
      await expectOciError(await del(`/v2/${repo}/manifests/${randomDigest()}`), 404, "MANIFEST_UNKNOWN");
    });
  });
});
