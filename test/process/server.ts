/**
 * A real registry process for the process-level suites (test/process/): the
 * Node entry point (`node src/runtime/node.ts`, what `npm start` runs) on a
 * free 127.0.0.1 port over a DATA_DIR the caller owns, started in a process
 * group of its own so that one signal reaches the primary and every worker.
 *
 *   startRegistry({ dataDir, processes })   spawns it, waits until GET /v2/ answers 200
 *   registry.kill()                         SIGKILL to the whole group; resolves once no
 *                                           process of the group is left (zombies aside)
 *   registry.stop()                         SIGTERM to the group, SIGKILL after 5 s
 *   registry.restart()                      the same DATA_DIR, PORT and PROCESSES again
 *   registry.processIds()                   the live processes of its group (Linux /proc)
 *
 * Every request goes through `request`, which opens a fresh TCP connection
 * (node:http without an agent, `Connection: close`): under node:cluster each
 * connection is handed to one worker, so fresh connections spread requests
 * over the workers. Every answer is recorded in an `AnswerLog` so a suite can
 * check that no request anywhere got a 5xx.
 *
 * Anything started here is killed when the test process exits, whatever the
 * tests did: no server outlives the run.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { readdirSync, readFileSync } from "node:fs";
import { Agent, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const ENTRY = "src/runtime/node.ts";
const OUTPUT_KEPT = 64 * 1024;

/** Process groups started by this module and not yet seen gone: killed on exit, whatever happened. */
const liveGroups = new Set<number>();
process.on("exit", () => {
  for (const pgid of liveGroups) {
    try {
      process.kill(-pgid, "SIGKILL");
    } catch {
      // already gone
    }
  }
});

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface RegistryOptions {
  dataDir: string;
  /** PROCESSES: worker processes serving the port; 1 = one process. */
  processes: number;
  /** Reused by `restart`; a free one by default. */
  port?: number;
  /** More environment (PART_SIZE, ...). */
  env?: Record<string, string>;
  /** How long start-up may take before GET /v2/ answers 200. */
  readyTimeoutMs?: number;
  /** What must answer 200 before the server counts as started (default /v2/; /healthz with auth on). */
  readyPath?: string;
  /** The server speaks HTTPS (TLS_CERT/TLS_KEY in env): the CA certificate (PEM) to verify it with. */
  tlsCa?: string;
}

export class RegistryProcess {
  readonly options: Required<Omit<RegistryOptions, "env" | "tlsCa">> & { env: Record<string, string>; tlsCa?: string };
  readonly url: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** How long the last start took until GET /v2/ answered 200. */
  readyAfterMs = 0;
  #output = "";
  #exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #exited = false;

  constructor(options: RegistryProcess["options"]) {
    this.options = options;
    this.url = `${options.tlsCa ? "https" : "http"}://127.0.0.1:${options.port}`;
    this.child = spawn(process.execPath, [ENTRY], {
      cwd: ROOT,
      // A group of its own: process.kill(-pid) then reaches the primary and every worker it forks.
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        ...options.env,
        HOST: "127.0.0.1",
        PORT: String(options.port),
        DATA_DIR: options.dataDir,
        PROCESSES: String(options.processes),
      },
    });
    if (this.child.pid === undefined) throw new Error(`could not spawn ${process.execPath} ${ENTRY}`);
    this.pid = this.child.pid;
    liveGroups.add(this.pid);
    const keep = (chunk: Buffer) => {
      this.#output = (this.#output + chunk.toString()).slice(-OUTPUT_KEPT);
    };
    this.child.stdout!.on("data", keep);
    this.child.stderr!.on("data", keep);
    this.#exit = new Promise((resolve) => {
      this.child.on("exit", (code, signal) => {
        this.#exited = true;
        resolve({ code, signal });
      });
    });
  }

  /** What the server printed (stdout and stderr interleaved), the last 64 KiB. */
  output(): string {
    return this.#output;
  }

  get exited(): boolean {
    return this.#exited;
  }

  async waitUntilReady(): Promise<void> {
    const started = performance.now();
    const deadline = started + this.options.readyTimeoutMs;
    let last = "no answer yet";
    for (;;) {
      if (this.#exited) {
        const { code, signal } = await this.#exit;
        throw new Error(`registry (pid ${this.pid}) exited (code ${code}, signal ${signal}) before GET /v2/ answered 200; its output:\n${this.output()}`);
      }
      try {
        const res = await request(this.url, "GET", this.options.readyPath, { timeoutMs: 2_000, ...(this.options.tlsCa ? { ca: this.options.tlsCa } : {}) });
        if (res.status === 200) {
          this.readyAfterMs = performance.now() - started;
          return;
        }
        last = `GET /v2/ answered ${res.status}: ${res.text().slice(0, 300)}`;
      } catch (error) {
        last = `GET /v2/ failed: ${(error as Error).message}`;
      }
      if (performance.now() > deadline) {
        await this.kill();
        throw new Error(`registry (pid ${this.pid}) not ready within ${this.options.readyTimeoutMs} ms (${last}); its output:\n${this.output()}`);
      }
      await sleep(50);
    }
  }

  /** SIGKILL to the whole process group; resolves once none of its processes is left. */
  async kill(): Promise<void> {
    signalGroup(this.pid, "SIGKILL");
    await this.#exit;
    await waitGroupGone(this.pid, 10_000);
  }

  /** SIGTERM to the group (a graceful stop), SIGKILL after 5 s; resolves once none is left. */
  async stop(): Promise<void> {
    if (!signalGroup(this.pid, "SIGTERM")) return waitGroupGone(this.pid, 10_000);
    const timer = setTimeout(() => signalGroup(this.pid, "SIGKILL"), 5_000);
    try {
      await this.#exit;
      await waitGroupGone(this.pid, 10_000).catch(() => {
        signalGroup(this.pid, "SIGKILL");
        return waitGroupGone(this.pid, 10_000);
      });
    } finally {
      clearTimeout(timer);
    }
  }

  /** The same DATA_DIR, PORT, PROCESSES and environment, in a new process group. Kill or stop this one first. */
  async restart(): Promise<RegistryProcess> {
    if (groupProcessIds(this.pid).length > 0) throw new Error(`restart: the process group ${this.pid} is still alive`);
    const next = new RegistryProcess(this.options);
    await next.waitUntilReady();
    return next;
  }

  /** Live (non-zombie) processes of this server's process group. */
  processIds(): number[] {
    return groupProcessIds(this.pid);
  }
}

export async function startRegistry(options: RegistryOptions): Promise<RegistryProcess> {
  const registry = new RegistryProcess({
    dataDir: options.dataDir,
    processes: options.processes,
    port: options.port ?? (await freePort()),
    env: options.env ?? {},
    readyTimeoutMs: options.readyTimeoutMs ?? 30_000,
    readyPath: options.readyPath ?? "/v2/",
    ...(options.tlsCa ? { tlsCa: options.tlsCa } : {}),
  });
  await registry.waitUntilReady();
  return registry;
}

/** True when the signal was delivered to at least one process of the group. */
function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw error;
  }
}

/**
 * Processes whose process group is `pgid`, zombies left out: a worker whose
 * primary was killed is reparented, and the new parent may reap it late (or,
 * in some containers, never), but a zombie neither runs nor holds a port.
 */
export function groupProcessIds(pgid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(Number(entry));
    if (stat && stat.pgrp === pgid && stat.state !== "Z" && stat.state !== "X") found.push(Number(entry));
  }
  return found;
}

async function waitGroupGone(pgid: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const left = groupProcessIds(pgid);
    if (left.length === 0) {
      liveGroups.delete(pgid);
      return;
    }
    if (performance.now() > deadline) throw new Error(`processes ${left.join(", ")} of group ${pgid} still alive ${timeoutMs} ms after the signal`);
    signalGroup(pgid, "SIGKILL");
    await sleep(20);
  }
}

interface ProcStat {
  state: string;
  pgrp: number;
  /** utime + stime, in clock ticks. */
  cpuTicks: number;
}

/** /proc/<pid>/stat; null when the process is gone. The command may hold spaces and parentheses, so fields count from the last ")". */
export function procStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // After the command: state(3) ppid(4) pgrp(5) ... utime(14) stime(15), numbered from 1 in proc(5).
  return { state: fields[0]!, pgrp: Number(fields[2]), cpuTicks: Number(fields[11]) + Number(fields[12]) };
}

// ---------------------------------------------------------------- HTTP

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  header(name: string): string | undefined;
  text(): string;
  /** The OCI error codes of a JSON error body; none otherwise. */
  errorCodes(): string[];
}

export interface RequestOptions {
  headers?: Record<string, string>;
  body?: Uint8Array;
  /** The whole exchange, connect to last byte; the request fails after it. */
  timeoutMs?: number;
  /**
   * Reuse connections (a keep-alive pool of 8) instead of a fresh one: for reading many
   * things back quickly, where which process answers does not matter.
   */
  keepAlive?: boolean;
  /** For an https URL: the CA certificate (PEM) the server's certificate must chain to. */
  ca?: string;
}

const pool = new Agent({ keepAlive: true, maxSockets: 8 });

/** One request on a connection of its own (no agent, `Connection: close`) unless `keepAlive`. Rejects on a transport error or timeout. */
export function request(base: string, method: string, path: string, options: RequestOptions = {}): Promise<Answer> {
  const url = new URL(path, base);
  const body = options.body;
  const headers: Record<string, string> = { ...(options.keepAlive ? {} : { connection: "close" }), ...options.headers };
  if (body !== undefined && headers["content-length"] === undefined) headers["content-length"] = String(body.byteLength);
  if (body === undefined && (method === "POST" || method === "PUT" || method === "PATCH") && headers["content-length"] === undefined) headers["content-length"] = "0";
  return new Promise<Answer>((resolve, reject) => {
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    const tls = url.protocol === "https:" ? { ca: options.ca, agent: false as const } : { agent: options.keepAlive ? pool : false };
    const req = send(url, { method, headers, ...tls }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("error", reject);
      res.on("end", () => {
        clearTimeout(timer);
        resolve(answer(res.statusCode ?? 0, res.headers, Buffer.concat(chunks)));
      });
      res.on("close", () => {
        if (!res.complete) reject(new Error(`${method} ${path}: the connection closed in the middle of the answer`));
      });
    });
    const timer = setTimeout(() => req.destroy(new Error(`${method} ${path}: no complete answer within ${options.timeoutMs ?? 30_000} ms`)), options.timeoutMs ?? 30_000);
    req.on("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`${method} ${path}: ${error.message}`));
    });
    req.end(body);
  });
}

function answer(status: number, headers: IncomingHttpHeaders, body: Buffer): Answer {
  return {
    status,
    headers,
    body,
    header: (name) => {
      const value = headers[name.toLowerCase()];
      return Array.isArray(value) ? value.join(", ") : value;
    },
    text: () => body.toString("utf8"),
    errorCodes: () => {
      try {
        const parsed = JSON.parse(body.toString("utf8")) as { errors?: { code?: unknown }[] };
        return (parsed.errors ?? []).map((e) => String(e.code));
      } catch {
        return [];
      }
    },
  };
}

/** Every answer a suite got, so it can check none was a 5xx. */
export class AnswerLog {
  readonly answers: { what: string; status: number; body: string }[] = [];

  record(what: string, res: Answer): Answer {
    this.answers.push({ what, status: res.status, body: res.status >= 500 ? res.text().slice(0, 500) : "" });
    return res;
  }

  /** The answers with a 5xx status, from answer number `from` on (all by default). */
  serverErrors(from = 0): string[] {
    return this.answers
      .slice(from)
      .filter((a) => a.status >= 500)
      .map((a) => `${a.what} -> ${a.status} ${a.body}`);
  }
}

/** `request` against `registry`, recorded in `log`. */
export async function call(registry: { url: string }, log: AnswerLog, method: string, path: string, options: RequestOptions = {}): Promise<Answer> {
  return log.record(`${method} ${path}`, await request(registry.url, method, path, options));
}

// ---------------------------------------------------------------- bytes, digests, randomness

export const MiB = 1024 * 1024;

export function sha256(data: Uint8Array | string): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

/** A seeded generator (mulberry32): the same seed gives the same sequence. */
export class Random {
  readonly seed: number;
  #state: number;

  constructor(seed: number) {
    this.seed = seed >>> 0;
    this.#state = this.seed;
  }

  /** [0, 1) */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  bytes(size: number): Buffer {
    const out = Buffer.alloc(size);
    let i = 0;
    for (; i + 4 <= size; i += 4) out.writeUInt32LE(Math.floor(this.next() * 4294967296), i);
    for (; i < size; i++) out[i] = Math.floor(this.next() * 256);
    return out;
  }
}

/** The seed from `env` (decimal) when set, else a fresh one; log it so a failing run can be replayed. */
export function seedFrom(env: string | undefined): number {
  if (env !== undefined && env !== "") {
    const seed = Number(env);
    if (!Number.isSafeInteger(seed)) throw new Error(`seed "${env}" is not an integer`);
    return seed >>> 0;
  }
  return Math.floor(Math.random() * 2 ** 32);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------- OCI

export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
export const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
export const OCI_LAYER = "application/vnd.oci.image.layer.v1.tar";
const MANIFEST_ACCEPT = [OCI_MANIFEST, "application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.v2+json"].join(", ");

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

/** The bytes of an OCI image manifest (serialised once, so its digest is exact). */
export function imageManifest(config: Descriptor, layers: Descriptor[], annotations: Record<string, string> = {}): Buffer {
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers, annotations }));
}

/** Monolithic push, `POST /v2/<repo>/blobs/uploads/?digest=` with the body; expects 201. */
export async function pushBlob(registry: { url: string }, log: AnswerLog, repo: string, bytes: Uint8Array, mediaType = OCI_LAYER): Promise<Descriptor> {
  const digest = sha256(bytes);
  const res = await call(registry, log, "POST", `/v2/${repo}/blobs/uploads/?digest=${digest}`, {
    body: bytes,
    headers: { "content-type": "application/octet-stream" },
  });
  if (res.status !== 201) throw new Error(`POST ${repo} blob ${digest}: expected 201, got ${res.status} ${res.text().slice(0, 300)}`);
  return { mediaType, digest, size: bytes.byteLength };
}

/** `PUT /v2/<repo>/manifests/<reference>[?tag=...]`; the answer, whatever it is. */
export function putManifest(registry: { url: string }, log: AnswerLog, repo: string, reference: string, bytes: Uint8Array, tags: string[] = [], options: RequestOptions = {}): Promise<Answer> {
  const query = tags.length > 0 ? `?${tags.map((t) => `tag=${encodeURIComponent(t)}`).join("&")}` : "";
  return call(registry, log, "PUT", `/v2/${repo}/manifests/${reference}${query}`, {
    ...options,
    body: bytes,
    headers: { "content-type": OCI_MANIFEST, ...options.headers },
  });
}

/** `GET /v2/<repo>/manifests/<reference>` asking for the media types these suites push. */
export function getManifest(registry: { url: string }, log: AnswerLog, repo: string, reference: string, options: RequestOptions = {}): Promise<Answer> {
  return call(registry, log, "GET", `/v2/${repo}/manifests/${reference}`, { ...options, headers: { accept: MANIFEST_ACCEPT, ...options.headers } });
}

/** The tags of `repo`: a 404 NAME_UNKNOWN (a repository nothing was pushed to) counts as none. */
export async function listTags(registry: { url: string }, log: AnswerLog, repo: string): Promise<string[]> {
  const res = await call(registry, log, "GET", `/v2/${repo}/tags/list`);
  if (res.status === 404 && res.errorCodes().includes("NAME_UNKNOWN")) return [];
  if (res.status !== 200) throw new Error(`GET /v2/${repo}/tags/list: expected 200, got ${res.status} ${res.text().slice(0, 300)}`);
  return (JSON.parse(res.text()) as { tags?: string[] | null }).tags ?? [];
}

/**
 * Reads every tag of `repo` back: each must GET 200 with bytes hashing to
 * its Docker-Content-Digest, and every blob the manifest names must GET 200
 * with the size and bytes of its descriptor. Returns tag -> digest and what
 * was wrong (nothing, when all is well).
 */
export async function verifyRepository(registry: { url: string }, log: AnswerLog, repo: string): Promise<{ tags: Map<string, string>; problems: string[] }> {
  const problems: string[] = [];
  const tags = new Map<string, string>();
  const manifests = new Map<string, Buffer>();
  const names = await listTags(registry, log, repo);
  await inBatches(names, 8, async (tag) => {
    const res = await getManifest(registry, log, repo, tag, { keepAlive: true });
    if (res.status !== 200) {
      problems.push(`${repo}:${tag} is listed, but GET manifest answered ${res.status} ${res.text().slice(0, 200)}`);
      return;
    }
    const digest = res.header("docker-content-digest");
    const actual = sha256(res.body);
    if (digest !== actual) problems.push(`${repo}:${tag}: Docker-Content-Digest ${digest}, but the bytes hash to ${actual}`);
    tags.set(tag, actual);
    manifests.set(actual, res.body);
  });
  for (const [digest, bytes] of manifests) {
    let doc: { config?: Descriptor; layers?: Descriptor[] };
    try {
      doc = JSON.parse(bytes.toString("utf8")) as typeof doc;
    } catch {
      problems.push(`${repo}@${digest}: the manifest is not JSON`);
      continue;
    }
    for (const blob of [...(doc.config ? [doc.config] : []), ...(doc.layers ?? [])]) {
      const res = await call(registry, log, "GET", `/v2/${repo}/blobs/${blob.digest}`, { keepAlive: true });
      if (res.status !== 200) problems.push(`${repo}@${digest} names blob ${blob.digest}, which answers ${res.status}`);
      else if (sha256(res.body) !== blob.digest || res.body.byteLength !== blob.size) {
        problems.push(`${repo} blob ${blob.digest}: GET returned ${res.body.byteLength} bytes hashing to ${sha256(res.body)}`);
      }
    }
  }
  return { tags, problems };
}

/** Runs `work` over `items`, at most `width` at a time. */
export async function inBatches<T>(items: T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(width, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  });
  await Promise.all(lanes);
}

/** Path and query of an upload `Location` (absolute or relative) with `digest` added. */
export function withDigest(location: string, digest: string): string {
  const url = new URL(location, "http://registry.invalid");
  url.searchParams.set("digest", digest);
  return url.pathname + url.search;
}

/** Path and query of a `Location`, absolute or relative. */
export function pathOf(location: string): string {
  const url = new URL(location, "http://registry.invalid");
  return url.pathname + url.search;
}
