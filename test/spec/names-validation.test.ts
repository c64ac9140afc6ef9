import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { targetFactories } from "../support/targets.ts";
import {
  blobStatus,
  body,
  encodeManifest,
  expectOciError,
  imageManifestJson,
  listTags,
  patchChunk,
  putManifest,
  putUpload,
  randomBytes,
  sha256,
  startUpload,
  toPath,
  uniqueRepo,
  withQuery,
  type RegistryTarget,
} from "./helpers.ts";

/**
 * Names that break spec § Pulling manifests: "`<name>` MUST match
 * `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`".
 */
const BAD_NAMES = ["UPPER", "a..b", "-lead", "trail-", "a___b", "a/.b", "a//b", "a_.b", "x/Y"];

describe.each(targetFactories)("names and validation ($name)", (factory) => {
  let t: RegistryTarget;
  beforeAll(async () => {
    t = await factory.start();
  });
  afterAll(() => t.close());

  /** 400 NAME_INVALID, or 404 (the path does not route to a repository). */
  async function expectBadName(res: Response): Promise<void> {
    expect([400, 404], `status for an invalid name`).toContain(res.status);
    if (res.status === 400) await expectOciError(res, 400, "NAME_INVALID");
    else await res.arrayBuffer();
  }

  describe("spec § Pulling manifests: repository name grammar", () => {
    for (const name of BAD_NAMES) {
      it(`rejects the repository name ${JSON.stringify(name)} on upload start, and nothing is created`, async () => {
        await expectBadName(await t.request(`/v2/${name}/blobs/uploads/`, { method: "POST", headers: { "content-length": "0" } }));
        const tags = await t.request(`/v2/${name}/tags/list`);
        await expectBadName(tags);
      });
    }

    it("rejects an invalid name on manifest PUT, and no manifest is stored", async () => {
      const good = uniqueRepo("names");
      const bytes = encodeManifest(await imageManifestJson(t, good));
      await expectBadName(await putManifest(t, "Bad..Name", "latest", bytes));
      const res = await t.request(`/v2/Bad..Name/manifests/latest`);
      await expectBadName(res);
    });

    it("answers 400 NAME_INVALID to a name that spells its '/' as %2F (issue 13: it reached repository a/b), on push and pull", async () => {
      const repo = uniqueRepo("names");
      const bytes = encodeManifest(await imageManifestJson(t, repo));
      expect((await putManifest(t, repo, "v1", bytes)).status).toBe(201);
      const encoded = repo.replaceAll("/", "%2F");
      await expectOciError(await t.request(`/v2/${encoded}/manifests/v1`), 400, "NAME_INVALID");
      await expectOciError(await t.request(`/v2/${repo.replaceAll("/", "%2f")}/tags/list`), 400, "NAME_INVALID");
      await expectOciError(await putManifest(t, encoded, "v2", bytes), 400, "NAME_INVALID");
      await expectOciError(await t.request(`/v2/${encoded}/blobs/uploads/`, { method: "POST", headers: { "content-length": "0" } }), 400, "NAME_INVALID");
      expect((await listTags(t, repo)).tags).toEqual(["v1"]);
    });

    it("rejects an invalid name on blob GET", async () => {
      await expectBadName(await t.request(`/v2/a..b/blobs/${sha256("x")}`));
    });
  });

  describe("spec § Pulling manifests: tag grammar", () => {
    it("rejects a manifest PUT to a 129-character tag, and the tag is not listed", async () => {
      const repo = uniqueRepo("names");
      const bytes = encodeManifest(await imageManifestJson(t, repo));
      const ok = await putManifest(t, repo, "ok", bytes);
      await ok.arrayBuffer();
      expect(ok.status).toBe(201);
      const tag = "t".repeat(129);
      const res = await putManifest(t, repo, tag, bytes);
      expect([400, 404]).toContain(res.status);
      await expectOciError(res, res.status);
      expect((await listTags(t, repo)).tags).toEqual(["ok"]);
    });

    it("rejects a manifest PUT to a tag starting with '-'", async () => {
      const repo = uniqueRepo("names");
      const bytes = encodeManifest(await imageManifestJson(t, repo));
      const res = await putManifest(t, repo, "-bad", bytes);
      expect([400, 404]).toContain(res.status);
      await expectOciError(res, res.status);
      const tags = await t.request(`/v2/${repo}/tags/list`);
      if (tags.status === 200) expect(((await tags.json()) as { tags: string[] }).tags).toEqual([]);
      else await expectOciError(tags, 404, "NAME_UNKNOWN");
    });
  });

  describe("spec § Pushing blobs: digest grammar on the closing PUT (end-6 400)", () => {
    const badDigests = ["sha256:xyz", "notadigest", `sha256:${"a".repeat(63)}`, `sha256:${"A".repeat(64)}`, `sha256:${"a".repeat(65)}`, "md5:d41d8cd98f00b204e9800998ecf8427e"];
    for (const digest of badDigests) {
      it(`answers 400 DIGEST_INVALID to ?digest=${digest.slice(0, 20)}..., leaving nothing visible`, async () => {
        const repo = uniqueRepo("digests");
        const data = randomBytes(50);
        const { location } = await startUpload(t, repo);
        await expectOciError(await putUpload(t, location, digest, data), 400, "DIGEST_INVALID");
        expect(await blobStatus(t, repo, sha256(data))).toBe(404);
      });
    }

    it("answers 400 to a closing PUT without ?digest=, leaving nothing visible", async () => {
      const repo = uniqueRepo("digests");
      const data = randomBytes(50);
      const { location } = await startUpload(t, repo);
      const res = await t.request(toPath(location), { method: "PUT", headers: { "content-type": "application/octet-stream" }, body: body(data) });
      await expectOciError(res, 400, ["DIGEST_INVALID", "BLOB_UPLOAD_INVALID"]);
      expect(await blobStatus(t, repo, sha256(data))).toBe(404);
    });

    it("answers 400 DIGEST_INVALID to a single POST with a malformed ?digest=", async () => {
      const repo = uniqueRepo("digests");
      const data = randomBytes(50);
      const res = await t.request(withQuery(`/v2/${repo}/blobs/uploads/`, { digest: "sha256:nothex" }), {
        method: "POST",
        headers: { "content-type": "application/octet-stream" },
        body: body(data),
      });
      await expectOciError(res, 400, "DIGEST_INVALID");
      expect(await blobStatus(t, repo, sha256(data))).toBe(404);
    });

    it("answers 400 or 404 to a blob GET with a malformed digest", async () => {
      const repo = uniqueRepo("digests");
      await startUpload(t, repo);
      const res = await t.request(`/v2/${repo}/blobs/sha256:abc`);
      expect([400, 404]).toContain(res.status);
      await expectOciError(res, res.status, res.status === 400 ? "DIGEST_INVALID" : ["BLOB_UNKNOWN", "NAME_UNKNOWN"]);
    });
  });

  describe("spec § Pushing a blob in chunks: Content-Range must match ^[0-9]+-[0-9]+$ and be inclusive", () => {
    const malformed = ["bytes=0-9", "bytes 0-9/10", "0-", "-9", "a-b", "0-9-10", "9-0"];
    for (const range of malformed) {
      it(`answers 416 or 400 to Content-Range ${JSON.stringify(range)} and keeps the session where it was`, async () => {
        const repo = uniqueRepo("ranges");
        const first = randomBytes(10);
        const { location } = await startUpload(t, repo);
        const ok = await patchChunk(t, location, first, 0);
        await ok.arrayBuffer();
        expect(ok.status).toBe(202);
        const next = ok.headers.get("location")!;
        const res = await t.request(toPath(next), {
          method: "PATCH",
          headers: { "content-type": "application/octet-stream", "content-range": range, "content-length": "10" },
          body: body(randomBytes(10)),
        });
        expect([400, 416]).toContain(res.status);
        await expectOciError(res, res.status);
        const status = await t.request(toPath(next));
        await status.arrayBuffer();
        expect(status.status).toBe(204);
        expect(status.headers.get("range")).toBe("0-9");
      });
    }

    it("answers 416 or 400 when Content-Range does not match the body length, and keeps the session where it was", async () => {
      const repo = uniqueRepo("ranges");
      const { location } = await startUpload(t, repo);
      const ok = await patchChunk(t, location, randomBytes(10), 0);
      await ok.arrayBuffer();
      expect(ok.status).toBe(202);
      const next = ok.headers.get("location")!;
      const res = await t.request(toPath(next), {
        method: "PATCH",
        headers: { "content-type": "application/octet-stream", "content-range": "10-109" },
        body: body(randomBytes(10)),
      });
      expect([400, 416]).toContain(res.status);
      await expectOciError(res, res.status);
      const status = await t.request(toPath(next));
      await status.arrayBuffer();
      expect(status.status).toBe(204);
      expect(status.headers.get("range")).toBe("0-9");
    });
  });
});
