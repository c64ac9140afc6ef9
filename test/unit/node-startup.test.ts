import { describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Runs the Node entry point with `env` until it exits; returns its exit code and stderr. */
async function runEntry(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ["src/runtime/node.ts"], { env: { ...process.env, HOST: "127.0.0.1", ...env }, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  const [code] = (await once(child, "exit")) as [number | null];
  clearTimeout(timer);
  return { code, stderr };
}

describe("Node entry point start-up checks", () => {
  it("refuses a DATA_DIR it cannot write, with one line naming it", async () => {
    const root = await mkdtemp(join(tmpdir(), "registry-startup-"));
    const file = join(root, "a-file");
    await writeFile(file, "");
    const { code, stderr } = await runEntry({ DATA_DIR: join(file, "data"), PORT: "0" });
    await rm(root, { recursive: true, force: true });
    expect(code).toBe(2);
    expect(stderr).toContain(`DATA_DIR ${join(file, "data")} is not a writable directory`);
  });

  it("says the port is in use instead of crashing with a stack trace", async () => {
    const blocker = createServer();
    blocker.listen(0, "127.0.0.1");
    await once(blocker, "listening");
    const port = (blocker.address() as { port: number }).port;
    const root = await mkdtemp(join(tmpdir(), "registry-startup-"));
    const { code, stderr } = await runEntry({ DATA_DIR: root, PORT: String(port) });
    blocker.close();
    await rm(root, { recursive: true, force: true });
    expect(code).toBe(2);
    expect(stderr).toContain(`cannot listen on 127.0.0.1:${port}: the address is already in use`);
    expect(stderr).not.toContain("Unhandled 'error' event");
  });

  it("names a missing config file plainly", async () => {
    const { code, stderr } = await runEntry({ REGISTRY_CONFIG: "/nonexistent/registry.json", PORT: "0" });
    expect(code).toBe(2);
    expect(stderr).toContain("REGISTRY_CONFIG=/nonexistent/registry.json cannot be read (ENOENT)");
  });
});
