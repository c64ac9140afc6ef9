/**
 * Garbage collection spread over cron runs (lifecycle/resumable-collector.ts) on Durable
 * Objects + R2 inside workerd: a tiny budget makes a collection take many steps, with pushes
 * between them, and it still deletes exactly what nothing holds (objects counted in R2); a
 * step that throws part-way is resumed by the next; the Worker's cron advances the cycle one
 * step per run.
 */
import { createScheduledController, env, reset } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { DurableObjectMetadataStore } from "../../src/adapters/durable-object/metadata-store.ts";
import { R2BlobStore } from "../../src/adapters/r2/blob-store.ts";
import { wasmSha2Hashing } from "../../src/adapters/wasm-sha2/hashing.ts";
import sha256Wasm from "../../src/adapters/wasm-sha2/sha256.wasm";
import sha512Wasm from "../../src/adapters/wasm-sha2/sha512.wasm";
import { Registry } from "../../src/core/registry.ts";
import { createApp } from "../../src/http/app.ts";
import { ResumableCollector, type StepResult } from "../../src/lifecycle/resumable-collector.ts";
import { MIN_PART_SIZE } from "../../src/ports/blob-store.ts";
import worker from "../../src/runtime/workers.ts";
import { pullsWhole, pushImage, random, sha256, text } from "../contract/image-pushes.ts";

const GRACE = 60_000;
const metadata = new DurableObjectMetadataStore({ repositories: env.REPOSITORIES, indexShards: env.INDEX_SHARDS, catalog: env.CATALOG });
const blobs = new R2BlobStore(env.BLOBS);
const app = createApp(new Registry({ blobs, metadata, hashing: wasmSha2Hashing({ sha256: sha256Wasm, sha512: sha512Wasm }), partSize: MIN_PART_SIZE }));
const clock = { now: Date.now() };
const objects = async () => (await env.BLOBS.list({ prefix: "blobs/" })).objects.length;
const collector = (m: typeof metadata = metadata) =>
  new ResumableCollector({ metadata: m, blobs, cycles: metadata.collectionCycles(), graceMs: GRACE, orphanLinkAgeMs: 0, budget: 3, pageSize: 2, now: () => clock.now });

/** Steps until the cycle finishes, running `between` after each unfinished one; answers the steps. */
async function cycle(between: (step: number) => Promise<void> = async () => {}): Promise<StepResult[]> {
  const steps: StepResult[] = [];
  for (;;) {
    const result = await collector().step();
    steps.push(result);
    if (result.finished) return steps;
    expect(steps.length).toBeLessThan(200);
    await between(steps.length);
  }
}

afterEach(() => reset());

describe("garbage collection over several invocations", () => {
  it("takes many bounded steps, with pushes between them, and deletes exactly the blobs nothing holds", async () => {
    const shared = random(5_000);
    // Five repositories (three catalog pages of two), one image each; team/a's goes.
    for (const repo of ["team/a", "team/b", "team/c", "team/d", "team/e"]) expect((await pushImage(app, repo, "v1", text(`{"${repo}":1}`), [shared, random(3_000)])).status).toBe(201);
    const goneLayers = [random(4_000), random(4_000)];
    const gone = await pushImage(app, "team/a", "old", text('{"old":1}'), goneLayers);
    expect((await app.request(`/v2/team/a/manifests/${gone.digest}`, { method: "DELETE" })).status).toBe(202);
    expect(await objects()).toBe(5 * 3 + 1 + 4);

    clock.now += 1_000;
    const first = await cycle();
    expect(first.length).toBeGreaterThan(3);
    for (const step of first) expect(step.calls).toBeLessThanOrEqual(3 + 2 * 2 + 6);
    // Its config, two layers and manifest: marked over the cycle, nothing deleted yet.
    expect(first.at(-1)!.cycle.report).toMatchObject({ blobsMarked: 4, blobsDeleted: 0 });
    expect(await metadata.collectionCycles().currentCycle()).toBeNull();

    clock.now += GRACE + 1_000;
    // Between steps of the next cycle, which may now delete them: after its first step (which
    // scanned team/a and team/b), a push of one of the marked layers into team/a: the cycle does
    // not count it held, the push's revive must save it; later, an image in a repository
    // registered behind the catalog cursor.
    const late: string[] = [];
    const second = await cycle(async (step) => {
      if (step === 1) {
        expect(await metadata.collectionCycles().currentCycle()).toMatchObject({ phase: "scan", repositoryCursor: "team/b" });
        expect((await pushImage(app, "team/a", "again", text('{"again":1}'), [goneLayers[0]!])).status).toBe(201);
      }
      if (step === 3) late.push((await pushImage(app, "team/0", "v1", text('{"zero":1}'), [random(2_000)])).digest);
    });
    expect(second.length).toBeGreaterThan(3);
    // The old image's config, other layer and manifest; the revived layer is marked afresh, not deleted.
    expect(second.at(-1)!.cycle.report).toMatchObject({ blobsDeleted: 3 });
    // Everything held survives whole, the pushes between steps included.
    for (const repo of ["team/a", "team/b", "team/c", "team/d", "team/e"]) expect(await pullsWhole(app, repo, "v1")).toBe(true);
    expect(await pullsWhole(app, "team/a", "again")).toBe(true);
    expect(await pullsWhole(app, "team/0", "v1")).toBe(true);
    expect(await objects()).toBe(5 * 3 + 1 + (1 + 2) + 3);
    expect(late).toHaveLength(1);
  });

  it("a blob marked in one cycle is kept when a mount links it between the next cycle's scan and its sweep", async () => {
    const layer = random(6_000);
    const a = await pushImage(app, "team/a", "v1", text('{"a":1}'), [layer]);
    expect((await app.request(`/v2/team/a/manifests/${a.digest}`, { method: "DELETE" })).status).toBe(202);
    clock.now += 1_000;
    await cycle();
    clock.now += GRACE + 1_000;
    // The next cycle scans (team/a holds nothing now), then, before its sweep reaches the layer, a mount links it.
    const steps = await cycle(async (step) => {
      if (step === 1) {
        // The scan is done (one repository), the sweep not begun: the layer is marked long enough ago to go.
        expect(await metadata.collectionCycles().currentCycle()).toMatchObject({ phase: "sweep", indexCursor: null });
        expect((await app.request(`/v2/team/b/blobs/uploads/?mount=${await sha256(layer)}`, { method: "POST" })).status).toBe(201);
      }
    });
    expect(steps.length).toBeGreaterThan(2);
    // The config and manifest went; the mounted layer stays, bytes and all.
    expect(steps.at(-1)!.cycle.report).toMatchObject({ blobsDeleted: 2 });
    const pulled = await app.request(`/v2/team/b/blobs/${await sha256(layer)}`);
    expect(pulled.status).toBe(200);
    expect(new Uint8Array(await pulled.arrayBuffer())).toEqual(layer);
  });

  it("a step that throws part-way is resumed by the next, and the cycle ends as an uninterrupted one would", async () => {
    for (const repo of ["team/a", "team/b", "team/c"]) expect((await pushImage(app, repo, "v1", text(`{"${repo}":1}`), [random(1_000)])).status).toBe(201);
    const gone = await pushImage(app, "team/b", "old", text('{"old":1}'), [random(1_000)]);
    expect((await app.request(`/v2/team/b/manifests/${gone.digest}`, { method: "DELETE" })).status).toBe(202);
    // An invocation that dies at its third repository scan (as a Worker hitting a limit would).
    let scans = 0;
    const failing = new Proxy(metadata, {
      get(target, property) {
        const value = Reflect.get(target, property) as unknown;
        if (property === "scanRepository")
          return async (...args: Parameters<typeof target.scanRepository>) => {
            if (++scans === 3) throw new Error("exceeded its subrequest limit");
            return target.scanRepository(...args);
          };
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    clock.now += 1_000;
    const dying = collector(failing);
    await dying.step();
    await expect(dying.step()).rejects.toThrow("subrequest limit");
    const kept = await metadata.collectionCycles().currentCycle();
    expect(kept).toMatchObject({ phase: "scan", repositoryCursor: "team/b" });
    const rest = await cycle();
    expect(rest.at(-1)!.cycle.startedAt).toBe(kept!.startedAt);
    expect(rest.at(-1)!.cycle.report).toMatchObject({ blobsMarked: 3, blobsDeleted: 0 });
    clock.now += GRACE + 1_000;
    expect((await cycle()).at(-1)!.cycle.report).toMatchObject({ blobsDeleted: 3 });
    expect(await objects()).toBe(3 * 3);
    for (const repo of ["team/a", "team/b", "team/c"]) expect(await pullsWhole(app, repo, "v1")).toBe(true);
  });

  it("a step still sweeping a cycle another invocation has ended removes nothing: its held set is gone", async () => {
    // Held (team/a links it) yet marked long ago: a link written after a scan, then marked by that cycle.
    const layer = random(2_000);
    expect((await pushImage(app, "team/a", "v1", text('{"a":1}'), [layer])).status).toBe(201);
    const digest = await sha256(layer);
    const entry = (await metadata.getBlob(digest))!;
    expect(await metadata.markBlob(digest, entry.key, clock.now - 10 * GRACE)).toBe(true);
    const before = await objects();
    // The stale step reaches its sweep; as it reads the index page with that entry, another invocation ends its cycle.
    let ended = false;
    const racing = new Proxy(metadata, {
      get(target, property) {
        const value = Reflect.get(target, property) as unknown;
        if (property === "blobIndexPage")
          return async (...args: Parameters<typeof target.blobIndexPage>) => {
            const page = await target.blobIndexPage(...args);
            const current = await metadata.collectionCycles().currentCycle();
            if (current && page.entries.some((e) => e.digest === digest)) {
              await metadata.collectionCycles().endCycle(current.startedAt);
              ended = true;
            }
            return page;
          };
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    clock.now += 1_000;
    const stale = new ResumableCollector({ metadata: racing, blobs, cycles: metadata.collectionCycles(), graceMs: GRACE, orphanLinkAgeMs: 0, budget: 1_000, now: () => clock.now });
    const result = await stale.step();
    expect(ended).toBe(true);
    expect(result).toMatchObject({ finished: false, step: { blobsDeleted: 0 } });
    expect(await metadata.getBlob(digest)).not.toBeNull();
    expect(await objects()).toBe(before);
    expect(await pullsWhole(app, "team/a", "v1")).toBe(true);
    // Nor did it bring its cycle back.
    expect(await metadata.collectionCycles().currentCycle()).toBeNull();
  });
});

describe("the Worker's cron", () => {
  it("advances one cycle a step per run with GC_STEP_SUBREQUESTS, logging its progress, and marks what nothing holds", async () => {
    for (const repo of ["team/a", "team/b", "team/c", "team/d"]) expect((await pushImage(app, repo, "v1", text(`{"${repo}":1}`), [random(1_000)])).status).toBe(201);
    const unheld = { digest: `sha256:${"2".repeat(64)}`, size: 4, key: "blobs/sha256/unheld" };
    await blobs.put(unheld.key, new Uint8Array(unheld.size));
    await metadata.putBlobIfAbsent(unheld);
    const lines: string[] = [];
    const log = console.log;
    console.log = (line: string) => void lines.push(line);
    let runs = 0;
    try {
      do {
        await worker.scheduled(createScheduledController({ cron: "17 * * * *" }), { ...env, GC_STEP_SUBREQUESTS: "2" });
        runs++;
      } while ((await metadata.collectionCycles().currentCycle()) !== null && runs < 100);
    } finally {
      console.log = log;
    }
    expect(runs).toBeGreaterThan(1);
    const progress = lines.filter((line) => line.startsWith("garbage collection: cycle started"));
    expect(progress).toHaveLength(runs);
    expect(progress[0]).toMatch(/run 1, continues next run \((scan|sweep) phase\)/);
    expect(progress.at(-1)).toMatch(new RegExp(`run ${runs}, finished`));
    const index = [];
    for await (const page of metadata.blobIndexPages(50)) index.push(...page);
    expect(index.find((e) => e.digest === unheld.digest)?.markedAt).toEqual(expect.any(Number));
    expect(index.filter((e) => e.markedAt !== null)).toHaveLength(1);
  });
});
