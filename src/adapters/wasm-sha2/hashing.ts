import type { Hashing, ResumableHash } from "../../ports/hashing.ts";
import type { DigestAlgorithm } from "../../ports/metadata-store.ts";

/**
 * Resumable SHA-256/SHA-512 over hash-wasm's WebAssembly binaries (the .wasm
 * files beside this one, see README.md), given as already compiled modules:
 * Cloudflare Workers forbid compiling WASM at run time, so the Workers entry
 * imports the .wasm files (compiled at deploy time) and passes them in.
 *
 * Saved states are byte-for-byte those of hash-wasm's own `save()`: a 4-byte
 * tag naming the binary, then the hash's internal state. A state saved by one
 * request (or by the Node adapter, src/adapters/hash-wasm.ts) loads in the next.
 */
export interface Sha2Modules {
  sha256: WebAssembly.Module;
  sha512: WebAssembly.Module;
}

/** What hash-wasm's binaries export; checked when an instance is made. */
interface Sha2Exports {
  memory: WebAssembly.Memory;
  /** Address of the 16 KiB input/output buffer. */
  Hash_GetBuffer(): number;
  Hash_Init(bits: number): void;
  /** Hashes the first `length` bytes of the buffer. */
  Hash_Update(length: number): void;
  /** Writes the digest to the start of the buffer. */
  Hash_Final(): void;
  /** Address of the internal state. */
  Hash_GetState(): number;
  /** Address of a u32 holding the state's size. */
  STATE_SIZE: WebAssembly.Global;
}

/** hash-wasm's input buffer size (MAX_HEAP in its WASMInterface.ts). */
const BUFFER_SIZE = 16 * 1024;

/** Per algorithm: `Hash_Init`'s argument, digest size, and the state tag of the committed binary. */
const ALGORITHMS: Record<DigestAlgorithm, { bits: number; digestSize: number; stateTag: string }> = {
  sha256: { bits: 256, digestSize: 32, stateTag: "8ed695a3" },
  sha512: { bits: 512, digestSize: 64, stateTag: "922e1bd0" },
};

export function wasmSha2Hashing(modules: Sha2Modules): Hashing {
  return {
    async resumable(algorithm: DigestAlgorithm, state?: Uint8Array): Promise<ResumableHash> {
      const instance = await WebAssembly.instantiate(modules[algorithm], {});
      return new WasmSha2(exportsOf(instance), ALGORITHMS[algorithm], state);
    },
  };
}

class WasmSha2 implements ResumableHash {
  readonly #exports: Sha2Exports;
  readonly #buffer: Uint8Array;
  readonly #digestSize: number;
  readonly #tag: Uint8Array;
  #finished = false;

  constructor(exports: Sha2Exports, algorithm: { bits: number; digestSize: number; stateTag: string }, state?: Uint8Array) {
    this.#exports = exports;
    this.#buffer = new Uint8Array(exports.memory.buffer, exports.Hash_GetBuffer(), BUFFER_SIZE);
    this.#digestSize = algorithm.digestSize;
    this.#tag = hexToBytes(algorithm.stateTag);
    if (state) this.#load(state);
    else exports.Hash_Init(algorithm.bits);
  }

  update(chunk: Uint8Array): void {
    this.#assertOpen();
    for (let offset = 0; offset < chunk.byteLength; offset += BUFFER_SIZE) {
      const piece = chunk.subarray(offset, offset + BUFFER_SIZE);
      this.#buffer.set(piece);
      this.#exports.Hash_Update(piece.byteLength);
    }
  }

  save(): Uint8Array {
    this.#assertOpen();
    const internal = this.#state();
    const saved = new Uint8Array(this.#tag.byteLength + internal.byteLength);
    saved.set(this.#tag);
    saved.set(internal, this.#tag.byteLength);
    return saved;
  }

  digestHex(): string {
    this.#assertOpen();
    this.#finished = true;
    this.#exports.Hash_Final();
    let hex = "";
    for (const byte of this.#buffer.subarray(0, this.#digestSize)) hex += byte.toString(16).padStart(2, "0");
    return hex;
  }

  #load(state: Uint8Array): void {
    const internal = this.#state();
    if (state.byteLength !== this.#tag.byteLength + internal.byteLength) {
      throw new Error(`saved hash state has ${state.byteLength} bytes, not ${this.#tag.byteLength + internal.byteLength}`);
    }
    if (this.#tag.some((byte, i) => state[i] !== byte)) throw new Error("saved hash state was written by another hash implementation");
    internal.set(state.subarray(this.#tag.byteLength));
  }

  /** A live view of the internal state in the instance's memory. */
  #state(): Uint8Array {
    const memory = this.#exports.memory.buffer;
    const size = new DataView(memory).getUint32(Number(this.#exports.STATE_SIZE.value), true);
    return new Uint8Array(memory, this.#exports.Hash_GetState(), size);
  }

  #assertOpen(): void {
    if (this.#finished) throw new Error("the hash was already finalised");
  }
}

function exportsOf(instance: WebAssembly.Instance): Sha2Exports {
  const exports = instance.exports;
  for (const name of ["Hash_GetBuffer", "Hash_Init", "Hash_Update", "Hash_Final", "Hash_GetState"]) {
    if (typeof exports[name] !== "function") throw new Error(`the SHA-2 WebAssembly module does not export ${name}`);
  }
  if (!(exports.memory instanceof WebAssembly.Memory) || !(exports.STATE_SIZE instanceof WebAssembly.Global)) {
    throw new Error("the SHA-2 WebAssembly module does not export memory and STATE_SIZE");
  }
  // Checked above, member by member; WebAssembly.Exports cannot be narrowed further by TypeScript.
  return exports as unknown as Sha2Exports;
}

function hexToBytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g) ?? [], (pair) => Number.parseInt(pair, 16));
}
