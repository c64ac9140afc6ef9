import { describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { Registry } from "../../src/core/registry.ts";
import { Uploads } from "../../src/core/uploads.ts";
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
  it("lets exactly one of two racing PATCHes at the same offset win; the other gets 416 with the recorded Range", async () => {
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
    // The loser is refused when it tries to claim the upload, before it writes anything: the
    // Range is what was recorded then (nothing yet, or the winner's chunk once committed).
    expect(["0-0", `0-${6 * MiB - 1}`]).toContain((lost[0]!.reason as RegistryError).headers.Range);

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

/**
 * Claims (src/core/uploads.ts, "One writer at a time"): each engine below stands for a
 * separate process, with its own view of the blob store (counting the parts it writes),
 * sharing the metadata store and a clock the test moves.
 */
describe("upload engine: one writer at a time (claims)", () => {
  function processes() {
    const clock = { now: 1_000_000 };
    const blobs = new MemoryBlobStore();
    const metadata = new MemoryMetadataStore();
    const engine = () => {
      const written: number[] = [];
      const view = new Proxy(blobs, {
        get(target, property) {
          if (property === "uploadPart") {
            return (key: string, uploadId: string, partNumber: number, body: Uint8Array) => {
              written.push(partNumber);
              return target.uploadPart(key, uploadId, partNumber, body);
            };
          }
          const value: unknown = Reflect.get(target, property, target);
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
      const uploads = new Uploads({ blobs: view, metadata, hashing: hashWasm, partSize: MIN_PART_SIZE, now: () => clock.now, newId: () => crypto.randomUUID() });
      return { uploads, written };
    };
    return { clock, blobs, metadata, engine };
  }

  /** A request body the test feeds piece by piece, as a slow or stalled client would. */
  function feed() {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
    return { body, push: (bytes: Uint8Array) => controller.enqueue(bytes.slice()), end: () => controller.close(), fail: (e: Error) => controller.error(e) };
  }

  async function until(condition: () => boolean | Promise<boolean>): Promise<void> {
    for (let i = 0; i < 500; i++) {
      if (await condition()) return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    throw new Error("timed out waiting");
  }

  const repository = "claims/repo";

  it("a PATCH whose body breaks off releases its claim at once: the client's immediate resume is accepted", async () => {
    const { engine, metadata } = processes();
    const [first, second] = [engine(), engine()];
    const upload = await first.uploads.start(repository);
    const data = filled(12 * MiB, 1);
    const body = feed();
    const dropped = first.uploads.append(repository, upload.id, { body: body.body });
    body.push(data.subarray(0, 7 * MiB));
    await until(() => first.written.length === 1);
    body.fail(new Error("connection reset"));
    await expect(dropped).rejects.toThrow("connection reset");

    const record = await metadata.getUpload(repository, upload.id);
    expect(record).toMatchObject({ received: 0, writer: null });
    expect(record!.multipart).not.toBeNull(); // recorded when opened, reused by the next writer
    const resumed = await second.uploads.append(repository, upload.id, { body: stream(data), range: { start: 0, end: data.byteLength - 1 } });
    expect(resumed).toMatchObject({ received: data.byteLength, writer: null });
    const info = await second.uploads.finish(repository, upload.id, digestOf(data), { body: null });
    expect(info.size).toBe(data.byteLength);
  });

  it("a request that finds a live claim answers 416 with the recorded Range and writes nothing; a long PATCH keeps its claim by renewing it", async () => {
    const { clock, engine } = processes();
    const [writer, retry] = [engine(), engine()];
    const upload = await writer.uploads.start(repository);
    const piece = filled(MiB, 2);
    const body = feed();
    const streaming = writer.uploads.append(repository, upload.id, { body: body.body });
    // Ninety seconds of a slow stream, three times the claim's lifetime.
    for (let i = 0; i < 18; i++) {
      body.push(piece);
      clock.now += 5_000;
      await until(async () => (await writer.uploads.get(repository, upload.id)).writer?.expiresAt! > clock.now);
      const refused = retry.uploads.append(repository, upload.id, { body: stream(piece), range: { start: 0, end: piece.byteLength - 1 } });
      await expect(refused).rejects.toMatchObject({ status: 416, headers: { Range: "0-0" } });
    }
    body.end();
    const record = await streaming;
    expect(record).toMatchObject({ received: 18 * MiB, writer: null });
    expect(retry.written).toEqual([]);
    const info = await retry.uploads.finish(repository, upload.id, digestOf(...Array.from({ length: 18 }, () => piece)), { body: null });
    expect(info.size).toBe(18 * MiB);
  });

  it("a claim left by a stalled or crashed request expires and is taken over; the stalled request then writes no part and cannot commit", async () => {
    const { clock, engine, blobs } = processes();
    const [stalled, next] = [engine(), engine()];
    const upload = await stalled.uploads.start(repository);
    const body = feed();
    const stuck = stalled.uploads.append(repository, upload.id, { body: body.body });
    body.push(filled(MIN_PART_SIZE + 10, 3));
    await until(() => stalled.written.length === 1);

    // Before the claim expires, the upload is busy; after, another request takes it over.
    const data = filled(2 * MIN_PART_SIZE + 77, 4);
    const chunk = () => ({ body: stream(data), range: { start: 0, end: data.byteLength - 1 } });
    clock.now += 29_000;
    await expect(next.uploads.append(repository, upload.id, chunk())).rejects.toMatchObject({ status: 416 });
    clock.now += 1_001;
    const taken = await next.uploads.append(repository, upload.id, chunk());
    expect(taken).toMatchObject({ received: data.byteLength, writer: null });
    expect(next.written).toEqual([1, 2]);

    // The stalled request wakes up: it must not write another part, and its commit fails.
    body.push(filled(MIN_PART_SIZE, 5));
    body.end();
    await expect(stuck).rejects.toMatchObject({ status: 416, headers: { Range: `0-${data.byteLength - 1}` } });
    expect(stalled.written).toEqual([1]);

    const info = await next.uploads.finish(repository, upload.id, digestOf(data), { body: null });
    const stored = await blobs.get(info.key);
    expect(new Uint8Array(await new Response(stored!.body).arrayBuffer())).toEqual(data);
  });

  it("a PUT that finds the upload claimed by a PATCH answers 416 and leaves it to the PATCH", async () => {
    const { engine } = processes();
    const [patcher, finisher] = [engine(), engine()];
    const upload = await patcher.uploads.start(repository);
    const data = filled(MIN_PART_SIZE + 5, 6);
    const body = feed();
    const patching = patcher.uploads.append(repository, upload.id, { body: body.body });
    body.push(data);
    await until(() => patcher.written.length === 1);
    await expect(finisher.uploads.finish(repository, upload.id, digestOf(data), { body: null })).rejects.toMatchObject({ status: 416 });
    body.end();
    await patching;
    expect((await finisher.uploads.finish(repository, upload.id, digestOf(data), { body: null })).size).toBe(data.byteLength);
  });
});

describe("finishing an upload after a crash", () => {
  it("a PUT retried after the process died between completing the multipart upload and recording it takes the assembled blob", async () => {
    const blobs = new MemoryBlobStore();
    const metadata = new MemoryMetadataStore();
    let crashAfterCompleting = true;
    // As if the process died right after storage completed the upload: the record still names it.
    const crashing = new Proxy(blobs, {
      get(target, property) {
        const value = Reflect.get(target, property) as unknown;
        if (property === "completeMultipartUpload") {
          return async (...args: Parameters<typeof target.completeMultipartUpload>) => {
            const done = await target.completeMultipartUpload(...args);
            if (crashAfterCompleting) throw new Error("process killed (simulated) after completing");
            return done;
          };
        }
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const registry = new Registry({ blobs: crashing, metadata, hashing: hashWasm, partSize: MIN_PART_SIZE });
    const bytes = filled(6 * MiB + 123, 9);
    const upload = await registry.uploads.start("crash/repo");
    await registry.uploads.append("crash/repo", upload.id, { body: stream(bytes), length: bytes.byteLength });
    await expect(registry.uploads.finish("crash/repo", upload.id, digestOf(bytes), { body: null })).rejects.toThrow(/simulated/);
    crashAfterCompleting = false;
    const info = await registry.uploads.finish("crash/repo", upload.id, digestOf(bytes), { body: null });
    expect(info.digest).toBe(digestOf(bytes));
    const object = await blobs.get(info.key);
    expect(digestOf(new Uint8Array(await new Response(object!.body).arrayBuffer()))).toBe(digestOf(bytes));
  });
});
