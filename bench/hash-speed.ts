/**
 * `node bench/hash-speed.ts`: how fast each resumable SHA-2 this registry can use hashes
 * 64 KiB pieces (what a socket delivers), beside node:crypto's one-shot-only hash:
 * the native addon (native/sha2), hash-wasm's WebAssembly, node:crypto. Best of 5 passes
 * over 256 MiB, in MiB/s, on the Node running it.
 */
import { createHash, randomBytes } from "node:crypto";
import { hashWasm } from "../src/adapters/hash-wasm.ts";
import { loadNodeHashing } from "../src/adapters/native-sha2/load.ts";
import type { Hashing } from "../src/ports/hashing.ts";

const TOTAL = 256 * 1024 * 1024;
const PIECE = 64 * 1024;
const data = randomBytes(TOTAL);
const native = loadNodeHashing({ enabled: true });
if (native.kind !== "native") console.log(`native addon not loaded: ${native.reason}`);

async function resumable(hashing: Hashing, algorithm: "sha256" | "sha512"): Promise<number> {
  const started = performance.now();
  const hash = await hashing.resumable(algorithm);
  for (let offset = 0; offset < TOTAL; offset += PIECE) hash.update(data.subarray(offset, offset + PIECE));
  hash.digestHex();
  return performance.now() - started;
}

function nodeCrypto(algorithm: "sha256" | "sha512"): number {
  const started = performance.now();
  const hash = createHash(algorithm);
  for (let offset = 0; offset < TOTAL; offset += PIECE) hash.update(data.subarray(offset, offset + PIECE));
  hash.digest("hex");
  return performance.now() - started;
}

const best = async (run: () => number | Promise<number>) => {
  let fastest = Number.POSITIVE_INFINITY;
  for (let pass = 0; pass < 5; pass++) fastest = Math.min(fastest, await run());
  return Math.round(TOTAL / 1024 / 1024 / (fastest / 1000));
};

console.log(`Node ${process.version}, OpenSSL ${process.versions.openssl}; MiB/s, best of 5 over 256 MiB in 64 KiB pieces`);
for (const algorithm of ["sha256", "sha512"] as const) {
  const row = {
    algorithm,
    ...(native.kind === "native" ? { "native addon (resumable)": await best(() => resumable(native.hashing, algorithm)) } : {}),
    "hash-wasm (resumable)": await best(() => resumable(hashWasm, algorithm)),
    "node:crypto (not resumable)": await best(() => nodeCrypto(algorithm)),
  };
  console.log(JSON.stringify(row));
}
