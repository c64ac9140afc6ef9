import { defineConfig } from "vitest/config";

/**
 * The AWS backend's tests (npm run test:aws): the port contract suites and
 * adapter specifics on Ceph RGW (S3) and dynalite (DynamoDB), which
 * test/aws/global-setup.ts starts once for the run.
 */
export default defineConfig({
  test: {
    include: ["test/aws/**/*.test.ts"],
    globalSetup: ["test/aws/global-setup.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
