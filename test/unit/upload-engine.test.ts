import { describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { Registry } from "../../src/core/registry.ts";
import { RegistryError } from "../../src/core/errors.ts";
import { MemoryBlobStore } from "../../src/adapters/memory/blob-store.ts";
import { MemoryMetadataStore } from "../../src/adapters/memory/metadata-store.ts";
import { hashWasm } from "../../src/adapters/hash-wasm.ts";
import { MIN_PART_SIZE } from "../../src/ports/blob-store.ts";

const MiB = 1024 * 1024;

function setup(now = () => Date.now()) {
  const blobs = new MemoryBlobStore();
  const metadata = new MemoryMetadataStore();
  const registry = new Registry({ blobs, metadata, hashing: hashWasm, partSize: MIN_PART_SIZE, now });
  return { blobs, metadata, registry };
}

const stream = (bytes: Uint8Array) => new Blob([bytes as Uint8Array<ArrayBuffer>]).stream();
const filled = (n: number, seed: number) => new Uint8Array(n).map((_, i) => (i * 7 + seed) & 0xff);
const digestOf = (...parts: Uint8Array[]) => {
  const hash = createHash("sha256");
  for (const p of parts) hash.update(p);
  return `sha256:${hash.digest("hex")}`;
};

describe("upload engine (design: conditional record updates, multipart, saved hash state)", () => {
  it("lets exactly one of two racing PATCHes at the same offset win; the other gets 416 with the current Range", async () => {
    const { registry } = setup();
    const upload = await registry.uploads.start("race/repo");
    const a = filled(6 * MiB, 1);
    const b = filled(6 * MiB, 2);
    const results = await Promise.allSettled([
      registry.uploads.append("race/repo", upload.id, { body: stream(a), length: a.byteLength }),
      registry.uploads.append("race/repo", upload.id, { body: stream(b), length: b.byteLength }),
    ]);
    const won = results.filter((r) => r.status === "fulfilled");
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0]!.reason).toBeInstanceOf(RegistryError);
    expect((lost[0]!.reason as RegistryError).status).toBe(416);
    expect((lost[0]!.reason as RegistryError).headers.Range).toBe(`0-${6 * MiB - 1}`);

    // The winner's bytes, and only them, complete into a blob with the right digest.
    const winnerBytes = results[0]!.status === "fulfilled" ? a : b;
    const info = await registry.uploads.finish("race/repo", upload.id, digestOf(winnerBytes), { body: null });
    expect(info.size).toBe(6 * MiB);
    expect(info.digest).toBe(digestOf(winnerBytes));
  });

  it("expires uploads older than the TTL: record gone, multipart aborted, tail deleted", async () => {
    let clock = 1_000_000;
    const { registry, blobs } = setup(() => clock);
    const upload = await registry.uploads.start("expiry/repo");
    const data = filled(MIN_PART_SIZE + 123, 3);
    const after = await registry.uploads.append("expiry/repo", upload.id, { body: stream(data), length: data.byteLength });
    expect(after.multipart).not.toBeNull();
    expect(after.tail?.size).toBe(123);

    clock += 10_000;
    expect(await registry.uploads.expire(60_000)).toBe(0);
    clock += 60_000;
    expect(await registry.uploads.expire(60_000)).toBe(1);

    await expect(registry.uploads.get("expiry/repo", upload.id)).rejects.toMatchObject({ code: "BLOB_UPLOAD_UNKNOWN" });
    expect(await blobs.get(after.tail!.key)).toBeNull();
    await expect(blobs.uploadPart(after.multipart!.key, after.multipart!.uploadId, 2, filled(10, 1))).rejects.toThrow();
  });

  it("expires in batches and stops after maxBatches, leaving the rest for the next run", async () => {
    let clock = 0;
    const { registry } = setup(() => clock);
    for (let i = 0; i < 5; i++) await registry.uploads.start("batch/repo");
    clock = 1_000_000;
    expect(await registry.uploads.expire(1000, { batchSize: 2, maxBatches: 1 })).toBe(2);
    expect(await registry.uploads.expire(1000, { batchSize: 2, maxBatches: 10 })).toBe(3);
    expect(await registry.uploads.expire(1000, { batchSize: 2, maxBatches: 10 })).toBe(0);
  });

  it("writes a chunked blob once: parts are never re-read, and the blob's key is its multipart key", async () => {
    const { registry, blobs } = setup();
    let gets = 0;
    const originalGet = blobs.get.bind(blobs);
    blobs.get = async (key, range) => {
      if (key.startsWith("blobs/")) gets++;
      return originalGet(key, range);
    };
    const upload = await registry.uploads.start("once/repo");
    const chunks = [filled(MiB, 1), filled(7 * MiB, 2), filled(3, 3), filled(6 * MiB, 4)];
    let offset = 0;
    for (const chunk of chunks) {
      await registry.uploads.append("once/repo", upload.id, {
        body: stream(chunk),
        length: chunk.byteLength,
        range: { start: offset, end: offset + chunk.byteLength - 1 },
      });
      offset += chunk.byteLength;
    }
    const info = await registry.uploads.finish("once/repo", upload.id, digestOf(...chunks), { body: null });
    expect(info.size).toBe(offset);
    expect(info.key).toBe(`blobs/chunked/${upload.id}`);
    expect(gets).toBe(0);
  });
});
