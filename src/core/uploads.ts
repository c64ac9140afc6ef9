import type { BlobStore } from "../ports/blob-store.ts";
import { DigestMismatchError, MAX_PARTS, MIN_PART_SIZE, MultipartError } from "../ports/blob-store.ts";
import type { Hashing, ResumableHash } from "../ports/hashing.ts";
import type { BlobInfo, DigestAlgorithm, MetadataStore, UploadPartRecord, UploadRecord } from "../ports/metadata-store.ts";
import { RegistryError } from "./errors.ts";
import { parseDigest, type ParsedDigest } from "./digest.ts";
import { PartWriter } from "./part-writer.ts";
import type { Quotas } from "./quotas.ts";
import { chunkedBlobKey, newBlobKey, uploadTailKey } from "./storage-layout.ts";
import { asReadableStream, exactLength, lengthMismatch, readLimited, type ByteSource } from "./streams.ts";

/**
 * ## One writer at a time: claims
 *
 * The problem. An upload's multipart upload is storage that every request on the upload
 * writes into, and a part number names a slot that a later write of the same number
 * replaces (S3 and R2 say so; the memory and filesystem stores do the same). Two requests
 * that start from the same record (a client retrying a PATCH it believes lost, with the
 * same Content-Range; two closing PUTs) both write part N. The conditional record update
 * lets only one of them record its parts, but by then the loser's part may have replaced
 * the winner's: the recorded ETag no longer matches, and the upload can never complete.
 * A condition checked when a request ends comes too late; a loser must be stopped before
 * it writes. And the request that stops it may run in another process, isolate or Lambda:
 * the one thing they all share is the metadata store's conditional `updateUpload`
 * (compare-and-set on `version`), so that is the only mechanism used. In-process locks
 * (the filesystem store's) cannot see another process and guard nothing here.
 *
 * Claim, write, commit. A request (PATCH, or the closing PUT) first claims the upload: a
 * conditional update that bumps `version` and sets `writer` = {random token, expiresAt}.
 * It has read the record and checked its Content-Range first, so a request refused for its
 * range writes nothing either. A request that finds a live claim, or loses the conditional
 * write, answers 416 with the recorded Range, having written nothing. The winner writes its
 * parts and tail, then records them with one conditional update on the version it holds
 * that also clears the claim: a PATCH costs one metadata write more than before (the claim).
 * On failure it releases the claim (a conditional update clearing it and nothing else)
 * after its part uploads in flight have settled, so none of them lands later. The parts it
 * wrote beyond the recorded ones are named by no record: the next writer overwrites them
 * (it starts at the same part number), and completion lists only recorded parts. A client
 * that drops a PATCH and resumes at once gets 416 until the dropped request has released,
 * then succeeds (test/e2e/chunked-push.ts asks for the Range again after a 416).
 *
 * Expiry. A claim lasts CLAIM_TTL_MS after the conditional write that last set it, so a
 * claim left by a crashed process (or a Worker cancelled because its client went away,
 * which runs no cleanup) holds the upload up for at most that long; then the next request
 * takes it over with the same conditional write. A live writer renews its claim once a
 * third of that time has passed since its last conditional write, checked as every piece
 * of the body arrives and before every part upload, so a long streamed PATCH of many GiB
 * keeps it (a renewal is one conditional write per 10 s of writing). A client that sends
 * nothing for longer may find its upload taken over. The multipart upload is recorded
 * (the same kind of write) as soon as it is opened, so a crash never orphans it and the
 * expiry sweep aborts it. Clocks only decide when a takeover is allowed; which request
 * wins is always decided by `version`.
 *
 * A stalled writer. A writer starts a part upload only while its claim is confirmed: less
 * than a third of CLAIM_TTL_MS after a conditional write it won, so at least two thirds of
 * it before any other request may take over. A writer whose renewal fails has lost the
 * claim: it writes no further part, deletes its tail, and cannot commit (its conditional
 * write names a version that is gone). What no store lets us prevent is a part upload
 * started in time that reaches storage more than 20 s later, after a takeover, replacing
 * the new writer's part of the same number: S3 and R2 have no conditional part writes, and
 * part numbers cannot simply move on after a takeover (S3 with per-part checksums, S3
 * Express and possibly R2 refuse gaps in them). Even that is never silent: every store
 * checks each listed part's ETag when completing (S3 and R2 ETags are MD5s of the bytes,
 * so identical bytes still pass), and the PUT then answers 400 BLOB_UPLOAD_INVALID and
 * discards the upload, rather than assembling other bytes or failing with a 500; the
 * client pushes the blob again.
 *
 * Finishing. The closing PUT claims the upload like a PATCH, so of two concurrent PUTs
 * only one assembles the blob; the other gets 416, or 404 BLOB_UPLOAD_UNKNOWN once the
 * winner has deleted the record. Two uploads of the same blob may finish at once, each
 * under its own claim: both assemble, the blob index keeps the first, and the second
 * deletes its own assembled copy, which no record names.
 *
 * Alternatives. Fresh part numbers per attempt (a claim reserving a range, a takeover
 * moving past it) would fence stalled writers off entirely, but leaves gaps some stores
 * refuse and spends the 10,000 part numbers a blob has; content-derived ETags make
 * identical retries harmless, not different bytes at the same offset.
 */
export const CLAIM_TTL_MS = 30_000;

export interface UploadDeps {
  blobs: BlobStore;
  metadata: MetadataStore;
  hashing: Hashing;
  /** Size of every non-final multipart part. */
  partSize: number;
  now: () => number;
  newId: () => string;
  /** How long a writer's claim lasts unrenewed (default CLAIM_TTL_MS). */
  claimTtlMs?: number;
  /** Refuses a push that would take its namespace over its quota (core/quotas.ts). */
  quotas?: Quotas;
  /**
   * Names this process in its claims' tokens (`<owner>/<id>`), so a supervisor that knows
   * the process died can release them at once instead of waiting for them to expire.
   */
  claimOwner?: string;
}

/** A chunk as the client sent it: the body and what its headers promised. */
export interface Chunk {
  body: ByteSource | null;
  /** Parsed `Content-Range: <start>-<end>` (inclusive), if sent. */
  range?: { start: number; end: number };
  /** `Content-Length`, if sent. */
  length?: number;
}

/** What a request changes in the upload record after writing a chunk. */
type Appended = Pick<UploadRecord, "received" | "hashState" | "multipart" | "parts" | "tail">;

/**
 * The upload engine (distribution-spec § Pushing blobs). Each request is
 * stateless: the upload record carries the multipart upload, its parts, the
 * saved hash state and the tail. A request writes to storage only under a claim
 * on the record, taken and released by conditional writes (see above).
 */
export class Uploads {
  private readonly deps: UploadDeps;
  private readonly claimTtlMs: number;

  constructor(deps: UploadDeps) {
    if (deps.partSize < MIN_PART_SIZE) throw new Error(`partSize must be at least ${MIN_PART_SIZE} bytes`);
    this.deps = deps;
    this.claimTtlMs = deps.claimTtlMs ?? CLAIM_TTL_MS;
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
    if (!record) throw unknownUpload(repository, id);
    return record;
  }

  /** PATCH: appends a chunk; answers 416 when it does not start where the last one ended, or another request is writing. */
  async append(repository: string, id: string, chunk: Chunk): Promise<UploadRecord> {
    const record = await this.get(repository, id);
    checkChunk(record, chunk);
    // The bytes received so far are not stored as a blob yet: they count with this chunk.
    const declared = declaredLength(chunk);
    if (declared !== undefined) await this.deps.quotas?.check(repository, record.received + declared);
    const claim = await this.claim(record);
    let appended: { changes: Appended; replacedTail: string | null } | null = null;
    try {
      appended = await this.appendTo(claim, chunk);
      if (!(await claim.commit(appended.changes))) throw await claim.lost();
    } catch (error) {
      if (appended?.changes.tail) await this.deps.blobs.delete(appended.changes.tail.key).catch(() => {});
      if (appended) await this.discardParts(appended.changes.multipart, appended.changes.parts.slice(record.parts.length));
      await this.release(claim);
      throw error;
    }
    if (appended.replacedTail) await this.deps.blobs.delete(appended.replacedTail);
    return claim.record;
  }

  /**
   * Monolithic push (POST ?digest= or a PUT carrying the whole blob): the
   * store verifies the digest while writing, so the bytes land once at their
   * content-addressed key, and with a native one-shot hash where there is one.
   *
   * A digest the registry already holds takes the same path: written, verified, and
   * only then found indexed, when our copy is dropped (indexOrDiscard). Skipping the
   * write for it would save one, but then a caller who may push anywhere could send
   * wrong bytes with any digest and tell from the answer or its timing whether another
   * team holds that digest (docs/auth.md promises no such probe). Only a caller whose
   * bytes match, who therefore has the content, reaches the point where the paths part.
   */
  async putWhole(repository: string, digest: ParsedDigest, chunk: Chunk): Promise<BlobInfo> {
    const declared = declaredLength(chunk);
    if (declared !== undefined) await this.deps.quotas?.check(repository, declared, digest.digest);
    const length = declaredLength(chunk);
    if (length === undefined) return this.putWholeOfUnknownLength(repository, digest, chunk);
    const key = newBlobKey(digest.digest, this.deps.newId());
    const body = exactLength(chunk.body ? asReadableStream(chunk.body) : emptyStream(), length);
    let size: number;
    try {
      ({ size } = await this.deps.blobs.put(key, body, { digest: digest.digest, length }));
    } catch (error) {
      throw asDigestError(error);
    }
    const info = await this.indexOrDiscard({ digest: digest.digest, size, key });
    if (!(await this.deps.metadata.linkBlob(repository, info))) throw collectedMeanwhile(digest.digest);
    return info;
  }

  /**
   * A whole blob sent without a length (chunked transfer encoding): R2 and S3
   * need a known length for a single put, so the bytes take the multipart path.
   */
  private async putWholeOfUnknownLength(repository: string, digest: ParsedDigest, chunk: Chunk): Promise<BlobInfo> {
    const record = await this.start(repository, digest.algorithm);
    try {
      await this.append(repository, record.id, chunk);
      return await this.finish(repository, record.id, digest.digest, { body: null });
    } catch (error) {
      const current = await this.deps.metadata.getUpload(repository, record.id);
      if (current) await this.discard(current);
      throw error;
    }
  }

  /** PUT ?digest=: appends an optional final chunk, checks the digest, and makes the blob visible. */
  async finish(repository: string, id: string, digestParam: string | undefined, chunk: Chunk): Promise<BlobInfo> {
    const record = await this.get(repository, id);
    const digest = parseDigest(digestParam);
    const hasBody = chunk.body !== null && (chunk.length === undefined || chunk.length > 0);
    const whole = hasBody && record.received === 0 && !chunk.range;
    if (!whole && (hasBody || chunk.range)) checkChunk(record, chunk);
    // The spec only says the POST SHOULD name the algorithm: a PUT naming another one is checked by
    // reading the assembled blob back once (see `store`), the cost paid only by such uploads.
    const rehash = !whole && digest.algorithm !== record.algorithm;
    if (!whole && hasBody && declaredLength(chunk) !== undefined) await this.deps.quotas?.check(repository, record.received + declaredLength(chunk)!);
    // Claimed even for a whole blob, so no PATCH writes to the upload while it is discarded.
    const claim = await this.claim(record);
    let settled = false;
    try {
      if (whole) {
        settled = true;
        try {
          return await this.putWhole(repository, digest, chunk);
        } finally {
          await this.discard(claim.record);
        }
      }
      if (hasBody || chunk.range) {
        const { changes, replacedTail } = await this.appendTo(claim, chunk);
        try {
          await claim.write(changes);
        } catch (error) {
          if (changes.tail) await this.deps.blobs.delete(changes.tail.key).catch(() => {});
          throw error;
        }
        if (replacedTail) await this.deps.blobs.delete(replacedTail);
      }
      const current = claim.record;
      if (!rehash) {
        const hash = await this.restoreHash(current);
        const actual = `${current.algorithm}:${hash.digestHex()}`;
        if (actual !== digest.digest) {
          settled = true;
          await this.discard(current);
          throw digestMismatch(actual, "the upload was discarded");
        }
      }
      // The size is known now, whatever the client declared along the way: the last quota check.
      try {
        await this.deps.quotas?.check(repository, current.received, digest.digest);
      } catch (error) {
        settled = true;
        await this.discard(current);
        throw error;
      }
      // Bytes not yet checked against the digest are never linked to a blob already held.
      const known = rehash ? null : await this.deps.metadata.getBlob(digest.digest);
      let info = known ?? (await this.store(claim, digest.digest, rehash));
      let ownBytes = known === null;
      settled = true;
      if (!(await this.deps.metadata.linkBlob(repository, info))) {
        // Garbage collection removed the known blob between the read and the link: this upload still has the bytes.
        if (ownBytes) throw collectedMeanwhile(digest.digest);
        info = await this.store(claim, digest.digest);
        ownBytes = true;
        if (!(await this.deps.metadata.linkBlob(repository, info))) throw collectedMeanwhile(digest.digest);
      }
      await this.deps.metadata.deleteUpload(repository, id);
      if (!ownBytes) await this.abortStorage(current);
      else if (current.tail) await this.deps.blobs.delete(current.tail.key);
      return info;
    } catch (error) {
      if (!settled) await this.release(claim);
      throw error;
    }
  }

  /** DELETE on the upload: aborts the multipart upload and forgets the session. */
  async cancel(repository: string, id: string): Promise<void> {
    await this.discard(await this.get(repository, id));
  }

  /**
   * Expires abandoned uploads, those no request has changed for `olderThanMs`: aborts
   * their multipart uploads and deletes their tails, in batches of `batchSize`, stopping
   * after `maxBatches` so one run stays within a platform's time or subrequest limits (the
   * next run takes the rest). Stores that index uploads by creation (Durable Objects,
   * DynamoDB) may list an upload still being written; its `updatedAt` spares it.
   */
  async expire(olderThanMs: number, { batchSize = 100, maxBatches = 1 } = {}): Promise<number> {
    const cutoff = this.deps.now() - olderThanMs;
    let expired = 0;
    for (let batch = 0; batch < maxBatches; batch++) {
      const listed = await this.deps.metadata.listStaleUploads(cutoff, batchSize);
      for (const record of listed) {
        if ((record.updatedAt ?? record.createdAt) >= cutoff) continue;
        await this.discard(record);
        expired++;
      }
      if (listed.length < batchSize) break;
    }
    return expired;
  }

  /**
   * Parts this request wrote that no record will name (it failed: a stalled or broken body, a full
   * disk, a lost claim): removed where the store can (local disk), so a failed PATCH leaves no
   * bytes behind; elsewhere the retry replaces them or the upload's abort frees them.
   */
  private async discardParts(multipart: { key: string; uploadId: string } | null | undefined, parts: UploadPartRecord[]): Promise<void> {
    const { blobs } = this.deps;
    if (!multipart || !blobs.discardPart) return;
    for (const part of parts) await blobs.discardPart(multipart.key, multipart.uploadId, part).catch(() => {});
  }

  /**
   * Takes the upload for this request: a conditional write of a fresh `writer`, allowed when
   * there is none or it has expired. Throws 416 (with the recorded Range) when another
   * request holds it or wins it, 404 when the upload is gone; either way nothing was written.
   */
  private async claim(record: UploadRecord): Promise<Claim> {
    const now = this.deps.now();
    if (record.writer && record.writer.expiresAt > now) throw busy(record);
    const token = this.deps.claimOwner ? `${this.deps.claimOwner}/${this.deps.newId()}` : this.deps.newId();
    const claim = new Claim(this.deps.metadata, this.deps.now, this.claimTtlMs, token, record);
    if (await claim.take()) return claim;
    throw await claim.lost();
  }

  /**
   * After a failure: lets go of the claim so the client's retry need not wait for it to
   * expire. The record is otherwise left as it was; a multipart upload opened by this
   * request stays recorded (the next writer uses it), unless the record is gone (a DELETE
   * or the expiry sweep overlapped), when nothing else would abort it.
   */
  private async release(claim: Claim): Promise<void> {
    if (await claim.commit({}).catch(() => false)) return;
    if (claim.opened && !(await this.deps.metadata.getUpload(claim.record.repository, claim.record.id).catch(() => claim.record))) {
      await this.deps.blobs.abortMultipartUpload(claim.opened.key, claim.opened.uploadId).catch(() => {});
    }
  }

  /**
   * Writes a chunk (full parts, then the rest as a new tail object) under `claim` and
   * returns what the record must change to; the caller records it. On failure the tail
   * it may have written is its own to delete only once the write is known not to be recorded.
   */
  private async appendTo(claim: Claim, chunk: Chunk): Promise<{ changes: Appended; replacedTail: string | null }> {
    const record = claim.record;
    const length = declaredLength(chunk);
    const hash = await this.restoreHash(record);
    const carriedTail = record.tail ? await this.readTail(record) : null;
    const writer = new PartWriter({
      blobs: this.deps.blobs,
      partSize: record.partSize,
      parts: record.parts,
      carriedTail,
      openUpload: async () => {
        if (claim.record.multipart) return claim.record.multipart;
        const key = chunkedBlobKey(record.id);
        const multipart = { key, uploadId: await this.deps.blobs.createMultipartUpload(key) };
        claim.opened = multipart;
        try {
          await claim.write({ multipart });
        } catch (error) {
          claim.opened = null;
          await this.deps.blobs.abortMultipartUpload(key, multipart.uploadId).catch(() => {});
          throw error;
        }
        return multipart;
      },
      beforePart: () => claim.keep(),
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
        // Per chunk (about 1,300 per 64 MiB): no promise unless the claim is due or a part filled.
        if (claim.renewalDue()) await claim.keep();
        const flushing = writer.write(value);
        if (flushing) await flushing;
        // Copied into a part buffer (a chunk of a part's size or more may be stored as it is).
        if (value.byteLength < record.partSize && "recycle" in reader) reader.recycle?.(value);
      }
      if (length !== undefined && received - record.received !== length) throw lengthMismatch(length, received - record.received);
    } catch (error) {
      await reader.cancel().catch(() => {});
      // Waits for the part uploads in flight: none of them may land after the claim is released.
      await writer.finish().catch(() => {});
      await this.discardParts(claim.record.multipart, writer.parts.slice(record.parts.length));
      throw error;
    }
    const tailBytes = await writer.finish();
    const tail = tailBytes.byteLength > 0 ? { key: uploadTailKey(record.id, this.deps.newId()), size: tailBytes.byteLength } : null;
    if (tail) await this.deps.blobs.put(tail.key, tailBytes, { length: tail.size });
    return {
      changes: { received, hashState: toBase64(hash.save()), multipart: claim.record.multipart, parts: writer.parts, tail },
      replacedTail: record.tail?.key ?? null,
    };
  }

  /**
   * Makes the upload's bytes the blob `digest` names and indexes them. `rehash`: the digest is of
   * another algorithm than the upload hashed with, so the assembled bytes are read back once and
   * hashed with it before anything indexes them; a mismatch discards the upload (DIGEST_INVALID).
   */
  private async store(claim: Claim, digest: string, rehash = false): Promise<BlobInfo> {
    const record = claim.record;
    const tail = record.tail ? await this.readTail(record) : new Uint8Array(0);
    if (!record.multipart) {
      // The whole blob fits in the tail: one small verified put (whatever the algorithm), no multipart upload.
      const key = newBlobKey(digest, this.deps.newId());
      try {
        const { size } = await this.deps.blobs.put(key, tail, { digest, length: tail.byteLength });
        return await this.indexOrDiscard({ digest, size, key });
      } catch (error) {
        if (!(error instanceof DigestMismatchError)) throw error;
        await this.discard(record);
        throw digestMismatch(error.actual, "the upload was discarded");
      }
    }
    const { key, uploadId } = record.multipart;
    // A finish that died after completing the multipart upload, before recording it, left the
    // blob at its key (which belongs to this upload alone; its digest was checked against the
    // hash state before completing, or is checked now by reading it back): a retry takes it as it is.
    const assembled = await this.deps.blobs.head(key);
    if (assembled && assembled.size === record.received) return this.indexOrDiscard(await this.checkedByRereading(record, { digest, size: assembled.size, key }, rehash));
    const parts = [...record.parts];
    if (tail.byteLength > 0) {
      const partNumber = parts.length + 1;
      await claim.keep();
      const { etag } = await this.deps.blobs.uploadPart(key, uploadId, partNumber, tail);
      parts.push({ partNumber, etag, size: tail.byteLength });
    }
    await claim.keep();
    let size: number;
    try {
      ({ size } = await this.deps.blobs.completeMultipartUpload(
        key,
        uploadId,
        parts.map(({ partNumber, etag }) => ({ partNumber, etag })),
      ));
    } catch (error) {
      if (!(error instanceof MultipartError)) throw error;
      // The stored parts are not the recorded ones (see "A stalled writer" above): what
      // was received is lost, so say so plainly rather than fail with a 500 on every retry.
      await this.discard(record);
      throw new RegistryError("BLOB_UPLOAD_INVALID", `the upload's stored parts do not match its record (${error.message}); it was discarded, push the blob again`);
    }
    if (size !== record.received) {
      // A part lost bytes after it was acknowledged (parts are flushed only at completion: an OS
      // crash can shorten one; storage-layout.ts, "Durability"). Nothing will index this key.
      await this.deps.blobs.delete(key);
      await this.discard(record);
      throw new RegistryError("BLOB_UPLOAD_INVALID", `assembled ${size} bytes but the upload received ${record.received}; it was discarded, push the blob again`);
    }
    return this.indexOrDiscard(await this.checkedByRereading(record, { digest, size, key }, rehash));
  }

  /** With `rehash`, reads the assembled blob once and hashes it with its digest's algorithm; a mismatch discards the upload. */
  private async checkedByRereading(record: UploadRecord, assembled: BlobInfo, rehash: boolean): Promise<BlobInfo> {
    if (!rehash) return assembled;
    const { algorithm } = parseDigest(assembled.digest);
    const object = await this.deps.blobs.get(assembled.key);
    if (!object) throw new Error(`upload ${record.id}: assembled blob ${assembled.key} is missing`);
    const hash = await this.deps.hashing.resumable(algorithm);
    const reader = object.body.getReader();
    for (let read = await reader.read(); !read.done; read = await reader.read()) hash.update(read.value);
    const actual = `${algorithm}:${hash.digestHex()}`;
    if (actual === assembled.digest) return assembled;
    await this.deps.blobs.delete(assembled.key);
    await this.discard(record);
    throw digestMismatch(actual, "the upload was discarded");
  }

  /** Indexes bytes just written; when another write of the digest was indexed first, nothing will ever name ours. */
  private async indexOrDiscard(written: BlobInfo): Promise<BlobInfo> {
    const info = await this.deps.metadata.putBlobIfAbsent(written);
    if (info.key !== written.key) await this.deps.blobs.delete(written.key);
    return info;
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

}

/**
 * Garbage collection removed the blob's index entry (after it had been unreferenced for the
 * whole grace period) between this push indexing or finding it and linking it: rare, and
 * safe (nothing is linked to missing bytes), but the push must be made again.
 */
function collectedMeanwhile(digest: string): RegistryError {
  return new RegistryError("BLOB_UPLOAD_INVALID", `blob ${digest} was garbage-collected while this push ran; push it again`);
}

export function uploadLocation(record: Pick<UploadRecord, "repository" | "id">): string {
  return `/v2/${record.repository}/blobs/uploads/${record.id}`;
}

/** distribution-spec: `Range: 0-<end>` inclusive; Distribution answers `0-0` before any byte. */
export function rangeHeader(received: number): string {
  return `0-${Math.max(received - 1, 0)}`;
}

/**
 * A request's claim on an upload (see "One writer at a time" above). `record` is the
 * record as this request last wrote it, which is the stored one while the claim holds.
 */
class Claim {
  record: UploadRecord;
  /** A multipart upload this request opened and recorded: the request aborts it if the record vanishes. */
  opened: { key: string; uploadId: string } | null = null;
  readonly #metadata: MetadataStore;
  readonly #now: () => number;
  readonly #ttl: number;
  readonly #token: string;
  /** When this request sent the last conditional write it won, by its own clock. */
  #confirmedAt = Number.NEGATIVE_INFINITY;

  constructor(metadata: MetadataStore, now: () => number, ttl: number, token: string, record: UploadRecord) {
    this.#metadata = metadata;
    this.#now = now;
    this.#ttl = ttl;
    this.#token = token;
    this.record = record;
  }

  /** The claiming write; false when another request changed the record first. */
  async take(): Promise<boolean> {
    if (await this.#write({}, true)) return true;
    // A write that succeeded but whose answer was lost fails its condition when the
    // client retries it (the DynamoDB SDK does): the token tells this claim from another's.
    const current = await this.#metadata.getUpload(this.record.repository, this.record.id).catch(() => null);
    if (!current?.writer || current.writer.token !== this.#token) return false;
    this.record = current;
    this.#confirmedAt = current.writer.expiresAt - this.#ttl;
    return true;
  }

  /**
   * Called before every part upload and as the body arrives: renews the claim once a
   * third of its time has passed, so a part is only ever started under a live claim.
   * Throws (416, or 404 when the upload is gone) when the claim was lost.
   */
  async keep(): Promise<void> {
    if (this.renewalDue()) await this.write({});
  }

  /** A third of the claim's time has passed since it was last confirmed: `keep` will write. */
  renewalDue(): boolean {
    return this.#now() - this.#confirmedAt >= this.#ttl / 3;
  }

  /** Records `changes` and renews the claim, in one conditional write; throws like `keep` when the claim was lost. */
  async write(changes: Partial<UploadRecord>): Promise<void> {
    if (!(await this.#write(changes, true))) throw await this.lost();
  }

  /** Records `changes` and clears the claim, in one conditional write; false when the claim was lost. */
  async commit(changes: Partial<UploadRecord>): Promise<boolean> {
    return this.#write(changes, false);
  }

  /** The answer for a request that lost its claim: 416 with the Range recorded now, or 404. */
  async lost(): Promise<RegistryError> {
    const current = await this.#metadata.getUpload(this.record.repository, this.record.id);
    if (!current) return unknownUpload(this.record.repository, this.record.id);
    return rangeError(current, "another request took this upload over while this one was writing; resume from the returned Range");
  }

  async #write(changes: Partial<UploadRecord>, keep: boolean): Promise<boolean> {
    const sent = this.#now();
    const next: UploadRecord = {
      ...this.record,
      ...changes,
      version: this.record.version + 1,
      updatedAt: sent,
      writer: keep ? { token: this.#token, expiresAt: sent + this.#ttl } : null,
    };
    if (!(await this.#metadata.updateUpload(next, this.record.version))) return false;
    this.record = next;
    this.#confirmedAt = sent;
    return true;
  }
}

/** Checks a chunk against the record before anything is claimed or written: 416 or 413 when it cannot be appended. */
function checkChunk(record: UploadRecord, chunk: Chunk): void {
  const where = `the upload has ${record.received} bytes, so the next chunk must start at ${record.received}`;
  if (chunk.range) {
    if (chunk.range.start !== record.received) throw rangeError(record, `chunk starts at ${chunk.range.start}; ${where}`);
    if (chunk.length !== undefined && chunk.length !== chunk.range.end - chunk.range.start + 1) {
      throw rangeError(record, `Content-Range ${chunk.range.start}-${chunk.range.end} does not match Content-Length ${chunk.length}; ${where}`);
    }
  }
  const length = declaredLength(chunk);
  if (length !== undefined && record.received + length > record.partSize * MAX_PARTS) {
    throw new RegistryError("SIZE_INVALID", `blobs are limited to ${record.partSize * MAX_PARTS} bytes with this registry's part size`, { status: 413 });
  }
}

/** Another request holds a live claim on the upload. */
function busy(record: UploadRecord): RegistryError {
  return rangeError(record, "another request is writing to this upload; resume from the returned Range once it is done");
}

function rangeError(record: UploadRecord, message: string): RegistryError {
  return new RegistryError("BLOB_UPLOAD_INVALID", message, {
    status: 416,
    headers: { Range: rangeHeader(record.received), Location: uploadLocation(record), "Docker-Upload-UUID": record.id },
  });
}

function unknownUpload(repository: string, id: string): RegistryError {
  return new RegistryError("BLOB_UPLOAD_UNKNOWN", `no upload ${id} in ${repository}; start a new one with POST`);
}

function declaredLength(chunk: Chunk): number | undefined {
  if (chunk.range) return chunk.range.end - chunk.range.start + 1;
  return chunk.length;
}

function asDigestError(error: unknown): unknown {
  return error instanceof DigestMismatchError ? digestMismatch(error.actual, "nothing was stored") : error;
}

/**
 * The bytes do not hash to the requested digest. The text names only what the bytes
 * are, not the digest asked for: the answer to wrong bytes is then the same, byte for
 * byte, whatever digest they were sent under (held elsewhere in the registry or not).
 */
function digestMismatch(actual: string, outcome: string): RegistryError {
  return new RegistryError("DIGEST_INVALID", `the uploaded content has digest ${actual}, not the digest the request named; ${outcome}`);
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
