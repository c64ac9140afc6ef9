#!/usr/bin/env node
// @ts-check
/**
 * What `npm start` and the operator scripts run: checks the Node version, makes sure dist/ is
 * built from the sources as they are, then runs one command of dist/ in this process.
 *
 *   node bin/oci-registry.mjs [registry]       the server (npm start)
 *   node bin/oci-registry.mjs gc|usage|auth-keygen|auth-hash-password|auth-robot-token|auth-public-jwk [args]
 *   npx oci-registry copy SOURCE DESTINATION   push an image in chunks the registry accepts (src/copy/)
 *
 * Written for old Nodes too (no syntax newer than Node 14's, no import of anything that
 * needs a new Node) so that a Node too old says so in one line instead of failing on
 * `node:sqlite`. When this Node is too old and npm installed the pinned Node of this
 * platform (the optional dependency node-<platform>-<arch>), that one runs the command
 * instead, as a child that gets our SIGINT/SIGTERM/SIGHUP and whose exit status is ours.
 */
import { spawn } from "node:child_process";
import cluster from "node:cluster";
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const commands = ["registry", "gc", "usage", "auth-hash-password", "auth-keygen", "auth-robot-token", "auth-public-jwk", "copy"];

const args = process.argv.slice(2);
const command = args[0] !== undefined && commands.indexOf(args[0]) >= 0 ? String(args.shift()) : "registry";

const required = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).engines.node.replace(/^>=\s*/, "");
if (olderThan(process.versions.node, required)) {
  const pinned = join(root, "node_modules", "node-" + process.platform + "-" + process.arch, "bin", "node");
  // Once only: the child is told not to hand over again (a pinned Node too old would otherwise start another, forever).
  if (existsSync(pinned) && realpathSync(pinned) !== realpathSync(process.execPath) && !process.env.OCI_REGISTRY_NO_PINNED_NODE) runWith(pinned);
  else {
    console.error(
      "oci-registry needs Node.js " + required + " or newer (node:sqlite); this is Node " + process.versions.node + " (" + process.execPath + "). " +
        "Install Node " + required.split(".").slice(0, 2).join(".") + " or newer (https://nodejs.org, nvm, or your package manager) and run it again.",
    );
    process.exit(2);
  }
} else {
  await ensureBuilt();
  quietSqliteWarning();
  const entry = join(root, "dist", command + ".mjs");
  // Cluster workers start here too (not at the entry), so they get the same checks and quiet.
  if (cluster.isPrimary) cluster.setupPrimary({ exec: fileURLToPath(import.meta.url), args: [command].concat(args) });
  // What node:cluster forks for a worker, and what the command's own argument parsing sees.
  process.argv.splice(1, process.argv.length - 1, entry, ...args);
  await import(pathToFileURL(entry).href);
}

/**
 * Node 22 warns that node:sqlite is experimental, once per process, on every start: noise in an
 * operator's log about a choice made here (the versions we support are tested). Other warnings pass.
 */
function quietSqliteWarning() {
  const emitWarning = process.emitWarning;
  /** @type {(warning: string | Error, ...rest: any[]) => void} any: emitWarning's overloads, passed through as they are */
  const filtered = function (warning, ...rest) {
    const text = typeof warning === "string" ? warning : warning.message;
    if (text.indexOf("SQLite is an experimental feature") === 0) return;
    return emitWarning.apply(process, /** @type {[string]} */ ([warning].concat(rest)));
  };
  process.emitWarning = /** @type {typeof process.emitWarning} */ (filtered);
}

/** In a checkout (src/ beside us), rebuilds dist/ when it is missing, half-built or older than the sources. */
async function ensureBuilt() {
  const builder = join(root, "scripts", "build-node.mjs");
  if (!existsSync(join(root, "src")) || !existsSync(builder)) {
    if (existsSync(join(root, "dist", "build.json"))) return;
    console.error("dist/ is missing and there are no sources to build it from: reinstall (npm ci) or rebuild the image");
    process.exit(2);
  }
  const build = await import(pathToFileURL(builder).href);
  if (build.buildIsCurrent(root)) return;
  console.error("building dist/ from the sources (they changed since the last build, or none was made)…");
  try {
    const { seconds } = await build.buildNode(root);
    console.error("built dist/ in " + seconds.toFixed(1) + " s");
  } catch (error) {
    console.error("could not build dist/: " + (error instanceof Error ? error.message : String(error)));
    console.error("esbuild comes with `npm install`; run it (without --ignore-scripts) and try again");
    process.exit(2);
  }
}

/**
 * Runs this launcher again under another Node, as a child that shares our terminal, our signals and our exit status.
 * @param {string} node
 */
function runWith(node) {
  // With our Node options (npm start's --max-semi-space-size).
  const child = spawn(node, process.execArgv.concat([fileURLToPath(import.meta.url), command], args), { stdio: "inherit", env: Object.assign({}, process.env, { OCI_REGISTRY_NO_PINNED_NODE: "1" }) });
  /** @type {NodeJS.Signals[]} */
  const forwarded = ["SIGINT", "SIGTERM", "SIGHUP"];
  for (const signal of forwarded) process.on(signal, () => child.kill(signal));
  child.on("error", (error) => {
    console.error("could not run the pinned Node " + node + ": " + error.message);
    process.exit(2);
  });
  child.on("exit", (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    } else process.exit(code === null ? 1 : code);
  });
}

/**
 * @param {string} version
 * @param {string} wanted
 */
function olderThan(version, wanted) {
  const have = version.split(".").map(Number);
  const want = wanted.split(".").map(Number);
  for (let i = 0; i < 3; i++) {
    if ((have[i] || 0) !== (want[i] || 0)) return (have[i] || 0) < (want[i] || 0);
  }
  return false;
}
