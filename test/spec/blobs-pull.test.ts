import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { targetFactories } from "../support/targets.ts";
import {
  bytesOf,
  expectDigestHeader,
  expectOciError,
  pushBlob,
  randomBytes,
  randomDigest,
  SPEC_ERROR_CODES,
  sha256,
  sha512,
  uniqueRepo,
  type RegistryTarget,
} from "./helpers.ts";

/** The decision for this registry: RANGE_INVALID (distribution v3's code) or a spec code. */
const RANGE_CODES = ["RANGE_INVALID", ...SPEC_ERROR_CODES];

describe.each(targetFactories)("blobs pull ($name)", (factory) => {
  let t: RegistryTarget;
  beforeAll(async () => {
    t = await factory.start();
  });
  afterAll(() => t.close());

  describe("spec § Pulling blobs (end-2)", () => {
    it("answers GET of an existing blob with 200 and the exact bytes", async () => {
      const repo = uniqueRepo("pull");
      const data = randomBytes(1234);
      const digest = await pushBlob(t, repo, data);
      const res = await t.request(`/v2/${repo}/blobs/${digest}`);
      expect(res.status).toBe(200);
      expect(await bytesOf(res)).toEqual(data);
    });

    it("sends Docker-Content-Digest matching the body and Content-Length on GET [main MUST]", async () => {
      const repo = uniqueRepo("pull");
      const data = randomBytes(777);
      const digest = await pushBlob(t, repo, data);
      const res = await t.request(`/v2/${repo}/blobs/${digest}`);
      expect(res.status).toBe(200);
      expect(res.headers.get("docker-content-digest")).toBe(digest);
      expect(res.headers.get("content-length")).toBe("777");
      expect(sha256(await bytesOf(res))).toBe(digest);
    });

    it("answers GET of an unknown blob with 404 BLOB_UNKNOWN", async () => {
      const repo = uniqueRepo("pull");
      await pushBlob(t, repo, randomBytes(10));
      await expectOciError(await t.request(`/v2/${repo}/blobs/${randomDigest()}`), 404, "BLOB_UNKNOWN");
    });

    it("answers 404 for a blob that exists only in another repository", async () => {
      const owner = uniqueRepo("pull");
      const other = uniqueRepo("pull");
      const digest = await pushBlob(t, owner, randomBytes(50));
      await pushBlob(t, other, randomBytes(51));
      await expectOciError(await t.request(`/v2/${other}/blobs/${digest}`), 404, "BLOB_UNKNOWN");
    });

    it("serves the empty blob with 200 and Content-Length 0", async () => {
      const repo = uniqueRepo("pull");
      const digest = await pushBlob(t, repo, new Uint8Array(0));
      const res = await t.request(`/v2/${repo}/blobs/${digest}`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-length")).toBe("0");
      expect(res.headers.get("docker-content-digest")).toBe(digest);
      expect((await bytesOf(res)).length).toBe(0);
    });

    it("serves a sha512 blob by its sha512 digest", async () => {
      const repo = uniqueRepo("pull");
      const data = randomBytes(300);
      const digest = await pushBlob(t, repo, data, "sha512");
      expect(digest).toBe(sha512(data));
      const res = await t.request(`/v2/${repo}/blobs/${digest}`);
      expect(res.status).toBe(200);
      expectDigestHeader(res, digest, data);
      expect(res.headers.get("content-length")).toBe("300");
      expect(await bytesOf(res)).toEqual(data);
    });
  });

  describe("spec § Checking if content exists in the registry (end-2 HEAD)", () => {
    it("answers HEAD of an existing blob with 200, Docker-Content-Digest, Content-Length and no body", async () => {
      const repo = uniqueRepo("head");
      const data = randomBytes(4321);
      const digest = await pushBlob(t, repo, data);
      const res = await t.request(`/v2/${repo}/blobs/${digest}`, { method: "HEAD" });
      expect(res.status).toBe(200);
      expect(res.headers.get("docker-content-digest")).toBe(digest);
      expect(res.headers.get("content-length")).toBe("4321");
      expect((await bytesOf(res)).length).toBe(0);
    });

    it("answers HEAD of an unknown blob with 404", async () => {
      const repo = uniqueRepo("head");
      await pushBlob(t, repo, randomBytes(10));
      const res = await t.request(`/v2/${repo}/blobs/${randomDigest()}`, { method: "HEAD" });
      await res.arrayBuffer();
      expect(res.status).toBe(404);
    });
  });

  describe("spec § Pulling blobs: Range (RFC 9110 § 14, conformance 'range requests')", () => {
    const size = 2048;
    let repo: string;
    let data: Uint8Array;
    let digest: string;

    beforeAll(async () => {
      repo = uniqueRepo("range");
      data = randomBytes(size);
      digest = await pushBlob(t, repo, data);
    });

    async function expectPartial(range: string, first: number, last: number): Promise<void> {
      const res = await t.request(`/v2/${repo}/blobs/${digest}`, { headers: { range } });
      expect(res.status).toBe(206);
      // RFC 9110 § 14.4: the complete length may be "*" when unknown (the conformance suite takes either).
      expect([`bytes ${first}-${last}/${size}`, `bytes ${first}-${last}/*`]).toContain(res.headers.get("content-range"));
      expect(res.headers.get("content-length")).toBe(String(last - first + 1));
      expect(res.headers.get("docker-content-digest")).toBe(digest);
      expect(await bytesOf(res)).toEqual(data.slice(first, last + 1));
    }

    it("answers bytes=500-1499 with 206 and those 1000 bytes", () => expectPartial("bytes=500-1499", 500, 1499));

    it("answers an open-ended bytes=500- with 206 and the rest of the blob", () => expectPartial("bytes=500-", 500, 2047));

    it("answers bytes=0- with 206 and the whole blob", () => expectPartial("bytes=0-", 0, 2047));

    it("answers a suffix range bytes=-500 with 206 and the last 500 bytes", () => expectPartial("bytes=-500", 1548, 2047));

    it("answers a suffix range longer than the blob with the whole blob", () => expectPartial("bytes=-5000", 0, 2047));

    it("answers a single-byte range bytes=2047-2047 with 206 and the last byte", () => expectPartial("bytes=2047-2047", 2047, 2047));

    it("clamps bytes=2000-5000 to the end of the blob", () => expectPartial("bytes=2000-5000", 2000, 2047));

    it("answers 416 when the range starts past the end (bytes=5000-10000)", async () => {
      const res = await t.request(`/v2/${repo}/blobs/${digest}`, { headers: { range: "bytes=5000-10000" } });
      await expectOciError(res, 416, RANGE_CODES);
    });

    it("answers 416 when the range starts exactly at the blob size (bytes=2048-)", async () => {
      const res = await t.request(`/v2/${repo}/blobs/${digest}`, { headers: { range: "bytes=2048-" } });
      await expectOciError(res, 416, RANGE_CODES);
    });

    it("answers 416 when the range ends before it starts (bytes=500-0)", async () => {
      const res = await t.request(`/v2/${repo}/blobs/${digest}`, { headers: { range: "bytes=500-0" } });
      await expectOciError(res, 416, RANGE_CODES);
    });
  });
});
