/**
 * Process plumbing for the throwaway AWS stand-ins (Ceph RGW, dynalite):
 * free ports, commands that must succeed, daemons that outlive the caller
 * (so a CLI can start them and exit) and a stop that needs only their pids.
 */
import { execFile, spawn } from "node:child_process";
import { openSync, closeSync } from "node:fs";
import { createServer } from "node:net";

/** A port the kernel says is free on 127.0.0.1 now (closed again before use: a tiny race). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/** Runs a command to completion; throws with its output when it fails. */
export function run(command: string, args: string[], options: { timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: options.timeoutMs ?? 60_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(" ")} failed: ${error.message}\n${stderr}${stdout}`.trim()));
      else resolve(stdout);
    });
  });
}

/**
 * Starts a long-running process in its own session, writing to `logFile`,
 * and lets this process exit without it. Returns its pid.
 */
export function spawnDaemon(command: string, args: string[], logFile: string, env: NodeJS.ProcessEnv = process.env): number {
  const log = openSync(logFile, "a");
  try {
    const child = spawn(command, args, { detached: true, stdio: ["ignore", log, log], env });
    if (child.pid === undefined) throw new Error(`could not start ${command}`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(log);
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Kills the processes outright: their state is thrown away with them, and
 * a graceful memstore OSD would first write all of its RAM out to disk.
 */
export async function killAll(pids: number[], timeoutMs = 5000): Promise<void> {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + timeoutMs;
  while (pids.some(isAlive) && Date.now() < deadline) await sleep(50);
}

/** Polls `check` until it returns a value or `timeoutMs` passes; `describe` explains a timeout. */
export async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>, describe?: () => Promise<string>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const detail = describe ? await describe().catch(() => "") : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ""}${detail ? `\n${detail}` : ""}`);
    }
    await sleep(100);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
