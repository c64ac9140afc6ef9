import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { targetFactories } from "../support/targets.ts";
import {
  blobStatus,
  bytesOf,
  body,
  concat,
  expectDigestHeader,
  expectOciError,
  expectSameBytes,
  MiB,
  pathname,
  patchChunk,
  putUpload,
  randomBytes,
  sha256,
  sha512,
  startUpload,
  streamOf,
  toPath,
  uniqueRepo,
  type RegistryTarget,
} from "./helpers.ts";

const UNKNOWN_SESSION = "00000000-0000-4000-8000-000000000000";

describe.each(targetFactories)("chunked uploads ($name)", (factory) => {
  let t: RegistryTarget;
  beforeAll(async () => {
    t = await factory.start();
  });
  afterAll(() => t.close());

  /** spec § Pushing a blob in chunks: "202 Accepted ... Location: <location> / Range: 0-<end-of-range>". */
  async function expectChunkAccepted(res: Response, received: number): Promise<string> {
    const text = await res.text();
    expect(res.status, text.slice(0, 300)).toBe(202);
    const location = res.headers.get("location");
    expect(location, "PATCH 202 has Location").toBeTruthy();
    expect(res.headers.get("range")).toBe(`0-${received - 1}`);
    return location!;
  }

  function patchStream(location: string, data: Uint8Array): Promise<Response> {
    return t.request(toPath(location), {
      method: "PATCH",
      headers: { "content-type": "application/octet-stream" },
      body: streamOf(data),
    });
  }

  async function expectBlob(repo: string, digest: string, data: Uint8Array): Promise<void> {
    const res = await t.request(`/v2/${repo}/blobs/${digest}`);
    expect(res.status).toBe(200);
    expectDigestHeader(res, digest, data);
    expect(res.headers.get("content-length")).toBe(String(data.length));
    expectSameBytes(await bytesOf(res), data);
  }

  async function expectCreated(res: Response): Promise<void> {
    const text = await res.text();
    expect(res.status, text.slice(0, 300)).toBe(201);
    expect(res.headers.get("location"), "201 has Location").toBeTruthy();
  }

  describe("spec § Pushing a blob in chunks: PATCH (end-5)", () => {
    it("answers a PATCH with Content-Range with 202, Location and Range 0-<end>", async () => {
      const repo = uniqueRepo("chunk");
      const { location } = await startUpload(t, repo);
      const next = await expectChunkAccepted(await patchChunk(t, location, randomBytes(22), 0), 22);
      expect(pathname(next)).toMatch(new RegExp(`^/v2/${repo}/blobs/uploads/[^/]+$`));
    });

    it("sends the session's Docker-Upload-UUID on each PATCH 202", async () => {
      const repo = uniqueRepo("chunk");
      const { res, location } = await startUpload(t, repo);
      const uuid = res.headers.get("docker-upload-uuid");
      expect(uuid).toBeTruthy();
      const patch = await patchChunk(t, location, randomBytes(5), 0);
      await patch.arrayBuffer();
      expect(patch.status).toBe(202);
      expect(patch.headers.get("docker-upload-uuid")).toBe(uuid);
    });

    it("answers a PATCH without Content-Range with 202 and Range 0-<end>", async () => {
      const repo = uniqueRepo("chunk");
      const data = randomBytes(4096);
      const { location } = await startUpload(t, repo);
      const next = await expectChunkAccepted(await patchChunk(t, location, data), 4096);
      await expectCreated(await putUpload(t, next, sha256(data)));
      await expectBlob(repo, sha256(data), data);
    });

    it("answers a streamed PATCH without Content-Length with 202, then PUT with no body with 201", async () => {
      const repo = uniqueRepo("chunk");
      const data = randomBytes(300_001);
      const { location } = await startUpload(t, repo);
      const next = await expectChunkAccepted(await patchStream(location, data), data.length);
      await expectCreated(await putUpload(t, next, sha256(data)));
      await expectBlob(repo, sha256(data), data);
    });

    it("assembles two small chunks (22 + 20 bytes) closed by an empty PUT", async () => {
      const repo = uniqueRepo("chunk");
      const a = randomBytes(22);
      const b = randomBytes(20);
      const { location } = await startUpload(t, repo);
      const l1 = await expectChunkAccepted(await patchChunk(t, location, a, 0), 22);
      const l2 = await expectChunkAccepted(await patchChunk(t, l1, b, 22), 42);
      const whole = concat(a, b);
      await expectCreated(await putUpload(t, l2, sha256(whole)));
      await expectBlob(repo, sha256(whole), whole);
    });

    it("assembles 1 MiB, 7 MiB (streamed), 3 bytes and a 6 MiB final PUT body across 5 MiB part boundaries", async () => {
      const repo = uniqueRepo("chunk");
      const parts = [randomBytes(1 * MiB), randomBytes(7 * MiB), randomBytes(3), randomBytes(6 * MiB)] as const;
      const whole = concat(...parts);
      const { location } = await startUpload(t, repo);
      let received = parts[0].length;
      let loc = await expectChunkAccepted(await patchChunk(t, location, parts[0], 0), received);
      received += parts[1].length;
      loc = await expectChunkAccepted(await patchStream(loc, parts[1]), received);
      loc = await expectChunkAccepted(await patchChunk(t, loc, parts[2], received), received + 3);
      received += 3;
      const put = await putUpload(t, loc, sha256(whole), parts[3], {
        "content-range": `${received}-${received + parts[3].length - 1}`,
        "content-length": String(parts[3].length),
      });
      await expectCreated(put);
      await expectBlob(repo, sha256(whole), whole);

      // Bytes on both sides of each 5 MiB part boundary come back in place.
      for (const boundary of [5 * MiB, 10 * MiB]) {
        const res = await t.request(`/v2/${repo}/blobs/${sha256(whole)}`, { headers: { range: `bytes=${boundary - 7}-${boundary + 8}` } });
        expect(res.status).toBe(206);
        expect(await bytesOf(res)).toEqual(whole.slice(boundary - 7, boundary + 9));
      }
    });

    it("assembles an 11 MiB streamed PATCH in odd pieces closed by an empty PUT", async () => {
      const repo = uniqueRepo("chunk");
      const data = randomBytes(11 * MiB + 17);
      const { location } = await startUpload(t, repo);
      const next = await expectChunkAccepted(await patchStream(location, data), data.length);
      await expectCreated(await putUpload(t, next, sha256(data)));
      await expectBlob(repo, sha256(data), data);
    });

    it("accepts the final chunk in the closing PUT body with its Content-Range", async () => {
      const repo = uniqueRepo("chunk");
      const a = randomBytes(1000);
      const b = randomBytes(500);
      const whole = concat(a, b);
      const { location } = await startUpload(t, repo);
      const next = await expectChunkAccepted(await patchChunk(t, location, a, 0), 1000);
      await expectCreated(await putUpload(t, next, sha256(whole), b, { "content-range": "1000-1499", "content-length": "500" }));
      await expectBlob(repo, sha256(whole), whole);
    });
  });

  describe("spec § Pushing a blob in chunks: order (end-5 416, [main] end-6 416)", () => {
    it("answers 416 when the first chunk does not start at 0", async () => {
      const repo = uniqueRepo("order");
      const { location } = await startUpload(t, repo);
      await expectOciError(await patchChunk(t, location, randomBytes(20), 22), 416, "BLOB_UPLOAD_INVALID");
    });

    it("answers 416 when a chunk does not start where the last ended", async () => {
      const repo = uniqueRepo("order");
      const { location } = await startUpload(t, repo);
      const next = await expectChunkAccepted(await patchChunk(t, location, randomBytes(22), 0), 22);
      await expectOciError(await patchChunk(t, next, randomBytes(10), 30), 416, "BLOB_UPLOAD_INVALID");
      const status = await t.request(toPath(next));
      expect(status.status).toBe(204);
      expect(status.headers.get("range")).toBe("0-21");
    });

    it("answers 416 when the previous chunk is sent again (overlap)", async () => {
      const repo = uniqueRepo("order");
      const chunk = randomBytes(22);
      const { location } = await startUpload(t, repo);
      await expectChunkAccepted(await patchChunk(t, location, chunk, 0), 22);
      await expectOciError(await patchChunk(t, location, chunk, 0), 416, "BLOB_UPLOAD_INVALID");
    });

    it("keeps the session usable after a 416: the right chunk is then accepted", async () => {
      const repo = uniqueRepo("order");
      const a = randomBytes(22);
      const b = randomBytes(20);
      const { location } = await startUpload(t, repo);
      const next = await expectChunkAccepted(await patchChunk(t, location, a, 0), 22);
      await expectOciError(await patchChunk(t, next, b, 23), 416, "BLOB_UPLOAD_INVALID");
      const status = await t.request(toPath(next));
      expect(status.status).toBe(204);
      const resumed = status.headers.get("location")!;
      const last = await expectChunkAccepted(await patchChunk(t, resumed, b, 22), 42);
      const whole = concat(a, b);
      await expectCreated(await putUpload(t, last, sha256(whole)));
      await expectBlob(repo, sha256(whole), whole);
    });

    it("answers 416 when the final chunk on PUT does not start where the last ended, and stores nothing", async () => {
      const repo = uniqueRepo("order");
      const a = randomBytes(100);
      const b = randomBytes(50);
      const whole = concat(a, b);
      const { location } = await startUpload(t, repo);
      const next = await expectChunkAccepted(await patchChunk(t, location, a, 0), 100);
      const res = await putUpload(t, next, sha256(whole), b, { "content-range": "120-169", "content-length": "50" });
      await expectOciError(res, 416, "BLOB_UPLOAD_INVALID");
      expect(await blobStatus(t, repo, sha256(whole))).toBe(404);
    });
  });

  describe("racing requests on one upload (a retrying client)", () => {
    it("two identical PATCHes in parallel: one 202, one 416 with the Range, and the PUT makes the blob", async () => {
      const repo = uniqueRepo("race");
      const head = randomBytes(8 * MiB + 1000);
      const retried = randomBytes(8 * MiB + 5000);
      const whole = concat(head, retried);
      const { location } = await startUpload(t, repo);
      const next = await expectChunkAccepted(await patchChunk(t, location, head, 0), head.length);
      const answers = await Promise.all([patchChunk(t, next, retried, head.length), patchChunk(t, next, retried, head.length)]);
      const statuses = answers.map((res) => res.status).sort();
      expect(statuses).toEqual([202, 416]);
      const accepted = answers.find((res) => res.status === 202)!;
      const last = await expectChunkAccepted(accepted, whole.length);
      const refused = answers.find((res) => res.status === 416)!;
      expect(refused.headers.get("range")).toMatch(new RegExp(`^0-(${head.length - 1}|${whole.length - 1})$`));
      await expectOciError(refused, 416, "BLOB_UPLOAD_INVALID");
      await expectCreated(await putUpload(t, last, sha256(whole)));
      await expectBlob(repo, sha256(whole), whole);
    });

    it("two PATCHes of different bytes in parallel at one offset: the blob is the accepted one's", async () => {
      const repo = uniqueRepo("race");
      const head = randomBytes(8 * MiB + 1000);
      const candidates = [randomBytes(8 * MiB + 5000), randomBytes(8 * MiB + 5000)];
      const { location } = await startUpload(t, repo);
      const next = await expectChunkAccepted(await patchChunk(t, location, head, 0), head.length);
      // The loser may be refused before its body is read; through wrangler dev's proxy the client
      // then sees the connection reset instead of the 416 (as with a 413), which is just as safe.
      const answers = await Promise.all(candidates.map((bytes) => patchChunk(t, next, bytes, head.length).catch((error: unknown) => error as Error)));
      const won = answers.findIndex((res) => res instanceof Response && res.status === 202);
      expect(won, `answers: ${answers.map((res) => (res instanceof Response ? res.status : String(res)))}`).toBeGreaterThanOrEqual(0);
      const lost = answers[1 - won]!;
      if (lost instanceof Response || !t.name.startsWith("remote")) {
        expect(lost instanceof Response ? lost.status : String(lost)).toBe(416);
        // Through the proxy the reset may also cut the 416's body short ("terminated"); its status was read.
        const cutShort = (error: unknown) => t.name.startsWith("remote") && error instanceof TypeError && error.message === "terminated";
        await expectOciError(lost as Response, 416, "BLOB_UPLOAD_INVALID").catch((error: unknown) => {
          if (!cutShort(error)) throw error;
        });
      }
      const whole = concat(head, candidates[won]!);
      const last = await expectChunkAccepted(answers[won] as Response, whole.length);
      await expectCreated(await putUpload(t, last, sha256(whole)));
      await expectBlob(repo, sha256(whole), whole);
    });

    it("two closing PUTs in parallel: one 201, the other 404 or 416, and the blob is whole", async () => {
      const repo = uniqueRepo("race");
      const data = randomBytes(6 * MiB + 7);
      const { location } = await startUpload(t, repo);
      const next = await expectChunkAccepted(await patchChunk(t, location, data, 0), data.length);
      const answers = await Promise.all([putUpload(t, next, sha256(data)), putUpload(t, next, sha256(data))]);
      const created = answers.filter((res) => res.status === 201);
      const refused = answers.filter((res) => res.status !== 201);
      expect(created).toHaveLength(1);
      expect(refused).toHaveLength(1);
      await expectCreated(created[0]!);
      const status = refused[0]!.status;
      expect([404, 416], `status ${status}`).toContain(status);
      await expectOciError(refused[0]!, status, status === 404 ? "BLOB_UPLOAD_UNKNOWN" : "BLOB_UPLOAD_INVALID");
      await expectBlob(repo, sha256(data), data);
    });
  });

  describe("spec § Pushing a blob in chunks: closing PUT (end-6)", () => {
    it("answers 400 DIGEST_INVALID when the digest does not match the chunks, and the blob is not visible", async () => {
      const repo = uniqueRepo("close");
      const a = randomBytes(64);
      const b = randomBytes(64);
      const claimed = sha256(randomBytes(128));
      const { location } = await startUpload(t, repo);
      const l1 = await expectChunkAccepted(await patchChunk(t, location, a, 0), 64);
      const l2 = await expectChunkAccepted(await patchChunk(t, l1, b, 64), 128);
      await expectOciError(await putUpload(t, l2, claimed), 400, "DIGEST_INVALID");
      expect(await blobStatus(t, repo, claimed)).toBe(404);
      expect(await blobStatus(t, repo, sha256(concat(a, b)))).toBe(404);
    });

    it("answers 400 DIGEST_INVALID for a wrong digest on a multi-part (> 5 MiB) upload", async () => {
      const repo = uniqueRepo("close");
      const data = randomBytes(6 * MiB);
      const claimed = sha256(randomBytes(16));
      const { location } = await startUpload(t, repo);
      const next = await expectChunkAccepted(await patchStream(location, data), data.length);
      await expectOciError(await putUpload(t, next, claimed), 400, "DIGEST_INVALID");
      expect(await blobStatus(t, repo, claimed)).toBe(404);
      expect(await blobStatus(t, repo, sha256(data))).toBe(404);
    });
  });

  describe("spec § Pushing a blob in chunks: upload status (end-13)", () => {
    it("answers GET on an active session with 204, Location and Range 0-<end>", async () => {
      const repo = uniqueRepo("status");
      const { location } = await startUpload(t, repo);
      const next = await expectChunkAccepted(await patchChunk(t, location, randomBytes(33), 0), 33);
      const res = await t.request(toPath(next));
      expect(res.status).toBe(204);
      expect(res.headers.get("location")).toBeTruthy();
      expect(res.headers.get("range")).toBe("0-32");
      expect((await bytesOf(res)).length).toBe(0);
    });

    it("answers GET on the stale POST Location with 204 and the current Range", async () => {
      const repo = uniqueRepo("status");
      const { location } = await startUpload(t, repo);
      const l1 = await expectChunkAccepted(await patchChunk(t, location, randomBytes(22), 0), 22);
      await expectChunkAccepted(await patchChunk(t, l1, randomBytes(20), 22), 42);
      const res = await t.request(toPath(location));
      await res.arrayBuffer();
      expect(res.status).toBe(204);
      expect(res.headers.get("location")).toBeTruthy();
      expect(res.headers.get("range")).toBe("0-41");
    });

    it("answers GET on an unknown session with 404 BLOB_UPLOAD_UNKNOWN", async () => {
      const repo = uniqueRepo("status");
      await startUpload(t, repo);
      await expectOciError(await t.request(`/v2/${repo}/blobs/uploads/${UNKNOWN_SESSION}`), 404, "BLOB_UPLOAD_UNKNOWN");
    });

    it("answers PATCH on an unknown session with 404 BLOB_UPLOAD_UNKNOWN", async () => {
      const repo = uniqueRepo("status");
      await startUpload(t, repo);
      const res = await patchChunk(t, `/v2/${repo}/blobs/uploads/${UNKNOWN_SESSION}`, randomBytes(10), 0);
      await expectOciError(res, 404, "BLOB_UPLOAD_UNKNOWN");
    });
  });

  describe("[main] spec § Pushing a blob in chunks: cancel (end-14)", () => {
    it("answers DELETE on an upload session with 204, after which the session is 404 BLOB_UPLOAD_UNKNOWN", async () => {
      const repo = uniqueRepo("cancel");
      const data = randomBytes(40);
      const { location } = await startUpload(t, repo);
      const next = await expectChunkAccepted(await patchChunk(t, location, data, 0), 40);
      const del = await t.request(toPath(next), { method: "DELETE", headers: { "content-length": "0" } });
      await del.arrayBuffer();
      expect(del.status).toBe(204);
      await expectOciError(await t.request(toPath(next)), 404, "BLOB_UPLOAD_UNKNOWN");
      await expectOciError(await patchChunk(t, next, randomBytes(5), 40), 404, "BLOB_UPLOAD_UNKNOWN");
      await expectOciError(await putUpload(t, next, sha256(data)), 404, "BLOB_UPLOAD_UNKNOWN");
      expect(await blobStatus(t, repo, sha256(data))).toBe(404);
    });

    it("answers DELETE on a session that received no bytes with 204 (conformance 'post cancel')", async () => {
      const repo = uniqueRepo("cancel");
      const { location } = await startUpload(t, repo);
      const del = await t.request(toPath(location), { method: "DELETE", headers: { "content-length": "0" } });
      await del.arrayBuffer();
      expect(del.status).toBe(204);
      await expectOciError(await t.request(toPath(location)), 404, "BLOB_UPLOAD_UNKNOWN");
    });

    it("answers DELETE on an unknown session with 404 BLOB_UPLOAD_UNKNOWN", async () => {
      const repo = uniqueRepo("cancel");
      await startUpload(t, repo);
      const res = await t.request(`/v2/${repo}/blobs/uploads/${UNKNOWN_SESSION}`, { method: "DELETE" });
      await expectOciError(res, 404, "BLOB_UPLOAD_UNKNOWN");
    });
  });

  describe("[main] spec § digest-algorithm (end-4c): sha512 uploads", () => {
    it("answers POST ?digest-algorithm=sha512 with 202 and a session", async () => {
      const repo = uniqueRepo("sha512");
      const { location } = await startUpload(t, repo, { "digest-algorithm": "sha512" });
      expect(pathname(location)).toMatch(new RegExp(`^/v2/${repo}/blobs/uploads/[^/]+$`));
    });

    it("assembles a chunked sha512 upload across a part boundary and serves it by sha512 digest", async () => {
      const repo = uniqueRepo("sha512");
      const a = randomBytes(3 * MiB);
      const b = randomBytes(3 * MiB + 5);
      const whole = concat(a, b);
      const digest = sha512(whole);
      const { location } = await startUpload(t, repo, { "digest-algorithm": "sha512" });
      const l1 = await expectChunkAccepted(await patchChunk(t, location, a, 0), a.length);
      const l2 = await expectChunkAccepted(await patchStream(l1, b), whole.length);
      await expectCreated(await putUpload(t, l2, digest));
      await expectBlob(repo, digest, whole);
    });

    describe("an upload started without digest-algorithm and closed with PUT ?digest=sha512 (the main branch's conformance suite; issue 13)", () => {
      it("assembles it across a part boundary, checked by reading it back, and serves it by sha512 digest", async () => {
        const repo = uniqueRepo("sha512x");
        const a = randomBytes(3 * MiB);
        const b = randomBytes(3 * MiB + 5);
        const whole = concat(a, b);
        const { location } = await startUpload(t, repo);
        const l1 = await expectChunkAccepted(await patchChunk(t, location, a, 0), a.length);
        const l2 = await expectChunkAccepted(await patchStream(l1, b), whole.length);
        await expectCreated(await putUpload(t, l2, sha512(whole)));
        await expectBlob(repo, sha512(whole), whole);
      });

      it("accepts a small one (no part written) and a final chunk in the PUT", async () => {
        const repo = uniqueRepo("sha512x");
        const a = randomBytes(1000);
        const b = randomBytes(500);
        const { location } = await startUpload(t, repo);
        const next = await expectChunkAccepted(await patchChunk(t, location, a, 0), a.length);
        await expectCreated(await putUpload(t, next, sha512(concat(a, b)), b, { "content-range": `${a.length}-${a.length + b.length - 1}` }));
        await expectBlob(repo, sha512(concat(a, b)), concat(a, b));
      });

      for (const size of [100, 6 * MiB]) {
        it(`answers 400 DIGEST_INVALID to the wrong sha512 digest (${size} bytes) and keeps nothing, even when another repository holds that digest`, async () => {
          const holder = uniqueRepo("sha512x");
          const held = randomBytes(200);
          const monolithic = await t.request(`/v2/${holder}/blobs/uploads/?digest=${sha512(held)}`, { method: "POST", body: body(held), headers: { "content-type": "application/octet-stream" } });
          expect(monolithic.status).toBe(201);
          const repo = uniqueRepo("sha512x");
          const data = randomBytes(size);
          const { location } = await startUpload(t, repo);
          const next = await expectChunkAccepted(await patchChunk(t, location, data, 0), size);
          await expectOciError(await putUpload(t, next, sha512(held)), 400, "DIGEST_INVALID");
          expect(await blobStatus(t, repo, sha512(held))).toBe(404);
          expect(await blobStatus(t, repo, sha512(data))).toBe(404);
          expect((await t.request(toPath(next))).status).toBe(404);
        });
      }
    });

    it("answers 400 DIGEST_INVALID when a sha512 upload closes with the wrong sha512 digest", async () => {
      const repo = uniqueRepo("sha512");
      const data = randomBytes(100);
      const claimed = sha512(randomBytes(100));
      const { location } = await startUpload(t, repo, { "digest-algorithm": "sha512" });
      const next = await expectChunkAccepted(await patchChunk(t, location, data, 0), 100);
      await expectOciError(await putUpload(t, next, claimed), 400, "DIGEST_INVALID");
      expect(await blobStatus(t, repo, claimed)).toBe(404);
      expect(await blobStatus(t, repo, sha512(data))).toBe(404);
    });

    it("accepts a sha512 POST then PUT with the body in the PUT", async () => {
      const repo = uniqueRepo("sha512");
      const data = randomBytes(1500);
      const { location } = await startUpload(t, repo, { "digest-algorithm": "sha512" });
      const res = await putUpload(t, location, sha512(data), data);
      await expectCreated(res);
      await expectBlob(repo, sha512(data), data);
    });
  });
});
