/**
 * The scanning garbage collector (lifecycle/scanning-collector.ts) on stores whose blob
 * index and repositories live apart: Durable Objects + R2 inside workerd, DynamoDB + S3 on
 * dynalite and Ceph RGW. Through the HTTP API: what goes, what stays, the grace period, a
 * collection forced between a push's indexing and its link, and pushes racing the
 * collector. Objects are counted in the blob store itself. Imports only vitest and src.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Registry } from "../../src/core/registry.ts";
import { createApp } from "../../src/http/app.ts";
import { ScanningCollector } from "../../src/lifecycle/scanning-collector.ts";
import { measureUsage } from "../../src/lifecycle/usage.ts";
import type { BlobStore } from "../../src/ports/blob-store.ts";
import { MIN_PART_SIZE } from "../../src/ports/blob-store.ts";
import type { ScannableMetadata } from "../../src/ports/collectable.ts";
import type { Hashing } from "../../src/ports/hashing.ts";
import type { MetadataStore } from "../../src/ports/metadata-store.ts";
import { pullsWhole, pushBlob, pushImage, random, sha256, text } from "./image-pushes.ts";

export interface ScanningFixture {
  metadata: MetadataStore & ScannableMetadata;
  blobs: BlobStore;
  hashing: Hashing;
  /** Keys of every object under blobs/ in the store. */
  objects(): Promise<string[]>;
  /** The store answers without I/O (memory, SQLite): a loop of collections must yield to let requests run. */
  synchronous?: boolean;
  cleanup(): Promise<void>;
}

export function scanningCollectorContract(name: string, create: () => Promise<ScanningFixture>): void {
let fixture: ScanningFixture | undefined;
let objects: () => Promise<string[]>;

async function setUp(beforeLink?: () => Promise<void>) {
  const created = await create();
  fixture = created;
  objects = created.objects;
  const { metadata, blobs, hashing } = created;
  const store = beforeLink
    ? new Proxy(metadata, {
        get(target, property) {
          const value = Reflect.get(target, property) as unknown;
          if (property === "linkBlob") return async (...args: Parameters<typeof target.linkBlob>) => (await beforeLink(), target.linkBlob(...args));
          return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      })
    : metadata;
  const app = createApp(new Registry({ blobs, metadata: store, hashing, partSize: MIN_PART_SIZE }));
  const clock = { now: Date.now() };
  const collector = (graceMs: number, orphanLinkAgeMs: number) => new ScanningCollector({ metadata, blobs, graceMs, orphanLinkAgeMs, now: () => clock.now });
  return { app, clock, collector, metadata, blobs };
}

describe(`scanning garbage collection: ${name}`, () => {
  afterEach(async () => {
    await fixture?.cleanup();
    fixture = undefined;
  });
  it("marks what nothing holds, deletes it after the grace period, keeps a shared layer and the other image whole", async () => {
    const { app, clock, collector } = await setUp();
    const base = random(30_000);
    const a = await pushImage(app, "team/a", "v1", text('{"a":1}'), [base, random(20_000)]);
    const b = await pushImage(app, "team/b", "v1", text('{"b":1}'), [base, random(10_000)]);
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(await objects()).toHaveLength(7);
    expect((await app.request(`/v2/team/a/manifests/${a.digest}`, { method: "DELETE" })).status).toBe(202);

    clock.now += 1000;
    // A dry run says what the run would do now: remove the links, mark the blobs (they go a grace period later).
    expect(await collector(60_000, 0).run({ dryRun: true })).toMatchObject({ orphanLinksRemoved: 3, blobsMarked: 3, blobsDeleted: 0 });
    expect(await collector(60_000, 0).run()).toMatchObject({ orphanLinksRemoved: 3, blobsMarked: 3, blobsDeleted: 0 });
    expect(await objects()).toHaveLength(7);
    clock.now += 59_000;
    expect(await collector(60_000, 0).run()).toMatchObject({ blobsDeleted: 0 });
    clock.now += 2_000;
    expect(await collector(60_000, 0).run({ dryRun: true })).toMatchObject({ blobsDeleted: 3 });
    const swept = await collector(60_000, 0).run();
    // a's config (7 bytes), its own layer and its manifest; the shared base stays.
    expect(swept).toMatchObject({ blobsDeleted: 3 });
    expect(swept.bytesFreed).toBeGreaterThan(20_007);
    expect(swept.bytesFreed).toBeLessThan(21_000);
    expect(await objects()).toHaveLength(4);
    expect(await pullsWhole(app, "team/b", "v1")).toBe(true);
  });

  it("drops a repository that holds nothing from the catalog, keeps one with an upload in progress, and lists a dropped one again when pushed to", async () => {
    const { app, clock, collector, metadata } = await setUp();
    for (const repo of ["team/gone", "team/open", "team/kept"]) expect((await pushImage(app, repo, "v1", text(`{"${repo}":1}`), [random(5_000)])).status).toBe(201);
    for (const repo of ["team/gone", "team/open"]) {
      const { digest } = (await metadata.getTaggedManifest(repo, "v1"))!;
      expect((await app.request(`/v2/${repo}/manifests/${digest}`, { method: "DELETE" })).status).toBe(202);
    }
    const upload = await app.request("/v2/team/open/blobs/uploads/", { method: "POST" });
    expect(upload.status).toBe(202);
    const listed = async () => (await metadata.listRepositories({ limit: 100 })).filter((name) => name.startsWith("team/"));
    expect(await listed()).toEqual(["team/gone", "team/kept", "team/open"]);

    clock.now += 60_000; // the links are older than orphanLinkAgeMs (0) by the collector's clock
    // A dry run drops nothing; the run removes the orphan links, then finds team/gone holding nothing.
    expect((await collector(60_000, 0).run({ dryRun: true })).repositoriesRemoved ?? []).toEqual([]);
    expect(await listed()).toEqual(["team/gone", "team/kept", "team/open"]);
    expect((await collector(60_000, 0).run()).repositoriesRemoved).toEqual(["team/gone"]);
    expect(await listed()).toEqual(["team/kept", "team/open"]);
    expect(await metadata.repositoryExists("team/gone")).toBe(false);
    expect((await app.request("/v2/team/gone/tags/list")).status).toBe(404);
    expect(await pullsWhole(app, "team/kept", "v1")).toBe(true);

    // A push lists it again.
    expect((await pushImage(app, "team/gone", "v2", text('{"again":1}'), [random(5_000)])).status).toBe(201);
    expect(await listed()).toEqual(["team/gone", "team/kept", "team/open"]);
    expect(await pullsWhole(app, "team/gone", "v2")).toBe(true);
  });

  it("usage counts a shared layer once per namespace and overall", async () => {
    const { app, metadata } = await setUp();
    const base = random(30_000);
    expect((await pushImage(app, "team/a", "v1", text('{"a":1}'), [base])).status).toBe(201);
    expect((await pushImage(app, "team/b", "v1", text('{"b":1}'), [base])).status).toBe(201);
    const usage = await measureUsage(metadata);
    const manifests = usage.totalBytes - 30_000 - 14;
    expect(usage.blobs).toBe(5);
    expect(usage.namespaces).toEqual([{ name: "team", bytes: usage.totalBytes, repositories: 2 }]);
    expect(usage.repositories.reduce((total, r) => total + r.bytes, 0)).toBe(usage.totalBytes + 30_000);
    expect(manifests).toBeGreaterThan(0);
  });

  it("a marked blob linked again during the grace period survives", async () => {
    const { app, clock, collector } = await setUp();
    const layer = random(5_000);
    expect((await pushBlob(app, "team/a", layer)).status).toBe(201);
    expect((await app.request(`/v2/team/a/blobs/${await sha256(layer)}`, { method: "DELETE" })).status).toBe(202);
    clock.now += 1000;
    expect(await collector(60_000, 0).run()).toMatchObject({ blobsMarked: 1 });
    expect((await pushBlob(app, "team/c", layer)).status).toBe(201);
    clock.now += 120_000;
    expect(await collector(60_000, 3_600_000).run()).toMatchObject({ blobsDeleted: 0 });
    expect((await app.request(`/v2/team/c/blobs/${await sha256(layer)}`)).status).toBe(200);
  });

  it("a blob collected between being indexed and being linked is never linked: the push fails cleanly, nothing dangles", async () => {
    let hook: (() => Promise<void>) | null = null;
    const { app, clock, collector } = await setUp(async () => hook?.());
    hook = async () => {
      hook = null;
      clock.now += 1000;
      await collector(60_000, 0).run(); // marks the fresh, unlinked entry
      clock.now += 61_000;
      await collector(60_000, 0).run(); // removes it and its object
    };
    const layer = random(8_000);
    const res = await pushBlob(app, "team/a", layer);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("garbage-collected while this push ran");
    expect((await app.request(`/v2/team/a/blobs/${await sha256(layer)}`, { method: "HEAD" })).status).toBe(404);
    expect(await objects()).toEqual([]);
    expect((await pushBlob(app, "team/a", layer)).status).toBe(201);
  });

  it("pushes and deletes racing the collector never lose a blob an accepted manifest needs", async () => {
    const { app, metadata, blobs } = await setUp();
    const synchronous = fixture?.synchronous ?? false;
    const bases = [random(40_000), random(30_000)];
    let stop = false;
    let runs = 0;
    const problems: string[] = [];
    const collecting = (async () => {
      while (!stop) {
        // Real time here: a short grace and orphan age, far above one request's metadata steps.
        const report = await new ScanningCollector({ metadata, blobs, graceMs: 300, orphanLinkAgeMs: 2_000 }).run();
        problems.push(...report.problems);
        runs++;
        // Stores answering without I/O (memory, SQLite) would otherwise never let the pushes run.
        if (synchronous) await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const accepted: Array<{ repo: string; tag: string }> = [];
    const statuses: number[] = [];
    await Promise.all(
      Array.from({ length: 3 }, async (_, worker) => {
        for (let i = 0; i < 8; i++) {
          const repo = `race/r${worker}`;
          const pushed = await pushImage(app, repo, `t${i}`, text(`{"w":${worker},"i":${i}}`), [bases[i % 2]!, random(3_000 + i)]);
          statuses.push(pushed.status);
          if (pushed.status !== 201) continue;
          if (i % 2 === 1) expect((await app.request(`/v2/${repo}/manifests/${pushed.digest}`, { method: "DELETE" })).status).toBe(202);
          else accepted.push({ repo, tag: `t${i}` });
        }
      }),
    );
    stop = true;
    await collecting;
    expect(problems).toEqual([]);
    expect(statuses.every((s) => s < 500)).toBe(true);
    expect(runs).toBeGreaterThan(2);
    for (const { repo, tag } of accepted) expect(await pullsWhole(app, repo, tag), `${repo}:${tag}`).toBe(true);
  }, 60_000);
});
}
