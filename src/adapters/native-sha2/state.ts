import type { DigestAlgorithm } from "../../ports/metadata-store.ts";
import type { ContextLayout } from "./addon.ts";

/**
 * Saved hash states in one format for every runtime: hash-wasm's, which the WebAssembly
 * adapters (src/adapters/hash-wasm.ts on Node and Lambda, src/adapters/wasm-sha2 on
 * Workers) write. An upload's record may be read by another process or runtime (Node and
 * Lambda share a DynamoDB table; a rolling upgrade may move an upload between a process
 * with the addon and one without), so the native adapter converts OpenSSL's context to
 * that format on save and back on load, and the record never says which kind wrote it.
 *
 * hash-wasm's state (its src/sha256.c and sha512.c, compiled for wasm32, little-endian):
 * a 4-byte tag naming the binary, then the C struct
 *   sha256: u32 message[16] | u64 length | u32 hash[8] | u32 digest_length | 4 bytes padding
 *   sha512: u64 message[16] | u64 length | u64 hash[8] | u32 digest_length | 4 bytes padding
 * where `length` counts bytes and `message` holds the bytes after the last full block
 * (length mod block size of them; the rest is stale and ignored by both sides).
 * OpenSSL's SHA256_CTX / SHA512_CTX hold the same facts: `h`, a bit count in `Nl`/`Nh`,
 * the leftover bytes in `data` and their number in `num`.
 */
interface WasmStateLayout {
  tag: Uint8Array;
  blockSize: number;
  /** Bytes per chaining word. */
  wordSize: 4 | 8;
  digestSize: number;
  /** Offsets inside the struct (after the tag). */
  length: number;
  hash: number;
  digestLength: number;
  structSize: number;
}

export const wasmStates: Record<DigestAlgorithm, WasmStateLayout> = {
  sha256: { tag: Uint8Array.of(0x8e, 0xd6, 0x95, 0xa3), blockSize: 64, wordSize: 4, digestSize: 32, length: 64, hash: 72, digestLength: 104, structSize: 112 },
  sha512: { tag: Uint8Array.of(0x92, 0x2e, 0x1b, 0xd0), blockSize: 128, wordSize: 8, digestSize: 64, length: 128, hash: 136, digestLength: 200, structSize: 208 },
};

const TAG_SIZE = 4;

/** hash-wasm's saved state for the OpenSSL context `context`. */
export function contextToWasmState(algorithm: DigestAlgorithm, layout: ContextLayout, context: Uint8Array): Uint8Array {
  const wasm = wasmStates[algorithm];
  const native = new DataView(context.buffer, context.byteOffset, context.byteLength);
  const saved = new Uint8Array(TAG_SIZE + wasm.structSize);
  const out = new DataView(saved.buffer, TAG_SIZE);
  saved.set(wasm.tag);
  const length = bitCount(algorithm, layout, native) / 8n;
  const buffered = native.getUint32(layout.num, hostLittleEndian);
  if (buffered !== Number(length % BigInt(wasm.blockSize))) throw new Error(`native ${algorithm} context is inconsistent: ${buffered} bytes buffered after ${length}`);
  saved.set(context.subarray(layout.data, layout.data + buffered), TAG_SIZE);
  out.setBigUint64(wasm.length, length, true);
  for (let i = 0; i < 8; i++) {
    if (wasm.wordSize === 4) out.setUint32(wasm.hash + 4 * i, native.getUint32(layout.h + 4 * i, hostLittleEndian), true);
    else out.setBigUint64(wasm.hash + 8 * i, native.getBigUint64(layout.h + 8 * i, hostLittleEndian), true);
  }
  out.setUint32(wasm.digestLength, wasm.digestSize, true);
  return saved;
}

/**
 * Loads hash-wasm's saved state `saved` into `context`, which `init` has just set up (so
 * the fields not carried over, like the digest length, are already right).
 */
export function wasmStateToContext(algorithm: DigestAlgorithm, layout: ContextLayout, saved: Uint8Array, context: Uint8Array): void {
  const wasm = wasmStates[algorithm];
  if (saved.byteLength !== TAG_SIZE + wasm.structSize) throw new Error(`saved ${algorithm} state has ${saved.byteLength} bytes, not ${TAG_SIZE + wasm.structSize}`);
  if (wasm.tag.some((byte, i) => saved[i] !== byte)) throw new Error(`saved state was not written by a ${algorithm} hash of this registry`);
  const state = new DataView(saved.buffer, saved.byteOffset + TAG_SIZE, wasm.structSize);
  const native = new DataView(context.buffer, context.byteOffset, context.byteLength);
  if (state.getUint32(wasm.digestLength, true) !== wasm.digestSize) throw new Error(`saved state is not a ${algorithm} state (a truncated variant?)`);
  const length = state.getBigUint64(wasm.length, true);
  // SHA-256 is defined for messages under 2^64 bits, which is all OpenSSL's Nh:Nl can count.
  if (wasm.wordSize === 4 && length >= 2n ** 61n) throw new Error(`saved sha256 state claims ${length} bytes, more than SHA-256 can hash`);
  const bits = length * 8n;
  if (wasm.wordSize === 4) {
    native.setUint32(layout.Nl, Number(bits & 0xffff_ffffn), hostLittleEndian);
    native.setUint32(layout.Nh, Number((bits >> 32n) & 0xffff_ffffn), hostLittleEndian);
  } else {
    native.setBigUint64(layout.Nl, bits & 0xffff_ffff_ffff_ffffn, hostLittleEndian);
    native.setBigUint64(layout.Nh, length >> 61n, hostLittleEndian);
  }
  for (let i = 0; i < 8; i++) {
    if (wasm.wordSize === 4) native.setUint32(layout.h + 4 * i, state.getUint32(wasm.hash + 4 * i, true), hostLittleEndian);
    else native.setBigUint64(layout.h + 8 * i, state.getBigUint64(wasm.hash + 8 * i, true), hostLittleEndian);
  }
  const buffered = Number(length % BigInt(wasm.blockSize));
  context.set(saved.subarray(TAG_SIZE, TAG_SIZE + buffered), layout.data);
  native.setUint32(layout.num, buffered, hostLittleEndian);
}

/** The context's message length in bits (Nh:Nl). */
function bitCount(algorithm: DigestAlgorithm, layout: ContextLayout, native: DataView): bigint {
  if (wasmStates[algorithm].wordSize === 4) {
    return (BigInt(native.getUint32(layout.Nh, hostLittleEndian)) << 32n) | BigInt(native.getUint32(layout.Nl, hostLittleEndian));
  }
  return (native.getBigUint64(layout.Nh, hostLittleEndian) << 64n) | native.getBigUint64(layout.Nl, hostLittleEndian);
}

/** OpenSSL's context words are in the machine's byte order; hash-wasm's are little-endian (WebAssembly). */
const hostLittleEndian = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
