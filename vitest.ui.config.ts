import { defineConfig } from "vitest/config";

// npm run test:ui: the web interface in Debian's chromium (playwright-core) against npm start and the Worker.
export default defineConfig({
  test: {
    include: ["test/ui/**/*.e2e.ts"],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    fileParallelism: false,
  },
});
