import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // These run inside workerd: npm run test:workers (vitest.workers.config.ts).
    // test/aws needs Ceph RGW and dynalite running: npm run test:aws (vitest.aws.config.ts).
    // test/fuzz runs for a time budget: npm run test:fuzz (vitest.fuzz.config.ts).
    // test/proxy needs docker-registry, skopeo, podman and containerd: npm run test:proxy.
    exclude: ["test/workers/**", "test/aws/**", "test/fuzz/**", "test/proxy/**", "**/node_modules/**"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
