import type { DigestAlgorithm } from "./metadata-store.ts";

/**
 * A hash whose state can be saved after one request and restored in the next,
 * so a chunked upload's digest is computed as bytes stream past, never by
 * reading the blob back. The platform provides the implementation: WASM must
 * be precompiled on Workers, while Node may compile it at run time.
 */
export interface ResumableHash {
  update(chunk: Uint8Array): void;
  save(): Uint8Array;
  /** Lowercase hex of the final digest; the hash is unusable afterwards. */
  digestHex(): string;
}

export interface Hashing {
  resumable(algorithm: DigestAlgorithm, state?: Uint8Array): Promise<ResumableHash>;
}
