/**
 * `npm run bench`: this registry (Node, filesystem backend), started once per
 * PROCESSES value (1 and the number of cores by default), against a CNCF
 * Distribution binary (Debian's 2.8.2 `docker-registry` by default, or the one
 * named by --distribution), all side by side on 127.0.0.1, in one run.
 * Prints a table and writes the JSON results.
 *
 *   npm run bench                                      # about 5 minutes on 2 cores
 *   npm run bench -- --distribution /path/to/registry  # compare with another Distribution (e.g. v3.0.0)
 *   npm run bench -- --quick                           # smaller layers, fewer runs, shorter loads
 *   npm run bench -- --help                            # every option, and its environment variable
 *
 * docs/bench.md explains each figure and how it is measured.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, tmpdir, totalmem } from "node:os";
import { dirname, isAbsolute, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { freshLayer, layerSource, writeImage, type LayerImage } from "./image.ts";
import { measureLoad, type LoadResult } from "./load.ts";
import { parseOptions, USAGE, type BenchOptions } from "./options.ts";
import { cpuOfTree, cpuSeconds, memoryOfTree, pssOfTree, resetPeakRss, sampleTreeRss, treeOf, writesOfTree, writtenBytes, type TreeCounters } from "./proc.ts";
import { median, processesCell, ratio, table, type Figure } from "./report.ts";
import { haveCommand, identifyDistribution, startDistribution, startOurs, type DistributionBinary, type RunningRegistry } from "./servers.ts";
import { skopeo } from "./skopeo.ts";
import { closeConnections, get, pushChunked, pushStreamed, putManifest } from "./upload-client.ts";

const MiB = 1024 * 1024;
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..");
const MANIFEST_ACCEPT = [
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
].join(", ");

function settingsFor(quick: boolean) {
  return {
    layerBytes: (quick ? 64 : 200) * MiB,
    runs: quick ? 3 : 7,
    streamedRuns: quick ? 1 : 2,
    chunkBytes: 8 * MiB,
    streamedBytes: quick ? 256 * MiB : 1024 * MiB,
    connections: 16,
    loadSeconds: quick ? 3 : 10,
    warmupSeconds: quick ? 1 : 2,
    tags: 1000,
    /** Page size (`n`) of the paged tag listing. */
    tagPage: 100,
    /** Our part size (the default), for the write amplification allowance. */
    partSize: 8 * MiB,
    /** The whole run is stopped (servers included) past this. */
    deadlineMinutes: quick ? 10 : 20,
  };
}
type Settings = ReturnType<typeof settingsFor>;

function log(message: string): void {
  console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

function firstLine(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], cwd: repoRoot, timeout: 10_000 }).trim().split("\n")[0]!;
  } catch {
    return "unknown";
  }
}

function machine(distribution: DistributionBinary): Record<string, unknown> {
  const autocannonVersion = (JSON.parse(readFileSync(join(repoRoot, "node_modules", "autocannon", "package.json"), "utf8")) as { version: string }).version;
  return {
    os: /^PRETTY_NAME="?([^"\n]*)/m.exec(readFileSync("/etc/os-release", "utf8"))?.[1] ?? "unknown",
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 1024 ** 3),
    kernel: release(),
    node: process.version,
    distribution: distribution.versionOutput,
    skopeo: firstLine("skopeo", ["--version"]),
    loadGenerator: `autocannon ${autocannonVersion}, in the bench process`,
    loadAverageAtStart: loadavg().map((n) => Number(n.toFixed(2))),
  };
}

/** Per registry key, one value. */
type ByKey<T> = Record<string, T>;

async function main(): Promise<void> {
  let options: BenchOptions | "help";
  try {
    options = parseOptions(process.argv.slice(2), process.env);
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (options === "help") {
    console.log(USAGE);
    return;
  }
  const settings = settingsFor(options.quick);
  if (!haveCommand("skopeo")) {
    console.error("npm run bench needs skopeo: apt-get install -y skopeo (Debian 12)");
    process.exit(1);
  }
  let distribution: DistributionBinary;
  try {
    distribution = identifyDistribution(options.distribution);
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
  const theirLabel = distribution.label;
  const started = Date.now();
  const work = mkdtempSync(join(tmpdir(), "registry-bench-"));
  log(`comparing with ${theirLabel}: ${distribution.command} (--version: ${distribution.versionOutput})`);
  log(`work directory ${work}${options.quick ? " (quick)" : ""}; ours with PROCESSES=${options.processes.join(", ")}; ${cpus().length} cores`);
  const about = machine(distribution);

  const registries: RunningRegistry[] = [];
  let cleaned: Promise<void> | undefined;
  const cleanup = () =>
    (cleaned ??= (async () => {
      closeConnections();
      await Promise.all(registries.map((registry) => registry.stop()));
      if (options.keep) log(`kept ${work}`);
      else rmSync(work, { recursive: true, force: true });
    })());
  // The servers run in process groups of their own, so Ctrl-C does not reach them: stop them here.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping the registries`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  const watchdog = setTimeout(
    () => {
      log(`the run passed its ${settings.deadlineMinutes}-minute deadline: stopping`);
      void cleanup().finally(() => process.exit(1));
    },
    settings.deadlineMinutes * 60_000,
  );
  watchdog.unref();

  const figures: Figure[] = [];
  const notes: string[] = [];
  const startingTrees = new Map<string, number[]>();
  try {
    for (const processes of options.processes) registries.push(await startOurs(work, repoRoot, processes));
    registries.push(await startDistribution(work, distribution));
    for (const r of registries) {
      startingTrees.set(r.key, treeOf(r.pid));
      const detail = r.kind === "ours" ? `PROCESSES=${r.processes}, ${r.treeSize} process${r.treeSize === 1 ? "" : "es"} in its tree` : `pid ${r.pid}, ${Object.entries(r.env).map(([k, v]) => `${k}=${v}`).join(" ")}`;
      log(`${r.label} on ${r.url} (${detail})`);
      if (r.kind === "ours" && r.serving !== r.processes) {
        notes.push(`ours P=${r.processes}: PROCESSES=${r.processes} was set but ${r.serving} process${r.serving === 1 ? "" : "es"} served (the setting is not implemented in this tree, or workers failed: see its log)`);
      }
    }
    const ours = registries.filter((r) => r.kind === "ours");
    const theirs = registries.find((r) => r.kind === "theirs")!;
    const processesOf = (r: RunningRegistry) => ({ requested: r.processes!, serving: r.serving! });

    /** Runs `task` on every registry, rotating which goes first so none always meets a warmer machine. */
    async function each<T>(round: number, task: (registry: RunningRegistry) => Promise<T>): Promise<ByKey<T>> {
      const results: ByKey<T> = {};
      for (let i = 0; i < registries.length; i++) {
        const registry = registries[(round + i) % registries.length]!;
        results[registry.key] = await task(registry);
      }
      return results;
    }
    const line = (values: ByKey<number>, format: (value: number) => string) => registries.map((r) => `${r.label} ${format(values[r.key]!)}`).join(", ");
    const hostOf = (registry: RunningRegistry) => registry.url.slice("http://".length);
    const mibps = (bytes: number, seconds: number) => bytes / MiB / seconds;
    const samples = () => Object.fromEntries(registries.map((r) => [r.key, [] as number[]])) as ByKey<number[]>;

    /** One figure per server of ours, each against theirs. */
    function compare(
      id: string,
      label: string,
      unit: string,
      better: "higher" | "lower",
      values: ByKey<number>,
      options: { samples?: ByKey<number[]>; target?: (ours: number, theirs: number) => { text: string; met: boolean }; detail?: (o: RunningRegistry) => Record<string, unknown> } = {},
    ): void {
      for (const o of ours) {
        const figure: Figure = { id, label, unit, better, processes: processesOf(o), ours: values[o.key]!, theirs: values[theirs.key]! };
        if (options.target) figure.target = options.target(figure.ours, figure.theirs!);
        if (options.samples) figure.samples = { ours: options.samples[o.key]!, theirs: options.samples[theirs.key]! };
        if (options.detail) figure.detail = options.detail(o);
        figures.push(figure);
      }
    }
    const atLeast = (factor: number) => (o: number, t: number) => ({ text: `>= ${factor === 1 ? "1.0" : factor}x ${theirLabel}`, met: o >= factor * t });
    const medians = (s: ByKey<number[]>) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, median(v)]));

    log(`building ${settings.runs} images with fresh ${settings.layerBytes / MiB} MiB layers`);
    const copy = skopeo(work);
    const source = layerSource(settings.layerBytes);
    const images: LayerImage[] = [];
    for (let i = 0; i < settings.runs; i++) images.push(writeImage(join(work, "images", String(i)), freshLayer(source), `run-${i}`));
    const imageBytes = (image: LayerImage) => image.layer.size + image.config.size + image.manifest.size;

    // First, while every process is fresh: one streamed PATCH of unknown
    // length: throughput, peak RSS (of the whole process tree), bytes written.
    const pattern = Buffer.from(source.bulk.subarray(0, MiB));
    const streamed = { mibps: samples(), peak: samples(), sampledPeak: samples(), idle: samples(), writes: samples() };
    const idlePss: ByKey<number> = {};
    for (const r of registries) idlePss[r.key] = pssOfTree(r.pid) / MiB;
    for (let i = 0; i < settings.streamedRuns; i++) {
      await each(i, async (registry) => {
        const idle = memoryOfTree(registry.pid).rss;
        resetPeakRss(registry.pid);
        const sampler = sampleTreeRss(registry.pid);
        const before = writesOfTree(registry.pid);
        const t0 = performance.now();
        await pushStreamed(registry.url, `bench/streamed-${i}`, settings.streamedBytes, pattern);
        const seconds = (performance.now() - t0) / 1000;
        const sampled = sampler.stop();
        // Sum of each process's own peak: exact for one process, an upper bound for a tree (peaks at different moments).
        const peak = Math.max(sampled, memoryOfTree(registry.pid).hwm);
        streamed.mibps[registry.key]!.push(mibps(settings.streamedBytes, seconds));
        streamed.peak[registry.key]!.push(peak / MiB);
        streamed.sampledPeak[registry.key]!.push(sampled / MiB);
        streamed.idle[registry.key]!.push(idle / MiB);
        streamed.writes[registry.key]!.push(written(registry, before));
      });
      const last = (s: ByKey<number[]>) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v[v.length - 1]!]));
      log(`streamed push ${i}: ${line(last(streamed.mibps), (v) => `${v.toFixed(0)} MiB/s`)}; peak RSS ${line(last(streamed.peak), (v) => `${v.toFixed(0)} MiB`)}`);
    }
    const streamedLabel = `${settings.streamedBytes / MiB / 1024} GiB in one streamed PATCH`;
    compare("streamedPush", `push, ${streamedLabel} (median of ${settings.streamedRuns})`, "MiB/s", "higher", medians(streamed.mibps), { samples: streamed.mibps, target: atLeast(1) });
    const highest = Object.fromEntries(Object.entries(streamed.peak).map(([k, v]) => [k, Math.max(...v)]));
    compare("peakRss", `peak RSS of the process tree pushing ${streamedLabel} (highest of ${settings.streamedRuns})`, "MiB", "lower", highest, {
      samples: streamed.peak,
      target: (o) => ({ text: "ours < 100 MiB", met: o < 100 }),
      detail: (o) => ({ sampledTreeRssMiB: { ours: streamed.sampledPeak[o.key], theirs: streamed.sampledPeak[theirs.key] } }),
    });
    // The first push meets fresh processes; later ones meet what the allocator kept from it.
    const firstIdle = Object.fromEntries(Object.entries(streamed.idle).map(([k, v]) => [k, v[0]!]));
    compare("idleRss", "RSS of the fresh process tree before it", "MiB", "lower", firstIdle, { samples: streamed.idle, target: (o) => ({ text: "ours < 64 MiB", met: o < 64 }) });
    compare("idlePss", "PSS of the fresh process tree (shared pages split)", "MiB", "lower", idlePss);
    const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

    // Push: skopeo copy oci: -> docker://, a new repository and a new layer each run.
    const push = samples();
    const pushWrites: ByKey<number> = Object.fromEntries(registries.map((r) => [r.key, 0]));
    let pushedBytes = 0;
    for (const [i, image] of images.entries()) {
      const r = await each(i, async (registry) => {
        const before = writesOfTree(registry.pid);
        const seconds = await copy.copy(`oci:${image.dir}:${image.tag}`, `docker://${hostOf(registry)}/bench/push-${i}:v1`);
        pushWrites[registry.key]! += written(registry, before);
        return mibps(image.layer.size, seconds);
      });
      pushedBytes += imageBytes(image);
      for (const [key, value] of Object.entries(r)) push[key]!.push(value);
      log(`push ${i}: ${line(r, (v) => `${v.toFixed(0)} MiB/s`)}`);
    }
    compare("push", `push, skopeo (${settings.layerBytes / MiB} MiB layer, median of ${settings.runs})`, "MiB/s", "higher", medians(push), { samples: push, target: atLeast(1) });

    // Pull: the same images back into new OCI layouts.
    const pull = samples();
    mkdirSync(join(work, "pulled"));
    for (const [i, image] of images.entries()) {
      const r = await each(i, async (registry) => {
        const target = join(work, "pulled", `${registry.key}-${i}`);
        const seconds = await copy.copy(`docker://${hostOf(registry)}/bench/push-${i}:v1`, `oci:${target}:pulled`);
        const pulled = JSON.parse(readFileSync(join(target, "index.json"), "utf8")) as { manifests: { digest: string }[] };
        if (pulled.manifests[0]?.digest !== image.manifest.digest) throw new Error(`the manifest pulled from ${registry.label} differs from the pushed one`);
        rmSync(target, { recursive: true, force: true });
        return mibps(image.layer.size, seconds);
      });
      for (const [key, value] of Object.entries(r)) pull[key]!.push(value);
      log(`pull ${i}: ${line(r, (v) => `${v.toFixed(0)} MiB/s`)}`);
    }
    compare("pull", `pull, skopeo (median of ${settings.runs})`, "MiB/s", "higher", medians(pull), { samples: pull, target: atLeast(1) });

    // Chunked push: our own client, 8 MiB PATCHes with Content-Range (with
    // several processes, consecutive PATCHes of one upload meet different ones).
    const chunked = samples();
    const chunkedWrites: ByKey<number> = Object.fromEntries(registries.map((r) => [r.key, 0]));
    let chunkedBytes = 0;
    for (let i = 0; i < settings.runs; i++) {
      const layer = freshLayer(source);
      const r = await each(i, async (registry) => {
        const before = writesOfTree(registry.pid);
        const t0 = performance.now();
        await pushChunked(registry.url, `bench/chunked-${i}`, layer.bytes, layer.digest, settings.chunkBytes);
        const seconds = (performance.now() - t0) / 1000;
        chunkedWrites[registry.key]! += written(registry, before);
        return mibps(layer.size, seconds);
      });
      chunkedBytes += layer.size;
      for (const [key, value] of Object.entries(r)) chunked[key]!.push(value);
      log(`chunked push ${i}: ${line(r, (v) => `${v.toFixed(0)} MiB/s`)}`);
    }
    compare("chunkedPush", `chunked push, ${settings.chunkBytes / MiB} MiB PATCHes (median of ${settings.runs})`, "MiB/s", "higher", medians(chunked), { samples: chunked, target: atLeast(1) });

    // Storage writes per byte pushed, from /proc/<pid>/io write_bytes of the whole tree.
    const amplification = (id: string, label: string, writes: ByKey<number>, bytes: number, requests: number) => {
      const limit = 1 + (requests * settings.partSize) / bytes;
      const perByte = Object.fromEntries(Object.entries(writes).map(([k, v]) => [k, v / bytes]));
      compare(id, `write amplification, ${label}`, "x", "lower", perByte, {
        target: (o) => ({ text: `<= ${limit.toFixed(3)} (1.0 + one ${settings.partSize / MiB} MiB part per request)`, met: o <= limit }),
      });
    };
    // skopeo sends the layer in one PATCH, the config in another, then the manifest.
    amplification("writeAmplificationPush", "skopeo push", pushWrites, pushedBytes, 3);
    amplification("writeAmplificationChunked", "chunked push", chunkedWrites, chunkedBytes, Math.ceil(settings.layerBytes / settings.chunkBytes) + 1);
    const streamedWrites = Object.fromEntries(Object.entries(streamed.writes).map(([k, v]) => [k, sum(v)]));
    amplification("writeAmplificationStreamed", "streamed push", streamedWrites, settings.streamedBytes * settings.streamedRuns, settings.streamedRuns);

    // Request rates: manifest GET by tag, blob HEAD, tag listing whole and in pages.
    const first = images[0]!;
    for (const registry of registries) {
      const answer = await get(`${registry.url}/v2/bench/push-0/manifests/v1`, { Accept: MANIFEST_ACCEPT });
      if (answer.status !== 200 || answer.body !== first.manifest.bytes.toString()) throw new Error(`${registry.label}: manifest GET does not return the pushed manifest`);
    }
    await prepareTags(registries, first, settings);

    const pagedPath = `/v2/bench/tags/tags/list?n=${settings.tagPage}`;
    const loads: { id: string; label: string; path: string; method: "GET" | "HEAD"; headers?: Record<string, string>; target?: number; paged?: boolean }[] = [
      { id: "manifestGet", label: "manifest GET by tag", path: "/v2/bench/push-0/manifests/v1", method: "GET", headers: { Accept: MANIFEST_ACCEPT }, target: 2 },
      { id: "blobHead", label: "blob HEAD", path: `/v2/bench/push-0/blobs/${first.layer.digest}`, method: "HEAD", target: 2 },
      { id: "tagList", label: `tag list, ${settings.tags} tags in one answer`, path: "/v2/bench/tags/tags/list", method: "GET" },
      { id: "tagPages", label: `tag listing, ${settings.tags} tags in pages of ${settings.tagPage}`, path: pagedPath, method: "GET", target: 1, paged: true },
    ];
    for (const [round, load] of loads.entries()) {
      const cpuPerRequest: ByKey<number> = {};
      const r = await each(round, async (registry) => {
        let cpuBefore: TreeCounters = new Map();
        let cpu = 0;
        const result = await measureLoad({
          url: `${registry.url}${load.paged ? "" : load.path}`,
          method: load.method,
          headers: load.headers ?? {},
          connections: settings.connections,
          seconds: settings.loadSeconds,
          warmupSeconds: settings.warmupSeconds,
          ...(load.paged ? { paged: { firstPath: load.path, expectTags: settings.tags, maxPages: Math.ceil(settings.tags / settings.tagPage) + 2 } } : {}),
          onMeasure: {
            start: () => (cpuBefore = cpuOfTree(registry.pid)),
            end: () => {
              const used = cpuSeconds(cpuBefore, cpuOfTree(registry.pid));
              if (used.ended.length > 0) notes.push(`${registry.label}: process${used.ended.length === 1 ? "" : "es"} ${used.ended.join(", ")} ended during ${load.label}`);
              cpu = used.seconds;
            },
          },
        });
        cpuPerRequest[registry.key] = result.requests > 0 ? (cpu / result.requests) * 1e6 : NaN;
        return result;
      });
      for (const [key, result] of Object.entries(r) as [string, LoadResult][]) {
        const label = registries.find((x) => x.key === key)!.label;
        if (result.non2xx > 0 || result.errors > 0) throw new Error(`${load.label} on ${label}: ${result.non2xx} non-2xx answers, ${result.errors} errors`);
        if (result.listings && (result.listings.bad > 0 || result.listings.complete === 0)) {
          throw new Error(`${load.label} on ${label}: ${result.listings.complete} complete listings, ${result.listings.bad} bad (${result.listings.firstProblem ?? "none finished"})`);
        }
      }
      const rate = Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.requestsPerSecond]));
      const p50 = Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.p50Ms]));
      const p99 = Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.p99Ms]));
      const cpuDetail = (o: RunningRegistry) => ({
        serverCpuMicrosecondsPerRequest: { ours: cpuPerRequest[o.key], theirs: cpuPerRequest[theirs.key] },
        generatorCpuSeconds: { ours: r[o.key]!.generatorCpuSeconds, theirs: r[theirs.key]!.generatorCpuSeconds },
        requests: { ours: r[o.key]!.requests, theirs: r[theirs.key]!.requests },
      });
      const cpuText = (key: string) => `${cpuPerRequest[key]!.toFixed(0)} µs server CPU/request`;
      if (load.paged) {
        const listings = Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.listings!.perSecond]));
        const pages = (key: string) => {
          const l = r[key]!.listings!;
          return l.pagesMin === l.pagesMax ? `${l.pagesMin} page${l.pagesMin === 1 ? "" : "s"}` : `${l.pagesMin}-${l.pagesMax} pages`;
        };
        log(`${load.label}: ${registries.map((x) => `${x.label} ${listings[x.key]!.toFixed(0)} listings/s (${pages(x.key)} each, ${rate[x.key]!.toFixed(0)} req/s, ${cpuText(x.key)})`).join(", ")}`);
        for (const x of registries) {
          const largest = r[x.key]!.listings!.largestPage;
          if (largest > settings.tagPage) notes.push(`${x.label} ignores n=${settings.tagPage}: one answer carried ${largest} tags, so one of its "paged" listings is ${pages(x.key)}`);
        }
        const listingDetail = (o: RunningRegistry) => ({
          ...cpuDetail(o),
          pagesPerListing: { ours: [r[o.key]!.listings!.pagesMin, r[o.key]!.listings!.pagesMax], theirs: [r[theirs.key]!.listings!.pagesMin, r[theirs.key]!.listings!.pagesMax] },
          largestPage: { ours: r[o.key]!.listings!.largestPage, theirs: r[theirs.key]!.listings!.largestPage },
          completeListings: { ours: r[o.key]!.listings!.complete, theirs: r[theirs.key]!.listings!.complete },
        });
        const base = `${load.label}, ${settings.connections} connections`;
        compare(`${load.id}Listings`, `${base}, full listings`, "listings/s", "higher", listings, { target: atLeast(load.target!), detail: listingDetail });
        compare(`${load.id}Rate`, `${base}, page requests`, "req/s", "higher", rate, { detail: cpuDetail });
        compare(`${load.id}P50`, `${load.label}, p50 per page`, "ms", "lower", p50);
        compare(`${load.id}P99`, `${load.label}, p99 per page`, "ms", "lower", p99);
      } else {
        log(`${load.label}: ${registries.map((x) => `${x.label} ${rate[x.key]!.toFixed(0)} req/s (${cpuText(x.key)})`).join(", ")}`);
        compare(`${load.id}Rate`, `${load.label}, ${settings.connections} connections`, "req/s", "higher", rate, {
          ...(load.target ? { target: atLeast(load.target) } : {}),
          detail: cpuDetail,
        });
        compare(`${load.id}P50`, `${load.label} p50`, "ms", "lower", p50);
        compare(`${load.id}P99`, `${load.label} p99`, "ms", "lower", p99);
      }
    }
    for (const r of ours) {
      const now = treeOf(r.pid);
      const then = startingTrees.get(r.key)!;
      if (now.length !== then.length || now.some((pid) => !then.includes(pid))) notes.push(`${r.label}: its process tree changed during the run (${then.join(" ")} -> ${now.join(" ")}): a worker ended or was replaced`);
    }
  } finally {
    clearTimeout(watchdog);
    await cleanup();
  }

  // Measured in the order that suits the machine, printed in the order that reads well.
  const order = ["push", "pull", "chunkedPush", "streamedPush", "peakRss", "idleRss", "idlePss", "writeAmplification"];
  const rank = (id: string) => {
    const index = order.findIndex((prefix) => id.startsWith(prefix));
    return index === -1 ? order.length : index;
  };
  figures.sort((a, b) => rank(a.id) - rank(b.id)); // Stable: same figures stay together, PROCESSES ascending.
  const oursLine = [...new Map(figures.map((f) => [f.processes.requested, processesCell(f.processes)])).values()].map((cell) => `PROCESSES=${cell}`).join(", ");
  console.log(`ours (this registry, Node ${process.version}, ${oursLine}) against ${theirLabel} (${distribution.command}: ${distribution.versionOutput})`);
  console.log(table(figures, theirLabel));
  for (const note of notes) console.log(`note: ${note}`);

  const argv = process.argv.slice(2);
  const results = {
    date: new Date(started).toISOString(),
    command: [
      ...Object.entries(process.env)
        .filter(([name]) => name.startsWith("BENCH_"))
        .map(([name, value]) => `${name}=${value}`),
      `npm run bench${argv.length ? ` -- ${argv.join(" ")}` : ""}`,
    ].join(" "),
    commit: firstLine("git", ["rev-parse", "--short", "HEAD"]),
    uncommittedChanges: firstLine("git", ["status", "--porcelain", "--untracked-files=no"]) !== "",
    minutes: Number(((Date.now() - started) / 60_000).toFixed(1)),
    ...(options.note ? { note: options.note } : {}),
    comparison: {
      name: "CNCF Distribution",
      label: theirLabel,
      version: distribution.version,
      module: distribution.module,
      binary: distribution.command,
      versionOutput: distribution.versionOutput,
      env: registries.find((r) => r.kind === "theirs")?.env ?? {},
    },
    ours: registries
      .filter((r) => r.kind === "ours")
      .map((r) => ({ processesRequested: r.processes, processesServing: r.serving, treeSize: r.treeSize, env: { ...r.env, DATA_DIR: "<temporary>", PORT: "<free port>" } })),
    machine: { ...about, loadAverageAtEnd: loadavg().map((n) => Number(n.toFixed(2))) },
    settings,
    notes,
    figures: figures.map((f) => ({ ...f, ratio: ratio(f) })),
  };
  const resultsPath = isAbsolute(options.results) ? options.results : join(repoRoot, options.results);
  mkdirSync(dirname(resultsPath), { recursive: true });
  writeFileSync(resultsPath, `${JSON.stringify(results, null, 2)}\n`);
  log(`wrote ${relative(repoRoot, resultsPath).startsWith("..") ? resultsPath : relative(repoRoot, resultsPath)} (${results.minutes} min)`);
}

/** Bytes the registry's process tree wrote to storage since `before`. */
function written(registry: RunningRegistry, before: TreeCounters): number {
  const w = writtenBytes(before, writesOfTree(registry.pid));
  if (w.ended.length > 0) log(`${registry.label}: process(es) ${w.ended.join(", ")} ended during a push; their writes are not counted`);
  return w.bytes;
}

/** A repository with `settings.tags` tags on one manifest, its blobs mounted from bench/push-0. */
async function prepareTags(registries: RunningRegistry[], image: LayerImage, settings: Settings): Promise<void> {
  log(`tagging one manifest ${settings.tags} times in bench/tags on each registry`);
  for (const registry of registries) {
    for (const digest of [image.layer.digest, image.config.digest]) {
      const url = `${registry.url}/v2/bench/tags/blobs/uploads/?mount=${digest}&from=bench/push-0`;
      const response = await fetch(url, { method: "POST", signal: AbortSignal.timeout(30_000) });
      await response.body?.cancel();
      if (response.status !== 201) throw new Error(`${registry.label}: mount of ${digest} answered ${response.status}`);
    }
    const names = Array.from({ length: settings.tags }, (_, i) => `t${String(i).padStart(4, "0")}`);
    for (let i = 0; i < names.length; i += 8) {
      await Promise.all(names.slice(i, i + 8).map((tag) => putManifest(registry.url, "bench/tags", tag, image.manifest.mediaType, image.manifest.bytes)));
    }
    const listed = JSON.parse((await get(`${registry.url}/v2/bench/tags/tags/list`)).body) as { tags?: string[] };
    if (new Set(listed.tags).size !== settings.tags) throw new Error(`${registry.label}: tags/list has ${listed.tags?.length} tags, not ${settings.tags}`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
