/**
 * Profiles the upload path of `npm start` (one process): starts `node --cpu-prof
 * bin/oci-registry.mjs` on 127.0.0.1 with a temporary DATA_DIR, pushes with our upload
 * client (one streamed PATCH of unknown length, or PATCHes of 8 MiB), stops the server
 * with SIGTERM so V8 writes its profile, and prints the functions with the most self
 * time (and idle, GC and program shares). Also prints the server's RSS before and at the
 * end, and its CPU seconds per GiB pushed.
 *
 *   node bench/profile-uploads.ts streamed [MiB=1024] [runs=1]
 *   node bench/profile-uploads.ts chunked [MiB=256] [runs=3]
 *   node bench/profile-uploads.ts idle        (RSS and heap of the fresh process only)
 *
 * PROFILE_KEEP=1 keeps the temporary directory (the .cpuprofile inside); PROFILE_ROOT=<checkout>
 * profiles another checkout's server (its dist/ built) with the same client.
 */
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closeConnections, get, pushChunked, pushStreamed } from "./upload-client.ts";

const [mode = "streamed", mibArg, runsArg] = process.argv.slice(2);
const mib = Number(mibArg ?? (mode === "streamed" ? 1024 : 256));
const runs = Number(runsArg ?? (mode === "streamed" ? 1 : 3));
const root = process.env.PROFILE_ROOT ?? new URL("..", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "oci-profile-"));
const port = await freePort();
const registry = `http://127.0.0.1:${port}`;
const profileArgs = mode === "idle" ? [] : ["--cpu-prof", `--cpu-prof-dir=${dir}`, "--cpu-prof-interval=500"];
const server = spawn(process.execPath, ["--max-semi-space-size=1", ...profileArgs, join(root, "bin/oci-registry.mjs")], {
  env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", HOST: "127.0.0.1", PORT: String(port), DATA_DIR: join(dir, "data"), PROCESSES: "1", ...(process.env.BODY_TIMEOUT_SECONDS ? { BODY_TIMEOUT_SECONDS: process.env.BODY_TIMEOUT_SECONDS } : {}) },
  stdio: ["ignore", "inherit", "inherit"],
});
try {
  await waitUntilUp();
  await new Promise((r) => setTimeout(r, 1000));
  console.log(`fresh: ${rssLine(server.pid!)}`);
  const cpu0 = cpuSeconds(server.pid!);
  const started = performance.now();
  if (mode === "streamed") {
    for (let i = 0; i < runs; i++) await pushStreamed(registry, `profile/streamed-${i}`, mib * 1024 * 1024, randomBytes(64 * 1024));
  } else if (mode === "chunked") {
    const bytes = randomBytes(mib * 1024 * 1024);
    for (let i = 0; i < runs; i++) {
      bytes.writeUInt32BE(i, 0); // a fresh blob each run
      await pushChunked(registry, `profile/chunked-${i}`, bytes, `sha256:${createHash("sha256").update(bytes).digest("hex")}`, 8 * 1024 * 1024);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = cpuSeconds(server.pid!) - cpu0;
  if (mode !== "idle") {
    const gib = (mib * runs) / 1024;
    console.log(`${mode}: ${runs} × ${mib} MiB in ${seconds.toFixed(2)} s = ${((mib * runs) / seconds).toFixed(0)} MiB/s; server CPU ${cpu.toFixed(2)} s = ${(cpu / gib).toFixed(2)} s/GiB`);
  }
  console.log(`end: ${rssLine(server.pid!)}`);
} finally {
  closeConnections();
  server.kill("SIGTERM");
  await new Promise((r) => server.once("exit", r));
}
if (mode !== "idle") summarize(dir);
if (process.env.PROFILE_KEEP) console.log(`kept ${dir}`);
else rmSync(dir, { recursive: true, force: true });

function summarize(folder: string): void {
  const file = readdirSync(folder).find((name) => name.endsWith(".cpuprofile"));
  if (!file) throw new Error(`no .cpuprofile in ${folder}`);
  interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; }
  const profile = JSON.parse(readFileSync(join(folder, file), "utf8")) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    const frame = byId.get(id)!.callFrame;
    const where = frame.url ? `${frame.url.replace(/^.*\/(dist|node_modules)\//, "$1/").replace(/^node:/, "")}:${frame.lineNumber + 1}` : "";
    const key = `${frame.functionName || "(anonymous)"} ${where}`.trim();
    self.set(key, (self.get(key) ?? 0) + delta);
    total += delta;
  });
  const busy = total - (self.get("(idle)") ?? 0);
  console.log(`profile: ${(total / 1e6).toFixed(2)} s sampled, busy ${(busy / 1e6).toFixed(2)} s (${((100 * busy) / total).toFixed(0)} %)`);
  console.log("self time     % all  % busy  function");
  for (const [key, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
    console.log(`${(us / 1000).toFixed(0).padStart(7)} ms ${((100 * us) / total).toFixed(1).padStart(6)} ${key === "(idle)" ? "      " : ((100 * us) / busy).toFixed(1).padStart(6)}  ${key}`);
  }
}

function rssLine(pid: number): string {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? 0) / 1024;
  return `VmRSS ${field("VmRSS").toFixed(1)} MiB (anon ${field("RssAnon").toFixed(1)}, file ${field("RssFile").toFixed(1)}), VmHWM ${field("VmHWM").toFixed(1)} MiB`;
}

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function waitUntilUp(): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await get(`${registry}/v2/`)).status === 200) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("the server did not answer /v2/ in 20 s");
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const address = s.address();
      s.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}
