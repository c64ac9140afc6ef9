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
  type ListableObjects,
  type ListedObject,
} from "../../ports/blob-store.ts";
import { checkLength, checkPartNumber, chunksOf, parseExpectedDigest, type ExpectedDigest } from "../blob-rules.ts";
import { isR2Error, R2_BAD_DIGEST, R2_INTERNAL_ERROR, R2_MULTIPART_RULES } from "./errors.ts";

/**
 * A streamed body of unknown length is read into memory up to this size and
 * put whole: R2 needs the length of a streamed body up front. The registry
 * always passes the length of anything larger (ports/blob-store.ts).
 */
export const MAX_UNSIZED_PUT = 16 * 1024 * 1024;

/**
 * Blobs in an R2 bucket, one object per key (layout in core/storage-layout.ts).
 * R2 enforces the multipart rules of the port itself (equal parts of at least
 * 5 MiB, ETags checked on completion) and verifies digests while writing, so
 * this adapter mostly translates: bodies into the known-length form R2 needs,
 * R2's errors into the port's.
 */
export class R2BlobStore implements BlobStore, ListableObjects {
  readonly #bucket: R2Bucket;

  constructor(bucket: R2Bucket) {
    this.#bucket = bucket;
  }

  async *listObjects(prefix: string): AsyncIterable<ListedObject[]> {
    let cursor: string | undefined;
    for (;;) {
      const page = await this.#bucket.list({ prefix, ...(cursor ? { cursor } : {}) });
      yield page.objects.map((object) => ({ key: object.key, size: object.size, lastModified: object.uploaded.getTime() }));
      if (!page.truncated) return;
      cursor = page.cursor;
    }
  }

  async put(key: string, body: BlobBody | Uint8Array, options: PutOptions = {}): Promise<ObjectInfo> {
    const expected = options.digest === undefined ? undefined : parseExpectedDigest(options.digest);
    if (body instanceof Uint8Array) {
      checkLength(options.length, body.byteLength);
      return this.#putBytes(key, body, expected);
    }
    if (options.length === undefined) return this.#putBytes(key, await readUnsized(body), expected);
    return this.#putStream(key, body, options.length, expected);
  }

  async get(key: string, range?: ByteRange): Promise<ObjectRead | null> {
    const object = await this.#bucket.get(key, range ? { range: { offset: range.offset, length: range.length } } : {});
    return object ? { body: object.body, size: object.size } : null;
  }

  async head(key: string): Promise<ObjectInfo | null> {
    const object = await this.#bucket.head(key);
    return object ? { size: object.size } : null;
  }

  async delete(key: string): Promise<void> {
    await this.#bucket.delete(key);
  }

  async createMultipartUpload(key: string): Promise<string> {
    return (await this.#bucket.createMultipartUpload(key)).uploadId;
  }

  async uploadPart(key: string, uploadId: string, partNumber: number, body: Uint8Array): Promise<UploadedPart> {
    checkPartNumber(partNumber);
    try {
      const part = await this.#bucket.resumeMultipartUpload(key, uploadId).uploadPart(partNumber, body);
      return { partNumber: part.partNumber, etag: part.etag };
    } catch (error) {
      throw asMultipartError(error, R2_MULTIPART_RULES);
    }
  }

  async completeMultipartUpload(key: string, uploadId: string, parts: UploadedPart[]): Promise<ObjectInfo> {
    // R2 would complete an empty object from an empty list; the port calls that a mistake.
    if (parts.length === 0) throw new MultipartError("a multipart upload needs at least one part");
    for (const { partNumber } of parts) checkPartNumber(partNumber);
    try {
      const object = await this.#bucket.resumeMultipartUpload(key, uploadId).complete(parts.map(({ partNumber, etag }) => ({ partNumber, etag })));
      return { size: object.size };
    } catch (error) {
      // Local R2 answers 10001 (internal error) rather than 10024 for an upload id it never issued.
      throw asMultipartError(error, [...R2_MULTIPART_RULES, R2_INTERNAL_ERROR]);
    }
  }

  async abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    try {
      await this.#bucket.resumeMultipartUpload(key, uploadId).abort();
    } catch (error) {
      // An unknown upload is not an error (the port's rule). Local R2 reports one as 10001; an
      // abort lost to a real internal error leaves parts that R2 deletes after 7 days anyway.
      if (!isR2Error(error, [...R2_MULTIPART_RULES, R2_INTERNAL_ERROR])) throw error;
    }
  }

  async #putBytes(key: string, bytes: Uint8Array, expected: ExpectedDigest | undefined): Promise<ObjectInfo> {
    try {
      const object = await this.#bucket.put(key, bytes, expected ? digestOption(expected) : {});
      return { size: object.size };
    } catch (error) {
      if (expected && isR2Error(error, [R2_BAD_DIGEST])) throw new DigestMismatchError(expected.digest, await digestOf(expected, bytes));
      throw error;
    }
  }

  /**
   * R2 takes a stream only with a known length, which a FixedLengthStream
   * gives; it fails the put, storing nothing, when the body is shorter or
   * longer. The digest is computed alongside (natively, by a DigestStream)
   * only to name the actual digest when R2 refuses the expected one.
   */
  async #putStream(key: string, body: BlobBody, length: number, expected: ExpectedDigest | undefined): Promise<ObjectInfo> {
    const fixed = new FixedLengthStream(length);
    const digest = expected ? new crypto.DigestStream(webCryptoName(expected)) : null;
    const piped = (digest ? body.pipeThrough(tee(digest)) : body).pipeTo(fixed.writable);
    const stored = this.#bucket.put(key, fixed.readable, expected ? digestOption(expected) : {});
    const [put, pipe] = await Promise.allSettled([stored, piped]);
    if (put.status === "fulfilled" && pipe.status === "fulfilled") return { size: put.value.size };
    if (put.status === "rejected" && expected && digest && isR2Error(put.reason, [R2_BAD_DIGEST])) {
      throw new DigestMismatchError(expected.digest, `${expected.algorithm}:${hex(await digest.digest)}`);
    }
    // The body's own failure (too long, too short, a client gone) explains more than R2's.
    if (pipe.status === "rejected") throw pipe.reason;
    throw (put as PromiseRejectedResult).reason;
  }
}

/** Passes chunks through while feeding them to `sink`. */
function tee(sink: WritableStream<ArrayBufferView>): TransformStream<Uint8Array, Uint8Array> {
  const writer = sink.getWriter();
  return new TransformStream({
    async transform(chunk, controller) {
      await writer.write(chunk);
      controller.enqueue(chunk);
    },
    async flush() {
      await writer.close();
    },
  });
}

async function readUnsized(body: BlobBody): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of chunksOf(body)) {
    size += chunk.byteLength;
    if (size > MAX_UNSIZED_PUT) throw new Error(`R2BlobStore.put needs the length of a streamed body larger than ${MAX_UNSIZED_PUT} bytes`);
    chunks.push(chunk);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

function digestOption(expected: ExpectedDigest): R2PutOptions {
  const hexDigest = expected.digest.slice(expected.algorithm.length + 1);
  return expected.algorithm === "sha256" ? { sha256: hexDigest } : { sha512: hexDigest };
}

function webCryptoName(expected: ExpectedDigest): string {
  return expected.algorithm === "sha256" ? "SHA-256" : "SHA-512";
}

async function digestOf(expected: ExpectedDigest, bytes: Uint8Array): Promise<string> {
  return `${expected.algorithm}:${hex(await crypto.subtle.digest(webCryptoName(expected), bytes))}`;
}

function hex(buffer: ArrayBuffer): string {
  return Array.from(new Uint8Array(buffer), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

function asMultipartError(error: unknown, codes: readonly number[]): unknown {
  return isR2Error(error, codes) ? new MultipartError((error as Error).message) : error;
}
