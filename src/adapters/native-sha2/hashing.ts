import type { Hashing, ResumableHash } from "../../ports/hashing.ts";
import type { DigestAlgorithm } from "../../ports/metadata-store.ts";
import type { ContextLayout, NativeSha2Addon } from "./addon.ts";
import { contextToWasmState, wasmStateToContext, wasmStates } from "./state.ts";

/**
 * Resumable SHA-256/SHA-512 over OpenSSL in the Node process (native/sha2/sha2.c), at
 * native speed (CPU SHA extensions where present), with states saved in hash-wasm's
 * format (state.ts), so they load in every other adapter and back.
 */
export function nativeSha2Hashing(addon: NativeSha2Addon): Hashing {
  return {
    async resumable(algorithm: DigestAlgorithm, state?: Uint8Array): Promise<ResumableHash> {
      return new NativeSha2(addon, algorithm, state);
    },
  };
}

export class NativeSha2 implements ResumableHash {
  readonly #addon: NativeSha2Addon;
  readonly #algorithm: DigestAlgorithm;
  readonly #layout: ContextLayout;
  /** A fresh allocation, so aligned for the 64-bit words of SHA512_CTX. */
  readonly #context: Uint8Array;
  #finished = false;

  constructor(addon: NativeSha2Addon, algorithm: DigestAlgorithm, state?: Uint8Array) {
    this.#addon = addon;
    this.#algorithm = algorithm;
    this.#layout = addon.layout[algorithm];
    this.#context = new Uint8Array(this.#layout.size);
    addon.init(this.#context);
    if (state) wasmStateToContext(algorithm, this.#layout, state, this.#context);
  }

  update(chunk: Uint8Array): void {
    this.#assertOpen();
    this.#addon.update(this.#context, chunk);
  }

  save(): Uint8Array {
    this.#assertOpen();
    return contextToWasmState(this.#algorithm, this.#layout, this.#context);
  }

  digestHex(): string {
    this.#assertOpen();
    this.#finished = true;
    const digest = new Uint8Array(wasmStates[this.#algorithm].digestSize);
    this.#addon.final(this.#context, digest);
    let hex = "";
    for (const byte of digest) hex += byte.toString(16).padStart(2, "0");
    return hex;
  }

  #assertOpen(): void {
    if (this.#finished) throw new Error("the hash was already finalised");
  }
}
