/**
 * The SQLite metadata store on node:sqlite, beyond the MetadataStore
 * contract (which test/contract/filesystem.test.ts runs on it): all or
 * nothing under injected failures, two connections (as two processes have)
 * on one database file, names as long as the grammar allows, and the import
 * of an earlier version's JSON metadata.
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { importJsonMetadata } from "../../src/adapters/sqlite/import-json-metadata.ts";
import { isOwnerAlive, processOwner, registerInstance, releaseClaims, unregisterInstance } from "../../src/adapters/sqlite/instances.ts";
import { SqliteMetadataStore } from "../../src/adapters/sqlite/metadata-store.ts";
import { NodeSqliteDriver } from "../../src/adapters/sqlite/node-driver.ts";
import { DATABASE_FILE, openLocalMetadata } from "../../src/adapters/sqlite/open.ts";
import { HookedDriver, sqlRecordsContract } from "./sql-records.contract.ts";
import { retentionContract } from "./retention.contract.ts";
import { unpulledContract } from "./unpulled.contract.ts";
import { SqliteBlobFlights } from "../../src/adapters/sqlite/blob-flights.ts";
import { scanningCollectorContract } from "./scanning-collector.contract.ts";
import { FilesystemBlobStore } from "../../src/adapters/filesystem/blob-store.ts";
import { hashWasm } from "../../src/adapters/hash-wasm.ts";
import { blob, digest, manifest, upload } from "./records.ts";
import { indexingBytes } from "./metadata-store.contract.ts";

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), "registry-sqlite-"));
}

sqlRecordsContract("node:sqlite", async () => {
  const dir = await tempDir();
  const driver = new NodeSqliteDriver(join(dir, DATABASE_FILE));
  return {
    run: async (body) => body(driver),
    cleanup: async () => {
      driver.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe("SQLite metadata store on node:sqlite", () => {
  it("an unlink from another connection cannot land between a put's reference check and its write: it waits for the put", async () => {
    const dir = await tempDir();
    const path = join(dir, DATABASE_FILE);
    const hooked = new HookedDriver(new NodeSqliteDriver(path));
    const putter = indexingBytes(new SqliteMetadataStore(hooked));
    // Another process, as far as SQLite can tell: its own connection, which gives up on a lock after 50 ms.
    const otherDriver = new NodeSqliteDriver(path, { busyTimeoutMs: 50 });
    const other = indexingBytes(new SqliteMetadataStore(otherDriver));
    await putter.linkBlob("r", blob(1));

    let unlinkDuringPut: unknown = "not tried";
    hooked.before = (sql) => {
      if (!sql.startsWith("INSERT INTO manifests")) return;
      hooked.before = () => {};
      try {
        otherDriver.run("DELETE FROM links WHERE repository = ? AND digest = ?", "r", digest(1));
        unlinkDuringPut = "unlinked";
      } catch (error) {
        unlinkDuringPut = (error as Error).message;
      }
    };
    expect(await putter.putManifest("r", manifest(2), ["latest"], { blobs: [digest(1)], manifests: [] })).toEqual([]);
    expect(unlinkDuringPut).toMatch(/database is locked/);
    // After the put the unlink goes through: the put came first, whole.
    expect(await other.unlinkBlob("r", digest(1))).toBe(true);
    expect((await other.getTaggedManifest("r", "latest"))?.digest).toBe(digest(2));
    expect(await putter.putManifest("r", manifest(3), ["next"], { blobs: [digest(1)], manifests: [] })).toEqual([digest(1)]);
    otherDriver.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("racing conditional upload updates from two connections: exactly one wins", async () => {
    const dir = await tempDir();
    const a = openLocalMetadata(dir);
    const b = openLocalMetadata(dir);
    await a.store.createUpload(upload("u1"));
    const results = await Promise.all([a.store.updateUpload(upload("u1", { version: 2, received: 1 }), 1), b.store.updateUpload(upload("u1", { version: 2, received: 2 }), 1)]);
    expect(results.filter(Boolean)).toHaveLength(1);
    expect((await b.store.getUpload("library/alpine", "u1"))?.received).toBe(results[0] ? 1 : 2);
    a.close();
    b.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("stores and finds tags and upload ids as long as the grammar allows, in any case (no file-name limits)", async () => {
    const dir = await tempDir();
    const { store: raw, close } = openLocalMetadata(dir);
    const store = indexingBytes(raw);
    const tag = `A${"Bc".repeat(63)}D`; // 128 characters
    const id = "U".repeat(128);
    await store.putManifest("r", manifest(1), [tag, tag.toLowerCase()]);
    expect((await store.getTaggedManifest("r", tag))?.digest).toBe(digest(1));
    expect(await store.listTags("r", {})).toEqual([tag, tag.toLowerCase()]);
    expect(await store.deleteTag("r", tag)).toBe(true);
    expect(await store.listTags("r", {})).toEqual([tag.toLowerCase()]);
    await store.createUpload(upload(id));
    expect((await store.getUpload("library/alpine", id))?.id).toBe(id);
    close();
    await rm(dir, { recursive: true, force: true });
  });

  it("keeps its records for the next process opening the same DATA_DIR", async () => {
    const dir = await tempDir();
    const first = openLocalMetadata(dir);
    await indexingBytes(first.store).putManifest("library/alpine", manifest(1), ["latest"]);
    first.close();
    const second = openLocalMetadata(dir);
    expect(await second.store.listRepositories({})).toEqual(["library/alpine"]);
    expect((await second.store.getTaggedManifest("library/alpine", "latest"))?.digest).toBe(digest(1));
    second.close();
    await rm(dir, { recursive: true, force: true });
  });
});

describe("importing an earlier version's JSON metadata", () => {
  /** Writes `value` as JSON at `path` under `root`, creating folders. */
  async function put(root: string, path: string, value: unknown) {
    await mkdir(join(root, path, ".."), { recursive: true });
    await writeFile(join(root, path), JSON.stringify(value));
  }
  const hex = (n: number) => digest(n).slice(7);

  it("imports every record once, keeps the old folder aside, and imports nothing the second time", async () => {
    const dir = await tempDir();
    const m = join(dir, "metadata");
    await put(m, `blobs/sha256/${hex(1)}.json`, blob(1));
    // Manifest 3's bytes were also pushed as a blob, indexed at another key.
    await put(m, `blobs/sha256/${hex(3)}.json`, { digest: digest(3), size: 503, key: "blobs/chunked/u3" });
    await put(m, "repositories/team/app/_repository.json", { name: "team/app" });
    await put(m, `repositories/team/app/_links/sha256/${hex(1)}.json`, blob(1));
    await put(m, `repositories/team/app/_manifests/sha256/${hex(2)}.json`, manifest(2));
    await put(m, `repositories/team/app/_manifests/sha256/${hex(3)}.json`, manifest(3, { subject: digest(2) }));
    await put(m, `repositories/team/app/_referrers/sha256/${hex(2)}/sha256/${hex(3)}.json`, { digest: digest(3) });
    await put(m, "repositories/team/app/_tags/latest.json", { digest: digest(2) });
    await put(m, "repositories/team/app/_tags/^release-^x.json", { digest: digest(2) });
    await put(m, "repositories/team/app/_tags/dangling.json", { digest: digest(99) });
    await put(m, "repositories/team/_repository.json", { name: "team" });
    await put(m, "uploads/u-^a.json", upload("u-A", { repository: "team/app", received: 7 }));

    const driver = new NodeSqliteDriver(join(dir, DATABASE_FILE));
    const imported = importJsonMetadata(driver, dir, new Date("2026-12-05T10:00:00Z"));
    expect(imported).toMatchObject({ repositories: 2, blobs: 2, links: 1, manifests: 2, tags: 2, uploads: 1 });
    expect(await readdir(dir)).toContain("metadata.imported-2026-12-05T10-00-00-000Z");
    expect(await readdir(dir)).not.toContain("metadata");
    expect(importJsonMetadata(driver, dir)).toBeNull();

    const store = new SqliteMetadataStore(driver);
    expect(await store.listRepositories({})).toEqual(["team", "team/app"]);
    expect(await store.getBlob(digest(1))).toEqual(blob(1));
    expect(await store.getBlobLink("team/app", digest(1))).toEqual(blob(1));
    expect(await store.listTags("team/app", {})).toEqual(["Release-X", "latest"]);
    expect((await store.getTaggedManifest("team/app", "Release-X"))?.digest).toBe(digest(2));
    expect((await store.listReferrers("team/app", digest(2))).map((r) => r.digest)).toEqual([digest(3)]);
    expect((await store.getManifest("team/app", digest(3)))?.key).toBe("blobs/chunked/u3");
    expect((await store.getBlob(digest(2)))?.key).toBe(manifest(2).key);
    expect(await store.getUpload("team/app", "u-A")).toEqual(upload("u-A", { repository: "team/app", received: 7 }));
    driver.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("a record it cannot read stops the import with the file's path and leaves the old folder in place", async () => {
    const dir = await tempDir();
    await put(join(dir, "metadata"), `blobs/sha256/${hex(1)}.json`, blob(1));
    await writeFile(join(dir, "metadata", "blobs", "sha256", `${hex(2)}.json`), "{not json");
    const driver = new NodeSqliteDriver(join(dir, DATABASE_FILE));
    expect(() => importJsonMetadata(driver, dir)).toThrow(new RegExp(`cannot import .*${hex(2)}\\.json`));
    expect(await readdir(dir)).toContain("metadata");
    expect(await new SqliteMetadataStore(driver).getBlob(digest(1))).toBeNull();
    driver.close();
    await rm(dir, { recursive: true, force: true });
  });
});

describe("registry processes on one DATA_DIR and their upload claims", () => {
  it("a process starting alone (the others registered are dead) releases every claim; a dead worker's claims go by owner, in one statement", async () => {
    const dir = await tempDir();
    const driver = new NodeSqliteDriver(join(dir, DATABASE_FILE));
    const store = new SqliteMetadataStore(driver);
    const claimed = (id: string, owner: string) => upload(id, { version: 3, writer: { token: `${owner}/x-${id}`, expiresAt: Date.now() + 30_000 } });
    await store.createUpload(claimed("a", "h:111"));
    await store.createUpload(claimed("b", "h:222"));
    await store.createUpload(claimed("c", "h:2220")); // a prefix of another owner's name is not that owner
    await store.createUpload(upload("d"));

    expect(registerInstance(driver, "h:111", () => true)).toEqual({ alone: true });
    expect(registerInstance(driver, "h:333", (owner) => owner === "h:111")).toEqual({ alone: false });
    expect(releaseClaims(driver, "h:222")).toBe(1);
    expect((await store.getUpload("library/alpine", "b"))?.writer).toBeUndefined();
    expect((await store.getUpload("library/alpine", "b"))?.version).toBe(4);
    expect((await store.getUpload("library/alpine", "c"))?.writer?.token).toBe("h:2220/x-c");
    // A holder of the released claim can no longer commit: the version moved on.
    expect(await store.updateUpload(upload("b", { version: 4 }), 3)).toBe(false);

    unregisterInstance(driver, "h:333");
    expect(registerInstance(driver, "h:444", () => false)).toEqual({ alone: true });
    expect(releaseClaims(driver, null)).toBe(2);
    expect((await store.getUpload("library/alpine", "a"))?.writer).toBeUndefined();
    expect((await store.getUpload("library/alpine", "d"))?.version).toBe(1);
    driver.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("a process registered from another host always counts as alive", () => {
    expect(isOwnerAlive("another-host:1")).toBe(true);
    expect(isOwnerAlive(processOwner())).toBe(true);
    expect(isOwnerAlive(processOwner(2 ** 22 + 7))).toBe(false);
  });
});

describe("blob-fetch claims shared by the processes on one DATA_DIR (SqliteBlobFlights)", () => {
  it("lets one process claim a digest, another wait, and takes over a dead or expired claim at once", async () => {
    const dir = await tempDir();
    let after = () => {};
    try {
      const dead = new Set<string>();
      const isAlive = (owner: string) => !dead.has(owner);
      const drivers = [1, 2].map(() => new NodeSqliteDriver(join(dir, DATABASE_FILE)));
      after = () => drivers.forEach((driver) => driver.close());
      const [a, b] = ["host:1", "host:2"].map((owner, i) => new SqliteBlobFlights(drivers[i]!, { owner, isAlive }));
      expect(await a!.claim("sha256:x", 60_000)).toBe(true);
      expect(await b!.claim("sha256:x", 60_000)).toBe(false);
      await a!.release("sha256:x");
      expect(await b!.claim("sha256:x", 60_000)).toBe(true);
      // b crashes holding it: a takes it over without waiting for the expiry.
      dead.add("host:2");
      expect(await a!.claim("sha256:x", 60_000)).toBe(true);
      // A release by someone who no longer holds the claim leaves it alone; an expired claim is taken over.
      await b!.release("sha256:x");
      dead.clear();
      expect(await b!.claim("sha256:x", 60_000)).toBe(false);
      expect(await b!.claim("sha256:y", -1)).toBe(true);
      expect(await a!.claim("sha256:y", 60_000)).toBe(true);
    } finally {
      after();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

unpulledContract("sqlite (node:sqlite)", async () => {
  const dir = await tempDir();
  const local = openLocalMetadata(dir);
  return { metadata: local.store, cleanup: async () => (local.close(), rm(dir, { recursive: true, force: true })) };
});

retentionContract("sqlite (node:sqlite)", async () => {
  const dir = await tempDir();
  const local = openLocalMetadata(dir);
  return { metadata: local.store, cleanup: async () => (local.close(), rm(dir, { recursive: true, force: true })) };
});

// The scanning view SQLite offers too (usage reports use it), under the same collector contract.
scanningCollectorContract("sqlite + files", async () => {
  const dir = await tempDir();
  const local = openLocalMetadata(dir);
  const blobs = new FilesystemBlobStore(join(dir, "blobs"));
  return {
    metadata: local.store,
    blobs,
    hashing: hashWasm,
    synchronous: true,
    objects: async () => (await readdir(join(dir, "blobs", "blobs"), { recursive: true, withFileTypes: true }).catch(() => []))
      .filter((entry) => entry.isFile())
      .map((entry) => join(entry.parentPath, entry.name)),
    cleanup: async () => (local.close(), rm(dir, { recursive: true, force: true })),
  };
});

/** Records the connection's `PRAGMA synchronous` (1 NORMAL, 2 FULL) as each write statement runs. */
class SyncRecordingDriver extends NodeSqliteDriver {
  readonly writes: { statement: string; synchronous: number }[] = [];

  override run(sql: string, ...params: (string | number | null)[]): boolean {
    const statement = sql.trim().split(/\s+/).slice(0, 3).join(" ");
    this.writes.push({ statement, synchronous: this.synchronous() });
    return super.run(sql, ...params);
  }
}

describe("SQLite durability per write (core/storage-layout.ts, Durability)", () => {
  it("upload start and progress commit with synchronous=NORMAL; blob index, links, manifests, tags and deletes with FULL; FULL again after each", async () => {
    const dir = await tempDir();
    const driver = new SyncRecordingDriver(join(dir, DATABASE_FILE));
    try {
      const store = indexingBytes(new SqliteMetadataStore(driver));
      expect(driver.synchronous()).toBe(2);
      const at = (from: number) => driver.writes.slice(from).map((w) => w.synchronous);

      let from = driver.writes.length;
      await store.createUpload(upload("u1"));
      expect(at(from)).toEqual([1]);
      expect(driver.synchronous()).toBe(2);

      from = driver.writes.length;
      expect(await store.updateUpload(upload("u1", { version: 2, received: 10 }), 1)).toBe(true);
      expect(await store.updateUpload(upload("u1", { version: 3 }), 1)).toBe(false); // a lost race: still NORMAL, still FULL after
      expect(at(from)).toEqual([1, 1]);
      expect(driver.synchronous()).toBe(2);

      from = driver.writes.length;
      await store.linkBlob("r", blob(1));
      await store.putManifest("r", manifest(2), ["latest"]);
      await store.deleteUpload("library/alpine", "u1");
      await store.unlinkBlob("r", digest(1));
      await store.deleteManifest("r", digest(2));
      const full = driver.writes.slice(from);
      expect(full.length).toBeGreaterThan(5);
      expect(full.filter((w) => w.synchronous !== 2)).toEqual([]);
      expect(driver.synchronous()).toBe(2);
    } finally {
      driver.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a progress write that throws leaves the connection at FULL; inside a transaction it takes the transaction's durability", async () => {
    const dir = await tempDir();
    const driver = new NodeSqliteDriver(join(dir, DATABASE_FILE));
    try {
      expect(() => driver.progress(() => {
        expect(driver.synchronous()).toBe(1);
        throw new Error("boom");
      })).toThrow("boom");
      expect(driver.synchronous()).toBe(2);
      driver.exec("CREATE TABLE t (x)");
      driver.transaction(() => {
        driver.progress(() => {
          expect(driver.synchronous()).toBe(2);
          driver.run("INSERT INTO t VALUES (1)");
        });
      });
      expect(driver.all<{ n: number }>("SELECT count(*) AS n FROM t")[0]?.n).toBe(1);
      expect(driver.synchronous()).toBe(2);
    } finally {
      driver.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
