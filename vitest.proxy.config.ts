import { defineConfig } from "vitest/config";

/**
 * The pull-through cache against real upstreams and clients (npm run test:proxy):
 * Debian's docker-registry (Distribution 2.8.2), our own registry with token auth,
 * skopeo, podman and containerd's ctr. Not in `npm test`, which needs none of them.
 */
export default defineConfig({
  test: {
    include: ["test/proxy/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
