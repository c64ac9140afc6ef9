/**
 * The catalog pages of the web interface (src/ui/catalog.ts): only names the visitor may
 * read, a page at a time, with a search, never reading the whole catalog in one request.
 */
import { describe, expect, it } from "vitest";
import { MemoryMetadataStore } from "../../src/adapters/memory/metadata-store.ts";
import { catalogPage, MAX_SCANNED } from "../../src/ui/catalog.ts";
import type { MetadataStore, Page } from "../../src/ports/metadata-store.ts";

async function catalogOf(names: string[]): Promise<MetadataStore & { reads: number }> {
  const store = new MemoryMetadataStore();
  const info = await store.putBlobIfAbsent({ digest: `sha256:${"a".repeat(64)}`, size: 1, key: "k" });
  for (const name of names) await store.linkBlob(name, info);
  const counting = Object.assign(store, { reads: 0 });
  const list = store.listRepositories.bind(store);
  counting.listRepositories = (page: Page) => {
    counting.reads += page.limit ?? Infinity;
    return list(page);
  };
  return counting;
}

const names = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}/r${String(i).padStart(5, "0")}`);

describe("catalog pages", () => {
  it("pages through exactly the readable repositories, each once, in name order", async () => {
    const store = await catalogOf([...names(120, "blue"), ...names(130, "green")]);
    const access = { mayRead: (name: string) => name.startsWith("green/"), mayReadAll: false };
    const seen: string[] = [];
    let after: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const page = await catalogPage(store, access, { search: "", limit: 50, ...(after ? { after } : {}) });
      expect(page.names.length).toBeLessThanOrEqual(50);
      seen.push(...page.names);
      if (!page.next) break;
      after = page.next;
    }
    expect(seen).toEqual(names(130, "green"));
  });

  it("searches by a part of the name, among readable names only", async () => {
    const store = await catalogOf(["blue/api", "blue/web", "green/api", "public/api-base"]);
    const access = { mayRead: (name: string) => !name.startsWith("green/"), mayReadAll: false };
    expect((await catalogPage(store, access, { search: "api", limit: 50 })).names).toEqual(["blue/api", "public/api-base"]);
  });

  it(`stops after reading ${MAX_SCANNED} names without a match and offers to search further from there`, async () => {
    const store = await catalogOf([...names(MAX_SCANNED + 300, "a"), "z/needle"]);
    const access = { mayRead: () => true, mayReadAll: true };
    const first = await catalogPage(store, access, { search: "needle", limit: 50 });
    expect(first.names).toEqual([]);
    expect(first.stoppedEarly).toBe(true);
    expect(store.reads).toBeLessThanOrEqual(MAX_SCANNED + 200);
    const further = await catalogPage(store, access, { search: "needle", limit: 50, after: first.next! });
    expect(further.names).toEqual(["z/needle"]);
    expect(further.next).toBeUndefined();
  });
});
