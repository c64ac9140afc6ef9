import type { BlobStore } from "../ports/blob-store.ts";
import type { UploadPartRecord } from "../ports/metadata-store.ts";
import { concatBytes } from "./streams.ts";

/**
 * Re-chunks a byte stream into equal parts of `partSize` (R2 demands equal
 * non-final parts, S3 at least 5 MiB) and uploads each as soon as it is full,
 * keeping at most `maxInFlight` part uploads running so network reads and
 * storage writes overlap while memory stays at a few parts.
 * Whatever is left (< partSize) is returned as the tail.
 */
export class PartWriter {
  private pending: Uint8Array[] = [];
  private pendingSize = 0;
  private inFlight: Promise<void>[] = [];
  private failure: unknown = null;
  private nextPartNumber: number;
  private target: Promise<{ key: string; uploadId: string }> | null = null;
  readonly parts: UploadPartRecord[];
  private readonly blobs: BlobStore;
  private readonly partSize: number;
  private readonly openUpload: () => Promise<{ key: string; uploadId: string }>;
  private readonly maxInFlight: number;

  constructor(options: {
    blobs: BlobStore;
    partSize: number;
    /** Parts already written by earlier requests. */
    parts: UploadPartRecord[];
    /** Bytes carried over from the previous request, to go first. */
    carriedTail: Uint8Array | null;
    /** Creates the multipart upload on first use (small blobs never need one). */
    openUpload: () => Promise<{ key: string; uploadId: string }>;
    maxInFlight?: number;
  }) {
    this.blobs = options.blobs;
    this.partSize = options.partSize;
    this.parts = [...options.parts];
    this.nextPartNumber = this.parts.length + 1;
    this.openUpload = options.openUpload;
    this.maxInFlight = options.maxInFlight ?? 2;
    if (options.carriedTail && options.carriedTail.byteLength > 0) this.push(options.carriedTail);
  }

  get bufferedSize(): number {
    return this.pendingSize;
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.push(chunk);
    while (this.pendingSize >= this.partSize) {
      await this.flushPart(this.take(this.partSize));
    }
  }

  /** Waits for every part upload; returns the bytes left over (the tail). */
  async finish(): Promise<Uint8Array> {
    await Promise.all(this.inFlight);
    if (this.failure) throw this.failure;
    this.parts.sort((a, b) => a.partNumber - b.partNumber);
    return this.take(this.pendingSize);
  }

  /** Uploads the remaining bytes as the final part (may be shorter than partSize). */
  async finishWithFinalPart(): Promise<UploadPartRecord[]> {
    const rest = await this.finish();
    if (rest.byteLength > 0) await this.flushPart(rest);
    await Promise.all(this.inFlight);
    if (this.failure) throw this.failure;
    return this.parts.sort((a, b) => a.partNumber - b.partNumber);
  }

  private push(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return;
    this.pending.push(chunk);
    this.pendingSize += chunk.byteLength;
  }

  private take(size: number): Uint8Array {
    const taken: Uint8Array[] = [];
    let need = size;
    while (need > 0) {
      const head = this.pending[0]!;
      if (head.byteLength <= need) {
        taken.push(head);
        this.pending.shift();
        need -= head.byteLength;
      } else {
        taken.push(head.subarray(0, need));
        this.pending[0] = head.subarray(need);
        need = 0;
      }
    }
    this.pendingSize -= size;
    return concatBytes(taken, size);
  }

  private async flushPart(bytes: Uint8Array): Promise<void> {
    if (this.failure) throw this.failure;
    const partNumber = this.nextPartNumber++;
    this.target ??= this.openUpload();
    const { key, uploadId } = await this.target;
    const task = this.blobs
      .uploadPart(key, uploadId, partNumber, bytes)
      .then((uploaded) => {
        this.parts.push({ partNumber, etag: uploaded.etag, size: bytes.byteLength });
      })
      .catch((error: unknown) => {
        this.failure ??= error;
      })
      .finally(() => {
        this.inFlight = this.inFlight.filter((p) => p !== task);
      });
    this.inFlight.push(task);
    if (this.inFlight.length >= this.maxInFlight) await Promise.race(this.inFlight);
    if (this.failure) throw this.failure;
  }
}
