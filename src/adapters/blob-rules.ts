/**
 * Checks the BlobStore port demands of every adapter (ports/blob-store.ts),
 * for adapters whose backend does not make them itself: R2 enforces the
 * multipart rules natively; memory and filesystem (and S3, which accepts
 * unequal parts) check them here, so the upload engine meets one behaviour.
 */
import { MAX_PARTS, MIN_PART_SIZE, MultipartError, type BlobBody, type UploadedPart } from "../ports/blob-store.ts";
import type { DigestAlgorithm } from "../ports/metadata-store.ts";

/** A part as the adapter stored it: the ETag of its latest write and its size. */
export interface StoredPart {
  etag: string;
  size: number;
}

export function checkPartNumber(partNumber: number): void {
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PARTS) {
    throw new MultipartError(`part number ${partNumber} is outside 1..${MAX_PARTS}`);
  }
}

/**
 * Throws `MultipartError` unless `listed` names stored parts by their current
 * ETags, in ascending order (as S3 requires), and their sizes follow R2's rules.
 */
export function checkCompletion(listed: UploadedPart[], stored: ReadonlyMap<number, StoredPart>): void {
  if (listed.length === 0) throw new MultipartError("a multipart upload needs at least one part");
  const sizes: number[] = [];
  let previous = 0;
  for (const { partNumber, etag } of listed) {
    checkPartNumber(partNumber);
    if (partNumber <= previous) throw new MultipartError("parts must be listed once each, in ascending order");
    previous = partNumber;
    const part = stored.get(partNumber);
    if (!part) throw new MultipartError(`part ${partNumber} was not uploaded`);
    if (part.etag !== etag) throw new MultipartError(`part ${partNumber} has ETag ${part.etag}, not ${etag}`);
    sizes.push(part.size);
  }
  const last = sizes.pop() ?? 0;
  const partSize = sizes[0];
  if (partSize === undefined) return;
  if (partSize < MIN_PART_SIZE) throw new MultipartError(`non-final parts must be at least ${MIN_PART_SIZE} bytes, not ${partSize}`);
  if (sizes.some((size) => size !== partSize)) throw new MultipartError("non-final parts must all have the same size");
  if (last > partSize) throw new MultipartError(`the last part (${last} bytes) is larger than the others (${partSize})`);
}

export interface ExpectedDigest {
  algorithm: DigestAlgorithm;
  /** The digest as given, compared whole against `<algorithm>:<hex of content>`. */
  digest: string;
}

/** Parses `PutOptions.digest`; only the algorithms a registry verifies are accepted. */
export function parseExpectedDigest(digest: string): ExpectedDigest {
  const algorithm = digest.slice(0, digest.indexOf(":"));
  if (algorithm !== "sha256" && algorithm !== "sha512") throw new Error(`cannot verify digest ${digest}: unsupported algorithm`);
  return { algorithm, digest };
}

/**
 * The body's chunks. With a declared length, fails as soon as more bytes
 * arrive than declared (cancelling the body rather than reading it all);
 * the caller checks for too few with `checkLength` once the body ends.
 */
export async function* chunksOf(body: BlobBody | Uint8Array, declaredLength?: number): AsyncGenerator<Uint8Array> {
  if (body instanceof Uint8Array) {
    checkLength(declaredLength, body.byteLength);
    yield body;
    return;
  }
  const reader = body.getReader();
  let received = 0;
  let ended = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        ended = true;
        return;
      }
      received += value.byteLength;
      if (declaredLength !== undefined && received > declaredLength) {
        throw new Error(`content is more than the declared ${declaredLength} bytes`);
      }
      yield value;
    }
  } finally {
    // Stopped early (too long, or the consumer failed): release the source.
    if (!ended) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

export function checkLength(expected: number | undefined, actual: number): void {
  if (expected !== undefined && actual !== expected) {
    throw new Error(`content is ${actual} bytes, not the declared ${expected}`);
  }
}

/** Upload ids and part ETags: random, so a rewritten part never reuses its old ETag. */
export function newOpaqueId(): string {
  return crypto.randomUUID().replaceAll("-", "");
}
