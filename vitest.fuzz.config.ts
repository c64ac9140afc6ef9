import { defineConfig } from "vitest/config";

/** `npm run test:fuzz`: the time-bounded fuzz suites (test/fuzz), FUZZ_SECONDS each (default 60). */
export default defineConfig({
  test: {
    include: ["test/fuzz/**/*.fuzz.test.ts"],
    testTimeout: 180_000,
    hookTimeout: 60_000,
  },
});
