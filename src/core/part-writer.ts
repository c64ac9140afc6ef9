import type { BlobStore } from "../ports/blob-store.ts";
import type { ResumableHash } from "../ports/hashing.ts";
import type { UploadPartRecord } from "../ports/metadata-store.ts";

/**
 * Re-chunks a byte stream into equal parts of `partSize` (R2 demands equal
 * non-final parts, S3 at least 5 MiB) and uploads each as soon as it is full,
 * keeping at most `maxInFlight` part uploads running so network reads and
 * storage writes overlap, and at most `maxHeld` part buffers in their hands
 * so memory stays at a few parts. A store that is done with a part's bytes
 * before the part is stored (the filesystem: written, not yet flushed to disk)
 * says so (`bodyReleased`), so more parts can wait for the disk than memory holds.
 * Whatever is left (< partSize) is returned as the tail.
 *
 * Bytes are copied once, into the part they belong to, as they arrive. With
 * `hash`, each part is hashed once its upload has started, so the hash runs
 * while storage writes the part rather than before (see `hashSince`).
 */
export class PartWriter {
  /** The part being filled, and how much of it is. */
  private part: Uint8Array | null = null;
  private filled = 0;
  /** Bytes of `part` already hashed (a carried tail was hashed by the request that received it). */
  private hashed = 0;
  private inFlight: Promise<void>[] = [];
  /** Parts whose buffers the store still reads: resolved when it no longer does. */
  private held: Promise<void>[] = [];
  private failure: unknown = null;
  private nextPartNumber: number;
  private target: Promise<{ key: string; uploadId: string }> | null = null;
  readonly parts: UploadPartRecord[];
  private readonly blobs: BlobStore;
  private readonly partSize: number;
  private readonly openUpload: () => Promise<{ key: string; uploadId: string }>;
  private readonly maxInFlight: number;
  private readonly maxHeld: number;
  /** The store released a part's buffer before storing it (see `heldLimit`). */
  private releasesEarly = false;
  private readonly hash: ResumableHash | null;
  private readonly beforePart: (() => Promise<void>) | null;

  constructor(options: {
    blobs: BlobStore;
    partSize: number;
    /** Parts already written by earlier requests. */
    parts: UploadPartRecord[];
    /** Bytes carried over from the previous request, to go first (already hashed). */
    carriedTail: Uint8Array | null;
    /** Creates the multipart upload on first use (small blobs never need one). */
    openUpload: () => Promise<{ key: string; uploadId: string }>;
    /** Part uploads running at once (default 4). */
    maxInFlight?: number;
    /**
     * Part buffers the store may hold at once (default 2; at most maxInFlight). A store that
     * releases buffers before storing is given one (see `heldLimit`).
     */
    maxHeld?: number;
    /** Hashes every byte written after the carried tail, in order. */
    hash?: ResumableHash;
    /**
     * Awaited before each part upload starts; throwing stops the writer before it
     * writes (the upload engine checks there that its claim on the upload still holds).
     */
    beforePart?: () => Promise<void>;
  }) {
    this.blobs = options.blobs;
    this.partSize = options.partSize;
    this.parts = [...options.parts];
    this.nextPartNumber = this.parts.length + 1;
    this.openUpload = options.openUpload;
    this.maxInFlight = options.maxInFlight ?? 4;
    this.maxHeld = Math.min(options.maxHeld ?? 2, this.maxInFlight);
    this.hash = options.hash ?? null;
    this.beforePart = options.beforePart ?? null;
    const carried = options.carriedTail;
    if (carried && carried.byteLength > 0) {
      this.part = takePartBuffer(this.partSize);
      this.part.set(carried);
      this.filled = this.hashed = carried.byteLength;
    }
  }

  get bufferedSize(): number {
    return this.filled;
  }

  /**
   * Takes `chunk`; a promise only when a part filled and went to storage (wait for it before the
   * next write), else null: most chunks are only copied, and an async function would cost every
   * one of them a promise.
   */
  write(chunk: Uint8Array): Promise<void> | null {
    if (this.failure) return Promise.reject(this.failure);
    const part = this.part;
    if (part && chunk.byteLength < this.partSize - this.filled) {
      part.set(chunk, this.filled);
      this.filled += chunk.byteLength;
      return null;
    }
    return this.#writeFilling(chunk);
  }

  async #writeFilling(chunk: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < chunk.byteLength) {
      if (this.filled === 0 && chunk.byteLength - offset >= this.partSize) {
        // A whole part inside one chunk (a body given in memory): upload it as it is.
        await this.flushPart(chunk.subarray(offset, offset + this.partSize), false);
        offset += this.partSize;
        continue;
      }
      this.part ??= takePartBuffer(this.partSize);
      const length = Math.min(this.partSize - this.filled, chunk.byteLength - offset);
      this.part.set(chunk.subarray(offset, offset + length), this.filled);
      this.filled += length;
      offset += length;
      if (this.filled === this.partSize) {
        const full = this.part;
        this.part = null;
        this.filled = 0;
        await this.flushPart(full, true);
      }
    }
  }

  /** Waits for every part upload; returns the bytes left over (the tail), hashed. */
  async finish(): Promise<Uint8Array> {
    // Taken before the first await: a second finish meanwhile must not return the same buffer to the pool.
    const part = this.part;
    const filled = this.filled;
    const hashed = this.hashed;
    this.part = null;
    this.filled = this.hashed = 0;
    const rest = part ? part.subarray(0, filled) : new Uint8Array(0);
    if (this.hash) await hashSince(this.hash, rest, hashed);
    await Promise.all(this.inFlight);
    if (this.failure) {
      if (part) returnPartBuffer(part);
      throw this.failure;
    }
    this.parts.sort((a, b) => a.partNumber - b.partNumber);
    if (!part) return rest;
    // The tail is copied out and its buffer goes back to the pool. Every PATCH ends with a tail
    // (a config blob is nothing else), and a fresh part each time cost 8 MiB of zeroed pages and
    // of external memory, which started V8's major collector several times per push.
    const tail = rest.slice();
    returnPartBuffer(part);
    return tail;
  }

  /**
   * A store that hands a buffer back once it has copied the bytes out (the filesystem: into
   * the page cache, a few ms for a part that takes tens of ms to arrive) needs only one in
   * its hands while the next part fills: 8 MiB less at the peak of a push, no slower. One
   * that holds it until the part is stored (S3, R2: a network round trip) gets `maxHeld`,
   * so one part upload starts while another finishes.
   */
  private heldLimit(): number {
    return this.releasesEarly ? 1 : this.maxHeld;
  }

  private async flushPart(bytes: Uint8Array, pooled: boolean): Promise<void> {
    if (this.failure) throw this.failure;
    const partNumber = this.nextPartNumber++;
    const alreadyHashed = this.hashed;
    this.hashed = 0;
    this.target ??= this.openUpload();
    const { key, uploadId } = await this.target;
    if (this.beforePart) await this.beforePart();
    // The buffer goes back to the pool once the store is done with it AND it is hashed
    // (another request may take it from the pool while this one still hashes it).
    let uses = 2;
    let releaseHeld!: () => void;
    const held = new Promise<void>((resolve) => (releaseHeld = resolve));
    let storeDone = false;
    const done = () => {
      if (--uses === 0 && pooled) returnPartBuffer(bytes);
    };
    let settled = false;
    const storeReleased = () => {
      if (storeDone) return;
      storeDone = true;
      if (!settled) this.releasesEarly = true;
      this.held = this.held.filter((p) => p !== held);
      releaseHeld();
      done();
    };
    this.held.push(held);
    const task = this.blobs
      .uploadPart(key, uploadId, partNumber, bytes, { bodyReleased: storeReleased })
      .then((uploaded) => {
        this.parts.push({ partNumber, etag: uploaded.etag, size: bytes.byteLength });
      })
      .catch((error: unknown) => {
        this.failure ??= error;
      })
      .finally(() => {
        settled = true;
        storeReleased();
        this.inFlight = this.inFlight.filter((p) => p !== task);
      });
    this.inFlight.push(task);
    if (this.hash) await hashSince(this.hash, bytes, alreadyHashed);
    done();
    while (this.inFlight.length >= this.maxInFlight || this.held.length >= this.heldLimit()) await Promise.race([...this.inFlight, ...this.held]);
    if (this.failure) throw this.failure;
  }
}

const HASH_SLICE = 1024 * 1024;

/**
 * Hashes `bytes` from `start`, a slice at a time, letting the event loop run
 * between slices: the part upload just started needs a few turns (open,
 * write) before storage works on it in the background, and other requests
 * are not held up by a part's worth of hashing.
 */
async function hashSince(hash: ResumableHash, bytes: Uint8Array, start: number): Promise<void> {
  for (let offset = start; offset < bytes.byteLength; offset += HASH_SLICE) {
    hash.update(bytes.subarray(offset, Math.min(offset + HASH_SLICE, bytes.byteLength)));
    if (offset + HASH_SLICE < bytes.byteLength) await yieldToEventLoop();
  }
}

const yieldToEventLoop: () => Promise<void> =
  typeof setImmediate === "function" ? () => new Promise((resolve) => setImmediate(resolve)) : () => new Promise((resolve) => setTimeout(resolve, 0));

/**
 * Part buffers of the last size used, kept for the next part: allocating
 * (and zeroing) a fresh part for every few MiB received costs more than the
 * copy into it. Only buffers whose upload has finished come back, and adapters
 * do not keep a part's bytes after `uploadPart` resolves (they write or copy them).
 */
const spareParts: Uint8Array[] = [];
const MAX_SPARE_PARTS = 3;

function takePartBuffer(size: number): Uint8Array {
  const spare = spareParts.pop();
  if (spare && spare.byteLength === size) return spare;
  spareParts.length = 0;
  return new Uint8Array(size);
}

function returnPartBuffer(bytes: Uint8Array): void {
  if (spareParts.length < MAX_SPARE_PARTS && (spareParts.length === 0 || spareParts[0]!.byteLength === bytes.byteLength)) spareParts.push(bytes);
}
