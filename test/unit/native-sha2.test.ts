/**
 * The native resumable SHA-2 (native/sha2/sha2.c, src/adapters/native-sha2/): it must
 * hash exactly like node:crypto however the bytes are split and wherever the hash is
 * saved and resumed, and its saved states must be hash-wasm's, so an upload moves
 * freely between a process with the addon and one hashing with WebAssembly (Workers,
 * Lambda, a machine without a compiler), in both directions, mid-stream.
 */
import { createHash, randomBytes, randomInt } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hashWasm } from "../../src/adapters/hash-wasm.ts";
import { ADDON_PATH, loadNodeHashing, webAssemblyHashing } from "../../src/adapters/native-sha2/load.ts";
import type { NativeSha2Addon } from "../../src/adapters/native-sha2/addon.ts";
import { contextToWasmState, wasmStateToContext, wasmStates } from "../../src/adapters/native-sha2/state.ts";
import type { Hashing } from "../../src/ports/hashing.ts";

const loaded = loadNodeHashing({ enabled: true });
const require = createRequire(import.meta.url);

describe("native SHA-2 addon", () => {
  it("was built by npm install and passes its self-test (needs a C compiler; npm run build:native says why not)", () => {
    expect(loaded.kind === "native" ? "native" : loaded.reason).toBe("native");
  });

  it("falls back to WebAssembly when NATIVE_HASHING is false", async () => {
    const forced = loadNodeHashing({ enabled: false });
    expect(forced.kind).toBe("webassembly");
    expect(forced.hashing).toBe(webAssemblyHashing);
    const hash = await forced.hashing.resumable("sha256", (await hashWasm.resumable("sha256")).save());
    hash.update(new TextEncoder().encode("abc"));
    expect(hash.digestHex()).toBe(createHash("sha256").update("abc").digest("hex"));
  });

  it("falls back to WebAssembly, saying what to run, when the addon was not built", async () => {
    const root = await mkdtemp(join(tmpdir(), "native-sha2-"));
    await writeFile(join(root, "package.json"), "{}");
    // Walking up from a package without the addon reaches / without finding one.
    const fallback = loadNodeHashing({ enabled: true, from: root });
    await rm(root, { recursive: true, force: true });
    expect(fallback.kind).toBe("webassembly");
    expect(fallback.kind === "webassembly" && fallback.reason).toContain("npm run build:native");
  });

  it("falls back when the file at the addon's path is not a loadable addon", async () => {
    const root = await mkdtemp(join(tmpdir(), "native-sha2-"));
    await writeFile(join(root, "package.json"), "{}");
    await mkdir(join(root, "native", "sha2", "build"), { recursive: true });
    await writeFile(join(root, ADDON_PATH), "not an ELF file");
    const fallback = loadNodeHashing({ enabled: true, from: root });
    await rm(root, { recursive: true, force: true });
    expect(fallback.kind).toBe("webassembly");
    expect(fallback.kind === "webassembly" && fallback.reason).toContain("did not load");
  });
});

const native: Hashing = loaded.hashing;
const implementations: Record<string, Hashing> = { native, webassembly: hashWasm };

describe.each(["sha256", "sha512"] as const)("native %s", (algorithm) => {
  it.each([0, 1, 55, 56, 63, 64, 65, 111, 112, 127, 128, 129, 1024 * 1024 + 3])("digests %i bytes like node:crypto", async (size) => {
    const data = randomBytes(size);
    const hash = await native.resumable(algorithm);
    hash.update(data);
    expect(hash.digestHex()).toBe(createHash(algorithm).update(data).digest("hex"));
  });

  it("gives node:crypto's digest for random splits, saved and resumed at random points by either implementation (property, 300 cases)", async () => {
    for (let run = 0; run < 300; run++) {
      const data = randomBytes(randomInt(0, run % 10 === 0 ? 70_000 : 1_200));
      const trail: string[] = [];
      let kind = randomInt(2) === 0 ? "native" : "webassembly";
      let hash = await implementations[kind]!.resumable(algorithm);
      trail.push(kind);
      for (let offset = 0; offset < data.byteLength; ) {
        const end = Math.min(data.byteLength, offset + randomInt(0, 300));
        hash.update(data.subarray(offset, end));
        offset = end;
        if (randomInt(3) === 0) {
          // Save here and resume in a fresh hash of either kind, as the next request on another instance would.
          kind = randomInt(2) === 0 ? "native" : "webassembly";
          hash = await implementations[kind]!.resumable(algorithm, hash.save());
          trail.push(`${kind}@${offset}`);
        }
      }
      const expected = createHash(algorithm).update(data).digest("hex");
      expect({ size: data.byteLength, trail, digest: hash.digestHex() }).toEqual({ size: data.byteLength, trail, digest: expected });
    }
  });

  it("resumes a native state in WebAssembly mid-block and mid-stream, and back", async () => {
    const data = randomBytes(10_000);
    const first = await native.resumable(algorithm);
    first.update(data.subarray(0, 3_333));
    const second = await hashWasm.resumable(algorithm, first.save());
    second.update(data.subarray(3_333, 7_001));
    const third = await native.resumable(algorithm, second.save());
    third.update(data.subarray(7_001));
    expect(third.digestHex()).toBe(createHash(algorithm).update(data).digest("hex"));
  });

  it("saves exactly hash-wasm's bytes (the leftover block zero-padded, as a fresh hash-wasm state has it)", async () => {
    const data = randomBytes(5);
    const ours = await native.resumable(algorithm);
    const theirs = await hashWasm.resumable(algorithm);
    ours.update(data);
    theirs.update(data);
    expect(Buffer.from(ours.save()).toString("hex")).toBe(Buffer.from(theirs.save()).toString("hex"));
  });

  it("carries lengths past 2^32 bits (512 MiB), up to the algorithm's limit, through the conversion", () => {
    const addon = (loaded.kind === "native" ? require(loaded.path) : null) as NativeSha2Addon | null;
    expect(addon).not.toBeNull();
    const layout = addon!.layout[algorithm];
    const wasm = wasmStates[algorithm];
    // SHA-256 hashes under 2^64 bits (2^61 bytes); SHA-512 under 2^128, of which hash-wasm counts 2^64 bytes.
    const lengths = algorithm === "sha256" ? [2n ** 29n + 17n, 2n ** 40n + 100n, 2n ** 61n - 1n] : [2n ** 29n + 17n, 2n ** 40n + 100n, 2n ** 61n + 5n, 2n ** 64n - 1n];
    for (const length of lengths) {
      const saved = new Uint8Array(4 + wasm.structSize);
      saved.set(wasm.tag);
      const view = new DataView(saved.buffer, 4);
      const buffered = Number(length % BigInt(wasm.blockSize));
      saved.set(randomBytes(buffered), 4);
      view.setBigUint64(wasm.length, length, true);
      saved.set(randomBytes(8 * wasm.wordSize), 4 + wasm.hash);
      view.setUint32(wasm.digestLength, wasm.digestSize, true);
      const context = new Uint8Array(layout.size);
      addon!.init(context);
      wasmStateToContext(algorithm, layout, saved, context);
      expect(Buffer.from(contextToWasmState(algorithm, layout, context)).toString("hex"), `length ${length}`).toBe(Buffer.from(saved).toString("hex"));
    }
  });

  it("refuses a state of the other algorithm, a truncated one, or one longer than the algorithm allows, rather than hash garbage", async () => {
    const other = algorithm === "sha256" ? "sha512" : "sha256";
    const foreign = (await hashWasm.resumable(other)).save();
    await expect(native.resumable(algorithm, foreign)).rejects.toThrow(/saved .* state has \d+ bytes|not written by/);
    const own = (await hashWasm.resumable(algorithm)).save();
    await expect(native.resumable(algorithm, own.subarray(0, own.byteLength - 1))).rejects.toThrow(/has \d+ bytes/);
    const retagged = Uint8Array.from(own);
    retagged[0]! ^= 0xff;
    await expect(native.resumable(algorithm, retagged)).rejects.toThrow(/not written by a/);
    if (algorithm === "sha256") {
      const tooLong = Uint8Array.from(own);
      new DataView(tooLong.buffer, 4).setBigUint64(wasmStates.sha256.length, 2n ** 61n, true);
      await expect(native.resumable(algorithm, tooLong)).rejects.toThrow(/more than SHA-256 can hash/);
    }
  });
});
