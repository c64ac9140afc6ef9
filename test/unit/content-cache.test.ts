import { describe, expect, it } from "vitest";
import { ContentCache } from "../../src/core/content-cache.ts";

const bytes = (n: number) => new Uint8Array(n);

describe("ContentCache keeps recently used content within a byte budget", () => {
  it("returns what was set, and nothing for an unknown key", () => {
    const cache = new ContentCache(100, 50);
    const value = bytes(10);
    cache.set("a", value);
    expect(cache.get("a")).toBe(value);
    expect(cache.get("b")).toBeUndefined();
  });

  it("evicts the least recently used entries once the budget is exceeded", () => {
    const cache = new ContentCache(30, 30);
    cache.set("a", bytes(10));
    cache.set("b", bytes(10));
    cache.set("c", bytes(10));
    cache.get("a"); // a is now the most recently used; b the least
    cache.set("d", bytes(10));
    expect(cache.get("b")).toBeUndefined();
    expect(cache.get("a")).toBeDefined();
    expect(cache.get("c")).toBeDefined();
    expect(cache.get("d")).toBeDefined();
  });

  it("does not keep entries larger than the entry limit", () => {
    const cache = new ContentCache(100, 20);
    expect(cache.fits(21)).toBe(false);
    cache.set("big", bytes(21));
    expect(cache.get("big")).toBeUndefined();
  });

  it("counts a replaced entry once", () => {
    const cache = new ContentCache(20, 20);
    cache.set("a", bytes(15));
    cache.set("a", bytes(15));
    cache.set("b", bytes(5));
    expect(cache.get("a")).toBeDefined();
    expect(cache.get("b")).toBeDefined();
  });
});
