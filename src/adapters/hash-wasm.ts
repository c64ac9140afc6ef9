import { createSHA256, createSHA512, type IHasher } from "hash-wasm";
import type { Hashing, ResumableHash } from "../ports/hashing.ts";
import type { DigestAlgorithm } from "../ports/metadata-store.ts";

/**
 * Resumable SHA-2 from hash-wasm, whose state can be saved between requests.
 * hash-wasm compiles its WASM at run time, which Node allows and workerd does not.
 */
const factories: Record<DigestAlgorithm, () => Promise<IHasher>> = { sha256: createSHA256, sha512: createSHA512 };

export const hashWasm: Hashing = {
  async resumable(algorithm: DigestAlgorithm, state?: Uint8Array): Promise<ResumableHash> {
    const hasher = await factories[algorithm]();
    if (state) hasher.load(state);
    else hasher.init();
    return {
      update: (chunk) => void hasher.update(chunk),
      save: () => hasher.save(),
      digestHex: () => hasher.digest("hex"),
    };
  },
};
