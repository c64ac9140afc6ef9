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
import { REPOSITORY_TABLES } from "../../src/adapters/sql/schema.ts";
import { digest, manifest } from "./records.ts";

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
}
