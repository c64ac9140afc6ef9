/**
 * What the Durable Object metadata store does beyond the port contract: a
 * manifest record larger than a SQLite row (2 MB in a Durable Object) is
 * split across rows and read back whole, an index entry whose upload
 * record is gone is dropped by the expiry listing, and an object written
 * before the shared SQL schema is migrated into it.
 */
import { env, reset, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { DurableObjectMetadataStore } from "../../src/adapters/durable-object/metadata-store.ts";
import type { RepositoryObject } from "../../src/adapters/durable-object/repository-object.ts";
import { DurableObjectSqlDriver } from "../../src/adapters/durable-object/do-driver.ts";
import { LegacyRepositoryTables } from "../../src/adapters/durable-object/legacy-schema.ts";
import { BlobIndexRecords, RepositoryRecords } from "../../src/adapters/sql/records.ts";
import { addColumnIfMissing, BLOB_INDEX_TABLES, REPOSITORY_TABLES } from "../../src/adapters/sql/schema.ts";
import type { ManifestRecord } from "../../src/ports/metadata-store.ts";
import { indexingBytes } from "../contract/metadata-store.contract.ts";

// As the core uses it: manifest bytes are indexed before the manifest names them.
const store = indexingBytes(new DurableObjectMetadataStore({ repositories: env.REPOSITORIES, indexShards: env.INDEX_SHARDS, catalog: env.CATALOG }));
const digest = (n: number) => `sha256:${n.toString(16).padStart(64, "0")}`;

/** Rows in a table of the repository's object. */
async function rows(repository: string, table: "manifests" | "manifest_overflow" | "tags"): Promise<number> {
  const stub = env.REPOSITORIES.getByName(repository);
  return runInDurableObject(stub, (_instance: RepositoryObject, state) => state.storage.sql.exec(`SELECT count(*) AS n FROM ${table}`).one().n as number);
}

afterEach(() => reset());

describe("DurableObjectMetadataStore beyond the contract", () => {
  it("keeps a manifest record of several MB (huge annotations, multi-byte text) whole across rows, and deletes every row", async () => {
    // 3 MB of JSON with 4-byte characters (surrogate pairs) wherever a piece might be cut.
    const annotations: Record<string, string> = {};
    for (let i = 0; i < 12; i++) annotations[`org.example.note-${i}`] = `${"x".repeat(i)}${"😀ä€".repeat(70_000)}`;
    const record: ManifestRecord = {
      digest: digest(1),
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      size: 4_000_000,
      key: `blobs/sha256/${digest(1).slice(7)}`,
      subject: digest(2),
      artifactType: "application/vnd.example+json",
      annotations,
    };
    expect(JSON.stringify(record).length).toBeGreaterThan(2 * 1024 * 1024);

    await store.putManifest("team/app", record, ["big"]);
    expect(await store.getManifest("team/app", digest(1))).toEqual(record);
    expect(await store.getTaggedManifest("team/app", "big")).toEqual(record);
    expect(await store.listReferrers("team/app", digest(2))).toEqual([record]);
    expect(await rows("team/app", "manifest_overflow")).toBeGreaterThan(0);

    const smaller = { ...record, annotations: { note: "small now" } };
    await store.putManifest("team/app", smaller, []);
    expect(await store.getManifest("team/app", digest(1))).toEqual(smaller);
    expect(await rows("team/app", "manifest_overflow")).toBe(0);

    await store.putManifest("team/app", record, []);
    expect(await store.deleteManifest("team/app", digest(1))).toBe(true);
    expect(await rows("team/app", "manifests")).toBe(0);
    expect(await rows("team/app", "manifest_overflow")).toBe(0);
    expect(await rows("team/app", "tags")).toBe(0);
  });

  it("drops an open-upload index entry whose record is gone when expiry lists it", async () => {
    const record = {
      id: "u-1",
      repository: "team/app",
      algorithm: "sha256" as const,
      createdAt: 1000,
      version: 1,
      received: 0,
      hashState: null,
      partSize: 5 * 1024 * 1024,
      multipart: null,
      parts: [],
      tail: null,
    };
    await store.createUpload(record);
    // As if a deleteUpload failed between removing the record and the index entry.
    await env.REPOSITORIES.getByName("team/app").deleteUpload("team/app", "u-1");
    expect(await store.listStaleUploads(2000, 10)).toEqual([]);
    await store.createUpload({ ...record, id: "u-2" });
    expect((await store.listStaleUploads(2000, 10)).map((upload) => upload.id)).toEqual(["u-2"]);
  });

  it("moves the rows of an object written before the shared schema into it, under the repository of the first call", async () => {
    const stub = env.REPOSITORIES.getByName("old/repo");
    const manifest = { digest: digest(7), mediaType: "application/vnd.oci.image.manifest.v1+json", size: 10, key: "k7", subject: digest(8) };
    const upload = { id: "u-9", repository: "old/repo", algorithm: "sha256", createdAt: 5, version: 3, received: 0, hashState: null, partSize: 5242880, multipart: null, parts: [], tail: null };
    const migrated = await runInDurableObject(stub, (_instance: RepositoryObject, state) => {
      const sql = state.storage.sql;
      // The schema as the previous version created it, with a row in each table.
      for (const table of ["links", "manifests", "manifest_overflow", "tags", "uploads"]) sql.exec(`DROP TABLE IF EXISTS ${table}`);
      sql.exec(`
        CREATE TABLE links (digest TEXT PRIMARY KEY, size INTEGER NOT NULL, key TEXT NOT NULL);
        CREATE TABLE manifests (digest TEXT PRIMARY KEY, subject TEXT, record TEXT NOT NULL, overflow_parts INTEGER NOT NULL);
        CREATE INDEX manifests_by_subject ON manifests (subject) WHERE subject IS NOT NULL;
        CREATE TABLE manifest_overflow (digest TEXT NOT NULL, seq INTEGER NOT NULL, text TEXT NOT NULL, PRIMARY KEY (digest, seq));
        CREATE TABLE tags (tag TEXT PRIMARY KEY, digest TEXT NOT NULL);
        CREATE INDEX tags_by_digest ON tags (digest);
        CREATE TABLE uploads (id TEXT PRIMARY KEY, version INTEGER NOT NULL, created_at INTEGER NOT NULL, record TEXT NOT NULL);`);
      sql.exec("INSERT INTO links VALUES (?, 3, 'k1')", digest(1));
      sql.exec("INSERT INTO manifests VALUES (?, ?, ?, 0)", digest(7), digest(8), JSON.stringify(manifest));
      sql.exec("INSERT INTO tags VALUES ('v1', ?)", digest(7));
      sql.exec("INSERT INTO uploads VALUES ('u-9', 3, 5, ?)", JSON.stringify(upload));

      const driver = new DurableObjectSqlDriver(state.storage);
      const legacy = new LegacyRepositoryTables(driver);
      driver.exec(REPOSITORY_TABLES);
      legacy.migrate("old/repo");
      const records = new RepositoryRecords(driver);
      const leftovers = sql.exec("SELECT name FROM sqlite_master WHERE name LIKE 'legacy%'").toArray().length;
      return {
        link: records.getBlobLink("old/repo", digest(1)),
        tagged: records.getTaggedManifest("old/repo", "v1"),
        referrers: records.listReferrers("old/repo", digest(8)).map((r) => r.digest),
        upload: records.getUpload("old/repo", "u-9"),
        leftovers,
      };
    });
    expect(migrated).toEqual({ link: { digest: digest(1), size: 3, key: "k1" }, tagged: manifest, referrers: [digest(7)], upload, leftovers: 0 });
  });

  it("an index shard written before garbage collection gains the mark column and keeps its entries", async () => {
    const stub = env.INDEX_SHARDS.getByName("shard-legacy-test");
    const entry = await runInDurableObject(stub, (_instance: unknown, state) => {
      const sql = state.storage.sql;
      sql.exec("DROP INDEX IF EXISTS blobs_marked; DROP INDEX IF EXISTS blobs_by_key; DROP TABLE IF EXISTS blobs");
      sql.exec("CREATE TABLE blobs (digest TEXT PRIMARY KEY, size INTEGER NOT NULL, key TEXT NOT NULL)");
      sql.exec("INSERT INTO blobs VALUES (?, 5, 'k')", digest(4));
      const driver = new DurableObjectSqlDriver(state.storage);
      addColumnIfMissing(driver, "blobs", "marked_at", "INTEGER");
      driver.exec(BLOB_INDEX_TABLES);
      const records = new BlobIndexRecords(driver);
      return { revived: records.revive(digest(4), "k"), marked: records.mark(digest(4), "k", 7), listed: records.listIndex("", 5) };
    });
    expect(entry).toEqual({ revived: true, marked: true, listed: [{ digest: digest(4), size: 5, key: "k", markedAt: 7 }] });
  });
});
