/**
 * `npm run dev:workers` serves on the port asked for: PORT, or `-- --port N` (8787 was
 * hard-coded: PORT was ignored and `-- --port` failed on a second --port). Real wrangler dev,
 * real workerd, one request, then SIGTERM to npm stops every process it started.
 */
import { afterAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, groupProcessIds, request } from "./server.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // gone
    }
  }
});

async function devWorkers(args: string[], env: Record<string, string>, port: number): Promise<string> {
  const state = await mkdtemp(join(tmpdir(), "registry-dev-workers-"));
  const child = spawn("npm", ["run", "dev:workers", "--", "--persist-to", state, ...args], { cwd: ROOT, detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  children.push(child);
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  try {
    const deadline = Date.now() + 90_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`npm run dev:workers exited (${child.exitCode}):\n${output}`);
      const status = await request(`http://127.0.0.1:${port}`, "GET", "/v2/", { timeoutMs: 5_000 }).then(
        (res) => res.status,
        () => 0,
      );
      if (status === 200) break;
      if (Date.now() > deadline) throw new Error(`nothing answered on ${port} within 90 s:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    process.kill(child.pid!, "SIGTERM");
    const gone = Date.now() + 30_000;
    while (groupProcessIds(child.pid!).length > 0) {
      if (Date.now() > gone) throw new Error(`processes ${groupProcessIds(child.pid!).join(", ")} still running 30 s after SIGTERM to npm`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return output;
  } finally {
    await rm(state, { recursive: true, force: true });
  }
}

describe("npm run dev:workers port setting", () => {
  it("serves on PORT, and on -- --port N, which wins over PORT; SIGTERM to npm stops wrangler and workerd", { timeout: 240_000 }, async () => {
    const fromEnv = await freePort();
    await devWorkers([], { PORT: String(fromEnv) }, fromEnv);
    const fromFlag = await freePort();
    const output = await devWorkers(["--port", String(fromFlag)], { PORT: "1" }, fromFlag);
    expect(output).toContain(`127.0.0.1:${fromFlag}`);
  });

  it("refuses a PORT that is not a port number, saying what to set", async () => {
    const child = spawn("npm", ["run", "--silent", "dev:workers"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, PORT: "eighty" } });
    let stderr = "";
    child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise((resolve) => child.on("exit", resolve));
    expect(code).toBe(2);
    expect(stderr).toContain("PORT=eighty is not a port number (0-65535); set PORT or pass -- --port N");
  });
});
