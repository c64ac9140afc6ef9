/**
 * The resumable SHA-2 the Worker uses (src/adapters/wasm-sha2), inside workerd
 * where WASM cannot be compiled at run time: the .wasm files are imported as
 * precompiled modules, as src/runtime/workers.ts imports them.
 */
import { describe, expect, it } from "vitest";
import { wasmSha2Hashing } from "../../src/adapters/wasm-sha2/hashing.ts";
import sha256 from "../../src/adapters/wasm-sha2/sha256.wasm";
import sha512 from "../../src/adapters/wasm-sha2/sha512.wasm";

const hashing = wasmSha2Hashing({ sha256, sha512 });
const MiB = 1024 * 1024;

function pattern(size: number, seed: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 131 + seed + (i >> 9)) & 0xff;
  return out;
}

async function webCrypto(algorithm: "sha256" | "sha512", data: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest(algorithm === "sha256" ? "SHA-256" : "SHA-512", data);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The upload record keeps the state as base64 between requests (core/uploads.ts). */
const toBase64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const fromBase64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

describe.each(["sha256", "sha512"] as const)("wasm-sha2 %s in workerd", (algorithm) => {
  it("a one-shot digest matches WebCrypto", async () => {
    for (const size of [0, 1, 64, 1000, 16 * 1024 + 1, 3 * MiB + 5]) {
      const data = pattern(size, size);
      const hash = await hashing.resumable(algorithm);
      hash.update(data);
      expect(hash.digestHex(), `${size} bytes`).toBe(await webCrypto(algorithm, data));
    }
  });

  it("state saved after each request, through base64, and restored in a new instance gives the one-shot digest", async () => {
    const data = pattern(5 * MiB + 123, 7);
    const requests = [0, 1, 777, 64 * 1024, MiB + 3, 4 * MiB, data.byteLength];
    let state: string | null = null;
    for (let i = 1; i < requests.length; i++) {
      const hash = await hashing.resumable(algorithm, state === null ? undefined : fromBase64(state));
      hash.update(data.subarray(requests[i - 1], requests[i]));
      state = toBase64(hash.save());
    }
    const final = await hashing.resumable(algorithm, fromBase64(state!));
    expect(final.digestHex()).toBe(await webCrypto(algorithm, data));
  });

  it("hashes 64 MiB in 1 MiB pieces to WebCrypto's digest (and reports the rate)", async () => {
    const piece = pattern(MiB, 3);
    const whole = new Uint8Array(64 * MiB);
    for (let i = 0; i < 64; i++) whole.set(piece, i * MiB);
    const started = performance.now();
    const hash = await hashing.resumable(algorithm);
    for (let i = 0; i < 64; i++) hash.update(piece);
    const hex = hash.digestHex();
    const seconds = (performance.now() - started) / 1000;
    expect(hex).toBe(await webCrypto(algorithm, whole));
    console.log(`wasm-sha2 ${algorithm} in workerd: ${seconds > 0 ? (64 / seconds).toFixed(0) : "?"} MiB/s (64 MiB in ${seconds.toFixed(3)} s)`);
  });
});
