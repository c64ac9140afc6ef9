/**
 * Request-rate figures with autocannon, driven from this process: requests/s
 * of 2xx answers, and p50/p99 latency computed from every response's own
 * timing (autocannon's histogram has 1 ms resolution, too coarse here).
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
}

export interface LoadOptions {
  url: string;
  method: "GET" | "HEAD";
  headers?: Record<string, string>;
  connections: number;
  seconds: number;
  warmupSeconds: number;
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

export async function measureLoad(options: LoadOptions): Promise<LoadResult> {
  const base = {
    url: options.url,
    method: options.method,
    headers: options.headers ?? {},
    connections: options.connections,
    ...(options.method === "HEAD" ? { setupClient: skipBodies } : {}),
  };
  if (options.warmupSeconds > 0) await autocannon({ ...base, duration: options.warmupSeconds });
  const latencies: number[] = [];
  const run = autocannon({ ...base, duration: options.seconds });
  run.on("response", (_client: unknown, status: number, _bytes: number, ms: number) => {
    if (status >= 200 && status < 300) latencies.push(ms);
  });
  const result = await run;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return {
    requestsPerSecond: latencies.length / options.seconds,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    requests: latencies.length,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}
