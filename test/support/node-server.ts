/**
 * `node src/runtime/node.ts` as a child process on 127.0.0.1 and a free port,
 * one process, over a temporary DATA_DIR: for tests about what only a real
 * socket and a real process show (how much of a body is read, the memory it
 * takes). Stopped by its pid only.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface NodeServer {
  port: number;
  pid: number;
  url: string;
  /** What the server printed so far (stdout and stderr). */
  output(): string;
  /** Resident memory of the server process now, in bytes (Linux /proc). */
  rss(): Promise<number>;
  /** Everything the process printed so far (stdout and stderr). */
  output(): string;
  stop(): Promise<void>;
}

export async function startNodeServer(env: Record<string, string> = {}, options: { dataDir?: string } = {}): Promise<NodeServer> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), "registry-socket-")));
  const child = spawn(process.execPath, ["src/runtime/node.ts"], {
    // BACKEND: the DATA_DIR is this server's store, even when the caller's shell exported
    // BACKEND=aws (eval "$(npm run -s aws:local -- start)"); a caller may still ask for another.
    env: { ...process.env, BACKEND: "filesystem", HOST: "127.0.0.1", PORT: "0", PROCESSES: "1", DATA_DIR: dataDir, GC_INTERVAL_SECONDS: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the registry did not start within 20 s:\n${output}`)), 20_000);
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const match = /registry listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the registry exited (${code}) before listening:\n${output}`));
    });
  });
  const pid = child.pid!;
  return {
    port,
    pid,
    url: `http://127.0.0.1:${port}`,
    output: () => output,
    async rss() {
      const status = await readFile(`/proc/${pid}/status`, "utf8");
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await once(child, "exit");
        clearTimeout(timer);
      }
      if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
