/**
 * Whole-repository deletion (DELETE /admin/repositories/<name>, lifecycle/repositories.ts) on
 * stores collected by the scanning collector: Durable Objects + R2 inside workerd, DynamoDB + S3
 * on dynalite and Ceph RGW. Through the HTTP API: what goes at once, what the next collections
 * free (objects counted in the blob store itself), and pushes racing deletions while the
 * collector runs. Imports only vitest and src.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Registry } from "../../src/core/registry.ts";
import { createApp } from "../../src/http/app.ts";
import { deleteRepository } from "../../src/lifecycle/repositories.ts";
import { ScanningCollector } from "../../src/lifecycle/scanning-collector.ts";
import { measureUsage } from "../../src/lifecycle/usage.ts";
import type { BlobStore } from "../../src/ports/blob-store.ts";
import { MIN_PART_SIZE } from "../../src/ports/blob-store.ts";
import type { DeletableRepositories, ScannableMetadata } from "../../src/ports/collectable.ts";
import type { Hashing } from "../../src/ports/hashing.ts";
import type { MetadataStore } from "../../src/ports/metadata-store.ts";
import { MANIFEST, pullsWhole, pushImage, random, text } from "./image-pushes.ts";

export interface DeletionFixture {
  metadata: MetadataStore & ScannableMetadata & DeletableRepositories;
  blobs: BlobStore;
  hashing: Hashing;
  /** Keys of every object under blobs/ in the store. */
  objects(): Promise<string[]>;
  /**
   * The catalog lists every repository that holds something at every moment (Durable Objects).
   * False: only once a collection has visited the store (DynamoDB, whose collector lists again
   * what a Scan finds unlisted).
   */
  catalogAlwaysListsHolders: boolean;
  cleanup(): Promise<void>;
}

export function repositoryDeletionContract(name: string, create: () => Promise<DeletionFixture>): void {
  let fixture: DeletionFixture | undefined;

  async function setUp() {
    fixture = await create();
    const { metadata, blobs, hashing } = fixture;
    const app = createApp(new Registry({ blobs, metadata, hashing, partSize: MIN_PART_SIZE }), {
      maintenance: {
        usage: async () => ({}),
        collect: async () => ({}),
        deleteRepository: (repository) => deleteRepository(metadata, blobs, repository),
      },
    });
    const clock = { now: Date.now() };
    const collector = (graceMs: number) => new ScanningCollector({ metadata, blobs, graceMs, orphanLinkAgeMs: 0, now: () => clock.now });
    const catalog = async () => ((await (await app.request("/v2/_catalog")).json()) as { repositories: string[] }).repositories;
    return { ...fixture, app, clock, collector, catalog };
  }

  describe(`repository deletion: ${name}`, () => {
    afterEach(async () => {
      await fixture?.cleanup();
      fixture = undefined;
    });

    it("deletes every manifest, tag, link and upload of the repository, drops it from the catalog, and the next collections free what only it held", async () => {
      const { app, clock, collector, catalog, objects, blobs, metadata } = await setUp();
      const shared = random(20_000);
      expect((await pushImage(app, "team/a", "v1", text('{"a":1}'), [shared])).status).toBe(201);
      expect((await pushImage(app, "team/a", "v2", text('{"a":2}'), [shared])).status).toBe(201);
      expect((await pushImage(app, "team/b", "v1", text('{"b":1}'), [shared])).status).toBe(201);
      // An upload in progress, with bytes kept as a tail.
      const upload = await app.request("/v2/team/a/blobs/uploads/", { method: "POST" });
      const location = upload.headers.get("location")!;
      expect((await app.request(location, { method: "PATCH", body: "partial bytes", headers: { "Content-Range": "0-12", "Content-Length": "13" } })).status).toBe(202);
      const uploadId = location.split("/").pop()!;
      const tail = (await metadata.getUpload("team/a", uploadId))!.tail!;
      expect(await blobs.head(tail.key)).toEqual({ size: 13 });
      expect(await catalog()).toEqual(["team/a", "team/b"]);
      expect(await objects()).toHaveLength(7); // the shared layer, three configs, three manifests

      const res = await app.request("/admin/repositories/team/a", { method: "DELETE" });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ repository: "team/a", manifests: 2, tags: 2, links: 3, uploads: 1 });
      expect(await catalog()).toEqual(["team/b"]);
      expect(await metadata.repositorySummary("team/a")).toMatchObject({ lastPushedAt: null, bytes: 0 });
      expect((await app.request("/v2/team/a/tags/list")).status).toBe(404);
      expect((await app.request("/v2/team/a/manifests/v1", { headers: { Accept: MANIFEST } })).status).toBe(404);
      expect((await app.request(location)).status).toBe(404);
      expect(await blobs.head(tail.key)).toBeNull();
      expect((await app.request("/admin/repositories/team/a", { method: "DELETE" })).status).toBe(404);

      clock.now += 1000;
      expect(await collector(60_000).run()).toMatchObject({ blobsMarked: 4, blobsDeleted: 0 });
      clock.now += 61_000;
      const swept = await collector(60_000).run();
      // Two configs and two manifests only team/a held; the shared layer stays for team/b.
      expect(swept).toMatchObject({ blobsDeleted: 4, problems: [] });
      expect(await objects()).toHaveLength(3);
      expect(await pullsWhole(app, "team/b", "v1")).toBe(true);
    });

    it("answers 404 NAME_UNKNOWN for a repository that is not there", async () => {
      const { app } = await setUp();
      const res = await app.request("/admin/repositories/team/never", { method: "DELETE" });
      expect(res.status).toBe(404);
      expect(((await res.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe("NAME_UNKNOWN");
    });

    it("a repository pushed to again after its deletion is listed again and pulls whole", async () => {
      const { app, catalog } = await setUp();
      expect((await pushImage(app, "team/a", "v1", text('{"a":1}'), [random(1000)])).status).toBe(201);
      expect((await app.request("/admin/repositories/team/a", { method: "DELETE" })).status).toBe(200);
      expect(await catalog()).toEqual([]);
      expect((await pushImage(app, "team/a", "v2", text('{"a":2}'), [random(1000)])).status).toBe(201);
      expect(await catalog()).toEqual(["team/a"]);
      // Only what the push after the deletion wrote counts, as the usage report counts it.
      const usage = await measureUsage(fixture!.metadata);
      expect(usage.repositories).toEqual([{ name: "team/a", bytes: expect.any(Number) }]);
      expect((await fixture!.metadata.repositorySummary("team/a")).bytes).toBe(usage.repositories[0]!.bytes);
      expect(await pullsWhole(app, "team/a", "v2")).toBe(true);
    });

    it("pushes racing deletions of their repository, with the collector running: whatever a repository still holds is listed, and every tag left pulls whole", async () => {
      const { app, metadata, blobs, catalog, objects, catalogAlwaysListsHolders } = await setUp();
      const base = random(30_000);
      let stop = false;
      const problems: string[] = [];
      let runs = 0;
      const collecting = (async () => {
        while (!stop) {
          // Real time: a short grace and orphan age, far above one request's metadata steps.
          const report = await new ScanningCollector({ metadata, blobs, graceMs: 300, orphanLinkAgeMs: 2_000 }).run();
          problems.push(...report.problems);
          runs++;
        }
      })();
      const repos = ["race/a", "race/b"];
      const violations: string[] = [];
      const deleting = (async () => {
        for (let i = 0; i < 12; i++) {
          const repo = repos[i % 2]!;
          const res = await app.request(`/admin/repositories/${repo}`, { method: "DELETE" });
          await res.arrayBuffer();
          if (res.status !== 200 && res.status !== 404) violations.push(`DELETE ${repo}: ${res.status}`);
        }
      })();
      const statuses: number[] = [];
      await Promise.all(
        repos.map(async (repo, worker) => {
          for (let i = 0; i < 8; i++) statuses.push((await pushImage(app, repo, `t${i}`, text(`{"w":${worker},"i":${i}}`), [base, random(2_000 + i)])).status);
        }),
      );
      await deleting;
      stop = true;
      await collecting;
      expect(violations).toEqual([]);
      expect(problems).toEqual([]);
      expect(runs).toBeGreaterThan(1);
      // A push that lost its links to a deletion is refused (400 MANIFEST_BLOB_UNKNOWN), never a 5xx.
      expect(statuses.filter((s) => s >= 500)).toEqual([]);
      expect(statuses.filter((s) => s === 201).length).toBeGreaterThan(0);

      if (!catalogAlwaysListsHolders) await new ScanningCollector({ metadata, blobs, graceMs: 60_000, orphanLinkAgeMs: 60_000 }).run();
      const listed = await catalog();
      for (const repo of repos) {
        const { held } = await metadata.scanRepository(repo, 0, true);
        if (held.length > 0) expect(listed, `${repo} holds ${held.length} digests`).toContain(repo);
        const tags = await app.request(`/v2/${repo}/tags/list`);
        if (tags.status !== 200) continue;
        for (const tag of ((await tags.json()) as { tags: string[] }).tags) expect(await pullsWhole(app, repo, tag), `${repo}:${tag}`).toBe(true);
      }

      // Both deleted for good: two collections a grace period apart leave no object behind.
      for (const repo of repos) await (await app.request(`/admin/repositories/${repo}`, { method: "DELETE" })).arrayBuffer();
      await new ScanningCollector({ metadata, blobs, graceMs: 1, orphanLinkAgeMs: 0 }).run();
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await new ScanningCollector({ metadata, blobs, graceMs: 1, orphanLinkAgeMs: 0 }).run()).toMatchObject({ problems: [] });
      expect(await objects()).toEqual([]);
    }, 120_000);
  });
}
