import { createHash } from "node:crypto";
import { DigestMismatchError, type BlobBody } from "../../ports/blob-store.ts";
import { checkLength, chunksOf, type ExpectedDigest } from "../blob-rules.ts";

/**
 * The chunks of a streamed PutObject body, checked on the way through: the
 * last non-empty chunk is held back until the source has ended with exactly
 * `length` bytes hashing to `expected`. S3 stores an object only once it has
 * all the Content-Length bytes it was promised, so a body that fails the
 * check never completes: the caller aborts the request, and neither a bad
 * object nor a hole appears at the key (an object already there is untouched).
 * This is what makes the digest check hold on S3 implementations that do not
 * verify `x-amz-checksum-sha256` themselves (Ceph RGW 16), without buffering
 * the blob or writing it twice.
 */
export async function* verifiedChunks(body: BlobBody, length: number, expected?: ExpectedDigest): AsyncGenerator<Uint8Array> {
  const hash = expected ? createHash(expected.algorithm) : null;
  let held: Uint8Array | null = null;
  let received = 0;
  for await (const chunk of chunksOf(body, length)) {
    if (chunk.byteLength === 0) continue;
    hash?.update(chunk);
    received += chunk.byteLength;
    if (held) yield held;
    held = chunk;
  }
  checkLength(length, received);
  if (expected && hash) assertDigest(expected, hash.digest("hex"));
  if (held) yield held;
}

/** Throws DigestMismatchError unless `hex` is the digest `expected` names. */
export function assertDigest(expected: ExpectedDigest, hex: string): void {
  const actual = `${expected.algorithm}:${hex}`;
  if (actual !== expected.digest) throw new DigestMismatchError(expected.digest, actual);
}

export function digestHex(expected: ExpectedDigest, bytes: Uint8Array): string {
  return createHash(expected.algorithm).update(bytes).digest("hex");
}

/** S3's `x-amz-checksum-sha256`: the digest's bytes in base64, for S3 to check what it received. */
export function sha256Checksum(expected: ExpectedDigest | undefined): string | undefined {
  const hex = expected?.algorithm === "sha256" ? expected.digest.slice("sha256:".length) : "";
  return /^[0-9a-f]{64}$/.test(hex) ? Buffer.from(hex, "hex").toString("base64") : undefined;
}
