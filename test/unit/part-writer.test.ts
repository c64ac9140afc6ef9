import { describe, expect, it } from "vitest";
import { PartWriter } from "../../src/core/part-writer.ts";
import type { BlobStore, UploadedPart, UploadPartOptions } from "../../src/ports/blob-store.ts";
import type { ResumableHash } from "../../src/ports/hashing.ts";

/** Records what the writer asks of the store; the multipart rules themselves are proven by the contract suites. */
function recordingStore(): { store: BlobStore; parts: Map<number, Uint8Array> } {
  const parts = new Map<number, Uint8Array>();
  const store = {
    async uploadPart(_key: string, _id: string, partNumber: number, body: Uint8Array): Promise<UploadedPart> {
      parts.set(partNumber, body.slice());
      return { partNumber, etag: `etag-${partNumber}` };
    },
  } as unknown as BlobStore; // only uploadPart is exercised by PartWriter
  return { store, parts };
}

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

describe("PartWriter re-chunks a stream into equal parts", () => {
  it("cuts odd-sized writes into parts of exactly partSize and returns the rest as the tail", async () => {
    const { store, parts } = recordingStore();
    let opens = 0;
    const writer = new PartWriter({
      blobs: store,
      partSize: 10,
      parts: [],
      carriedTail: null,
      openUpload: async () => (opens++, { key: "k", uploadId: "u" }),
    });
    const input = [bytes(3, 1), bytes(17, 2), bytes(1, 3), bytes(12, 4)];
    for (const chunk of input) await writer.write(chunk);
    const tail = await writer.finish();
    const all = Buffer.concat(input);
    expect([...parts.keys()].sort()).toEqual([1, 2, 3]);
    for (const n of [1, 2, 3]) expect(Buffer.from(parts.get(n)!)).toEqual(all.subarray((n - 1) * 10, n * 10));
    expect(Buffer.from(tail)).toEqual(all.subarray(30));
    expect(writer.parts.map((p) => [p.partNumber, p.size])).toEqual([[1, 10], [2, 10], [3, 10]]);
    expect(opens).toBe(1);
  });

  it("puts the carried tail first and numbers new parts after the earlier ones", async () => {
    const { store, parts } = recordingStore();
    const writer = new PartWriter({
      blobs: store,
      partSize: 4,
      parts: [{ partNumber: 1, etag: "old", size: 4 }],
      carriedTail: bytes(3, 9),
      openUpload: async () => ({ key: "k", uploadId: "u" }),
    });
    await writer.write(bytes(5, 5));
    const tail = await writer.finish();
    expect([...parts.keys()]).toEqual([2, 3]);
    expect(Buffer.from(parts.get(2)!)).toEqual(Buffer.concat([bytes(3, 9), bytes(1, 5)]));
    expect(tail.byteLength).toBe(0);
  });

  it("never opens a multipart upload for data smaller than one part", async () => {
    const { store } = recordingStore();
    let opens = 0;
    const writer = new PartWriter({ blobs: store, partSize: 100, parts: [], carriedTail: null, openUpload: async () => (opens++, { key: "k", uploadId: "u" }) });
    await writer.write(bytes(99, 1));
    expect((await writer.finish()).byteLength).toBe(99);
    expect(opens).toBe(0);
  });

  it("fails the write when a part upload fails", async () => {
    const store = { uploadPart: async () => Promise.reject(new Error("disk full")) } as unknown as BlobStore;
    const writer = new PartWriter({ blobs: store, partSize: 2, parts: [], carriedTail: null, openUpload: async () => ({ key: "k", uploadId: "u" }), maxInFlight: 1 });
    await expect(async () => {
      await writer.write(bytes(4, 1));
      await writer.finish();
    }).rejects.toThrow("disk full");
  });

  it("hashes every byte after the carried tail exactly once, in order", async () => {
    const { store } = recordingStore();
    const seen: number[] = [];
    const hash: ResumableHash = { update: (chunk) => void seen.push(...chunk), save: () => new Uint8Array(0), digestHex: () => "" };
    const carried = bytes(3, 9);
    const writer = new PartWriter({ blobs: store, partSize: 4, parts: [], carriedTail: carried, openUpload: async () => ({ key: "k", uploadId: "u" }), hash });
    const input = [bytes(2, 1), bytes(9, 2), bytes(1, 3)];
    for (const chunk of input) await writer.write(chunk);
    await writer.finish();
    expect(Buffer.from(seen)).toEqual(Buffer.concat(input));
  });

  it("gives every part its own bytes even though part buffers are reused", async () => {
    // A store that reads the part only after a delay, as a disk or network write would.
    const parts = new Map<number, Uint8Array>();
    const store = {
      async uploadPart(_key: string, _id: string, partNumber: number, body: Uint8Array): Promise<UploadedPart> {
        await new Promise((resolve) => setTimeout(resolve, 2));
        parts.set(partNumber, body.slice());
        return { partNumber, etag: `etag-${partNumber}` };
      },
    } as unknown as BlobStore;
    const writer = new PartWriter({ blobs: store, partSize: 8, parts: [], carriedTail: null, openUpload: async () => ({ key: "k", uploadId: "u" }) });
    const input = Array.from({ length: 10 }, (_, i) => bytes(5, i));
    for (const chunk of input) await writer.write(chunk);
    const tail = await writer.finish();
    const all = Buffer.concat(input);
    for (const [n, part] of parts) expect(Buffer.from(part)).toEqual(all.subarray((n - 1) * 8, n * 8));
    expect(Buffer.from(tail)).toEqual(all.subarray(48));
  });

  it("returns a tail that stays the caller's while later writers fill the part buffer it came from", async () => {
    // The tail's part buffer goes back to the pool at finish (a PATCH ends with one, every time):
    // the tail must be a copy, or the next request's bytes would overwrite it before it is stored.
    const { store } = recordingStore();
    const first = new PartWriter({ blobs: store, partSize: 16, parts: [], carriedTail: null, openUpload: async () => ({ key: "k", uploadId: "u" }) });
    await first.write(bytes(16 + 9, 1));
    const tail = await first.finish();
    const expected = Buffer.from(bytes(16 + 9, 1).subarray(16));
    for (let round = 0; round < 4; round++) {
      const next = new PartWriter({ blobs: store, partSize: 16, parts: [], carriedTail: null, openUpload: async () => ({ key: "k", uploadId: "u" }) });
      await next.write(bytes(16 + 12, 100 + round));
      await next.finish();
    }
    expect(Buffer.from(tail)).toEqual(expected);
  });

  it("returns the tail's buffer to the pool once even when finish is called twice at once", async () => {
    // Found by review: both calls read the part before either awaited, and both returned it to the
    // pool; the next two writers then shared one buffer and one's carried tail became the other's.
    const { store } = recordingStore();
    const writer = (carried: Uint8Array | null) => new PartWriter({ blobs: store, partSize: 64, parts: [], carriedTail: carried, openUpload: async () => ({ key: "k", uploadId: "u" }) });
    const first = writer(null);
    await first.write(bytes(10, 1));
    const tails = await Promise.all([first.finish(), first.finish()]);
    expect(tails.map((tail) => Buffer.from(tail))).toEqual([Buffer.from(bytes(10, 1)), Buffer.alloc(0)]);
    const second = writer(bytes(5, 50));
    const third = writer(bytes(5, 60));
    expect(Buffer.from(await second.finish())).toEqual(Buffer.from(bytes(5, 50)));
    expect(Buffer.from(await third.finish())).toEqual(Buffer.from(bytes(5, 60)));
  });
});

/** A store whose part uploads finish only when the test says, counting how many run at once. */
function gatedStore(releaseEarly: boolean) {
  let running = 0;
  let holding = 0;
  let released = false;
  /** maxHolding: buffers in the store's hands at once once it has released one early (before that the writer cannot know). */
  const seen = { maxRunning: 0, maxHolding: 0 };
  const gates: (() => void)[] = [];
  const releases: (() => void)[] = [];
  const stored = new Map<number, Uint8Array>();
  const store = {
    async uploadPart(_key: string, _id: string, partNumber: number, body: Uint8Array, options?: UploadPartOptions): Promise<UploadedPart> {
      running++;
      holding++;
      seen.maxRunning = Math.max(seen.maxRunning, running);
      if (released || !releaseEarly) seen.maxHolding = Math.max(seen.maxHolding, holding);
      stored.set(partNumber, body.slice());
      if (releaseEarly) {
        await new Promise<void>((resolve) => releases.push(resolve));
        holding--;
        released = true;
        options?.bodyReleased?.();
      }
      await new Promise<void>((resolve) => gates.push(resolve));
      if (!releaseEarly) holding--;
      running--;
      return { partNumber, etag: `etag-${partNumber}` };
    },
  } as unknown as BlobStore; // only uploadPart is exercised by PartWriter
  // Releases at every call, completions at every 4th: uploads pile up as far as the writer lets them.
  let calls = 0;
  const openGates = () => [...releases.splice(0), ...(++calls % 4 === 0 ? gates.splice(0) : [])].forEach((open) => open());
  return { store, seen, stored, openGates };
}

describe("PartWriter bounds part uploads and the buffers they hold", () => {
  const write = async (store: BlobStore, openGates: () => void, input: Uint8Array) => {
    const writer = new PartWriter({ blobs: store, partSize: 4, parts: [], carriedTail: null, openUpload: async () => ({ key: "k", uploadId: "u" }) });
    // The gates open only while the writer waits, so it runs as many uploads as its bounds allow.
    const opener = setInterval(openGates, 5);
    try {
      for (let i = 0; i < input.byteLength; i += 3) await writer.write(input.subarray(i, i + 3));
      expect((await writer.finish()).byteLength).toBe(input.byteLength % 4);
    } finally {
      clearInterval(opener);
    }
    return writer;
  };

  it("lets a store that releases buffers once written (the filesystem) run up to 4 uploads while holding one buffer", async () => {
    const { store, seen, stored, openGates } = gatedStore(true);
    const input = bytes(4 * 12 + 1, 7);
    const writer = await write(store, openGates, input);
    expect(seen.maxRunning).toBe(4);
    expect(seen.maxHolding).toBe(1);
    expect(writer.parts.map((p) => p.partNumber)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    for (const [n, part] of stored) expect(Buffer.from(part)).toEqual(Buffer.from(input.subarray((n - 1) * 4, n * 4)));
  });

  it("gives a store that holds buffers until stored (S3, R2) two at once, as before", async () => {
    const { store, seen, openGates } = gatedStore(false);
    await write(store, openGates, bytes(4 * 12, 3));
    expect(seen.maxRunning).toBe(2);
    expect(seen.maxHolding).toBe(2);
  });
});
