import type { DigestAlgorithm } from "../../ports/metadata-store.ts";

/** Byte offsets of an OpenSSL SHA-2 context's fields, as the compiled addon reports them. */
export interface ContextLayout {
  size: number;
  /** The chaining value: 8 host-endian words (32-bit for SHA-256, 64-bit for SHA-512). */
  h: number;
  /** The message length in bits, low and high word. */
  Nl: number;
  Nh: number;
  /** Bytes received after the last full block, as raw bytes. */
  data: number;
  /** How many of them (u32). */
  num: number;
}

/** What native/sha2/sha2.c exports. A context is a fresh Uint8Array of `layout[algorithm].size` bytes. */
export interface NativeSha2Addon {
  init(context: Uint8Array): void;
  update(context: Uint8Array, bytes: Uint8Array): void;
  /** Writes the digest (32 or 64 bytes) to the start of `digest`; the context is spent. */
  final(context: Uint8Array, digest: Uint8Array): void;
  layout: Record<DigestAlgorithm, ContextLayout>;
}
