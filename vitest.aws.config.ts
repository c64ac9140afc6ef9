import { defineConfig } from "vitest/config";

/**
 * The AWS backend's tests (npm run test:aws): the port contract suites and
 * adapter specifics on Ceph RGW (S3) and dynalite (DynamoDB), the Lambda
 * handler, the CDK stack, and the spec suite over HTTP against the Node
 * server on S3 + DynamoDB. test/aws/global-setup.ts starts those servers
 * once for the run.
 */
export default defineConfig({
  test: {
    include: ["test/aws/**/*.test.ts", "test/spec/**/*.test.ts"],
    globalSetup: ["test/aws/global-setup.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
