/**
 * Writes hash-wasm's SHA-256 and SHA-512 WebAssembly binaries as .wasm files
 * into src/adapters/wasm-sha2/, for runtimes that forbid compiling WASM at run
 * time (Cloudflare Workers): there a `.wasm` import is compiled at deploy time.
 *
 *   npx node scripts/extract-hash-wasm.ts
 *
 * hash-wasm embeds each binary as base64 in its bundle, with a 4-byte tag
 * (the first bytes of the binary's SHA-1) that prefixes every saved state.
 * The tags printed here must match `STATE_TAGS` in src/adapters/wasm-sha2/hashing.ts;
 * test/unit/wasm-sha2.test.ts checks both the bytes and the tags.
 * Run it again after upgrading hash-wasm, and commit the result.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { embeddedSha2 } from "./hash-wasm-bundle.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "src/adapters/wasm-sha2");
const require = createRequire(import.meta.url);
const bundle = readFileSync(join(dirname(require.resolve("hash-wasm/package.json")), "dist/index.esm.js"), "utf8");

for (const { algorithm, bytes, tag } of embeddedSha2(bundle)) {
  writeFileSync(join(out, `${algorithm}.wasm`), bytes);
  console.log(`${algorithm}.wasm: ${bytes.byteLength} bytes, state tag ${tag}`);
}
