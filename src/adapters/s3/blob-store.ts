import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { Readable } from "node:stream";
import {
  MultipartError,
  type BlobBody,
  type BlobStore,
  type ByteRange,
  type ObjectInfo,
  type ObjectRead,
  type PresignedReads,
  type PutOptions,
  type UploadedPart,
  type ListableObjects,
  type ListedObject,
} from "../../ports/blob-store.ts";
import { checkCompletion, checkLength, checkPartNumber, chunksOf, parseExpectedDigest, type ExpectedDigest, type StoredPart } from "../blob-rules.ts";
import { isMissingObject, isMissingUpload, isRejectedCompletion } from "./errors.ts";
import { putOfUnknownLength } from "./unknown-length-put.ts";
import { assertDigest, digestHex, sha256Checksum, verifiedChunks } from "./verified-body.ts";

export interface S3BlobStoreOptions {
  client: S3Client;
  bucket: string;
}

/** Bodies up to this size are read into memory, checked, then sent in one request. */
const SMALL_BODY = 1024 * 1024;

/**
 * Blobs in one S3 bucket (AWS S3, or another implementation such as Ceph
 * RGW). Keys are core/storage-layout.ts's, unprefixed. Every body streams;
 * digests are verified here as the bytes pass (see verified-body.ts), and
 * S3 is also given the sha256 to verify what it received. S3 accepts unequal
 * multipart parts, so the port's stricter rules are checked against
 * ListParts before completing.
 *
 * No write is conditional (`If-None-Match: *`): the port's `put` replaces
 * (tails), content-addressed keys only ever receive verified identical
 * bytes, and multipart keys are unique per upload, so a condition would
 * guard nothing. The races that matter are settled in the metadata store.
 */
export class S3BlobStore implements BlobStore, PresignedReads, ListableObjects {
  readonly #client: S3Client;
  readonly #bucket: string;

  constructor(options: S3BlobStoreOptions) {
    this.#client = options.client;
    this.#bucket = options.bucket;
  }
  async *listObjects(prefix: string): AsyncIterable<ListedObject[]> {
    let token: string | undefined;
    do {
      const page = await this.#client.send(new ListObjectsV2Command({ Bucket: this.#bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
      yield (page.Contents ?? []).flatMap((o) => (o.Key ? [{ key: o.Key, size: o.Size ?? 0, lastModified: o.LastModified?.getTime() ?? 0 }] : []));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }


  async put(key: string, body: BlobBody | Uint8Array, options: PutOptions = {}): Promise<ObjectInfo> {
    const expected = options.digest === undefined ? undefined : parseExpectedDigest(options.digest);
    if (body instanceof Uint8Array) {
      checkLength(options.length, body.byteLength);
      return this.#putBytes(key, body, expected);
    }
    if (options.length === undefined) {
      return putOfUnknownLength(body, expected, {
        putBytes: (bytes) => this.#putBytes(key, bytes, expected),
        create: () => this.createMultipartUpload(key),
        uploadPart: (uploadId, partNumber, part) => this.uploadPart(key, uploadId, partNumber, part),
        complete: (uploadId, parts) => this.#complete(key, uploadId, parts),
        abort: (uploadId) => this.abortMultipartUpload(key, uploadId),
      });
    }
    if (options.length <= SMALL_BODY) {
      const chunks: Uint8Array[] = [];
      for await (const chunk of chunksOf(body, options.length)) chunks.push(chunk);
      const bytes = Buffer.concat(chunks);
      checkLength(options.length, bytes.byteLength);
      return this.#putBytes(key, bytes, expected);
    }
    return this.#putStream(key, body, options.length, expected);
  }

  async get(key: string, range?: ByteRange): Promise<ObjectRead | null> {
    if (range?.length === 0) {
      const info = await this.head(key);
      return info && { body: emptyBody(), size: info.size };
    }
    try {
      const output = await this.#client.send(
        new GetObjectCommand({
          Bucket: this.#bucket,
          Key: key,
          ...(range ? { Range: `bytes=${range.offset}-${range.offset + range.length - 1}` } : {}),
        }),
      );
      const size = range ? totalFromContentRange(output.ContentRange) : output.ContentLength;
      if (size === undefined || !output.Body) throw new Error(`GetObject ${key} answered without ${output.Body ? "a size" : "a body"}`);
      return { body: output.Body.transformToWebStream() as BlobBody, size };
    } catch (error) {
      if (isMissingObject(error)) return null;
      throw error;
    }
  }

  async head(key: string): Promise<ObjectInfo | null> {
    try {
      const output = await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: key }));
      return { size: output.ContentLength ?? 0 };
    } catch (error) {
      if (isMissingObject(error)) return null;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: key }));
  }

  async createMultipartUpload(key: string): Promise<string> {
    const output = await this.#client.send(new CreateMultipartUploadCommand({ Bucket: this.#bucket, Key: key }));
    if (!output.UploadId) throw new Error(`CreateMultipartUpload ${key} answered without an UploadId`);
    return output.UploadId;
  }

  async uploadPart(key: string, uploadId: string, partNumber: number, body: Uint8Array): Promise<UploadedPart> {
    checkPartNumber(partNumber);
    try {
      const output = await this.#client.send(
        new UploadPartCommand({ Bucket: this.#bucket, Key: key, UploadId: uploadId, PartNumber: partNumber, Body: body, ContentLength: body.byteLength }),
      );
      if (!output.ETag) throw new Error(`UploadPart ${key} #${partNumber} answered without an ETag`);
      return { partNumber, etag: output.ETag };
    } catch (error) {
      if (isMissingUpload(error)) throw new MultipartError(`no multipart upload ${uploadId} for ${key}`);
      throw error;
    }
  }

  async completeMultipartUpload(key: string, uploadId: string, parts: UploadedPart[]): Promise<ObjectInfo> {
    if (parts.length === 0) throw new MultipartError("a multipart upload needs at least one part");
    const stored = await this.#listParts(key, uploadId);
    checkCompletion(parts, stored);
    await this.#complete(key, uploadId, parts);
    return { size: parts.reduce((total, { partNumber }) => total + stored.get(partNumber)!.size, 0) };
  }

  async abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    try {
      await this.#client.send(new AbortMultipartUploadCommand({ Bucket: this.#bucket, Key: key, UploadId: uploadId }));
    } catch (error) {
      if (!isMissingUpload(error)) throw error;
    }
  }

  /** A GET URL anyone holding it may use until it expires; signed with this client's credentials. */
  async presignGet(key: string, expiresInSeconds: number): Promise<string> {
    return getSignedUrl(this.#client, new GetObjectCommand({ Bucket: this.#bucket, Key: key }), { expiresIn: expiresInSeconds });
  }

  async #putBytes(key: string, bytes: Uint8Array, expected: ExpectedDigest | undefined): Promise<ObjectInfo> {
    if (expected) assertDigest(expected, digestHex(expected, bytes));
    await this.#client.send(
      new PutObjectCommand({ Bucket: this.#bucket, Key: key, Body: bytes, ContentLength: bytes.byteLength, ChecksumSHA256: sha256Checksum(expected) }),
    );
    return { size: bytes.byteLength };
  }

  /**
   * One PutObject whose body is checked as it streams (verified-body.ts). When
   * the check fails, the request is aborted before its last bytes are sent.
   */
  async #putStream(key: string, body: BlobBody, length: number, expected: ExpectedDigest | undefined): Promise<ObjectInfo> {
    const abort = new AbortController();
    let failure: unknown = null;
    async function* checked(): AsyncGenerator<Uint8Array> {
      try {
        yield* verifiedChunks(body, length, expected);
      } catch (error) {
        failure = error;
        abort.abort();
        throw error;
      }
    }
    const source = Readable.from(checked());
    // The SDK pipes the body without listening for its errors; `failure` carries them.
    source.on("error", () => {});
    try {
      await this.#client.send(
        new PutObjectCommand({ Bucket: this.#bucket, Key: key, Body: source, ContentLength: length, ChecksumSHA256: sha256Checksum(expected) }),
        { abortSignal: abort.signal },
      );
    } catch (error) {
      throw failure ?? error;
    } finally {
      // S3 may answer (an error) before reading the whole body: stop reading the client's.
      source.destroy();
    }
    return { size: length };
  }

  async #listParts(key: string, uploadId: string): Promise<Map<number, StoredPart>> {
    const parts = new Map<number, StoredPart>();
    let marker: string | undefined;
    try {
      do {
        const page = await this.#client.send(
          new ListPartsCommand({ Bucket: this.#bucket, Key: key, UploadId: uploadId, ...(marker ? { PartNumberMarker: marker } : {}) }),
        );
        for (const part of page.Parts ?? []) {
          if (part.PartNumber !== undefined && part.ETag !== undefined) parts.set(part.PartNumber, { etag: part.ETag, size: part.Size ?? 0 });
        }
        marker = page.IsTruncated ? page.NextPartNumberMarker : undefined;
      } while (marker);
    } catch (error) {
      if (isMissingUpload(error)) throw new MultipartError(`no multipart upload ${uploadId} for ${key}`);
      throw error;
    }
    return parts;
  }

  async #complete(key: string, uploadId: string, parts: UploadedPart[]): Promise<void> {
    try {
      await this.#client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.#bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts.map(({ partNumber, etag }) => ({ PartNumber: partNumber, ETag: etag })) },
        }),
      );
    } catch (error) {
      if (isMissingUpload(error) || isRejectedCompletion(error)) {
        throw new MultipartError(`S3 refused to complete ${key}: ${(error as Error).message}`);
      }
      throw error;
    }
  }
}

/** `bytes <first>-<last>/<total>` → total. */
function totalFromContentRange(header: string | undefined): number | undefined {
  const total = header?.split("/")[1];
  return total === undefined || total === "*" ? undefined : Number(total);
}

function emptyBody(): BlobBody {
  return new ReadableStream({ start: (controller) => controller.close() });
}
