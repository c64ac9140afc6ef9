/**
 * Tests that run inside workerd (the Workers runtime) with local R2 and
 * Durable Objects from wrangler.toml: the port contract suites against the
 * R2 and Durable Object adapters, and the precompiled-WASM hashing.
 *
 *   npm run test:workers
 */
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

/**
 * Lines workerd prints when a test makes a stream fail on purpose (a body shorter or longer than
 * its declared length, a GET body cancelled unread): the R2 simulator's own requests report the
 * lost connection. Dropped so that a passing run prints only what matters; anything else, and
 * every line of a failing test's report, still shows.
 */
const EXPECTED_WORKERD_LINES = [
  /^exception = \S+: disconnected: (reader canceled|fixed-length pipe ended prematurely)$/,
  /^exception = \S+: failed: jsg\.Error: Application called deleteAllDurableObjects\(\)\.$/,
  /^stack:( \S+@[0-9a-f]+)+$/,
  /^uncaught exception; source = Uncaught \(in promise\); stack = (Error: Network connection lost\.|TypeError: Can't read from request stream because client disconnected\.)$/,
];
for (const stream of [process.stdout, process.stderr]) {
  const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
  stream.write = ((chunk: unknown, ...rest: unknown[]) => {
    const lines = typeof chunk === "string" ? chunk.trimEnd().split("\n") : [];
    if (lines.length > 0 && lines.every((text) => EXPECTED_WORKERD_LINES.some((line) => line.test(text)))) return true;
    return write(chunk, ...rest);
  }) as typeof stream.write;
}

export default defineConfig({
  // LOG_LEVEL warn: the Worker's one line per request would bury the test report (observability.test.ts sets info for itself).
  plugins: [cloudflareTest({ wrangler: { configPath: "./wrangler.toml" }, miniflare: { bindings: { LOG_LEVEL: "warn" } } })],
  test: {
    include: ["test/workers/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
