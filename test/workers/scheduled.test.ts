/**
 * The Worker's cron (wrangler.toml [triggers]): uploads older than
 * UPLOAD_TTL_SECONDS (one day in wrangler.toml) are aborted, their R2
 * multipart uploads and tails freed; younger ones are left alone.
 */
import { createScheduledController, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { DurableObjectMetadataStore } from "../../src/adapters/durable-object/metadata-store.ts";
import { R2BlobStore } from "../../src/adapters/r2/blob-store.ts";
import { MultipartError, MIN_PART_SIZE } from "../../src/ports/blob-store.ts";
import type { UploadRecord } from "../../src/ports/metadata-store.ts";
import worker from "../../src/runtime/workers.ts";

const blobs = new R2BlobStore(env.BLOBS);
const metadata = new DurableObjectMetadataStore({ repositories: env.REPOSITORIES, indexShards: env.INDEX_SHARDS, catalog: env.CATALOG });
const DAY = 24 * 60 * 60 * 1000;

/** An upload as the engine leaves it between requests: one part written, a tail kept. */
async function openUpload(id: string, createdAt: number): Promise<UploadRecord> {
  const key = `blobs/chunked/${id}`;
  const uploadId = await blobs.createMultipartUpload(key);
  const part = await blobs.uploadPart(key, uploadId, 1, new Uint8Array(MIN_PART_SIZE));
  const tail = { key: `uploads/${id}/tail-1`, size: 10 };
  await blobs.put(tail.key, new Uint8Array(tail.size));
  const record: UploadRecord = {
    id,
    repository: "team/app",
    algorithm: "sha256",
    createdAt,
    version: 2,
    received: MIN_PART_SIZE + tail.size,
    hashState: null,
    partSize: MIN_PART_SIZE,
    multipart: { key, uploadId },
    parts: [{ ...part, size: MIN_PART_SIZE }],
    tail,
  };
  await metadata.createUpload(record);
  return record;
}

describe("scheduled upload expiry", () => {
  it("aborts uploads older than UPLOAD_TTL_SECONDS and frees their storage, keeping younger ones", async () => {
    const stale = await openUpload("stale-upload", Date.now() - 2 * DAY);
    const fresh = await openUpload("fresh-upload", Date.now() - 60_000);

    await worker.scheduled(createScheduledController({ cron: "17 * * * *" }), env);

    expect(await metadata.getUpload("team/app", stale.id)).toBeNull();
    expect(await blobs.head(stale.tail!.key)).toBeNull();
    await expect(blobs.uploadPart(stale.multipart!.key, stale.multipart!.uploadId, 2, new Uint8Array(1))).rejects.toBeInstanceOf(MultipartError);
    expect(await metadata.listStaleUploads(Date.now(), 10)).toEqual([await metadata.getUpload("team/app", fresh.id)]);
    expect(await blobs.head(fresh.tail!.key)).toEqual({ size: 10 });
    await expect(blobs.uploadPart(fresh.multipart!.key, fresh.multipart!.uploadId, 2, new Uint8Array(1))).resolves.toMatchObject({ partNumber: 2 });
  });
});

describe("scheduled garbage collection", () => {
  it("marks an index entry nothing holds (its bytes go a grace period later) and leaves held ones alone", async () => {
    const held = { digest: `sha256:${"1".repeat(64)}`, size: 3, key: "blobs/sha256/held" };
    const unheld = { digest: `sha256:${"2".repeat(64)}`, size: 4, key: "blobs/sha256/unheld" };
    for (const info of [held, unheld]) {
      await blobs.put(info.key, new Uint8Array(info.size));
      await metadata.putBlobIfAbsent(info);
    }
    expect(await metadata.linkBlob("team/app", held)).toBe(true);

    await worker.scheduled(createScheduledController({ cron: "17 * * * *" }), env);

    const index = [];
    for await (const page of metadata.blobIndexPages(10)) index.push(...page);
    expect(index.find((e) => e.digest === held.digest)?.markedAt).toBeNull();
    expect(index.find((e) => e.digest === unheld.digest)?.markedAt).toEqual(expect.any(Number));
    expect(await blobs.head(unheld.key)).toEqual({ size: 4 });
  });
});
