/**
 * The AuthStateStore contract (src/auth/auth-state.ts): every adapter counts failures per key and
 * window, and lets each single-use id through once, even when the uses race.
 */
import { describe, expect, it } from "vitest";
import type { AuthStateStore } from "../../src/auth/auth-state.ts";

export function authStateContract(name: string, open: () => Promise<AuthStateStore>): void {
  describe(`AuthStateStore contract: ${name}`, () => {
    const future = () => Date.now() + 60_000;

    it("counts failures per key within a window, and starts again at zero in the next", async () => {
      const store = await open();
      const window = 1_000_000;
      expect(await store.failures(["name:a", "address:1"], window)).toEqual([0, 0]);
      await store.recordFailure(["name:a", "address:1"], window, future());
      await store.recordFailure(["name:a"], window, future());
      expect(await store.failures(["name:a", "address:1", "name:b"], window)).toEqual([2, 1, 0]);
      expect(await store.failures(["name:a"], window + 60_000)).toEqual([0]);
    });

    it("counts every one of racing failures", async () => {
      const store = await open();
      await Promise.all(Array.from({ length: 20 }, () => store.recordFailure(["name:race"], 5, future())));
      expect(await store.failures(["name:race"], 5)).toEqual([20]);
    });

    it("lets a single-use id through once, even when its uses race", async () => {
      const store = await open();
      expect(await store.wasUsed("refresh:x")).toBe(false);
      const outcomes = await Promise.all(Array.from({ length: 10 }, () => store.useOnce("refresh:x", future())));
      expect(outcomes.filter(Boolean)).toHaveLength(1);
      expect(await store.wasUsed("refresh:x")).toBe(true);
      expect(await store.useOnce("refresh:y", future())).toBe(true);
    });
  });
}
