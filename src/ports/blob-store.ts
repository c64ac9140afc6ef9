/**
 * The blob store port: a flat key → bytes store with multipart uploads.
 *
 * Adapters (memory, filesystem, R2, S3) must all follow the R2 multipart
 * rules, which are the strictest of the family, so the upload engine that is
 * proven on one adapter works unchanged on the others:
 *   - part numbers 1..10000;
 *   - every part except the last is at least MIN_PART_SIZE bytes, all
 *     non-final parts have the same size, and the last is no larger;
 *   - completing checks each listed part's ETag against what was uploaded.
 * A multipart upload becomes visible at its key only on completion.
 */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
export const MAX_PARTS = 10_000;

export type BlobBody = ReadableStream<Uint8Array>;

export interface PutOptions {
  /** Byte length when known; adapters that need it (R2, S3) may require it. */
  length?: number;
  /**
   * When given, the adapter verifies the bytes hash to this digest
   * (`sha256:<hex>` or `sha512:<hex>`) and leaves nothing at `key` when they
   * do not, throwing `DigestMismatchError`.
   */
  digest?: string;
}

export interface ObjectInfo {
  size: number;
}

export interface ObjectRead {
  body: BlobBody;
  /** Size of the whole object, not of the range. */
  size: number;
}

/** A resolved byte range: `offset` and `length` are within the object. */
export interface ByteRange {
  offset: number;
  length: number;
}

export interface UploadedPart {
  partNumber: number;
  etag: string;
}

export interface UploadPartOptions {
  /**
   * Called at most once, when the adapter no longer reads `body` although the part is not
   * stored yet (the filesystem store: written to its file, not yet flushed to disk). Lets
   * the caller reuse the buffer, so memory stays bounded by parts being written, not by
   * parts waiting for the disk.
   */
  bodyReleased?: () => void;
}

export interface BlobStore {
  put(key: string, body: BlobBody | Uint8Array, options?: PutOptions): Promise<ObjectInfo>;
  /** `null` when no object is at `key`. */
  get(key: string, range?: ByteRange): Promise<ObjectRead | null>;
  head(key: string): Promise<ObjectInfo | null>;
  /** Deleting a missing key is not an error. */
  delete(key: string): Promise<void>;

  createMultipartUpload(key: string): Promise<string>;
  /**
   * Parts have a known length, so they are passed whole (one part, never a whole blob).
   * The caller reuses `body`'s buffer once this resolves, or once the adapter calls
   * `options.bodyReleased` (it has copied or written the bytes and still works on making the
   * part durable): an adapter must not touch `body` after either.
   */
  uploadPart(key: string, uploadId: string, partNumber: number, body: Uint8Array, options?: UploadPartOptions): Promise<UploadedPart>;
  /**
   * Makes the listed parts the object at `key`. When this resolves the object is durable (the
   * caller indexes it next), even if the adapter did not make each part durable when it was
   * uploaded; a listed part that is missing, or of a size the rules refuse, fails with
   * MultipartError.
   */
  completeMultipartUpload(key: string, uploadId: string, parts: UploadedPart[]): Promise<ObjectInfo>;
  /** Aborting an unknown or finished upload is not an error. */
  abortMultipartUpload(key: string, uploadId: string): Promise<void>;
  /**
   * Removes one part of an open multipart upload that no record will name (its request failed),
   * only if the part stored under its number is still this one (its ETag). Optional: S3 and R2
   * cannot remove a part singly; theirs are replaced by the retry or freed with the upload.
   */
  discardPart?(key: string, uploadId: string, part: UploadedPart): Promise<void>;
}

/**
 * A capability some blob stores have besides `BlobStore` (S3, and R2 through
 * its S3 API): a short-lived URL through which a client fetches one object
 * directly, Range requests included. Blob GETs can then answer 307 to it, so
 * the bytes never pass through the registry (Lambda cannot stream large
 * responses). A separate interface rather than an optional method: the HTTP
 * layer is handed one explicitly when redirects are wanted (AppOptions).
 */
export interface PresignedReads {
  presignGet(key: string, expiresInSeconds: number): Promise<string>;
}

/** An object as a listing shows it. */
export interface ListedObject {
  key: string;
  size: number;
  /** Epoch ms of its last write (S3: of a multipart upload's start, for an object it assembled). */
  lastModified: number;
}

/**
 * A capability of bucket stores (R2, S3): every object under a prefix, a page at a time, for the
 * leftover sweep (lifecycle/object-leftovers.ts), which finds objects no record names.
 */
export interface ListableObjects {
  listObjects(prefix: string): AsyncIterable<ListedObject[]>;
}

export function isListable(store: object): store is ListableObjects {
  return "listObjects" in store && typeof (store as ListableObjects).listObjects === "function";
}

/** Thrown by `put` with `digest` when the content hashes to something else. */
export class DigestMismatchError extends Error {
  readonly expected: string;
  readonly actual: string;
  constructor(expected: string, actual: string) {
    super(`content digest ${actual} does not match ${expected}`);
    this.expected = expected;
    this.actual = actual;
    this.name = "DigestMismatchError";
  }
}

/** Thrown by multipart operations that break the rules above. */
export class MultipartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MultipartError";
  }
}

/**
 * Chunks of a blob body that their producer allocated for themselves (a file read into a fresh
 * buffer, nothing else sharing that buffer) and that reach one consumer. The Node runtime frees
 * such a chunk's memory as soon as the socket has written it (src/runtime/node-chunk-memory.ts),
 * instead of at the next garbage collection. Whoever would hand one chunk to two consumers (a tee
 * of a local blob read) must not mark it.
 */
const ownChunks = new WeakSet<Uint8Array>();

export function markOwnChunk(chunk: Uint8Array): Uint8Array {
  ownChunks.add(chunk);
  return chunk;
}

export function isOwnChunk(chunk: unknown): chunk is Uint8Array {
  return chunk instanceof Uint8Array && ownChunks.has(chunk);
}

/** For a consumer that keeps a chunk (readLimited: a cached manifest, an upload's tail): no one may free it now. */
export function keepChunk(chunk: Uint8Array): Uint8Array {
  ownChunks.delete(chunk);
  return chunk;
}
