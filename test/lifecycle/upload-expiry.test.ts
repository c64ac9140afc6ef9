/**
 * Abandoned uploads expire from their last change, not their start: a long
 * push that keeps sending is never cut off, one that stopped is reclaimed.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hashWasm } from "../../src/adapters/hash-wasm.ts";
import { MemoryBlobStore } from "../../src/adapters/memory/blob-store.ts";
import { MemoryMetadataStore } from "../../src/adapters/memory/metadata-store.ts";
import { openLocalMetadata } from "../../src/adapters/sqlite/open.ts";
import { Uploads } from "../../src/core/uploads.ts";
import { MIN_PART_SIZE } from "../../src/ports/blob-store.ts";
import type { MetadataStore, UploadRecord } from "../../src/ports/metadata-store.ts";

const HOUR = 3_600_000;

/** A store that, like the Durable Object and DynamoDB indexes, lists by creation time only. */
function listingByCreation(store: MetadataStore): MetadataStore {
  return new Proxy(store, {
    get(target, property) {
      if (property === "listStaleUploads") {
        return async (before: number, limit: number) => {
          const all = await target.listStaleUploads(Number.MAX_SAFE_INTEGER, 10_000);
          return all.filter((u: UploadRecord) => u.createdAt < before).slice(0, limit);
        };
      }
      const value = Reflect.get(target, property) as unknown;
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

const stores: Array<[string, () => Promise<{ store: MetadataStore; close(): Promise<void> }>]> = [
  ["memory", async () => ({ store: new MemoryMetadataStore(), close: async () => {} })],
  ["memory, listed by creation", async () => ({ store: listingByCreation(new MemoryMetadataStore()), close: async () => {} })],
  [
    "sqlite",
    async () => {
      const dir = await mkdtemp(join(tmpdir(), "registry-expiry-"));
      const local = openLocalMetadata(dir);
      return { store: local.store, close: async () => (local.close(), rm(dir, { recursive: true, force: true })) };
    },
  ],
];

describe.each(stores)("upload expiry from the last change: %s", (_name, open) => {
  it("spares an upload started long ago that is still being written, and expires it once it stops", async () => {
    const { store, close } = await open();
    const clock = { now: 1_000_000_000 };
    const uploads = new Uploads({ blobs: new MemoryBlobStore(), metadata: store, hashing: hashWasm, partSize: MIN_PART_SIZE, now: () => clock.now, newId: () => crypto.randomUUID() });
    const idle = await uploads.start("team/app");
    const busy = await uploads.start("team/app");
    const chunk = (bytes: Uint8Array) => ({ body: new Blob([bytes as unknown as BlobPart]).stream(), length: bytes.byteLength });

    clock.now += 20 * HOUR;
    await uploads.append("team/app", busy.id, chunk(new Uint8Array(1000)));
    clock.now += 5 * HOUR; // 25 h after both started; the busy one changed 5 h ago
    expect(await uploads.expire(24 * HOUR)).toBe(1);
    expect(await store.getUpload("team/app", idle.id)).toBeNull();
    expect((await store.getUpload("team/app", busy.id))?.received).toBe(1000);

    clock.now += 20 * HOUR; // 25 h after its last change
    expect(await uploads.expire(24 * HOUR)).toBe(1);
    expect(await store.getUpload("team/app", busy.id)).toBeNull();
    await close();
  });
});
