/**
 * `npm run bench`: this registry (Node, filesystem backend) against CNCF
 * Distribution 2.8.2 (Debian's `docker-registry`), side by side on 127.0.0.1,
 * in one run. Prints a table and writes bench/results/latest.json.
 *
 *   npm run bench                 # the full run, about 10 minutes on 2 cores
 *   BENCH_QUICK=1 npm run bench   # smaller layers, fewer runs, shorter loads
 *   BENCH_KEEP=1 npm run bench    # keep the temporary directory (data, logs)
 *
 * docs/bench.md explains each figure and how it is measured.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { freshLayer, layerSource, writeImage, type LayerImage } from "./image.ts";
import { measureLoad, type LoadResult } from "./load.ts";
import { ioDelta, ioOf, memoryOf, resetPeakRss, sampleRss } from "./proc.ts";
import { median, ratio, table, type Figure } from "./report.ts";
import { haveCommand, startDistribution, startOurs, type RunningRegistry } from "./servers.ts";
import { skopeo } from "./skopeo.ts";
import { closeConnections, get, pushChunked, pushStreamed, putManifest } from "./upload-client.ts";

const MiB = 1024 * 1024;
const quick = process.env.BENCH_QUICK === "1";
const settings = {
  layerBytes: (quick ? 64 : 200) * MiB,
  runs: quick ? 3 : 7,
  streamedRuns: quick ? 1 : 2,
  chunkBytes: 8 * MiB,
  streamedBytes: quick ? 256 * MiB : 1024 * MiB,
  connections: 16,
  loadSeconds: quick ? 3 : 15,
  warmupSeconds: quick ? 1 : 2,
  tags: 1000,
  /** Our part size (the default), for the write amplification allowance. */
  partSize: 8 * MiB,
};
const MANIFEST_ACCEPT = [
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
].join(", ");

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..");

function log(message: string): void {
  console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

function checkTools(): void {
  const missing: string[] = [];
  if (!haveCommand("docker-registry")) missing.push("docker-registry (CNCF Distribution 2.8.2): apt-get install -y docker-registry");
  if (!haveCommand("skopeo")) missing.push("skopeo: apt-get install -y skopeo");
  if (missing.length > 0) {
    console.error(`npm run bench needs, on Debian 12:\n  ${missing.join("\n  ")}`);
    process.exit(1);
  }
}

function versionOf(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim().split("\n")[0]!;
  } catch {
    return "unknown";
  }
}

function machine(): Record<string, unknown> {
  return {
    os: /^PRETTY_NAME="?([^"\n]*)/m.exec(readFileSync("/etc/os-release", "utf8"))?.[1] ?? "unknown",
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 1024 ** 3),
    kernel: release(),
    node: process.version,
    distribution: versionOf("docker-registry", ["--version"]),
    skopeo: versionOf("skopeo", ["--version"]),
    loadAverageAtStart: loadavg().map((n) => Number(n.toFixed(2))),
  };
}

type Pair<T> = { ours: T; theirs: T };

/** Runs `task` for both registries, alternating which goes first so neither always meets a warmer machine. */
async function both<T>(registries: Pair<RunningRegistry>, round: number, task: (registry: RunningRegistry) => Promise<T>): Promise<Pair<T>> {
  const order: ("ours" | "theirs")[] = round % 2 === 0 ? ["ours", "theirs"] : ["theirs", "ours"];
  const results: Partial<Pair<T>> = {};
  for (const name of order) results[name] = await task(registries[name]);
  return results as Pair<T>;
}

const hostOf = (registry: RunningRegistry) => registry.url.slice("http://".length);
const mib = (bytes: number, seconds: number) => bytes / MiB / seconds;

async function main(): Promise<void> {
  checkTools();
  const started = Date.now();
  const work = mkdtempSync(join(tmpdir(), "registry-bench-"));
  log(`work directory ${work}${quick ? " (BENCH_QUICK=1)" : ""}`);
  const about = machine();
  const ours = await startOurs(work, repoRoot);
  const theirs = await startDistribution(work).catch(async (error: unknown) => {
    await ours.stop();
    throw error;
  });
  const registries: Pair<RunningRegistry> = { ours, theirs };
  log(`ours on ${registries.ours.url} (node pid ${registries.ours.pid}), Distribution on ${registries.theirs.url} (pid ${registries.theirs.pid})`);
  const figures: Figure[] = [];
  try {
    const copy = skopeo(work);
    log(`building ${settings.runs} images with fresh ${settings.layerBytes / MiB} MiB layers`);
    const source = layerSource(settings.layerBytes);
    const images: LayerImage[] = [];
    for (let i = 0; i < settings.runs; i++) images.push(writeImage(join(work, "images", String(i)), freshLayer(source), `run-${i}`));
    const imageBytes = (image: LayerImage) => image.layer.size + image.config.size + image.manifest.size;

    // First, while both processes are fresh: one streamed PATCH of unknown
    // length: throughput, peak RSS, bytes written.
    const pattern = Buffer.from(source.bulk.subarray(0, MiB));
    const streamedRuns: Pair<{ mibps: number; peak: number; idle: number; writes: number }[]> = { ours: [], theirs: [] };
    for (let i = 0; i < settings.streamedRuns; i++) {
      const r = await both(registries, i, async (registry) => {
        const idle = memoryOf(registry.pid).rss;
        resetPeakRss(registry.pid);
        const sampler = sampleRss(registry.pid);
        const before = ioOf(registry.pid);
        const t0 = performance.now();
        await pushStreamed(registry.url, `bench/streamed-${i}`, settings.streamedBytes, pattern);
        const seconds = (performance.now() - t0) / 1000;
        const peak = Math.max(sampler.stop(), memoryOf(registry.pid).hwm);
        const writes = ioDelta(before, ioOf(registry.pid)).writeBytes;
        return { mibps: mib(settings.streamedBytes, seconds), peak, idle, writes };
      });
      streamedRuns.ours.push(r.ours);
      streamedRuns.theirs.push(r.theirs);
      log(
        `streamed push ${i}: ours ${r.ours.mibps.toFixed(0)} MiB/s, peak RSS ${(r.ours.peak / MiB).toFixed(0)} MiB (${(r.ours.idle / MiB).toFixed(0)} before); ` +
          `Distribution ${r.theirs.mibps.toFixed(0)} MiB/s, peak RSS ${(r.theirs.peak / MiB).toFixed(0)} MiB (${(r.theirs.idle / MiB).toFixed(0)} before)`,
      );
    }
    const streamedLabel = `${settings.streamedBytes / MiB / 1024} GiB in one streamed PATCH`;
    const pick = (f: (run: { mibps: number; peak: number; idle: number; writes: number }) => number) => ({
      ours: streamedRuns.ours.map(f),
      theirs: streamedRuns.theirs.map(f),
    });
    figures.push(medianFigure("streamedPush", `push, ${streamedLabel} (median of ${settings.streamedRuns})`, "MiB/s", pick((run) => run.mibps)));
    const peaks = pick((run) => run.peak / MiB);
    const oursPeak = Math.max(...peaks.ours);
    figures.push({
      id: "peakRss",
      label: `peak RSS pushing ${streamedLabel} (highest of ${settings.streamedRuns})`,
      unit: "MiB",
      better: "lower",
      ours: oursPeak,
      theirs: Math.max(...peaks.theirs),
      target: { text: "ours < 128 MiB", met: oursPeak < 128 },
      samples: peaks,
    });
    const idle = pick((run) => run.idle / MiB);
    // The first push meets a fresh process; later ones meet what the allocator kept from it.
    figures.push({ id: "idleRss", label: "RSS of the fresh process before it", unit: "MiB", better: "lower", ours: idle.ours[0]!, theirs: idle.theirs[0]!, samples: idle });
    const streamedWrites = pick((run) => run.writes);
    const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

    // Push: skopeo copy oci: -> docker://, a new repository and a new layer each run.
    const push: Pair<number[]> = { ours: [], theirs: [] };
    const pushWrites: Pair<number> = { ours: 0, theirs: 0 };
    let pushedBytes = 0;
    for (const [i, image] of images.entries()) {
      const r = await both(registries, i, async (registry) => {
        const before = ioOf(registry.pid);
        const seconds = await copy.copy(`oci:${image.dir}:${image.tag}`, `docker://${hostOf(registry)}/bench/push-${i}:v1`);
        pushWrites[registry.name] += ioDelta(before, ioOf(registry.pid)).writeBytes;
        return mib(image.layer.size, seconds);
      });
      pushedBytes += imageBytes(image);
      push.ours.push(r.ours);
      push.theirs.push(r.theirs);
      log(`push ${i}: ours ${r.ours.toFixed(0)} MiB/s, Distribution ${r.theirs.toFixed(0)} MiB/s`);
    }
    figures.push(medianFigure("push", `push, skopeo (${settings.layerBytes / MiB} MiB layer, median of ${settings.runs})`, "MiB/s", push, ">= Distribution", 1));

    // Pull: the same images back into new OCI layouts.
    const pull: Pair<number[]> = { ours: [], theirs: [] };
    mkdirSync(join(work, "pulled"));
    for (const [i, image] of images.entries()) {
      const r = await both(registries, i, async (registry) => {
        const target = join(work, "pulled", `${registry.name}-${i}`);
        const seconds = await copy.copy(`docker://${hostOf(registry)}/bench/push-${i}:v1`, `oci:${target}:pulled`);
        const pulled = JSON.parse(readFileSync(join(target, "index.json"), "utf8")) as { manifests: { digest: string }[] };
        if (pulled.manifests[0]?.digest !== image.manifest.digest) throw new Error(`pulled manifest from ${registry.name} differs from the pushed one`);
        rmSync(target, { recursive: true, force: true });
        return mib(image.layer.size, seconds);
      });
      pull.ours.push(r.ours);
      pull.theirs.push(r.theirs);
      log(`pull ${i}: ours ${r.ours.toFixed(0)} MiB/s, Distribution ${r.theirs.toFixed(0)} MiB/s`);
    }
    figures.push(medianFigure("pull", `pull, skopeo (median of ${settings.runs})`, "MiB/s", pull, ">= Distribution", 1));

    // Chunked push: our own client, 8 MiB PATCHes with Content-Range.
    const chunked: Pair<number[]> = { ours: [], theirs: [] };
    const chunkedWrites: Pair<number> = { ours: 0, theirs: 0 };
    let chunkedBytes = 0;
    for (let i = 0; i < settings.runs; i++) {
      const layer = freshLayer(source);
      const r = await both(registries, i, async (registry) => {
        const before = ioOf(registry.pid);
        const t0 = performance.now();
        await pushChunked(registry.url, `bench/chunked-${i}`, layer.bytes, layer.digest, settings.chunkBytes);
        const seconds = (performance.now() - t0) / 1000;
        chunkedWrites[registry.name] += ioDelta(before, ioOf(registry.pid)).writeBytes;
        return mib(layer.size, seconds);
      });
      chunkedBytes += layer.size;
      chunked.ours.push(r.ours);
      chunked.theirs.push(r.theirs);
      log(`chunked push ${i}: ours ${r.ours.toFixed(0)} MiB/s, Distribution ${r.theirs.toFixed(0)} MiB/s`);
    }
    figures.push(medianFigure("chunkedPush", `chunked push, ${settings.chunkBytes / MiB} MiB PATCHes (median of ${settings.runs})`, "MiB/s", chunked));

    // Storage writes per byte pushed, from /proc/<pid>/io write_bytes.
    const allowance = (requests: number, bytes: number) => 1 + (requests * settings.partSize) / bytes;
    const amplification = (id: string, label: string, writes: Pair<number>, bytes: number, requests: number): Figure => {
      const limit = allowance(requests, bytes);
      return {
        id,
        label: `write amplification, ${label}`,
        unit: "x",
        better: "lower",
        ours: writes.ours / bytes,
        theirs: writes.theirs / bytes,
        target: { text: `<= ${limit.toFixed(3)} (1.0 + one ${settings.partSize / MiB} MiB part per request)`, met: writes.ours / bytes <= limit },
      };
    };
    // skopeo sends the layer in one PATCH, the config in another, then the manifest.
    figures.push(amplification("writeAmplificationPush", "skopeo push", pushWrites, pushedBytes, 3));
    const chunkRequests = Math.ceil(settings.layerBytes / settings.chunkBytes) + 1;
    figures.push(amplification("writeAmplificationChunked", "chunked push", chunkedWrites, chunkedBytes, chunkRequests));
    figures.push(
      amplification("writeAmplificationStreamed", "streamed push", { ours: sum(streamedWrites.ours), theirs: sum(streamedWrites.theirs) }, settings.streamedBytes * settings.streamedRuns, settings.streamedRuns),
    );

    // Request rates: manifest GET by tag, blob HEAD, tag listing.
    const first = images[0]!;
    for (const registry of [registries.ours, registries.theirs]) {
      const answer = await get(`${registry.url}/v2/bench/push-0/manifests/v1`, { Accept: MANIFEST_ACCEPT });
      if (answer.status !== 200 || answer.body !== first.manifest.bytes.toString()) throw new Error(`${registry.name}: manifest GET does not return the pushed manifest`);
    }
    await prepareTags(registries, first);

    const loads: { id: string; label: string; url: (r: RunningRegistry) => string; method: "GET" | "HEAD"; headers?: Record<string, string>; target?: number }[] = [
      { id: "manifestGet", label: "manifest GET by tag", url: (r) => `${r.url}/v2/bench/push-0/manifests/v1`, method: "GET", headers: { Accept: MANIFEST_ACCEPT }, target: 2 },
      { id: "blobHead", label: "blob HEAD", url: (r) => `${r.url}/v2/bench/push-0/blobs/${first.layer.digest}`, method: "HEAD", target: 2 },
      { id: "tagList", label: `tag list, ${settings.tags} tags`, url: (r) => `${r.url}/v2/bench/tags/tags/list`, method: "GET" },
    ];
    for (const [round, load] of loads.entries()) {
      const r = await both(registries, round, (registry) =>
        measureLoad({
          url: load.url(registry),
          method: load.method,
          headers: load.headers ?? {},
          connections: settings.connections,
          seconds: settings.loadSeconds,
          warmupSeconds: settings.warmupSeconds,
        }),
      );
      for (const [name, result] of Object.entries(r) as [string, LoadResult][]) {
        if (result.non2xx > 0 || result.errors > 0) throw new Error(`${load.label} on ${name}: ${result.non2xx} non-2xx answers, ${result.errors} errors`);
      }
      log(`${load.label}: ours ${r.ours.requestsPerSecond.toFixed(0)} req/s, Distribution ${r.theirs.requestsPerSecond.toFixed(0)} req/s`);
      const target = load.target === undefined ? undefined : { text: `>= ${load.target}x Distribution`, met: r.ours.requestsPerSecond >= load.target * r.theirs.requestsPerSecond };
      const label = `${load.label}, ${settings.connections} connections`;
      figures.push({ id: `${load.id}Rate`, label, unit: "req/s", better: "higher", ours: r.ours.requestsPerSecond, theirs: r.theirs.requestsPerSecond, ...(target ? { target } : {}) });
      figures.push({ id: `${load.id}P50`, label: `${load.label} p50`, unit: "ms", better: "lower", ours: r.ours.p50Ms, theirs: r.theirs.p50Ms });
      figures.push({ id: `${load.id}P99`, label: `${load.label} p99`, unit: "ms", better: "lower", ours: r.ours.p99Ms, theirs: r.theirs.p99Ms });
    }
  } finally {
    closeConnections();
    await Promise.all([registries.ours.stop(), registries.theirs.stop()]);
    if (process.env.BENCH_KEEP === "1") log(`kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }

  // Measured in the order that suits the machine, printed in the order that reads well.
  const order = ["push", "pull", "chunkedPush", "streamedPush", "peakRss", "idleRss", "writeAmplification"];
  const rank = (id: string) => {
    const index = order.findIndex((prefix) => id.startsWith(prefix));
    return index === -1 ? order.length : index;
  };
  figures.sort((a, b) => rank(a.id) - rank(b.id));
  const output = table(figures);
  console.log(output);
  const results = {
    date: new Date(started).toISOString(),
    command: quick ? "BENCH_QUICK=1 npm run bench" : "npm run bench",
    minutes: Number(((Date.now() - started) / 60_000).toFixed(1)),
    machine: { ...about, loadAverageAtEnd: loadavg().map((n) => Number(n.toFixed(2))) },
    settings,
    figures: figures.map((f) => ({ ...f, ratio: ratio(f) })),
  };
  mkdirSync(join(repoRoot, "bench", "results"), { recursive: true });
  writeFileSync(join(repoRoot, "bench", "results", "latest.json"), `${JSON.stringify(results, null, 2)}\n`);
  log(`wrote bench/results/latest.json (${results.minutes} min)`);
}

function medianFigure(id: string, label: string, unit: string, samples: Pair<number[]>, targetText?: string, targetRatio?: number): Figure {
  const ours = median(samples.ours);
  const theirs = median(samples.theirs);
  const figure: Figure = { id, label, unit, better: "higher", ours, theirs, samples };
  if (targetText !== undefined && targetRatio !== undefined) figure.target = { text: targetText, met: ours >= targetRatio * theirs };
  return figure;
}

/** A repository with `settings.tags` tags on one manifest, its blobs mounted from bench/push-0. */
async function prepareTags(registries: Pair<RunningRegistry>, image: LayerImage): Promise<void> {
  log(`tagging one manifest ${settings.tags} times in bench/tags on each registry`);
  for (const registry of [registries.ours, registries.theirs]) {
    for (const digest of [image.layer.digest, image.config.digest]) {
      const url = `${registry.url}/v2/bench/tags/blobs/uploads/?mount=${digest}&from=bench/push-0`;
      const response = await fetch(url, { method: "POST" });
      await response.body?.cancel();
      if (response.status !== 201) throw new Error(`${registry.name}: mount of ${digest} answered ${response.status}`);
    }
    const names = Array.from({ length: settings.tags }, (_, i) => `t${String(i).padStart(4, "0")}`);
    for (let i = 0; i < names.length; i += 8) {
      await Promise.all(names.slice(i, i + 8).map((tag) => putManifest(registry.url, "bench/tags", tag, image.manifest.mediaType, image.manifest.bytes)));
    }
    const listed = JSON.parse((await get(`${registry.url}/v2/bench/tags/tags/list`)).body) as { tags?: string[] };
    if (listed.tags?.length !== settings.tags) throw new Error(`${registry.name}: tags/list has ${listed.tags?.length} tags, not ${settings.tags}`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
