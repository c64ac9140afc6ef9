import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { targetFactories } from "../support/targets.ts";
import {
  blobStatus,
  body,
  bytesOf,
  EMPTY_BLOB_DIGEST,
  expectOciError,
  pathname,
  putUpload,
  randomBytes,
  sha256,
  sha512,
  startUpload,
  toPath,
  uniqueRepo,
  withQuery,
  type RegistryTarget,
} from "./helpers.ts";

describe.each(targetFactories)("monolithic uploads ($name)", (factory) => {
  let t: RegistryTarget;
  beforeAll(async () => {
    t = await factory.start();
  });
  afterAll(() => t.close());

  /** Spec: the 201 Location is "a pullable blob URL"; "If present, [Docker-Content-Digest] MUST be a digest matching" the content. */
  async function expectCreatedBlob(res: Response, digest: string, data: Uint8Array): Promise<void> {
    const text = await res.text();
    expect(res.status, text.slice(0, 300)).toBe(201);
    const location = res.headers.get("location");
    expect(location, "201 has Location").toBeTruthy();
    const dcd = res.headers.get("docker-content-digest");
    if (dcd !== null) expect(dcd).toBe(digest);
    const pulled = await t.request(toPath(location!));
    expect(pulled.status).toBe(200);
    expect(await bytesOf(pulled)).toEqual(data);
  }

  function singlePost(repo: string, digest: string, data: Uint8Array): Promise<Response> {
    return t.request(withQuery(`/v2/${repo}/blobs/uploads/`, { digest }), {
      method: "POST",
      headers: { "content-type": "application/octet-stream" },
      body: body(data),
    });
  }

  describe("spec § Single POST (end-4b)", () => {
    it("answers POST ?digest= with the blob in the body with 201 and a pullable Location", async () => {
      const repo = uniqueRepo("post");
      const data = randomBytes(2000);
      const digest = sha256(data);
      await expectCreatedBlob(await singlePost(repo, digest, data), digest, data);
      expect(await blobStatus(t, repo, digest)).toBe(200);
    });

    it("accepts the empty blob in a single POST", async () => {
      const repo = uniqueRepo("post");
      const data = new Uint8Array(0);
      expect(sha256(data)).toBe(EMPTY_BLOB_DIGEST);
      await expectCreatedBlob(await singlePost(repo, EMPTY_BLOB_DIGEST, data), EMPTY_BLOB_DIGEST, data);
    });

    it("accepts a sha512 digest in a single POST", async () => {
      const repo = uniqueRepo("post");
      const data = randomBytes(999);
      const digest = sha512(data);
      await expectCreatedBlob(await singlePost(repo, digest, data), digest, data);
    });

    it("answers 400 DIGEST_INVALID when the body does not match ?digest= and stores nothing", async () => {
      const repo = uniqueRepo("post");
      const data = randomBytes(500);
      const claimed = sha256(randomBytes(500));
      await expectOciError(await singlePost(repo, claimed, data), 400, "DIGEST_INVALID");
      expect(await blobStatus(t, repo, claimed)).toBe(404);
      expect(await blobStatus(t, repo, sha256(data))).toBe(404);
    });
  });

  describe("spec § POST then PUT (end-4a, end-6)", () => {
    it("answers POST with 202 and a Location /v2/<name>/blobs/uploads/<id>", async () => {
      const repo = uniqueRepo("postput");
      const { location } = await startUpload(t, repo);
      expect(pathname(location)).toMatch(new RegExp(`^/v2/${repo}/blobs/uploads/[^/]+$`));
    });

    it("sends Docker-Upload-UUID on the POST 202", async () => {
      const repo = uniqueRepo("postput");
      const { res } = await startUpload(t, repo);
      expect(res.headers.get("docker-upload-uuid")).toBeTruthy();
    });

    it("gives each POST a different session", async () => {
      const repo = uniqueRepo("postput");
      const a = await startUpload(t, repo);
      const b = await startUpload(t, repo);
      expect(pathname(a.location)).not.toBe(pathname(b.location));
    });

    it("answers PUT <location>?digest= with the blob in the body with 201 and a pullable Location", async () => {
      const repo = uniqueRepo("postput");
      const data = randomBytes(3000);
      const digest = sha256(data);
      const { location } = await startUpload(t, repo);
      await expectCreatedBlob(await putUpload(t, location, digest, data), digest, data);
    });

    it("accepts the empty blob by POST then PUT", async () => {
      const repo = uniqueRepo("postput");
      const { location } = await startUpload(t, repo);
      await expectCreatedBlob(await putUpload(t, location, EMPTY_BLOB_DIGEST, new Uint8Array(0)), EMPTY_BLOB_DIGEST, new Uint8Array(0));
    });

    it("accepts a blob that is already stored (layer de-duplication)", async () => {
      const repo = uniqueRepo("postput");
      const data = randomBytes(256);
      const digest = sha256(data);
      for (let i = 0; i < 2; i++) {
        const { location } = await startUpload(t, repo);
        await expectCreatedBlob(await putUpload(t, location, digest, data), digest, data);
      }
    });

    it("answers 400 DIGEST_INVALID when the PUT body does not match ?digest= and stores nothing", async () => {
      const repo = uniqueRepo("postput");
      const data = randomBytes(700);
      const claimed = sha256(randomBytes(700));
      const { location } = await startUpload(t, repo);
      await expectOciError(await putUpload(t, location, claimed, data), 400, "DIGEST_INVALID");
      expect(await blobStatus(t, repo, claimed)).toBe(404);
      expect(await blobStatus(t, repo, sha256(data))).toBe(404);
    });

    it("closes the session on 201: GET on its Location answers 404 BLOB_UPLOAD_UNKNOWN", async () => {
      const repo = uniqueRepo("postput");
      const data = randomBytes(100);
      const { location } = await startUpload(t, repo);
      const put = await putUpload(t, location, sha256(data), data);
      await put.arrayBuffer();
      expect(put.status).toBe(201);
      await expectOciError(await t.request(toPath(location)), 404, "BLOB_UPLOAD_UNKNOWN");
    });

    it("answers PUT to an unknown session with 404 BLOB_UPLOAD_UNKNOWN", async () => {
      const repo = uniqueRepo("postput");
      await startUpload(t, repo);
      const data = randomBytes(10);
      const res = await putUpload(t, `/v2/${repo}/blobs/uploads/00000000-0000-4000-8000-000000000000`, sha256(data), data);
      await expectOciError(res, 404, "BLOB_UPLOAD_UNKNOWN");
      expect(await blobStatus(t, repo, sha256(data))).toBe(404);
    });
  });
});
