// @ts-check
/**
 * Builds dist/: `npm start`'s server and the operator scripts as plain JavaScript bundles
 * (esbuild), so that starting needs no TypeScript, no type stripping and no dev dependency.
 * Run by `npm install`/`npm ci` (the `prepare` script), and by bin/oci-registry.mjs when the
 * sources changed after the last build. Plain JavaScript itself, because it runs on whatever
 * Node the machine has, before anything checks that version.
 *
 *   node scripts/build-node.mjs          builds dist/ and says so in one line
 *
 * What dist/ holds: one ESM file per command (ENTRY_POINTS) and shared chunks under
 * dist/chunks/ (the AWS SDK is a chunk of its own, loaded only with BACKEND=aws). Everything
 * is bundled: dist/ needs no node_modules at run time. Node built-ins (`node:*`) stay imports.
 * A native addon (a `.node` file) is not bundled: list its loader's package in EXTERNAL and
 * ship it beside dist/. dist/build.json is written last and names the sources it was built
 * from, so a build that died half-way, or sources edited since, make the launcher build again.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** Command name (what bin/oci-registry.mjs is given) → source. */
export const ENTRY_POINTS = {
  registry: "src/runtime/node.ts",
  gc: "scripts/gc.ts",
  usage: "scripts/usage.ts",
  "auth-hash-password": "scripts/auth-hash-password.ts",
  "auth-keygen": "scripts/auth-keygen.ts",
  "auth-robot-token": "scripts/auth-robot-token.ts",
  "auth-public-jwk": "scripts/auth-public-jwk.ts",
  copy: "src/copy/cli.ts",
};

/** Packages loaded from node_modules at run time instead of bundled (native addons). */
/** @type {string[]} */
const EXTERNAL = [];

/**
 * The lowest Node the bundles are written for: package.json's engines.node.
 * @param {string} root
 */
function targetNode(root) {
  const range = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).engines.node;
  const match = /^>=\s*(\d+\.\d+(?:\.\d+)?)$/.exec(range);
  if (!match) throw new Error(`package.json engines.node must read ">=X.Y.Z", not ${JSON.stringify(range)}`);
  return `node${match[1]}`;
}

/** Every input of a build: the sources, the dependency set and this file. Sorted paths with size and mtime, hashed. */
export function sourcesFingerprint(root = ROOT) {
  /** @type {string[]} */
  const files = [];
  // Paths joined by hand: path.join's normalisation, run per file, made this walk hot enough at
  // start-up to wake V8's optimising compilers (~5 MiB more of the node binary resident).
  const base = /[\\/]$/.test(root) ? root : root + sep;
  /** @param {string} dir */
  const walk = (dir) => {
    for (const entry of readdirSync(base + dir, { withFileTypes: true })) {
      const path = dir + "/" + entry.name;
      if (entry.isDirectory()) walk(path);
      else if (/\.(ts|mjs|js|json)$/.test(entry.name)) files.push(path);
    }
  };
  walk("src");
  walk("scripts");
  files.push("package.json", "package-lock.json");
  files.sort();
  const hash = createHash("sha256");
  for (const file of files) {
    let line = `${file}\0missing\n`;
    try {
      const stat = statSync(base + file);
      line = `${file}\0${stat.size}\0${stat.mtimeMs}\n`;
    } catch {
      // a missing package-lock.json is an input too
    }
    hash.update(line);
  }
  return hash.digest("hex");
}

/** True when dist/ was completely built from the sources as they are now. */
export function buildIsCurrent(root = ROOT) {
  try {
    const info = JSON.parse(readFileSync(join(root, "dist", "build.json"), "utf8"));
    return info.sources === sourcesFingerprint(root);
  } catch {
    return false;
  }
}

export async function buildNode(root = ROOT) {
  const { build, stop, version } = await import("esbuild");
  const started = performance.now();
  const dist = join(root, "dist");
  // Built beside dist/ and swapped in with two renames: a process starting meanwhile (a cluster
  // worker restarting, another npm start) finds the old build or the new one, never half of one.
  const next = join(root, `dist.next-${process.pid}`);
  const sources = sourcesFingerprint(root);
  rmSync(next, { recursive: true, force: true });
  // esbuild builds in a child process (its service) that stays until stop(): when the launcher
  // rebuilds before a start, that child (~135 MiB resident) lived as long as the server.
  const result = await build({
    absWorkingDir: root,
    entryPoints: Object.fromEntries(Object.entries(ENTRY_POINTS).map(([name, source]) => [name, source])),
    outdir: next,
    outExtension: { ".js": ".mjs" },
    chunkNames: "chunks/[name]-[hash]",
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: targetNode(root),
    external: EXTERNAL,
    // Bundled CommonJS packages (the AWS SDK) call require() for Node built-ins; ESM has none of its own.
    banner: { js: 'import { createRequire as __registryCreateRequire } from "node:module"; const require = __registryCreateRequire(import.meta.url);' },
    sourcemap: "linked",
    sourcesContent: false,
    legalComments: "linked",
    metafile: true,
    logLevel: "warning",
  }).finally(() => stop());
  const bytes = Object.values(result.metafile.outputs).reduce((sum, output) => sum + output.bytes, 0);
  writeFileSync(
    join(next, "build.json"),
    JSON.stringify({ sources, esbuild: version, target: targetNode(root), entryPoints: ENTRY_POINTS, inputs: Object.keys(result.metafile.inputs).sort() }, null, 2) + "\n",
  );
  const old = join(root, `dist.old-${process.pid}`);
  try {
    renameSync(dist, old);
  } catch (error) {
    if (/** @type {NodeJS.ErrnoException} */ (error).code !== "ENOENT") throw error;
  }
  renameSync(next, dist);
  rmSync(old, { recursive: true, force: true });
  return { seconds: (performance.now() - started) / 1000, bytes, outputs: Object.keys(result.metafile.outputs).map((path) => relative(next, join(root, path))) };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { seconds, bytes } = await buildNode();
  console.error(`built dist/ (${Object.keys(ENTRY_POINTS).join(", ")}): ${(bytes / 1024 / 1024).toFixed(1)} MiB in ${seconds.toFixed(1)} s`);
}
