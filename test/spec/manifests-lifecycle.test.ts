import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { targetFactories } from "../support/targets.ts";
import {
  bytesOf,
  descriptorOf,
  encodeManifest,
  expectOciError,
  imageManifestJson,
  listTags,
  manifestStatus,
  MiB,
  OCI_LAYER,
  pushImage,
  pushManifestJson,
  putManifest,
  randomBytes,
  uniqueRepo,
  type PushedManifest,
  type RegistryTarget,
} from "./helpers.ts";

describe.each(targetFactories)("manifest lifecycle ($name)", (factory) => {
  let t: RegistryTarget;
  beforeAll(async () => {
    t = await factory.start();
  });
  afterAll(() => t.close());

  async function expectTagPointsTo(repo: string, tag: string, m: PushedManifest): Promise<void> {
    const res = await t.request(`/v2/${repo}/manifests/${tag}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("docker-content-digest")).toBe(m.digest);
    expect(await bytesOf(res)).toEqual(m.bytes);
  }

  describe("spec § Pushing Manifests: mutable tags", () => {
    it("moves a tag to the manifest pushed last, keeping the old one by digest", async () => {
      const repo = uniqueRepo("overwrite");
      const first = await pushImage(t, repo, { tag: "latest" });
      const second = await pushImage(t, repo, { tag: "latest" });
      expect(second.digest).not.toBe(first.digest);
      await expectTagPointsTo(repo, "latest", second);
      expect(await manifestStatus(t, repo, first.digest)).toBe(200);
      expect((await listTags(t, repo)).tags).toEqual(["latest"]);
    });

    it("leaves the tag on the old manifest when a PUT to it fails for a missing blob", async () => {
      const repo = uniqueRepo("failed");
      const old = await pushImage(t, repo, { tag: "stable" });
      const json = await imageManifestJson(t, repo);
      json.layers = [descriptorOf(OCI_LAYER, randomBytes(20))];
      const res = await putManifest(t, repo, "stable", encodeManifest(json));
      await expectOciError(res, 404, "MANIFEST_BLOB_UNKNOWN");
      await expectTagPointsTo(repo, "stable", old);
    });

    it("leaves the tag on the old manifest when a PUT to it is not JSON", async () => {
      const repo = uniqueRepo("failed");
      const old = await pushImage(t, repo, { tag: "stable" });
      await expectOciError(await putManifest(t, repo, "stable", "not json at all"), 400, "MANIFEST_INVALID");
      await expectTagPointsTo(repo, "stable", old);
    });

    it("leaves the tag on the old manifest when a PUT to it is too large", async () => {
      const repo = uniqueRepo("failed");
      const old = await pushImage(t, repo, { tag: "stable" });
      const json = await imageManifestJson(t, repo, { annotations: { big: "b".repeat(5 * MiB) } });
      const res = await putManifest(t, repo, "stable", encodeManifest(json));
      await expectOciError(res, 413, ["MANIFEST_INVALID", "SIZE_INVALID"]);
      await expectTagPointsTo(repo, "stable", old);
    });
  });

  describe("spec § Deleting tags (end-9)", () => {
    it("answers DELETE of a tag with 202; the tag is then 404 and the manifest still fetchable by digest", async () => {
      const repo = uniqueRepo("deltag");
      const image = await pushImage(t, repo, { tag: "gone" });
      const res = await t.request(`/v2/${repo}/manifests/gone`, { method: "DELETE" });
      await res.arrayBuffer();
      expect(res.status).toBe(202);
      await expectOciError(await t.request(`/v2/${repo}/manifests/gone`), 404, "MANIFEST_UNKNOWN");
      expect(await manifestStatus(t, repo, "gone")).toBe(404);
      const byDigest = await t.request(`/v2/${repo}/manifests/${image.digest}`);
      expect(byDigest.status).toBe(200);
      expect(await bytesOf(byDigest)).toEqual(image.bytes);
    });

    it("deletes only the named tag", async () => {
      const repo = uniqueRepo("deltag");
      const image = await pushImage(t, repo, { tag: "one" });
      await pushManifestJson(t, repo, image.json, "two");
      const res = await t.request(`/v2/${repo}/manifests/one`, { method: "DELETE" });
      await res.arrayBuffer();
      expect(res.status).toBe(202);
      await expectTagPointsTo(repo, "two", image);
      expect((await listTags(t, repo)).tags).toEqual(["two"]);
    });

    it("answers DELETE of an unknown tag with 404", async () => {
      const repo = uniqueRepo("deltag");
      await pushImage(t, repo, { tag: "present" });
      const res = await t.request(`/v2/${repo}/manifests/absent`, { method: "DELETE" });
      await expectOciError(res, 404, "MANIFEST_UNKNOWN");
    });
  });

  describe("spec § Deleting Manifests (end-9)", () => {
    it("answers DELETE by digest with 202, after which the digest and every tag pointing to it are 404", async () => {
      const repo = uniqueRepo("delmanifest");
      const image = await pushImage(t, repo, { tag: "a" });
      await pushManifestJson(t, repo, image.json, "b");
      const keep = await pushImage(t, repo, { tag: "c" });
      const res = await t.request(`/v2/${repo}/manifests/${image.digest}`, { method: "DELETE" });
      await res.arrayBuffer();
      expect(res.status).toBe(202);
      await expectOciError(await t.request(`/v2/${repo}/manifests/${image.digest}`), 404, "MANIFEST_UNKNOWN");
      expect(await manifestStatus(t, repo, image.digest)).toBe(404);
      expect(await manifestStatus(t, repo, "a")).toBe(404);
      expect(await manifestStatus(t, repo, "b")).toBe(404);
      await expectTagPointsTo(repo, "c", keep);
      expect((await listTags(t, repo)).tags).toEqual(["c"]);
    });

    it("answers DELETE of an unknown digest with 404", async () => {
      const repo = uniqueRepo("delmanifest");
      const image = await pushImage(t, repo);
      const first = await t.request(`/v2/${repo}/manifests/${image.digest}`, { method: "DELETE" });
      await first.arrayBuffer();
      expect(first.status).toBe(202);
      await expectOciError(await t.request(`/v2/${repo}/manifests/${image.digest}`, { method: "DELETE" }), 404, "MANIFEST_UNKNOWN");
    });

    it("answers DELETE in a repository that does not exist with 404", async () => {
      const image = await pushImage(t, uniqueRepo("delmanifest"));
      const res = await t.request(`/v2/${uniqueRepo("never-pushed")}/manifests/${image.digest}`, { method: "DELETE" });
      await expectOciError(res, 404, ["NAME_UNKNOWN", "MANIFEST_UNKNOWN"]);
    });

    it("accepts the same manifest again after it was deleted", async () => {
      const repo = uniqueRepo("delmanifest");
      const image = await pushImage(t, repo, { tag: "again" });
      const del = await t.request(`/v2/${repo}/manifests/${image.digest}`, { method: "DELETE" });
      await del.arrayBuffer();
      expect(del.status).toBe(202);
      await pushManifestJson(t, repo, image.json, "again");
      await expectTagPointsTo(repo, "again", image);
    });
  });
});
