/**
 * The shared SQL metadata rules (src/adapters/sql/records.ts) on a real
 * SQLite driver: what the MetadataStore contract cannot show from outside,
 * that a change of many rows is all or nothing when it fails half-way.
 * Runs on node:sqlite (Node) and on a Durable Object's storage (workerd), so
 * it imports only vitest, the SQL module and the ports.
 */
import { describe, expect, it } from "vitest";
import type { SqlDriver, SqlValue } from "../../src/adapters/sql/driver.ts";
import { RepositoryRecords } from "../../src/adapters/sql/records.ts";
import { ensureRepositoryFigures, repositoryFigures } from "../../src/adapters/sql/repository-figures.ts";
import { REPOSITORY_TABLES } from "../../src/adapters/sql/schema.ts";
import { blob, digest, manifest } from "./records.ts";

/** Calls `before` with each statement before running it, so a test can fail or interleave at an exact step. */
export class HookedDriver implements SqlDriver {
  before: (sql: string) => void = () => {};
  readonly #inner: SqlDriver;

  constructor(inner: SqlDriver) {
    this.#inner = inner;
  }

  exec(sql: string): void {
    this.#inner.exec(sql);
  }

  all<Row>(sql: string, ...params: SqlValue[]): Row[] {
    this.before(sql);
    return this.#inner.all<Row>(sql, ...params);
  }

  run(sql: string, ...params: SqlValue[]): boolean {
    this.before(sql);
    return this.#inner.run(sql, ...params);
  }

  transaction<T>(body: () => T): T {
    return this.#inner.transaction(body);
  }
}

export interface SqlFixture {
  /** Runs a synchronous test body with a driver, where that driver may be used (inside its Durable Object). */
  run(body: (driver: SqlDriver) => void): Promise<void>;
  cleanup(): Promise<void>;
}

/** Throws on the `n`th statement that starts with `prefix`. */
function failAt(prefix: string, n: number): (sql: string) => void {
  let seen = 0;
  return (sql) => {
    if (sql.startsWith(prefix) && ++seen === n) throw new Error(`storage failed at statement ${n} "${prefix}…" (injected)`);
  };
}

const tags = (from: number, count: number) => Array.from({ length: count }, (_, i) => `t${from + i}`);

export function sqlRecordsContract(name: string, create: () => Promise<SqlFixture>): void {
  describe(`SQL metadata rules, all or nothing: ${name}`, () => {
    /** Runs `body` on a fresh database with a hookable driver. */
    async function withRecords(body: (records: RepositoryRecords, hooked: HookedDriver) => void): Promise<void> {
      const fixture = await create();
      try {
        await fixture.run((driver) => {
          const hooked = new HookedDriver(driver);
          hooked.exec(REPOSITORY_TABLES);
          body(new RepositoryRecords(hooked), hooked);
        });
      } finally {
        await fixture.cleanup();
      }
    }

    it("a put with 200 tags that fails at its 150th tag leaves no tag of it, no manifest, and the tags it would have moved where they were", async () => {
      await withRecords((records, hooked) => {
      records.putManifest("r", manifest(1), tags(0, 10));
      hooked.before = failAt("INSERT OR REPLACE INTO tags", 150);
      expect(() => records.putManifest("r", manifest(2), tags(0, 200))).toThrow(/injected/);
      hooked.before = () => {};
      expect(records.getManifest("r", digest(2))).toBeNull();
      expect(records.listTags("r", {})).toEqual(tags(0, 10).sort());
      for (const tag of tags(0, 10)) expect(records.getTaggedManifest("r", tag)?.digest).toBe(digest(1));
      });
    });

    it("a delete of a manifest with 200 tags that fails after removing the manifest row leaves the manifest and all 200 tags", async () => {
      await withRecords((records, hooked) => {
      records.putManifest("r", manifest(1, { subject: digest(9) }), tags(0, 200));
      hooked.before = failAt("DELETE FROM tags", 1);
      expect(() => records.deleteManifest("r", digest(1))).toThrow(/injected/);
      hooked.before = () => {};
      expect(records.getManifest("r", digest(1))?.digest).toBe(digest(1));
      expect(records.listTags("r", {})).toHaveLength(200);
      expect(records.listReferrers("r", digest(9)).map((m) => m.digest)).toEqual([digest(1)]);
      expect(records.deleteManifest("r", digest(1))).toBe(true);
      expect(records.listTags("r", {})).toEqual([]);
      });
    });

    it("a put whose reference check fails writes nothing, even after earlier statements of its transaction", async () => {
      await withRecords((records) => {
      records.linkBlob("r", { digest: digest(1), size: 1, key: "k" });
      expect(records.putManifest("r", manifest(2), tags(0, 5), { blobs: [digest(1), digest(3)], manifests: [] })).toEqual({ missing: [digest(3)], moved: [] });
      expect(records.getManifest("r", digest(2))).toBeNull();
      expect(records.listTags("r", {})).toEqual([]);
      });
    });

    it("an upload update that fails leaves the record as it was", async () => {
      await withRecords((records, hooked) => {
      const upload = { id: "u", repository: "r", algorithm: "sha256" as const, createdAt: 1, version: 1, received: 0, hashState: null, partSize: 5242880, multipart: null, parts: [], tail: null };
      records.createUpload(upload);
      hooked.before = failAt("UPDATE uploads", 1);
      expect(() => records.updateUpload({ ...upload, version: 2, received: 9 }, 1)).toThrow(/injected/);
      hooked.before = () => {};
      expect(records.getUpload("r", "u")).toEqual(upload);
      });
    });
  });

  describe(`repository sizes kept by triggers (the catalog page's figures): ${name}`, () => {
    it("stay equal to a recount through links, manifests, references, re-puts, unlinks, deletes, orphan removal and repository deletion, rows from before the figures included", async () => {
      const fixture = await create();
      try {
        await fixture.run((driver) => {
          driver.exec(REPOSITORY_TABLES);
          const records = new RepositoryRecords(driver);
          // The size of every digest, as the blob index knows it: what a store adds for the digests the figures hold unsized.
          const sizes = new Map<string, number>();
          for (let n = 1; n <= 8; n++) sizes.set(digest(n), blob(n).size);
          for (let n = 10; n <= 14; n++) sizes.set(digest(n), manifest(n).size);
          sizes.set(digest(20), manifest(20).size);
          const repositories = ["r", "r/x", "s"];
          const recount = (repository: string) => {
            const held = driver.all<{ digest: string }>(
              "SELECT digest FROM links WHERE repository = ? UNION SELECT digest FROM manifests WHERE repository = ? UNION SELECT digest FROM manifest_refs WHERE repository = ?",
              repository,
              repository,
              repository,
            );
            return held.reduce((sum, row) => sum + sizes.get(row.digest)!, 0);
          };
          const check = (step: string) => {
            for (const repository of repositories) {
              const figures = repositoryFigures(driver, repository);
              const bytes = figures.bytes + figures.unsized.reduce((sum, d) => sum + sizes.get(d)!, 0);
              expect(bytes, `${repository} after ${step}`).toBe(recount(repository));
            }
          };

          // Written before the figures exist on Node (filled from the rows when they are made); a Durable Object made them in its constructor.
          records.linkBlob("r", blob(1));
          records.linkBlob("r", blob(2));
          records.putManifest("r", manifest(10), ["a"], { blobs: [digest(1), digest(2)], manifests: [], held: [digest(8)] });
          ensureRepositoryFigures(driver);
          ensureRepositoryFigures(driver);
          check("the first rows");

          // A record in overflow pieces (huge annotations) has no size the figures can read.
          records.putManifest("s", manifest(20, { annotations: { big: "x".repeat(600_000) } }), ["huge"]);
          check("a huge manifest record");
          expect(repositoryFigures(driver, "s").unsized).toEqual([digest(20)]);

          // mulberry32: a small seeded generator, so a failure repeats.
          let seed = 7;
          const random = (n: number) => {
            seed = (seed + 0x6d2b79f5) | 0;
            let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
            t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
            return ((t ^ (t >>> 14)) >>> 0) % n;
          };
          const done = { unlinked: 0, deleted: 0, orphans: 0, repositories: 0 };
          for (let step = 0; step < 300; step++) {
            const repository = repositories[random(repositories.length)]!;
            const b = 1 + random(7);
            const m = 10 + random(5);
            switch (random(8)) {
              case 0:
              case 1:
                records.linkBlob(repository, blob(b));
                break;
              case 2:
                if (records.unlinkBlob(repository, digest(b))) done.unlinked++;
                break;
              case 3:
              case 4: {
                // Its blobs linked first, as a push does; sometimes an index of a manifest already there.
                const other = 1 + random(7);
                records.linkBlob(repository, blob(b));
                records.linkBlob(repository, blob(other));
                const child = driver.all<{ digest: string }>("SELECT digest FROM manifests WHERE repository = ? AND digest <> ? LIMIT 1", repository, digest(m))[0];
                const missing = records.putManifest(repository, manifest(m), [`t${random(3)}`], {
                  blobs: [digest(b), digest(other)],
                  manifests: child && random(2) ? [child.digest] : [],
                  held: random(3) ? [] : [digest(8)],
                }).missing;
                expect(missing).toEqual([]);
                break;
              }
              case 5:
                if (records.deleteManifest(repository, digest(m))) done.deleted++;
                break;
              case 6:
                done.orphans += records.scanForCollection(repository, Number.MAX_SAFE_INTEGER, false).orphanLinks;
                break;
              default:
                if (random(4) === 0) {
                  records.deleteRepository(repository);
                  done.repositories++;
                }
                else records.recordReferences(repository, digest(m), { blobs: [digest(b)], manifests: [] });
            }
            check(`step ${step}`);
          }
          // Every kind of removal happened, several times.
          for (const [kind, count] of Object.entries(done)) expect(count, kind).toBeGreaterThan(2);
          for (const repository of repositories) records.deleteRepository(repository);
          for (const repository of repositories) expect(repositoryFigures(driver, repository)).toEqual({ bytes: 0, unsized: [] });
        });
      } finally {
        await fixture.cleanup();
      }
    });
  });
}
