/**
 * Request-rate figures with autocannon, driven from this process: requests/s
 * of 2xx answers, and p50/p99 latency computed from every response's own
 * timing (autocannon's histogram has 1 ms resolution, too coarse here).
 *
 * Every run is bounded: a fixed number of connections, each with one request
 * in flight, for a fixed duration; a run that has not ended 30 s after its
 * duration is stopped and fails the bench.
 *
 * Why autocannon and not wrk: wrk 4.1 (Debian 12) never finishes a HEAD
 * request whose answer declares a Content-Length (a blob HEAD), and its Lua
 * `request()` hook has no per-connection state to follow a Link header with;
 * autocannon is a devDependency, needs no install, and both are solved below.
 * It costs about 30 µs of CPU per request here (wrk about 15 µs), which
 * `generatorCpuSeconds` reports for every run.
 */
import autocannon from "autocannon";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
// autocannon's own HTTP parser; resolved from autocannon so it is the same copy.
const { HTTPParser } = require(require.resolve("http-parser-js", { paths: [require.resolve("autocannon")] })) as {
  HTTPParser: { kOnHeadersComplete: number };
};

export interface LoadResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  non2xx: number;
  errors: number;
  /** CPU time of this (the load generator's) process during the measured run. */
  generatorCpuSeconds: number;
  /** Paged listings only. */
  listings?: ListingStats;
}

export interface ListingStats {
  /** Complete listings per second: first page to the page without a Link header. */
  perSecond: number;
  complete: number;
  /** Listings that were not the expected set of tags, or needed more than `maxPages` pages. */
  bad: number;
  /** Pages one complete listing took (fewest and most seen). */
  pagesMin: number;
  pagesMax: number;
  /** Most tags one answer carried (a registry that ignores `n` answers them all at once). */
  largestPage: number;
  firstProblem?: string;
}

export interface PagedListing {
  /** Path of the first page, e.g. /v2/<name>/tags/list?n=100. */
  firstPath: string;
  /** Tags a complete listing must hold (each once). */
  expectTags: number;
  /** More pages than this for one listing counts as a bad listing. */
  maxPages: number;
}

export interface LoadOptions {
  url: string;
  method: "GET" | "HEAD";
  headers?: Record<string, string>;
  connections: number;
  seconds: number;
  warmupSeconds: number;
  /** Instead of one URL: follow `Link: <...>; rel="next"` from `firstPath` until a page has none, on every connection. */
  paged?: PagedListing;
  /** Called right before and right after the measured run (after the warm-up), e.g. to read the server's CPU time. */
  onMeasure?: { start(): void; end(): void };
}

/**
 * autocannon's parser reads a body after any response that declares a
 * Content-Length, so a HEAD answer (which declares the blob's length and
 * carries no body) would stall the connection until it times out. Answering
 * "skip the body" from onHeadersComplete is what Node's own client does for HEAD.
 */
function skipBodies(client: { parser: Record<number, unknown> }): void {
  let handler: (info: unknown) => void = () => {};
  Object.defineProperty(client.parser, HTTPParser.kOnHeadersComplete, {
    configurable: true,
    get: () => (info: unknown) => {
      handler(info);
      return true;
    },
    set: (fn: (info: unknown) => void) => {
      handler = fn;
    },
  });
}

interface PageContext {
  next?: string;
  pages?: number;
  tags?: Set<string>;
}

/** The `rel="next"` target of a Link header, as a path; undefined when there is none. */
export function nextPage(link: string | string[] | undefined): string | undefined {
  const values = link === undefined ? [] : Array.isArray(link) ? link : [link];
  for (const value of values) {
    for (const part of value.split(",")) {
      const match = /<([^>]*)>\s*;(.*)$/.exec(part.trim());
      if (!match || !/rel="?next"?/.test(match[2]!)) continue;
      const target = match[1]!;
      if (!/^https?:\/\//.test(target)) return target;
      const url = new URL(target);
      return url.pathname + url.search;
    }
  }
  return undefined;
}

/**
 * autocannon's request list with per-connection state: entry 0 asks for the
 * first page, entry i for the page the previous answer's Link named. An entry
 * with no page to ask for returns null, which makes autocannon start over at
 * entry 0 with a fresh context (as it does after the last entry): one listing
 * per pass through the list, so the list has `maxPages` entries.
 */
function pagedRequests(paged: PagedListing, stats: ListingStats, headers: Record<string, string>) {
  const onResponse = (status: number, body: string, context: PageContext, answerHeaders: Record<string, string | string[]>) => {
    const fail = (problem: string) => {
      stats.bad++;
      stats.firstProblem ??= problem;
      delete context.next;
    };
    if (status !== 200) return fail(`page ${context.next ?? paged.firstPath} answered ${status}`); // also counted in non2xx
    let tags: string[];
    try {
      tags = (JSON.parse(body) as { tags?: string[] | null }).tags ?? [];
    } catch {
      return fail(`page ${context.next ?? paged.firstPath} is not JSON`);
    }
    context.pages = (context.pages ?? 0) + 1;
    context.tags ??= new Set();
    for (const tag of tags) context.tags.add(tag);
    stats.largestPage = Math.max(stats.largestPage, tags.length);
    const link = Object.entries(answerHeaders).find(([name]) => name.toLowerCase() === "link")?.[1];
    const next = nextPage(link);
    if (next !== undefined) {
      if (context.pages >= paged.maxPages) return fail(`more than ${paged.maxPages} pages`);
      context.next = next;
      return;
    }
    delete context.next;
    if (context.tags.size !== paged.expectTags) return fail(`a listing held ${context.tags.size} distinct tags, not ${paged.expectTags}`);
    stats.complete++;
    stats.pagesMin = Math.min(stats.pagesMin, context.pages);
    stats.pagesMax = Math.max(stats.pagesMax, context.pages);
  };
  return Array.from({ length: paged.maxPages }, (_, i) => ({
    method: "GET",
    headers,
    setupRequest: (request: { path: string }, context: PageContext) => {
      if (i === 0) return { ...request, path: paged.firstPath };
      if (context.next === undefined) return null; // This listing is over: back to entry 0.
      return { ...request, path: context.next };
    },
    onResponse,
  }));
}

function emptyStats(): ListingStats {
  return { perSecond: 0, complete: 0, bad: 0, pagesMin: Infinity, pagesMax: 0, largestPage: 0 };
}

/** One autocannon run, stopped and failed if it overruns its duration by 30 s. */
async function bounded(options: Parameters<typeof autocannon>[0], onResponse?: (status: number, ms: number) => void) {
  const run = autocannon(options);
  if (onResponse) run.on("response", (_client: unknown, status: number, _bytes: number, ms: number) => onResponse(status, ms));
  let timer: NodeJS.Timeout | undefined;
  const overrun = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      run.stop();
      reject(new Error(`autocannon ${options.url} did not end within ${options.duration! + 30} s`));
    }, (options.duration! + 30) * 1000);
  });
  try {
    return await Promise.race([run, overrun]);
  } finally {
    clearTimeout(timer);
  }
}

export async function measureLoad(options: LoadOptions): Promise<LoadResult> {
  const headers = options.headers ?? {};
  const base = (stats: ListingStats) => ({
    url: options.url,
    method: options.method,
    headers,
    connections: options.connections,
    ...(options.method === "HEAD" ? { setupClient: skipBodies } : {}),
    ...(options.paged ? { requests: pagedRequests(options.paged, stats, headers) } : {}),
  });
  if (options.warmupSeconds > 0) await bounded({ ...base(emptyStats()), duration: options.warmupSeconds });
  const latencies: number[] = [];
  const stats = emptyStats();
  options.onMeasure?.start();
  const cpu = process.cpuUsage();
  const result = await bounded({ ...base(stats), duration: options.seconds }, (status, ms) => {
    if (status >= 200 && status < 300) latencies.push(ms);
  });
  const used = process.cpuUsage(cpu);
  options.onMeasure?.end();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return {
    requestsPerSecond: latencies.length / options.seconds,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    requests: latencies.length,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    generatorCpuSeconds: (used.user + used.system) / 1e6,
    ...(options.paged ? { listings: { ...stats, perSecond: stats.complete / options.seconds, pagesMin: stats.complete ? stats.pagesMin : 0 } } : {}),
  };
}
