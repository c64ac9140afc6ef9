/**
 * Tests that run inside workerd (the Workers runtime) with local R2 and
 * Durable Objects from wrangler.toml: the port contract suites against the
 * R2 and Durable Object adapters, and the precompiled-WASM hashing.
 *
 *   npm run test:workers
 */
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [cloudflareTest({ wrangler: { configPath: "./wrangler.toml" } })],
  test: {
    include: ["test/workers/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
