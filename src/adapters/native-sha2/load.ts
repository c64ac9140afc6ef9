import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Hashing } from "../../ports/hashing.ts";
import type { NativeSha2Addon } from "./addon.ts";
import { NativeSha2, nativeSha2Hashing } from "./hashing.ts";

/**
 * hash-wasm's WebAssembly, imported on first use: its package adds ~6 MiB to a process's
 * memory, which a process hashing natively never needs.
 */
export const webAssemblyHashing: Hashing = {
  resumable: async (algorithm, state) => (await import("../hash-wasm.ts")).hashWasm.resumable(algorithm, state),
};

/** Where `npm install` builds the addon (scripts/build-native-sha2.mjs), from the package root. */
export const ADDON_PATH = join("native", "sha2", "build", "sha2.node");

export type LoadedHashing = { hashing: Hashing; kind: "native"; path: string } | { hashing: Hashing; kind: "webassembly"; reason: string };

/**
 * The Node runtime's hashing: the native addon when it was built and passes a self-test,
 * else hash-wasm's WebAssembly (same results, saved states interchangeable), with the
 * reason. `enabled: false` (NATIVE_HASHING=false) forces the WebAssembly one.
 *
 * The addon is looked up from the package root, found by walking up from this module:
 * the same from the TypeScript sources (src/adapters/native-sha2/) and from a bundle
 * anywhere under the package (dist/…), which keeps native/sha2/build/ beside it.
 */
export function loadNodeHashing(options: { enabled: boolean; from?: string }): LoadedHashing {
  if (!options.enabled) return { hashing: webAssemblyHashing, kind: "webassembly", reason: "NATIVE_HASHING is false" };
  const path = findAddon(options.from ?? dirname(fileURLToPath(import.meta.url)));
  if (!path) return { hashing: webAssemblyHashing, kind: "webassembly", reason: `${ADDON_PATH} was not built (no C compiler at install? run npm run build:native)` };
  try {
    const addon = createRequire(import.meta.url)(path) as NativeSha2Addon;
    selfTest(addon);
    return { hashing: nativeSha2Hashing(addon), kind: "native", path };
  } catch (error) {
    return { hashing: webAssemblyHashing, kind: "webassembly", reason: `${path} did not load: ${error instanceof Error ? error.message : String(error)}` };
  }
}

function findAddon(start: string): string | null {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json")) && existsSync(join(dir, ADDON_PATH))) return join(dir, ADDON_PATH);
    if (dirname(dir) === dir) return null;
  }
}

/**
 * One hash saved and resumed mid-block for each algorithm, against node:crypto: an addon
 * built against another OpenSSL's context layout fails here rather than corrupt uploads.
 */
function selfTest(addon: NativeSha2Addon): void {
  const data = new Uint8Array(300).map((_, i) => (i * 7 + 3) & 0xff);
  for (const algorithm of ["sha256", "sha512"] as const) {
    const first = new NativeSha2(addon, algorithm);
    first.update(data.subarray(0, 131));
    const resumed = new NativeSha2(addon, algorithm, first.save());
    resumed.update(data.subarray(131));
    const actual = resumed.digestHex();
    const expected = createHash(algorithm).update(data).digest("hex");
    if (actual !== expected) throw new Error(`self-test: native ${algorithm} gave ${actual}, node:crypto ${expected}`);
  }
}
