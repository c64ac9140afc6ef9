import type { BlobStore } from "../ports/blob-store.ts";
import { DigestMismatchError, MAX_PARTS, MIN_PART_SIZE } from "../ports/blob-store.ts";
import type { Hashing, ResumableHash } from "../ports/hashing.ts";
import type { BlobInfo, DigestAlgorithm, MetadataStore, UploadRecord } from "../ports/metadata-store.ts";
import { RegistryError } from "./errors.ts";
import { parseDigest, type ParsedDigest } from "./digest.ts";
import { PartWriter } from "./part-writer.ts";
import { blobKey, chunkedBlobKey, uploadTailKey } from "./storage-layout.ts";
import { exactLength, lengthMismatch, readLimited } from "./streams.ts";

export interface UploadDeps {
  blobs: BlobStore;
  metadata: MetadataStore;
  hashing: Hashing;
  /** Size of every non-final multipart part. */
  partSize: number;
  now: () => number;
  newId: () => string;
}

/** A chunk as the client sent it: the body and what its headers promised. */
export interface Chunk {
  body: ReadableStream<Uint8Array> | null;
  /** Parsed `Content-Range: <start>-<end>` (inclusive), if sent. */
  range?: { start: number; end: number };
  /** `Content-Length`, if sent. */
  length?: number;
}

/**
 * The upload engine (distribution-spec § Pushing blobs). Each request is
 * stateless: the upload record carries the multipart upload, its parts, the
 * saved hash state and the tail, and is replaced with a conditional write so
 * two racing requests cannot both advance it.
 */
export class Uploads {
  private readonly deps: UploadDeps;

  constructor(deps: UploadDeps) {
    if (deps.partSize < MIN_PART_SIZE) throw new Error(`partSize must be at least ${MIN_PART_SIZE} bytes`);
    this.deps = deps;
  }

  async start(repository: string, algorithm: DigestAlgorithm = "sha256"): Promise<UploadRecord> {
    const record: UploadRecord = {
      id: this.deps.newId(),
      repository,
      algorithm,
      createdAt: this.deps.now(),
      version: 1,
      received: 0,
      hashState: null,
      partSize: this.deps.partSize,
      multipart: null,
      parts: [],
      tail: null,
    };
    await this.deps.metadata.createUpload(record);
    return record;
  }

  async get(repository: string, id: string): Promise<UploadRecord> {
    const record = await this.deps.metadata.getUpload(repository, id);
    if (!record) throw new RegistryError("BLOB_UPLOAD_UNKNOWN", `no upload ${id} in ${repository}; start a new one with POST`);
    return record;
  }

  /** PATCH: appends a chunk; answers 416 when it does not start where the last one ended. */
  async append(repository: string, id: string, chunk: Chunk): Promise<UploadRecord> {
    const record = await this.get(repository, id);
    return this.appendTo(record, chunk);
  }

  /**
   * Monolithic push (POST ?digest= or a PUT carrying the whole blob): the
   * store verifies the digest while writing, so the bytes land once at their
   * content-addressed key, and with a native one-shot hash where there is one.
   */
  async putWhole(repository: string, digest: ParsedDigest, chunk: Chunk): Promise<BlobInfo> {
    const known = await this.deps.metadata.getBlob(digest.digest);
    if (known) {
      await this.verifyWithoutStoring(digest, chunk);
      await this.deps.metadata.linkBlob(repository, known);
      return known;
    }
    const length = declaredLength(chunk);
    if (length === undefined) return this.putWholeOfUnknownLength(repository, digest, chunk);
    const key = blobKey(digest.digest);
    const body = exactLength(chunk.body ?? emptyStream(), length);
    let size: number;
    try {
      ({ size } = await this.deps.blobs.put(key, body, { digest: digest.digest, length }));
    } catch (error) {
      throw asDigestError(error, digest.digest);
    }
    const info = await this.deps.metadata.putBlobIfAbsent({ digest: digest.digest, size, key });
    await this.deps.metadata.linkBlob(repository, info);
    return info;
  }

  /**
   * A whole blob sent without a length (chunked transfer encoding): R2 and S3
   * need a known length for a single put, so the bytes take the multipart path.
   */
  private async putWholeOfUnknownLength(repository: string, digest: ParsedDigest, chunk: Chunk): Promise<BlobInfo> {
    const record = await this.start(repository, digest.algorithm);
    try {
      await this.appendTo(record, chunk);
      return await this.finish(repository, record.id, digest.digest, { body: null });
    } catch (error) {
      const current = await this.deps.metadata.getUpload(repository, record.id);
      if (current) await this.discard(current);
      throw error;
    }
  }

  /** PUT ?digest=: appends an optional final chunk, checks the digest, and makes the blob visible. */
  async finish(repository: string, id: string, digestParam: string | undefined, chunk: Chunk): Promise<BlobInfo> {
    let record = await this.get(repository, id);
    const digest = parseDigest(digestParam);
    const hasBody = chunk.body !== null && (chunk.length === undefined || chunk.length > 0);
    if (hasBody && record.received === 0 && !chunk.range) {
      try {
        return await this.putWhole(repository, digest, chunk);
      } finally {
        await this.discard(record);
      }
    }
    if (hasBody || chunk.range) record = await this.appendTo(record, chunk);
    if (digest.algorithm !== record.algorithm) {
      throw new RegistryError(
        "DIGEST_INVALID",
        `this upload was hashed with ${record.algorithm}; to push a ${digest.algorithm} blob start the upload with POST ?digest-algorithm=${digest.algorithm}`,
      );
    }
    const hash = await this.restoreHash(record);
    const actual = `${record.algorithm}:${hash.digestHex()}`;
    if (actual !== digest.digest) {
      await this.discard(record);
      throw new RegistryError("DIGEST_INVALID", `the uploaded content has digest ${actual}, not ${digest.digest}; the upload was discarded`);
    }
    const known = await this.deps.metadata.getBlob(digest.digest);
    const info = known ?? (await this.store(record, digest.digest));
    await this.deps.metadata.linkBlob(repository, info);
    await this.deps.metadata.deleteUpload(repository, id);
    if (known) await this.abortStorage(record);
    else if (record.tail) await this.deps.blobs.delete(record.tail.key);
    return info;
  }

  /** DELETE on the upload: aborts the multipart upload and forgets the session. */
  async cancel(repository: string, id: string): Promise<void> {
    await this.discard(await this.get(repository, id));
  }

  /**
   * Expires abandoned uploads: aborts their multipart uploads and deletes their
   * tails, in batches of `batchSize`, stopping after `maxBatches` so one run stays
   * within a platform's time or subrequest limits (the next run takes the rest).
   */
  async expire(olderThanMs: number, { batchSize = 100, maxBatches = 1 } = {}): Promise<number> {
    let expired = 0;
    for (let batch = 0; batch < maxBatches; batch++) {
      const stale = await this.deps.metadata.listStaleUploads(this.deps.now() - olderThanMs, batchSize);
      for (const record of stale) await this.discard(record);
      expired += stale.length;
      if (stale.length < batchSize) break;
    }
    return expired;
  }

  private async appendTo(record: UploadRecord, chunk: Chunk): Promise<UploadRecord> {
    const rangeError = (why: string) =>
      new RegistryError("BLOB_UPLOAD_INVALID", `${why}; the upload has ${record.received} bytes, so the next chunk must start at ${record.received}`, {
        status: 416,
        headers: { Range: rangeHeader(record.received), Location: uploadLocation(record), "Docker-Upload-UUID": record.id },
      });
    if (chunk.range) {
      if (chunk.range.start !== record.received) throw rangeError(`chunk starts at ${chunk.range.start}`);
      if (chunk.length !== undefined && chunk.length !== chunk.range.end - chunk.range.start + 1) {
        throw rangeError(`Content-Range ${chunk.range.start}-${chunk.range.end} does not match Content-Length ${chunk.length}`);
      }
    }
    const length = declaredLength(chunk);
    if (length !== undefined && record.received + length > record.partSize * MAX_PARTS) {
      throw new RegistryError("SIZE_INVALID", `blobs are limited to ${record.partSize * MAX_PARTS} bytes with this registry's part size`, { status: 413 });
    }
    const hash = await this.restoreHash(record);
    const carriedTail = record.tail ? await this.readTail(record) : null;
    let multipart = record.multipart;
    const writer = new PartWriter({
      blobs: this.deps.blobs,
      partSize: record.partSize,
      parts: record.parts,
      carriedTail,
      openUpload: async () => {
        if (!multipart) {
          const key = chunkedBlobKey(record.id);
          multipart = { key, uploadId: await this.deps.blobs.createMultipartUpload(key) };
        }
        return multipart;
      },
      hash,
    });
    let received = record.received;
    const reader = (chunk.body ?? emptyStream()).getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        received += value.byteLength;
        if (length !== undefined && received - record.received > length) throw lengthMismatch(length, received - record.received);
        await writer.write(value);
      }
      if (length !== undefined && received - record.received !== length) throw lengthMismatch(length, received - record.received);
    } catch (error) {
      await reader.cancel().catch(() => {});
      await writer.finish().catch(() => {});
      // Parts written by a failed request are never recorded; a multipart upload it
      // opened would be orphaned, so abort it rather than bump the record's version
      // (which would make the client's immediate resume lose a race it need not).
      if (multipart && !record.multipart) await this.deps.blobs.abortMultipartUpload(multipart.key, multipart.uploadId).catch(() => {});
      throw error;
    }
    const tailBytes = await writer.finish();
    const version = record.version + 1;
    const tail = tailBytes.byteLength > 0 ? { key: uploadTailKey(record.id, this.deps.newId()), size: tailBytes.byteLength } : null;
    if (tail) await this.deps.blobs.put(tail.key, tailBytes, { length: tail.size });
    const next: UploadRecord = {
      ...record,
      version,
      received,
      hashState: toBase64(hash.save()),
      multipart,
      parts: writer.parts,
      tail,
    };
    if (!(await this.deps.metadata.updateUpload(next, record.version))) {
      if (tail) await this.deps.blobs.delete(tail.key);
      if (multipart && !record.multipart) await this.deps.blobs.abortMultipartUpload(multipart.key, multipart.uploadId);
      const current = await this.get(record.repository, record.id);
      throw new RegistryError("BLOB_UPLOAD_INVALID", "another request changed this upload at the same time; resume from the returned Range", {
        status: 416,
        headers: { Range: rangeHeader(current.received), Location: uploadLocation(current), "Docker-Upload-UUID": current.id },
      });
    }
    if (record.tail) await this.deps.blobs.delete(record.tail.key);
    return next;
  }

  private async store(record: UploadRecord, digest: string): Promise<BlobInfo> {
    const tail = record.tail ? await this.readTail(record) : new Uint8Array(0);
    if (!record.multipart) {
      // The whole blob fits in the tail: one small verified put, no multipart upload.
      const key = blobKey(digest);
      const { size } = await this.deps.blobs.put(key, tail, { digest, length: tail.byteLength });
      return this.deps.metadata.putBlobIfAbsent({ digest, size, key });
    }
    const parts = [...record.parts];
    if (tail.byteLength > 0) {
      const partNumber = parts.length + 1;
      const { etag } = await this.deps.blobs.uploadPart(record.multipart.key, record.multipart.uploadId, partNumber, tail);
      parts.push({ partNumber, etag, size: tail.byteLength });
    }
    const { size } = await this.deps.blobs.completeMultipartUpload(
      record.multipart.key,
      record.multipart.uploadId,
      parts.map(({ partNumber, etag }) => ({ partNumber, etag })),
    );
    if (size !== record.received) {
      throw new RegistryError("BLOB_UPLOAD_INVALID", `assembled ${size} bytes but the upload received ${record.received}; push the blob again`);
    }
    return this.deps.metadata.putBlobIfAbsent({ digest, size, key: record.multipart.key });
  }

  private async discard(record: UploadRecord): Promise<void> {
    await this.deps.metadata.deleteUpload(record.repository, record.id);
    await this.abortStorage(record);
  }

  private async abortStorage(record: UploadRecord): Promise<void> {
    if (record.multipart) await this.deps.blobs.abortMultipartUpload(record.multipart.key, record.multipart.uploadId);
    if (record.tail) await this.deps.blobs.delete(record.tail.key);
  }

  private async restoreHash(record: UploadRecord): Promise<ResumableHash> {
    return this.deps.hashing.resumable(record.algorithm, record.hashState ? fromBase64(record.hashState) : undefined);
  }

  private async readTail(record: UploadRecord): Promise<Uint8Array> {
    const tail = record.tail!;
    const object = await this.deps.blobs.get(tail.key);
    if (!object) throw new Error(`upload ${record.id}: tail object ${tail.key} is missing`);
    return readLimited(object.body, tail.size, () => new Error(`upload ${record.id}: tail object is larger than recorded`));
  }

  /** A blob already stored: the body must still match the digest the client claims. */
  private async verifyWithoutStoring(digest: ParsedDigest, chunk: Chunk): Promise<void> {
    const hash = await this.deps.hashing.resumable(digest.algorithm);
    const length = declaredLength(chunk);
    let body = chunk.body ?? emptyStream();
    if (length !== undefined) body = exactLength(body, length);
    for await (const piece of body) hash.update(piece);
    const actual = `${digest.algorithm}:${hash.digestHex()}`;
    if (actual !== digest.digest) throw new RegistryError("DIGEST_INVALID", `the uploaded content has digest ${actual}, not ${digest.digest}`);
  }
}

export function uploadLocation(record: Pick<UploadRecord, "repository" | "id">): string {
  return `/v2/${record.repository}/blobs/uploads/${record.id}`;
}

/** distribution-spec: `Range: 0-<end>` inclusive; Distribution answers `0-0` before any byte. */
export function rangeHeader(received: number): string {
  return `0-${Math.max(received - 1, 0)}`;
}

function declaredLength(chunk: Chunk): number | undefined {
  if (chunk.range) return chunk.range.end - chunk.range.start + 1;
  return chunk.length;
}

function asDigestError(error: unknown, expected: string): unknown {
  if (error instanceof DigestMismatchError) {
    return new RegistryError("DIGEST_INVALID", `the uploaded content has digest ${error.actual}, not ${expected}; nothing was stored`);
  }
  return error;
}

function emptyStream(): ReadableStream<Uint8Array> {
  return new ReadableStream({ start: (controller) => controller.close() });
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}
