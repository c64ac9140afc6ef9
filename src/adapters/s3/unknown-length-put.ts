import { createHash } from "node:crypto";
import type { BlobBody, ObjectInfo, UploadedPart } from "../../ports/blob-store.ts";
import { chunksOf, type ExpectedDigest } from "../blob-rules.ts";
import { assertDigest } from "./verified-body.ts";

/** The S3 calls a put of unknown length needs, bound to its key. */
export interface UnknownLengthTarget {
  putBytes(bytes: Uint8Array): Promise<ObjectInfo>;
  create(): Promise<string>;
  uploadPart(uploadId: string, partNumber: number, part: Uint8Array): Promise<UploadedPart>;
  complete(uploadId: string, parts: UploadedPart[]): Promise<void>;
  abort(uploadId: string): Promise<void>;
}

/** Parts of a put of unknown length; memory holds one part at a time. */
const PART_SIZE = 8 * 1024 * 1024;

/**
 * PutObject needs a Content-Length. A body that ends within one part is sent
 * as one object; a longer one becomes a multipart upload of equal parts,
 * hashed on the way and completed only when the digest matches (aborted
 * otherwise), so nothing appears at the key unless the whole body was right.
 */
export async function putOfUnknownLength(body: BlobBody, expected: ExpectedDigest | undefined, target: UnknownLengthTarget): Promise<ObjectInfo> {
  const hash = expected ? createHash(expected.algorithm) : null;
  let pending: Uint8Array[] = [];
  let pendingSize = 0;
  let total = 0;
  let uploadId: string | null = null;
  const parts: UploadedPart[] = [];
  const flush = async () => {
    const part = Buffer.concat(pending, pendingSize);
    pending = [];
    pendingSize = 0;
    uploadId ??= await target.create();
    parts.push(await target.uploadPart(uploadId, parts.length + 1, part));
  };
  try {
    for await (const chunk of chunksOf(body)) {
      hash?.update(chunk);
      total += chunk.byteLength;
      let rest = chunk;
      while (pendingSize + rest.byteLength >= PART_SIZE) {
        const take = PART_SIZE - pendingSize;
        pending.push(rest.subarray(0, take));
        pendingSize += take;
        rest = rest.subarray(take);
        await flush();
      }
      if (rest.byteLength > 0) {
        pending.push(rest);
        pendingSize += rest.byteLength;
      }
    }
    if (uploadId === null) return await target.putBytes(Buffer.concat(pending, pendingSize));
    if (pendingSize > 0) await flush();
    if (expected && hash) assertDigest(expected, hash.digest("hex"));
    await target.complete(uploadId, parts);
    return { size: total };
  } catch (error) {
    if (uploadId !== null) await target.abort(uploadId).catch(() => {});
    throw error;
  }
}
