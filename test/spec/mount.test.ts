import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { targetFactories } from "../support/targets.ts";
import {
  blobStatus,
  bytesOf,
  expectDigestHeader,
  pathname,
  pushBlob,
  putUpload,
  randomBytes,
  randomDigest,
  sha256,
  sha512,
  toPath,
  uniqueRepo,
  withQuery,
  type RegistryTarget,
} from "./helpers.ts";

describe.each(targetFactories)("cross-repository mount ($name)", (factory) => {
  let t: RegistryTarget;
  beforeAll(async () => {
    t = await factory.start();
  });
  afterAll(() => t.close());

  function mount(repo: string, digest: string, from?: string): Promise<Response> {
    const query: Record<string, string> = { mount: digest };
    if (from !== undefined) query.from = from;
    return t.request(withQuery(`/v2/${repo}/blobs/uploads/`, query), { method: "POST", headers: { "content-length": "0" } });
  }

  describe("spec § Mounting a blob from another repository (end-11)", () => {
    it("answers ?mount=&from= with 201, Location /v2/<name>/blobs/<digest> and Docker-Content-Digest", async () => {
      const source = uniqueRepo("mount-src");
      const target = uniqueRepo("mount-dst");
      const data = randomBytes(1000);
      const digest = await pushBlob(t, source, data);
      const res = await mount(target, digest, source);
      await res.arrayBuffer();
      expect(res.status).toBe(201);
      expect(pathname(res.headers.get("location") ?? "")).toBe(`/v2/${target}/blobs/${digest}`);
      expect(res.headers.get("docker-content-digest")).toBe(digest);
    });

    it("makes the mounted blob pullable from the target repository with the same bytes", async () => {
      const source = uniqueRepo("mount-src");
      const target = uniqueRepo("mount-dst");
      const data = randomBytes(2000);
      const digest = await pushBlob(t, source, data);
      expect(await blobStatus(t, target, digest)).toBe(404);
      const res = await mount(target, digest, source);
      await res.arrayBuffer();
      expect(res.status).toBe(201);
      const pulled = await t.request(toPath(res.headers.get("location")!));
      expect(pulled.status).toBe(200);
      expect(await bytesOf(pulled)).toEqual(data);
      expect(await blobStatus(t, target, digest)).toBe(200);
    });

    it("mounts a sha512 blob", async () => {
      const source = uniqueRepo("mount-src");
      const target = uniqueRepo("mount-dst");
      const data = randomBytes(512);
      const digest = await pushBlob(t, source, data, "sha512");
      expect(digest).toBe(sha512(data));
      const res = await mount(target, digest, source);
      await res.arrayBuffer();
      expect(res.status).toBe(201);
      expectDigestHeader(res, digest, data);
      expect(await blobStatus(t, target, digest)).toBe(200);
    });

    it("answers 202 with an upload session when the blob is not in `from`, and mounts nothing", async () => {
      const source = uniqueRepo("mount-src");
      const target = uniqueRepo("mount-dst");
      await pushBlob(t, source, randomBytes(10));
      const missing = randomDigest();
      const res = await mount(target, missing, source);
      await res.arrayBuffer();
      expect(res.status).toBe(202);
      expect(pathname(res.headers.get("location") ?? "")).toMatch(new RegExp(`^/v2/${target}/blobs/uploads/[^/]+$`));
      expect(await blobStatus(t, target, missing)).toBe(404);
    });

    it("answers 202 when `from` is a repository that does not exist", async () => {
      const target = uniqueRepo("mount-dst");
      const res = await mount(target, randomDigest(), uniqueRepo("never-pushed"));
      await res.arrayBuffer();
      expect(res.status).toBe(202);
      expect(pathname(res.headers.get("location") ?? "")).toMatch(new RegExp(`^/v2/${target}/blobs/uploads/[^/]+$`));
    });

    it("gives a 202 session that accepts the blob upload", async () => {
      const source = uniqueRepo("mount-src");
      const target = uniqueRepo("mount-dst");
      const data = randomBytes(300);
      const res = await mount(target, sha256(data), source);
      await res.arrayBuffer();
      expect(res.status).toBe(202);
      const put = await putUpload(t, res.headers.get("location")!, sha256(data), data);
      await put.arrayBuffer();
      expect(put.status).toBe(201);
      expect(await blobStatus(t, target, sha256(data))).toBe(200);
    });

    it("mounts without `from` a blob that exists in another repository (automatic content discovery)", async () => {
      const source = uniqueRepo("mount-src");
      const target = uniqueRepo("mount-dst");
      const data = randomBytes(700);
      const digest = await pushBlob(t, source, data);
      const res = await mount(target, digest);
      await res.arrayBuffer();
      expect(res.status).toBe(201);
      expect(pathname(res.headers.get("location") ?? "")).toBe(`/v2/${target}/blobs/${digest}`);
      expect(res.headers.get("docker-content-digest")).toBe(digest);
      const pulled = await t.request(`/v2/${target}/blobs/${digest}`);
      expect(pulled.status).toBe(200);
      expect(await bytesOf(pulled)).toEqual(data);
    });

    it("answers 202 to a mount without `from` of a blob stored nowhere", async () => {
      const target = uniqueRepo("mount-dst");
      const missing = randomDigest();
      const res = await mount(target, missing);
      await res.arrayBuffer();
      expect(res.status).toBe(202);
      expect(pathname(res.headers.get("location") ?? "")).toMatch(new RegExp(`^/v2/${target}/blobs/uploads/[^/]+$`));
      expect(await blobStatus(t, target, missing)).toBe(404);
    });
  });
});
