/**
 * Parts are flushed only when their upload completes (core/storage-layout.ts, "Durability"),
 * so an OS crash may lose or shorten a part whose PATCH was answered. The finish must notice:
 * here a part file is deleted or truncated behind the registry's back, as such a crash would
 * leave it, and the PUT must answer a clean OCI error, index nothing, and let the blob be
 * pushed again.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm, truncate } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FilesystemBlobStore } from "../../src/adapters/filesystem/blob-store.ts";
import { hashWasm } from "../../src/adapters/hash-wasm.ts";
import { openLocalMetadata } from "../../src/adapters/sqlite/open.ts";
import { createApp } from "../../src/http/app.ts";
import { MIN_PART_SIZE } from "../../src/ports/blob-store.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function registry() {
  const root = await mkdtemp(join(tmpdir(), "registry-lost-parts-"));
  const metadata = openLocalMetadata(root);
  const app = createApp({ blobs: new FilesystemBlobStore(join(root, "blobs")), metadata: metadata.store, hashing: hashWasm, partSize: MIN_PART_SIZE });
  cleanups.push(async () => {
    metadata.close();
    await rm(root, { recursive: true, force: true });
  });
  const request = (path: string, init?: RequestInit) => app.request(path, init);
  return { root, request };
}

/** POST, then `bytes` in one PATCH; answers the upload's location. */
async function patched(request: (path: string, init?: RequestInit) => Response | Promise<Response>, bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const started = await request("/v2/lost/parts/blobs/uploads/", { method: "POST" });
  expect(started.status).toBe(202);
  const location = started.headers.get("location")!;
  const patch = await request(location, {
    method: "PATCH",
    headers: { "content-type": "application/octet-stream", "content-range": `0-${bytes.byteLength - 1}`, "content-length": String(bytes.byteLength) },
    body: bytes,
  });
  expect(patch.status).toBe(202);
  expect(patch.headers.get("range")).toBe(`0-${bytes.byteLength - 1}`);
  return patch.headers.get("location")!;
}

/** The part files of the one upload in progress, in part order. */
async function partFiles(root: string): Promise<string[]> {
  const multipart = join(root, "blobs", ".multipart");
  const [upload, ...others] = await readdir(multipart);
  expect(others).toEqual([]);
  const names = (await readdir(join(multipart, upload!))).filter((name) => /^\d+\./.test(name));
  return names.sort((a, b) => Number(a.split(".")[0]) - Number(b.split(".")[0])).map((name) => join(multipart, upload!, name));
}

const withQuery = (location: string, query: string) => `${location}${location.includes("?") ? "&" : "?"}${query}`;

describe("a part lost or shortened after its PATCH was answered (an OS crash before completion)", () => {
  const cases: { name: string; damage: (parts: string[]) => Promise<void> }[] = [
    { name: "the first part deleted", damage: (parts) => rm(parts[0]!) },
    { name: "the first part truncated", damage: (parts) => truncate(parts[0]!, 4096) },
    { name: "the last part truncated", damage: (parts) => truncate(parts[1]!, MIN_PART_SIZE - 1) },
    { name: "the last part emptied", damage: (parts) => truncate(parts[1]!, 0) },
  ];
  for (const { name, damage } of cases) {
    it(`${name}: the PUT answers BLOB_UPLOAD_INVALID, no blob is visible, and the blob can be pushed again`, async () => {
      const { root, request } = await registry();
      // Two whole parts, no tail: both parts are files when the PUT comes.
      const bytes = new Uint8Array(randomBytes(2 * MIN_PART_SIZE));
      const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
      const location = await patched(request, bytes);
      const parts = await partFiles(root);
      expect(parts).toHaveLength(2);
      await damage(parts);

      const put = await request(withQuery(location, `digest=${digest}`), { method: "PUT" });
      expect(put.status).toBe(400);
      const body = (await put.json()) as { errors: { code: string; message: string }[] };
      expect(body.errors[0]?.code).toBe("BLOB_UPLOAD_INVALID");
      expect(body.errors[0]?.message).toMatch(/push the blob again/);
      expect((await request(`/v2/lost/parts/blobs/${digest}`, { method: "HEAD" })).status).toBe(404);
      // The upload was discarded: neither the session nor anything assembled from it is left.
      expect((await request(location, { method: "GET" })).status).toBe(404);
      const assembled = await readdir(join(root, "blobs", ".segmented"), { recursive: true, withFileTypes: true }).catch(() => []);
      expect(assembled.filter((entry) => entry.isFile())).toEqual([]);

      const again = await patched(request, bytes);
      const retried = await request(withQuery(again, `digest=${digest}`), { method: "PUT" });
      expect(retried.status).toBe(201);
      const pulled = await request(`/v2/lost/parts/blobs/${digest}`);
      expect(pulled.status).toBe(200);
      expect(Buffer.from(await pulled.arrayBuffer()).equals(bytes)).toBe(true);
    });
  }
});
