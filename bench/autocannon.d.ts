/** The part of autocannon 9's programmatic API the bench uses (it ships no types). */
declare module "autocannon" {
  import type { EventEmitter } from "node:events";

  interface Options {
    url: string;
    method?: string;
    headers?: Record<string, string>;
    connections?: number;
    duration?: number;
    setupClient?: (client: { parser: Record<number, unknown> }) => void;
    /** A sequence each connection walks through; `context` is per connection, reset after the last entry or when setupRequest returns null. */
    requests?: {
      method?: string;
      path?: string;
      headers?: Record<string, string>;
      setupRequest?: (request: any, context: any) => object | null;
      onResponse?: (status: number, body: string, context: any, headers: Record<string, string | string[]>) => void;
    }[];
  }

  interface Result {
    errors: number;
    timeouts: number;
    non2xx: number;
    "2xx": number;
    requests: { average: number; total: number };
    latency: { p50: number; p99: number };
    duration: number;
  }

  type Instance = EventEmitter & PromiseLike<Result> & { stop(): void };

  function autocannon(options: Options): Instance;
  export default autocannon;
}
