import {
  DigestMismatchError,
  MultipartError,
  type BlobBody,
  type BlobStore,
  type ByteRange,
  type ObjectInfo,
  type ObjectRead,
  type PutOptions,
  type UploadedPart,
} from "../../ports/blob-store.ts";
import type { DigestAlgorithm } from "../../ports/metadata-store.ts";
import {
  checkCompletion,
  checkLength,
  checkPartNumber,
  chunksOf,
  newOpaqueId,
  parseExpectedDigest,
  type StoredPart,
} from "../blob-rules.ts";

interface MultipartUpload {
  key: string;
  parts: Map<number, StoredPart & { bytes: Uint8Array }>;
}

/** Reads are served in chunks of this size, as a disk or network store would. */
const READ_CHUNK = 64 * 1024;

/**
 * A blob store held in one process's memory, for tests and throwaway
 * registries. Digests are checked with WebCrypto over the whole buffered
 * body (which this store holds anyway), so it runs on any runtime.
 */
export class MemoryBlobStore implements BlobStore {
  readonly #objects = new Map<string, Uint8Array>();
  readonly #uploads = new Map<string, MultipartUpload>();

  /** Every key with an object, for tests that count what the store holds. */
  keys(): string[] {
    return [...this.#objects.keys()];
  }

  async put(key: string, body: BlobBody | Uint8Array, options: PutOptions = {}): Promise<ObjectInfo> {
    const expected = options.digest === undefined ? undefined : parseExpectedDigest(options.digest);
    const chunks: Uint8Array[] = [];
    for await (const chunk of chunksOf(body, options.length)) chunks.push(chunk);
    const bytes = concat(chunks);
    checkLength(options.length, bytes.byteLength);
    if (expected) {
      const actual = await webCryptoDigest(expected.algorithm, bytes);
      if (actual !== expected.digest) throw new DigestMismatchError(expected.digest, actual);
    }
    this.#objects.set(key, bytes);
    return { size: bytes.byteLength };
  }

  async get(key: string, range?: ByteRange): Promise<ObjectRead | null> {
    const bytes = this.#objects.get(key);
    if (!bytes) return null;
    const start = range?.offset ?? 0;
    const end = range ? start + range.length : bytes.byteLength;
    return { body: streamOf(bytes.subarray(start, end)), size: bytes.byteLength };
  }

  async head(key: string): Promise<ObjectInfo | null> {
    const bytes = this.#objects.get(key);
    return bytes ? { size: bytes.byteLength } : null;
  }

  async delete(key: string): Promise<void> {
    this.#objects.delete(key);
  }

  async createMultipartUpload(key: string): Promise<string> {
    const uploadId = newOpaqueId();
    this.#uploads.set(uploadId, { key, parts: new Map() });
    return uploadId;
  }

  async uploadPart(key: string, uploadId: string, partNumber: number, body: Uint8Array): Promise<UploadedPart> {
    checkPartNumber(partNumber);
    const upload = this.#upload(key, uploadId);
    const etag = newOpaqueId();
    upload.parts.set(partNumber, { etag, size: body.byteLength, bytes: body.slice() });
    return { partNumber, etag };
  }

  async completeMultipartUpload(key: string, uploadId: string, parts: UploadedPart[]): Promise<ObjectInfo> {
    const upload = this.#upload(key, uploadId);
    checkCompletion(parts, upload.parts);
    const bytes = concat(parts.map(({ partNumber }) => upload.parts.get(partNumber)?.bytes ?? new Uint8Array()));
    this.#objects.set(key, bytes);
    this.#uploads.delete(uploadId);
    return { size: bytes.byteLength };
  }

  async abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    if (this.#uploads.get(uploadId)?.key === key) this.#uploads.delete(uploadId);
  }

  async discardPart(key: string, uploadId: string, part: UploadedPart): Promise<void> {
    const upload = this.#uploads.get(uploadId);
    if (upload?.key === key && upload.parts.get(part.partNumber)?.etag === part.etag) upload.parts.delete(part.partNumber);
  }

  #upload(key: string, uploadId: string): MultipartUpload {
    const upload = this.#uploads.get(uploadId);
    if (!upload || upload.key !== key) throw new MultipartError(`no multipart upload ${uploadId} for ${key}`);
    return upload;
  }
}

function concat(chunks: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(chunks.reduce((total, chunk) => total + chunk.byteLength, 0));
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

function streamOf(bytes: Uint8Array): BlobBody {
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.byteLength) return controller.close();
      // A copy, so a consumer that transfers or alters a chunk cannot touch the store.
      controller.enqueue(bytes.slice(offset, offset + READ_CHUNK));
      offset += READ_CHUNK;
    },
  });
}

async function webCryptoDigest(algorithm: DigestAlgorithm, bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const hash = await crypto.subtle.digest(algorithm === "sha256" ? "SHA-256" : "SHA-512", bytes);
  const hex = Array.from(new Uint8Array(hash), (byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${algorithm}:${hex}`;
}
