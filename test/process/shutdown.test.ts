/**
 * SIGTERM and SIGINT against the real process `npm start` runs (bin/oci-registry.mjs and the
 * compiled dist/): requests in flight finish, new connections are refused, the process exits
 * with one line, a stalled client cannot hold it past shutdownGraceSeconds, and a kill of the
 * `npm start` process itself stops the server (it used to leave node serving).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, groupProcessIds, request, sha256 } from "./server.ts";
// @ts-expect-error a plain JavaScript module without types (it runs before any TypeScript tooling exists)
import { buildIsCurrent, buildNode } from "../../scripts/build-node.mjs";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

interface Started {
  child: ChildProcess;
  url: string;
  port: number;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `command args` in a process group of its own on a free port; resolves once GET /v2/ answers. */
async function start(command: string, args: string[], env: Record<string, string>): Promise<Started> {
  const port = await freePort();
  const child = spawn(command, args, {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, HOST: "127.0.0.1", PORT: String(port), GC_INTERVAL_SECONDS: "0", ...env },
  });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`exited before serving:\n${output}`);
    const answered = await request(url, "GET", "/v2/", { timeoutMs: 2_000 }).then(
      (res) => res.status === 200,
      () => false,
    );
    if (answered) break;
    if (Date.now() > deadline) throw new Error(`not serving within 60 s:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  started.push(child);
  return { child, url, port, output: () => output, exited };
}

const started: ChildProcess[] = [];
afterAll(() => {
  for (const child of started) {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // gone already
    }
  }
});

async function waitFor(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A monolithic blob push (POST ?digest=) on a raw socket: the headers and `sent` bytes of the body now, the rest when told. */
async function startPush(port: number, repository: string, blob: Buffer, sent: number): Promise<{ socket: Socket; finish(): Promise<string> }> {
  const socket = connect(port, "127.0.0.1");
  await once(socket, "connect");
  let answer = "";
  socket.on("data", (chunk: Buffer) => (answer += chunk.toString("latin1")));
  const closed = once(socket, "close");
  socket.on("error", () => {});
  socket.write(
    `POST /v2/${repository}/blobs/uploads/?digest=${sha256(blob)} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: ${blob.length}\r\n\r\n`,
  );
  socket.write(blob.subarray(0, sent));
  return {
    socket,
    async finish() {
      socket.write(blob.subarray(sent));
      await Promise.race([closed, waitFor("the push's answer", () => /\r\n\r\n/.test(answer))]);
      return answer;
    },
  };
}

describe("stopping on SIGTERM/SIGINT (the process npm start runs)", () => {
  let dataDir: string;
  beforeAll(async () => {
    if (!buildIsCurrent(ROOT)) await buildNode(ROOT);
    dataDir = await mkdtemp(join(tmpdir(), "registry-shutdown-"));
  });
  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  it("one process: a push in flight at SIGTERM finishes, new connections are refused, then the process exits with one line", async () => {
    const server = await start(process.execPath, ["bin/oci-registry.mjs"], { DATA_DIR: join(dataDir, "one"), PROCESSES: "1", SHUTDOWN_GRACE_SECONDS: "60" });
    const blob = Buffer.alloc(3 * 1024 * 1024, 7);
    const push = await startPush(server.port, "team/app", blob, 1024 * 1024);
    process.kill(server.child.pid!, "SIGTERM");
    await waitFor("the stopping line", () => server.output().includes("SIGTERM: stopping; requests in flight finish first (at most 60 s)"));
    await expect(request(server.url, "GET", "/v2/", { timeoutMs: 5_000 })).rejects.toThrow(/ECONNREFUSED/);
    expect(server.child.exitCode).toBeNull();

    const answer = await push.finish();
    expect(answer).toMatch(/^HTTP\/1\.1 201 /);
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(server.output().match(/stopping/g)).toHaveLength(1);

    const again = await start(process.execPath, ["bin/oci-registry.mjs"], { DATA_DIR: join(dataDir, "one"), PROCESSES: "1" });
    expect((await request(again.url, "HEAD", `/v2/team/app/blobs/${sha256(blob)}`)).status).toBe(200);
    process.kill(again.child.pid!, "SIGINT");
    expect(await again.exited).toEqual({ code: 0, signal: null });
    expect(again.output()).toContain("SIGINT: stopping");
  });

  it("one process: a client that stalls mid-body cannot hold the exit past shutdownGraceSeconds", async () => {
    const server = await start(process.execPath, ["bin/oci-registry.mjs"], { DATA_DIR: join(dataDir, "stall"), PROCESSES: "1", SHUTDOWN_GRACE_SECONDS: "2" });
    const blob = Buffer.alloc(1024 * 1024, 1);
    const push = await startPush(server.port, "team/app", blob, 1000);
    const signalled = Date.now();
    process.kill(server.child.pid!, "SIGTERM");
    const exit = await Promise.race([server.exited, new Promise((resolve) => setTimeout(() => resolve("still running 30 s later"), 30_000))]);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(Date.now() - signalled).toBeGreaterThanOrEqual(2_000);
    expect(server.output()).toMatch(/registry process \d+: 1 request\(s\) still in flight 2 s after SIGTERM; exiting without them/);
    push.socket.destroy();
  });

  it("several processes: a push in flight finishes, every process exits, the primary says so once", async () => {
    const server = await start(process.execPath, ["bin/oci-registry.mjs"], { DATA_DIR: join(dataDir, "cluster"), PROCESSES: "2", SHUTDOWN_GRACE_SECONDS: "60" });
    await waitFor("both processes", () => groupProcessIds(server.child.pid!).length === 3);
    const blob = Buffer.alloc(2 * 1024 * 1024, 3);
    const push = await startPush(server.port, "team/app", blob, 512 * 1024);
    // The head has been read (the push is in flight, not an idle connection) well within this.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    process.kill(server.child.pid!, "SIGTERM");
    await waitFor("the stopping line", () => server.output().includes("SIGTERM: stopping 2 registry processes; requests in flight finish first (at most 60 s)"));
    expect((await push.finish())).toMatch(/^HTTP\/1\.1 201 /);
    expect(await server.exited).toEqual({ code: 0, signal: null });
    await waitFor("no process of the group left", () => groupProcessIds(server.child.pid!).length === 0);
    expect(server.output().match(/stopping/g)).toHaveLength(1);
    expect(server.output()).not.toContain("killing them");
  });

  it("Ctrl-C at a terminal (SIGINT to the whole process group, 2 processes) during a push: the push finishes, one stopping line, exit 0", async () => {
    const server = await start(process.execPath, ["bin/oci-registry.mjs"], { DATA_DIR: join(dataDir, "ctrl-c"), PROCESSES: "2", SHUTDOWN_GRACE_SECONDS: "60" });
    await waitFor("both processes", () => groupProcessIds(server.child.pid!).length === 3);
    const blob = Buffer.alloc(2 * 1024 * 1024, 5);
    const push = await startPush(server.port, "team/app", blob, 512 * 1024);
    // The head has been read (the push is in flight, not an idle connection) well within this.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    process.kill(-server.child.pid!, "SIGINT");
    await waitFor("the stopping line", () => /SIGINT: stopping/.test(server.output()));
    expect(await push.finish()).toMatch(/^HTTP\/1\.1 201 /);
    expect(await server.exited).toEqual({ code: 0, signal: null });
    await waitFor("no process of the group left", () => groupProcessIds(server.child.pid!).length === 0);
    expect(server.output().match(/stopping/g)).toHaveLength(1);
    expect(server.output()).not.toContain("killing them");
  });

  it("kill of the npm start process (SIGTERM to npm alone) stops the server", async () => {
    const server = await start("npm", ["start"], { DATA_DIR: join(dataDir, "npm"), PROCESSES: "1" });
    process.kill(server.child.pid!, "SIGTERM");
    await server.exited;
    await waitFor("no process of the group left", () => groupProcessIds(server.child.pid!).length === 0);
    expect(server.output()).toContain("SIGTERM: stopping; requests in flight finish first");
    await expect(request(server.url, "GET", "/v2/", { timeoutMs: 5_000 })).rejects.toThrow(/ECONNREFUSED/);
  });
});
