/**
 * Real upstream registries for the pull-through tests, on 127.0.0.1: Debian's
 * docker-registry (Distribution 2.8.2) with htpasswd basic auth, whose log
 * counts the requests it served, and a small HTTP proxy in front of an upstream
 * that counts blob GETs, can hold blob bodies back, and can flip a byte.
 * Every process is stopped by its own pid.
 */
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, request as httpRequest, type Server } from "node:http";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

export const run = promisify(execFile);

export const UPSTREAM_USER = "upstream";
export const UPSTREAM_PASSWORD = "upstream-secret";
/** bcrypt of UPSTREAM_PASSWORD (Distribution's htpasswd takes bcrypt only). */
const HTPASSWD = "upstream:$2b$12$pFiWA38sBBZ6ReMWGVrshuKq2nrkFbiyIt5RylAy94UiI6UnNkQx6\n";

export async function freePort(): Promise<number> {
  const server = createNetServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as { port: number }).port;
  server.close();
  await once(server, "close");
  return port;
}

export interface Distribution {
  url: string;
  hostPort: string;
  /** Requests the registry has completed so far, as "METHOD URI" lines. */
  requests(): string[];
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** Distribution 2.8.2 with htpasswd auth on a free port; `stop` then `start` keeps its storage. */
export async function startDistribution(): Promise<Distribution> {
  const dir = await mkdtemp(join(tmpdir(), "upstream-distribution-"));
  await mkdir(join(dir, "storage"));
  await writeFile(join(dir, "htpasswd"), HTPASSWD);
  const port = await freePort();
  await writeFile(
    join(dir, "config.yml"),
    [
      "version: 0.1",
      "log: {level: info, formatter: text}",
      `storage: {filesystem: {rootdirectory: ${join(dir, "storage")}}, delete: {enabled: true}}`,
      `http: {addr: "127.0.0.1:${port}"}`,
      `auth: {htpasswd: {realm: upstream, path: ${join(dir, "htpasswd")}}}`,
      "",
    ].join("\n"),
  );
  let child: ChildProcess | undefined;
  let log = "";
  const start = async () => {
    child = spawn("/usr/bin/docker-registry", ["serve", join(dir, "config.yml")], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout!.on("data", (chunk: Buffer) => (log += chunk.toString()));
    child.stderr!.on("data", (chunk: Buffer) => (log += chunk.toString()));
    for (let i = 0; i < 200; i++) {
      const ok = await fetch(`http://127.0.0.1:${port}/v2/`).then((r) => r.status === 401, () => false);
      if (ok) return;
      if (child.exitCode !== null) throw new Error(`docker-registry exited:\n${log}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`docker-registry did not start:\n${log}`);
  };
  await start();
  return {
    url: `http://127.0.0.1:${port}`,
    hostPort: `127.0.0.1:${port}`,
    requests: () =>
      [...log.matchAll(/http\.request\.method=(\w+).*?http\.request\.uri="([^"]+)".*?http\.response\.status=(\d+)/g)]
        .filter((m) => m[3] !== "401")
        .map((m) => `${m[1]} ${m[2]}`),
    start,
    async stop() {
      if (child && child.exitCode === null) {
        child.kill("SIGTERM");
        await once(child, "exit");
      }
    },
  };
}

/** An OCI layout holding `name:tag` with two layers: a small file and `bigBytes` random bytes. */
export async function buildImage(dir: string, tag: string, text: string, bigBytes = 0): Promise<string> {
  const layout = join(dir, "layout");
  await run("sh", ["-c", `[ -d ${layout} ] || umoci init --layout ${layout}`]);
  await run("umoci", ["new", "--image", `${layout}:${tag}`]);
  await writeFile(join(dir, "hello.txt"), text);
  await run("umoci", ["insert", "--image", `${layout}:${tag}`, join(dir, "hello.txt"), "/hello.txt"]);
  if (bigBytes > 0) {
    await run("sh", ["-c", `head -c ${bigBytes} /dev/urandom > ${join(dir, "big.bin")}`]);
    await run("umoci", ["insert", "--image", `${layout}:${tag}`, join(dir, "big.bin"), "/big.bin"]);
  }
  return layout;
}

export interface CountingProxy {
  url: string;
  /** Blob GETs the upstream answered (its 401 challenges not counted). */
  blobGets: number;
  /** While set, blob bodies wait for `release()` before a byte is sent. */
  hold: boolean;
  release(): void;
  /** Flips one byte in the middle of every blob body. */
  corrupt: boolean;
  stop(): Promise<void>;
}

/** A proxy to `upstream` (an http origin) that counts, holds or corrupts blob bodies. */
export async function startCountingProxy(upstream: string): Promise<CountingProxy> {
  const target = new URL(upstream);
  let released: () => void = () => {};
  let gate = Promise.resolve();
  const proxy: CountingProxy = {
    url: "",
    blobGets: 0,
    hold: false,
    corrupt: false,
    release: () => released(),
    stop: async () => {
      server.closeAllConnections();
      server.close();
    },
  };
  const server: Server = createServer((req, res) => {
    const isBlobGet = req.method === "GET" && /\/blobs\/sha256:/.test(req.url ?? "");
    const forward = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } },
      async (upstreamRes) => {
        if (isBlobGet && upstreamRes.statusCode !== 401) proxy.blobGets++;
        if (!isBlobGet || upstreamRes.statusCode !== 200) {
          res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
          upstreamRes.pipe(res);
          return;
        }
        const chunks: Buffer[] = [];
        for await (const chunk of upstreamRes) chunks.push(chunk as Buffer);
        const body = Buffer.concat(chunks);
        if (proxy.corrupt) body.writeUInt8(body.readUInt8(body.length >> 1) ^ 0xff, body.length >> 1);
        res.writeHead(200, upstreamRes.headers);
        if (proxy.hold) await gate;
        res.end(body);
      },
    );
    forward.on("error", () => res.destroy());
    req.pipe(forward);
  });
  const arm = () => {
    gate = new Promise<void>((resolve) => (released = resolve));
  };
  arm();
  Object.defineProperty(proxy, "hold", {
    get: () => held,
    set: (value: boolean) => {
      held = value;
      if (value) arm();
    },
  });
  let held = false;
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  proxy.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return proxy;
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

export interface MirrorRegistry {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * The Worker (wrangler.toml) in workerd through test/workers/start-worker.ts, with
 * `bindings` as vars (MIRRORS among them), local R2 and Durable Objects under a
 * temporary directory. Its own process group, stopped by that group's id.
 */
export async function startWorker(bindings: Record<string, string>): Promise<MirrorRegistry> {
  const state = await mkdtemp(join(tmpdir(), "proxy-worker-"));
  const port = await freePort();
  const child = spawn(process.execPath, ["test/workers/start-worker.ts", String(port), state, ...Object.entries(bindings).map(([k, v]) => `${k}=${v}`)], {
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let log = "";
  child.stdout!.on("data", (chunk: Buffer) => (log += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (log += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (/^ready /m.test(log)) break;
    if (child.exitCode !== null || i > 900) throw new Error(`the Worker did not start:\n${log}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    port,
    async stop() {
      if (process.env.PROXY_TEST_WORKER_LOG) console.log(log);
      if (child.exitCode === null) {
        process.kill(-child.pid!, "SIGTERM");
        const timer = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), 5_000);
        await once(child, "exit");
        clearTimeout(timer);
      }
      await rm(state, { recursive: true, force: true });
    },
  };
}
