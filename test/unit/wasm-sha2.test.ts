/**
 * The precompiled-WASM SHA-2 used on Workers (src/adapters/wasm-sha2/), run on
 * Node by compiling the committed .wasm files here. It must hash like
 * node:crypto and save states byte-for-byte like hash-wasm, so an upload's
 * saved state means the same thing whichever adapter wrote it.
 */
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { createSHA256, createSHA512 } from "hash-wasm";
import { beforeAll, describe, expect, it } from "vitest";
import { embeddedSha2 } from "../../scripts/hash-wasm-bundle.ts";
import { wasmSha2Hashing } from "../../src/adapters/wasm-sha2/hashing.ts";
import type { Hashing } from "../../src/ports/hashing.ts";

const dir = join(import.meta.dirname, "../../src/adapters/wasm-sha2");
const committed = (algorithm: string) => new Uint8Array(readFileSync(join(dir, `${algorithm}.wasm`)));
const hashWasmFactories = { sha256: createSHA256, sha512: createSHA512 };

describe.each(["sha256", "sha512"] as const)("wasm-sha2 %s", (algorithm) => {
  let hashing: Hashing;
  beforeAll(async () => {
    hashing = wasmSha2Hashing({ sha256: await WebAssembly.compile(committed("sha256")), sha512: await WebAssembly.compile(committed("sha512")) });
  });

  it("the committed .wasm is the binary the installed hash-wasm embeds (re-run scripts/extract-hash-wasm.ts if not)", () => {
    const require = createRequire(import.meta.url);
    const bundle = readFileSync(join(dirname(require.resolve("hash-wasm/package.json")), "dist/index.esm.js"), "utf8");
    const embedded = embeddedSha2(bundle).find((e) => e.algorithm === algorithm)!;
    expect(Buffer.from(committed(algorithm)).equals(Buffer.from(embedded.bytes))).toBe(true);
  });

  it.each([0, 1, 55, 56, 64, 111, 112, 128, 16 * 1024 + 1, 1024 * 1024 + 3])("digests %i bytes like node:crypto", async (size) => {
    const data = randomBytes(size);
    const hash = await hashing.resumable(algorithm);
    hash.update(data);
    expect(hash.digestHex()).toBe(createHash(algorithm).update(data).digest("hex"));
  });

  it("a state saved after each piece and restored in a new instance gives the one-shot digest", async () => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const cuts = [0, 1, 63, 64, 1000, 16 * 1024, 16 * 1024 + 5, 2 * 1024 * 1024 + 1, data.byteLength];
    let state: string | undefined;
    for (let i = 1; i < cuts.length; i++) {
      const hash = await hashing.resumable(algorithm, state === undefined ? undefined : Buffer.from(state, "base64"));
      hash.update(data.subarray(cuts[i - 1], cuts[i]));
      state = Buffer.from(hash.save()).toString("base64");
    }
    const last = await hashing.resumable(algorithm, Buffer.from(state!, "base64"));
    expect(last.digestHex()).toBe(createHash(algorithm).update(data).digest("hex"));
  });

  it("saves exactly the state hash-wasm saves, and each loads the other's", async () => {
    const data = randomBytes(100_003);
    const ours = await hashing.resumable(algorithm);
    ours.update(data);
    const theirs = await hashWasmFactories[algorithm]();
    theirs.update(data);
    const saved = ours.save();
    expect(Buffer.from(saved).equals(Buffer.from(theirs.save()))).toBe(true);

    const more = randomBytes(5000);
    const resumedByThem = (await hashWasmFactories[algorithm]()).load(saved).update(more).digest("hex");
    const resumedByUs = await hashing.resumable(algorithm, theirs.save());
    resumedByUs.update(more);
    const expected = createHash(algorithm).update(data).update(more).digest("hex");
    expect(resumedByThem).toBe(expected);
    expect(resumedByUs.digestHex()).toBe(expected);
  });

  it("refuses a state of the wrong size or from another binary", async () => {
    const other = algorithm === "sha256" ? "sha512" : "sha256";
    const foreign = (await hashing.resumable(other)).save();
    await expect(hashing.resumable(algorithm, foreign)).rejects.toThrow(/bytes|another/);
    const own = (await hashing.resumable(algorithm)).save();
    own[0] = own[0]! ^ 0xff;
    await expect(hashing.resumable(algorithm, own)).rejects.toThrow(/another hash implementation/);
  });

  it("cannot be used after the digest is taken", async () => {
    const hash = await hashing.resumable(algorithm);
    hash.digestHex();
    expect(() => hash.update(new Uint8Array(1))).toThrow(/finalised/);
    expect(() => hash.save()).toThrow(/finalised/);
  });
});
