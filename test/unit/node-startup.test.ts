import { describe, expect, it } from "vitest";
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
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
    expect(stderr).toContain(`DATA_DIR ${join(file, "data")} cannot hold the registry's data: ${file} is a file, not a directory`);
  });

  // Node's recursive mkdir loops forever there (ENOENT for a parent that exists): the process spun at 100% CPU, silent.
  it("refuses a DATA_DIR under /proc at once, saying the file system allows no new directories", async () => {
    const { code, stderr } = await runEntry({ DATA_DIR: "/proc/nope/data", PORT: "0" });
    expect(code).toBe(2);
    expect(stderr.trim()).toBe(
      "DATA_DIR /proc/nope/data cannot hold the registry's data: /proc/nope cannot be created: /proc does not allow new directories or files, as in /proc or /sys (ENOENT). " +
        "Set DATA_DIR (or dataDir) to a directory this user may write, e.g. DATA_DIR=$HOME/registry-data",
    );
  });

  // Node's recursive mkdir said ENOENT here. As root a read-only mount is the only thing that refuses; as anyone else a 0555 directory does.
  it("names a read-only parent as read-only (EROFS as root, EACCES otherwise), not as missing", async () => {
    const root = await mkdtemp(join(tmpdir(), "registry-startup-"));
    const parent = join(root, "read-only");
    await mkdir(parent);
    const asRoot = process.getuid?.() === 0;
    if (asRoot) execFileSync("mount", ["-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", parent]);
    else await chmod(parent, 0o555);
    try {
      const { code, stderr } = await runEntry({ DATA_DIR: join(parent, "a", "data"), PORT: "0" });
      expect(code).toBe(2);
      expect(stderr).toContain(
        asRoot
          ? `${join(parent, "a")} cannot be created: ${parent} is on a read-only file system (EROFS)`
          : `${join(parent, "a")} cannot be created: this user (uid ${process.getuid?.()}) may not write in ${parent} (EACCES)`,
      );
      expect(stderr).not.toContain("ENOENT");
    } finally {
      if (asRoot) execFileSync("umount", [parent]);
      await rm(root, { recursive: true, force: true });
    }
  });

  it("refuses an existing DATA_DIR it cannot write into, naming the reason", async () => {
    const root = await mkdtemp(join(tmpdir(), "registry-startup-"));
    const asRoot = process.getuid?.() === 0;
    if (asRoot) execFileSync("mount", ["-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", root]);
    else await chmod(root, 0o555);
    try {
      const { code, stderr } = await runEntry({ DATA_DIR: root, PORT: "0" });
      expect(code).toBe(2);
      expect(stderr).toContain(
        `DATA_DIR ${root} cannot hold the registry's data: no file can be written in it: ` +
          (asRoot ? `${root} is on a read-only file system (EROFS)` : `this user (uid ${process.getuid?.()}) may not write in ${root} (EACCES)`),
      );
    } finally {
      if (asRoot) execFileSync("umount", [root]);
      else await chmod(root, 0o755);
      await rm(root, { recursive: true, force: true });
    }
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
