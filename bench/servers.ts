/**
 * The registries under test, each on its own 127.0.0.1 port over its own
 * temporary storage, each in its own process group:
 *
 * - ours: `node bin/oci-registry.mjs`, the launcher of the built dist/ (what `npm start` runs) with the Node the
 *   bench itself runs on (the pinned Node 24 from node_modules under `npm run`),
 *   once per PROCESSES value;
 * - theirs: a CNCF Distribution binary, `serve <config>`: Debian's
 *   `docker-registry` (2.8.2) unless another is named (e.g. v3.0.0).
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { accessSync, constants, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { groupMembers, treeOf } from "./proc.ts";

export interface RunningRegistry {
  /** Stable key for the JSON: "ours-1", "ours-2", "theirs". */
  key: string;
  kind: "ours" | "theirs";
  /** How every printed line names it: "ours P=2", "Distribution 3.0.0". */
  label: string;
  url: string;
  /** The process the bench started: the root of the tree that serves (a cluster primary, or the one process). */
  pid: number;
  /** Ours: the PROCESSES value it was started with. */
  processes?: number;
  /** Ours: processes seen serving once it settled (tree size, less the primary when there are workers). */
  serving?: number;
  /** Processes in its tree once it settled. */
  treeSize: number;
  dataDir: string;
  logPath: string;
  /** The environment variables the bench set for it (beyond the inherited, filtered environment). */
  env: Record<string, string>;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/** True when `command` is on PATH. */
export function haveCommand(command: string): boolean {
  return spawnSync("sh", ["-c", `command -v "$1"`, "sh", command], { stdio: "ignore" }).status === 0;
}

/** The Node flags `npm start` passes (package.json's start script: `node <flags> <entry>`), so the bench runs the server as it is run. */
export function startNodeFlags(repoRoot: string): string[] {
  const { scripts } = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { scripts?: { start?: string } };
  const flags = /^(?:exec\s+)?node((?:\s+--\S+)*)\s/.exec(scripts?.start ?? "")?.[1] ?? "";
  return flags.split(/\s+/).filter(Boolean);
}

/** `entry` is for the harness's own tests (a stand-in server); the bench runs what `npm start` runs: the launcher and the built dist/. */
export async function startOurs(workDir: string, repoRoot: string, processes: number, entry = "bin/oci-registry.mjs"): Promise<RunningRegistry> {
  const key = `ours-${processes}`;
  const port = await freePort();
  const dataDir = join(workDir, `${key}-data`);
  mkdirSync(dataDir, { recursive: true });
  const logPath = join(workDir, `${key}.log`);
  const log = openSync(logPath, "a");
  const env = { HOST: "127.0.0.1", PORT: String(port), DATA_DIR: dataDir, PROCESSES: String(processes) };
  // process.execPath: the Node running the bench, i.e. node_modules' pinned Node under `npm run bench`,
  // which is also what `npm start` runs. No npm/npx wrapper, so the root of the tree is the server itself.
  const child = spawn(process.execPath, [...startNodeFlags(repoRoot), entry], {
    cwd: repoRoot,
    env: { ...withoutRegistrySettings(process.env), ...env },
    stdio: ["ignore", log, log],
    // Its own process group (setsid), so one signal reaches the primary and every worker.
    detached: true,
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntilServing(url, child, logPath);
    const treeSize = await waitForTree(child.pid!, processes > 1 ? processes + 1 : 1);
    return {
      key,
      kind: "ours",
      label: `ours P=${processes}`,
      url,
      pid: child.pid!,
      processes,
      serving: treeSize > 1 ? treeSize - 1 : 1,
      treeSize,
      dataDir,
      logPath,
      env,
      stop: () => stopGroup(child),
    };
  } catch (error) {
    await stopGroup(child);
    throw error;
  }
}

/**
 * Waits until the process tree under `root` has `expected` processes, or has
 * not changed size for 1 s (at most 15 s): a cluster primary forks its
 * workers after the first one may already answer. Returns the size seen.
 */
async function waitForTree(root: number, expected: number): Promise<number> {
  const deadline = Date.now() + 15_000;
  let size = treeOf(root).length;
  let stableSince = Date.now();
  while (size < expected && Date.now() - stableSince < 1000 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const now = treeOf(root).length;
    if (now !== size) {
      size = now;
      stableSince = Date.now();
    }
  }
  return size;
}

/**
 * The environment without any of our registry's settings (config file, auth,
 * backend, part size, process count...) and without Distribution's
 * REGISTRY_* overrides, so both run their defaults whatever the caller's shell holds.
 */
function withoutRegistrySettings(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const settings =
    /^(REGISTRY_.*|HOST|PORT|DATA_DIR|PROCESSES|PART_SIZE|MAX_MANIFEST_BYTES|AUTOMATIC_MOUNT|UPLOAD_TTL_SECONDS|BACKEND|S3_.*|DYNAMODB_.*|BLOB_REDIRECT.*|AUTH_CONFIG.*)$/;
  return Object.fromEntries(Object.entries(env).filter(([name]) => !settings.test(name)));
}

export interface DistributionBinary {
  /** What the bench runs: an absolute path, or a command name found on PATH. */
  command: string;
  /** First line of `<command> --version`. */
  versionOutput: string;
  /** Go module path from that line: github.com/docker/distribution (2.x) or github.com/distribution/distribution/v3. */
  module: string;
  /** Version from that line, as printed: "2.8.2+ds1", "v3.0.0+unknown". */
  version: string;
  /** The version without a leading "v" or build metadata: "2.8.2", "3.0.0". */
  shortVersion: string;
  /** How every printed line names it: "Distribution 3.0.0". */
  label: string;
}

/**
 * Resolves and identifies the Distribution binary to compare with: a path
 * (must be executable) or a command on PATH. Throws a one-line explanation.
 */
export function identifyDistribution(requested: string): DistributionBinary {
  let command = requested;
  if (requested.includes("/")) {
    command = resolve(requested);
    try {
      accessSync(command, constants.X_OK);
    } catch {
      throw new Error(`--distribution ${requested}: no executable file there`);
    }
  } else if (!haveCommand(requested)) {
    throw new Error(
      requested === "docker-registry"
        ? "docker-registry (CNCF Distribution 2.8.2) is not installed: apt-get install -y docker-registry, or name another binary with --distribution PATH"
        : `--distribution ${requested}: not found on PATH`,
    );
  }
  let versionOutput: string;
  try {
    versionOutput = execFileSync(command, ["--version"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 10_000 }).trim().split("\n")[0]!;
  } catch (error) {
    throw new Error(`${command} --version failed: ${(error as Error).message.split("\n")[0]}`);
  }
  return { command, versionOutput, ...parseVersionOutput(versionOutput) };
}

/** The parts of `registry --version` output: "<argv0> github.com/docker/distribution 2.8.2+ds1", "<argv0> github.com/distribution/distribution/v3 v3.0.0+unknown". */
export function parseVersionOutput(versionOutput: string): Pick<DistributionBinary, "module" | "version" | "shortVersion" | "label"> {
  const words = versionOutput.trim().split(/\s+/);
  const at = words.findIndex((word) => /^github\.com\/[^/]+\/distribution/.test(word));
  const module = at >= 0 ? words[at]! : "unknown";
  const version = at >= 0 && words[at + 1] ? words[at + 1]! : "unknown";
  const shortVersion = version === "unknown" ? "(unknown version)" : version.replace(/^v/, "").replace(/\+.*$/, "");
  return { module, version, shortVersion, label: `Distribution ${shortVersion}` };
}

/**
 * Distribution v3 traces every request with OpenTelemetry by default and
 * tries to export the spans to localhost:4318 (failing, and logging it every
 * few seconds). Ours traces nothing, so tracing is switched off, unless the
 * caller's environment says otherwise. 2.8.2 has no tracing and ignores these.
 */
const DISTRIBUTION_TRACING_OFF = { OTEL_SDK_DISABLED: "true", OTEL_TRACES_EXPORTER: "none" };

export async function startDistribution(workDir: string, binary: DistributionBinary): Promise<RunningRegistry> {
  const port = await freePort();
  const dataDir = join(workDir, "theirs-data");
  mkdirSync(dataDir, { recursive: true });
  const configPath = join(workDir, "distribution.yml");
  // One config that 2.8.2 and 3.0.0 both accept: Debian's packaged defaults
  // (in-memory blob descriptor cache) minus auth and the health check; no
  // access log, since ours writes none per request either.
  writeFileSync(
    configPath,
    [
      "version: 0.1",
      "log:",
      "  level: warn",
      "  accesslog:",
      "    disabled: true",
      "storage:",
      "  filesystem:",
      `    rootdirectory: ${dataDir}`,
      "  delete:",
      "    enabled: true",
      "  cache:",
      "    blobdescriptor: inmemory",
      "http:",
      `  addr: 127.0.0.1:${port}`,
      "",
    ].join("\n"),
  );
  const logPath = join(workDir, "theirs.log");
  const log = openSync(logPath, "a");
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(DISTRIBUTION_TRACING_OFF)) env[name] = process.env[name] ?? value;
  const child = spawn(binary.command, ["serve", configPath], {
    env: { ...withoutRegistrySettings(process.env), ...env },
    stdio: ["ignore", log, log],
    detached: true,
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntilServing(url, child, logPath);
  } catch (error) {
    await stopGroup(child);
    throw error;
  }
  return { key: "theirs", kind: "theirs", label: binary.label, url, pid: child.pid!, treeSize: treeOf(child.pid!).length, dataDir, logPath, env, stop: () => stopGroup(child) };
}

async function waitUntilServing(url: string, child: ChildProcess, logPath: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  let exited = false;
  child.once("exit", () => (exited = true));
  child.once("error", () => (exited = true));
  for (;;) {
    if (exited) throw new Error(`the registry for ${url} exited before answering; see ${logPath}`);
    try {
      const response = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(5_000) });
      await response.body?.cancel();
      if (response.status === 200) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`${url}/v2/ did not answer within 60 s; see ${logPath}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Stops the whole process group the bench created for a registry (a cluster
 * primary and all its workers): SIGTERM, then SIGKILL to the group after 5 s,
 * and waits until no member is left (at most 10 s more).
 */
async function stopGroup(child: ChildProcess): Promise<void> {
  const pgid = child.pid;
  if (pgid === undefined) return;
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-pgid, name);
    } catch {
      // Nobody left in the group.
    }
  };
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  signal("SIGTERM");
  const started = Date.now();
  let killed = false;
  while (groupMembers(pgid).length > 0) {
    if (!killed && Date.now() - started > 5_000) {
      signal("SIGKILL");
      killed = true;
    }
    if (Date.now() - started > 15_000) {
      console.error(`[bench] process group ${pgid} still has members ${groupMembers(pgid).join(", ")} after SIGKILL`);
      return;
    }
    await sleep(50);
  }
}
