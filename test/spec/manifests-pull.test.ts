import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { targetFactories } from "../support/targets.ts";
import {
  bytesOf,
  encodeManifest,
  expectOciError,
  imageManifestJson,
  OCI_INDEX,
  OCI_MANIFEST,
  pushImage,
  putManifest,
  randomDigest,
  sha256,
  uniqueRepo,
  type PushedManifest,
  type RegistryTarget,
} from "./helpers.ts";

describe.each(targetFactories)("manifest pull ($name)", (factory) => {
  let t: RegistryTarget;
  let repo: string;
  let image: PushedManifest;
  beforeAll(async () => {
    t = await factory.start();
    repo = uniqueRepo("mpull");
    image = await pushImage(t, repo, { tag: "latest" });
  });
  afterAll(() => t.close());

  describe("spec § Pulling manifests (end-3 GET)", () => {
    for (const by of ["tag", "digest"] as const) {
      it(`answers GET by ${by} with 200 and the exact bytes`, async () => {
        const reference = by === "tag" ? "latest" : image.digest;
        const res = await t.request(`/v2/${repo}/manifests/${reference}`, { headers: { accept: OCI_MANIFEST } });
        expect(res.status).toBe(200);
        expect(await bytesOf(res)).toEqual(image.bytes);
      });

      it(`sends Content-Type = the manifest mediaType, Docker-Content-Digest and Content-Length on GET by ${by}`, async () => {
        const reference = by === "tag" ? "latest" : image.digest;
        const res = await t.request(`/v2/${repo}/manifests/${reference}`, { headers: { accept: OCI_MANIFEST } });
        await res.arrayBuffer();
        expect(res.headers.get("content-type")).toBe(OCI_MANIFEST);
        expect(res.headers.get("docker-content-digest")).toBe(image.digest);
        expect(res.headers.get("content-length")).toBe(String(image.size));
      });
    }

    it("serves a manifest with no mediaType field with the Content-Type it was pushed with", async () => {
      const r = uniqueRepo("mpull");
      const json = await imageManifestJson(t, r);
      delete json.mediaType;
      const bytes = encodeManifest(json);
      const put = await putManifest(t, r, "untyped", bytes, OCI_MANIFEST);
      await put.arrayBuffer();
      expect(put.status).toBe(201);
      const res = await t.request(`/v2/${r}/manifests/untyped`, { headers: { accept: `${OCI_MANIFEST}, ${OCI_INDEX}` } });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe(OCI_MANIFEST);
      expect(await bytesOf(res)).toEqual(bytes);
    });

    it("answers GET of an unknown tag with 404 MANIFEST_UNKNOWN", async () => {
      await expectOciError(await t.request(`/v2/${repo}/manifests/no-such-tag`), 404, "MANIFEST_UNKNOWN");
    });

    it("answers GET of an unknown digest with 404 MANIFEST_UNKNOWN", async () => {
      await expectOciError(await t.request(`/v2/${repo}/manifests/${randomDigest()}`), 404, "MANIFEST_UNKNOWN");
    });

    it("answers GET in a repository that does not exist with 404", async () => {
      const res = await t.request(`/v2/${uniqueRepo("never-pushed")}/manifests/latest`);
      await expectOciError(res, 404, ["NAME_UNKNOWN", "MANIFEST_UNKNOWN"]);
    });

    it("answers 404 for a manifest that exists only in another repository", async () => {
      const other = uniqueRepo("mpull");
      await pushImage(t, other, { tag: "latest" });
      await expectOciError(await t.request(`/v2/${other}/manifests/${image.digest}`), 404, "MANIFEST_UNKNOWN");
    });

    it("answers GET of the invalid reference .INVALID_MANIFEST_NAME with 404", async () => {
      const res = await t.request(`/v2/${repo}/manifests/.INVALID_MANIFEST_NAME`);
      await res.arrayBuffer();
      expect(res.status).toBe(404);
    });

    it("answers GET of the malformed digest sha256:totallywrong with 400 or 404 and an OCI error body", async () => {
      const res = await t.request(`/v2/${repo}/manifests/sha256:totallywrong`);
      expect([400, 404]).toContain(res.status);
      await expectOciError(res, res.status);
    });
  });

  describe("spec § Checking if content exists in the registry (end-3 HEAD)", () => {
    for (const by of ["tag", "digest"] as const) {
      it(`answers HEAD by ${by} with 200, Content-Type, Docker-Content-Digest, Content-Length and no body`, async () => {
        const reference = by === "tag" ? "latest" : image.digest;
        const res = await t.request(`/v2/${repo}/manifests/${reference}`, { method: "HEAD", headers: { accept: OCI_MANIFEST } });
        expect(res.status).toBe(200);
        expect(res.headers.get("content-type")).toBe(OCI_MANIFEST);
        expect(res.headers.get("docker-content-digest")).toBe(sha256(image.bytes));
        expect(res.headers.get("content-length")).toBe(String(image.size));
        expect((await bytesOf(res)).length).toBe(0);
      });
    }

    it("answers HEAD of an unknown manifest with 404", async () => {
      const res = await t.request(`/v2/${repo}/manifests/${randomDigest()}`, { method: "HEAD" });
      await res.arrayBuffer();
      expect(res.status).toBe(404);
    });

    it("answers HEAD of the invalid reference .INVALID_MANIFEST_NAME with 404", async () => {
      const res = await t.request(`/v2/${repo}/manifests/.INVALID_MANIFEST_NAME`, { method: "HEAD" });
      await res.arrayBuffer();
      expect(res.status).toBe(404);
    });
  });
});
