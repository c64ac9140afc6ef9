/**
 * The two registries under test, each on its own 127.0.0.1 port over its own
 * temporary storage: ours through `npx node src/runtime/node.ts` (what
 * `npm start` runs), and Debian's `docker-registry` (CNCF Distribution 2.8.2).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, openSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { basename, join } from "node:path";
import { findDescendant } from "./proc.ts";

export interface RunningRegistry {
  name: "ours" | "theirs";
  url: string;
  /** The process doing the work (the real node, not the npx wrapper). */
  pid: number;
  dataDir: string;
  logPath: string;
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
  return spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status === 0;
}

export async function startOurs(workDir: string, repoRoot: string): Promise<RunningRegistry> {
  const port = await freePort();
  const dataDir = join(workDir, "ours-data");
  mkdirSync(dataDir, { recursive: true });
  const logPath = join(workDir, "ours.log");
  const log = openSync(logPath, "a");
  const child = spawn("npx", ["--no-install", "node", "src/runtime/node.ts"], {
    cwd: repoRoot,
    env: { ...defaultsOnly(process.env), HOST: "127.0.0.1", PORT: String(port), DATA_DIR: dataDir },
    stdio: ["ignore", log, log],
    // Its own process group, so one signal stops npx, its shell and node.
    detached: true,
  });
  const url = `http://127.0.0.1:${port}`;
  await waitUntilServing(url, child, logPath);
  const pid = findDescendant(child.pid!, (argv) => basename(argv[0] ?? "") === "node" && (argv[1] ?? "").endsWith("src/runtime/node.ts"));
  if (pid === null) throw new Error(`could not find the node process under npx (pid ${child.pid})`);
  return { name: "ours", url, pid, dataDir, logPath, stop: () => stopGroup(child) };
}

/**
 * The environment without any registry setting (config file, auth, backend,
 * part size...), so the bench measures the defaults whatever the caller's shell holds.
 */
function defaultsOnly(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const settings = /^(REGISTRY_CONFIG|HOST|PORT|DATA_DIR|PART_SIZE|MAX_MANIFEST_BYTES|AUTOMATIC_MOUNT|UPLOAD_TTL_SECONDS|BACKEND|S3_.*|DYNAMODB_.*|BLOB_REDIRECT.*|AUTH_CONFIG.*)$/;
  return Object.fromEntries(Object.entries(env).filter(([name]) => !settings.test(name)));
}

export async function startDistribution(workDir: string): Promise<RunningRegistry> {
  const port = await freePort();
  const dataDir = join(workDir, "theirs-data");
  mkdirSync(dataDir, { recursive: true });
  const configPath = join(workDir, "distribution.yml");
  // Debian's packaged defaults (inmemory blob descriptor cache), minus auth and
  // the health check; no access log, since ours writes none per request either.
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
  const child = spawn("docker-registry", ["serve", configPath], { stdio: ["ignore", log, log], detached: true });
  const url = `http://127.0.0.1:${port}`;
  await waitUntilServing(url, child, logPath);
  return { name: "theirs", url, pid: child.pid!, dataDir, logPath, stop: () => stopGroup(child) };
}

async function waitUntilServing(url: string, child: ChildProcess, logPath: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  let exited = false;
  child.once("exit", () => (exited = true));
  for (;;) {
    if (exited) throw new Error(`the registry for ${url} exited before answering; see ${logPath}`);
    try {
      const response = await fetch(`${url}/v2/`);
      await response.body?.cancel();
      if (response.status === 200) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`${url}/v2/ did not answer within 60 s; see ${logPath}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** SIGTERM to the process group we created, SIGKILL after 5 s. */
async function stopGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, name);
    } catch {
      // Already gone.
    }
  };
  signal("SIGTERM");
  const timer = setTimeout(() => signal("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}
