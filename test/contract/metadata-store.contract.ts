/**
 * The MetadataStore contract (src/ports/metadata-store.ts). Every adapter
 * runs it, on Node or inside workerd, so it (with ./manifests.contract.ts and
 * ./records.ts) imports only vitest and the ports.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { BlobInfo, ManifestRecord, ManifestReferences, MetadataStore } from "../../src/ports/metadata-store.ts";
import { manifestContract } from "./manifests.contract.ts";
import { blob, digest, manifest, upload } from "./records.ts";

export interface MetadataStoreFixture {
  store: MetadataStore;
  cleanup(): Promise<void>;
}

/**
 * The store as the core uses it, which indexes bytes before linking or naming them
 * (Uploads, Manifests): most cases below are about links and manifests, not the index.
 */
export function indexingBytes(store: MetadataStore): MetadataStore {
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property === "linkBlob") {
        return async (repository: string, info: BlobInfo) => {
          await target.putBlobIfAbsent(info);
          return target.linkBlob(repository, info);
        };
      }
      if (property === "putManifest") {
        return async (repository: string, record: ManifestRecord, ...rest: [string[], ManifestReferences?]) => {
          await target.putBlobIfAbsent({ digest: record.digest, size: record.size, key: record.key });
          return target.putManifest(repository, record, ...rest);
        };
      }
      const value = Reflect.get(target, property, receiver) as unknown;
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

export function metadataStoreContract(name: string, create: () => Promise<MetadataStoreFixture>): void {
  describe(`MetadataStore contract: ${name}`, () => {
    let store: MetadataStore;
    let raw: MetadataStore;
    let fixture: MetadataStoreFixture;

    beforeEach(async () => {
      fixture = await create();
      raw = fixture.store;
      store = indexingBytes(raw);
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    describe("blob index", () => {
      it("knows no digest before one is put", async () => {
        expect(await store.getBlob(digest(1))).toBeNull();
      });

      it("putBlobIfAbsent stores the first entry and returns it", async () => {
        expect(await store.putBlobIfAbsent(blob(1))).toEqual(blob(1));
        expect(await store.getBlob(digest(1))).toEqual(blob(1));
      });

      it("putBlobIfAbsent keeps the first writer's entry and returns it to later writers", async () => {
        await store.putBlobIfAbsent(blob(1));
        const later = { ...blob(1), key: "blobs/chunked/other" };
        expect(await store.putBlobIfAbsent(later)).toEqual(blob(1));
        expect(await store.getBlob(digest(1))).toEqual(blob(1));
      });

      it("racing putBlobIfAbsent calls all return the one stored entry", async () => {
        const candidates = Array.from({ length: 8 }, (_, i) => ({ ...blob(1), key: `blobs/chunked/upload-${i}` }));
        const results = await Promise.all(candidates.map((info) => store.putBlobIfAbsent(info)));
        const stored = await store.getBlob(digest(1));
        expect(candidates).toContainEqual(stored);
        for (const result of results) expect(result).toEqual(stored);
      });
    });

    describe("the blob index and what holds an entry", () => {
      it("linkBlob links only a blob the index holds at that key, and answers whether it did", async () => {
        expect(await raw.linkBlob("a", blob(1))).toBe(false);
        // (The repository may be registered: stores whose collector finds holders through the
        // catalog register a repository before it can hold anything.)
        expect(await raw.getBlobLink("a", digest(1))).toBeNull();
        await raw.putBlobIfAbsent(blob(1));
        expect(await raw.linkBlob("a", { ...blob(1), key: "blobs/chunked/elsewhere" })).toBe(false);
        expect(await raw.linkBlob("a", blob(1))).toBe(true);
        expect(await raw.getBlobLink("a", digest(1))).toEqual(blob(1));
      });

      it("putManifest needs the manifest's own bytes in the index at its key, and names its digest when they are not", async () => {
        const record = manifest(3);
        expect(await raw.putManifest("a", record, ["latest"])).toEqual([digest(3)]);
        expect(await raw.getTaggedManifest("a", "latest")).toBeNull();
        await raw.putBlobIfAbsent({ digest: record.digest, size: record.size, key: record.key });
        expect(await raw.putManifest("a", record, ["latest"])).toEqual([]);
        expect((await raw.getTaggedManifest("a", "latest"))?.digest).toBe(digest(3));
      });
    });

    describe("blob links", () => {
      it("a repository sees a blob only through its own link", async () => {
        expect(await store.getBlobLink("a", digest(1))).toBeNull();
        await store.linkBlob("a", blob(1));
        expect(await store.getBlobLink("a", digest(1))).toEqual(blob(1));
        expect(await store.getBlobLink("b", digest(1))).toBeNull();
        expect(await store.getBlobLink("a/b", digest(1))).toBeNull();
      });

      it("unlinkBlob removes the link and answers whether there was one", async () => {
        await store.linkBlob("a", blob(1));
        expect(await store.unlinkBlob("a", digest(1))).toBe(true);
        expect(await store.getBlobLink("a", digest(1))).toBeNull();
        expect(await store.unlinkBlob("a", digest(1))).toBe(false);
        expect(await store.unlinkBlob("never", digest(1))).toBe(false);
      });

      it("linkBlob registers the repository", async () => {
        expect(await store.repositoryExists("library/alpine")).toBe(false);
        await store.linkBlob("library/alpine", blob(1));
        expect(await store.repositoryExists("library/alpine")).toBe(true);
        expect(await store.listRepositories({})).toEqual(["library/alpine"]);
      });
    });

    manifestContract(() => store);

    describe("repositories", () => {
      it("lists repository names in ASCII order, paged with limit/after", async () => {
        for (const name of ["b", "a/b", "ab/c", "a", "a-c", "a.d"]) await store.linkBlob(name, blob(1));
        expect(await store.listRepositories({})).toEqual(["a", "a-c", "a.d", "a/b", "ab/c", "b"]);
        expect(await store.listRepositories({ limit: 2 })).toEqual(["a", "a-c"]);
        expect(await store.listRepositories({ limit: 3, after: "a-c" })).toEqual(["a.d", "a/b", "ab/c"]);
        expect(await store.listRepositories({ after: "a/a" })).toEqual(["a/b", "ab/c", "b"]);
        expect(await store.listRepositories({ after: "b" })).toEqual([]);
      });

      it("keeps nested repository names apart from their parents' tags, manifests and records", async () => {
        const nested = ["a/tags", "a/manifests", "a/blobs", "a/uploads", "a/referrers", "a/latest"];
        await store.putManifest("a", manifest(1), ["latest", "tags"]);
        for (const [i, name] of nested.entries()) await store.putManifest(name, manifest(10 + i), ["v1"]);
        expect(await store.listTags("a", {})).toEqual(["latest", "tags"]);
        expect((await store.getTaggedManifest("a", "latest"))?.digest).toBe(digest(1));
        for (const [i, name] of nested.entries()) {
          expect(await store.listTags(name, {})).toEqual(["v1"]);
          expect((await store.getTaggedManifest(name, "v1"))?.digest).toBe(digest(10 + i));
        }
        expect(await store.listRepositories({})).toEqual(["a", ...nested].sort());
      });

      it("an unknown repository does not exist", async () => {
        expect(await store.repositoryExists("never")).toBe(false);
      });
    });

    describe("repository summary (the catalog page's last push and size)", () => {
      /** Clocks of a store in another process or isolate may differ a little from the test's. */
      const SKEW = 5_000;

      it("an unknown repository has no push time and no bytes", async () => {
        expect(await store.repositorySummary("never")).toMatchObject({ lastPushedAt: null, bytes: 0 });
      });

      it("counts every blob and manifest the repository holds once, and tells the time of the newest manifest put", async () => {
        const before = Date.now();
        await store.linkBlob("team/app", blob(1));
        await store.linkBlob("team/app", blob(2));
        expect(await store.repositorySummary("team/app")).toMatchObject({ lastPushedAt: null, bytes: 101 + 102 });
        await store.putManifest("team/app", manifest(10), ["v1"], { blobs: [digest(1), digest(2)], manifests: [] });
        const first = await store.repositorySummary("team/app");
        expect(first.bytes).toBe(101 + 102 + 510);
        expect(first.lastPushedAt).toBeGreaterThanOrEqual(before - SKEW);
        expect(first.lastPushedAt).toBeLessThanOrEqual(Date.now() + SKEW);
        expect(["exact", "counted"]).toContain(first.bytesFrom);

        // Linked again, put again under another tag, referenced by a second manifest: still once each.
        await store.linkBlob("team/app", blob(1));
        await new Promise((resolve) => setTimeout(resolve, 20));
        await store.putManifest("team/app", manifest(10), ["v2"], { blobs: [digest(1), digest(2)], manifests: [] });
        await store.putManifest("team/app", manifest(11), ["v3"], { blobs: [digest(1)], manifests: [] });
        const later = await store.repositorySummary("team/app");
        expect(later.bytes).toBe(101 + 102 + 510 + 511);
        expect(later.lastPushedAt).toBeGreaterThanOrEqual(first.lastPushedAt!);

        // Another repository holding the same blob counts it for itself; nested names stay apart.
        await store.linkBlob("team/app/sub", blob(1));
        expect((await store.repositorySummary("team/app/sub")).bytes).toBe(101);
        expect((await store.repositorySummary("team/app")).bytes).toBe(101 + 102 + 510 + 511);
      });

      it("takes away the bytes of deleted manifests and removed links, not of deleted tags", async () => {
        await store.linkBlob("team/app", blob(1));
        await store.linkBlob("team/app", blob(2));
        await store.putManifest("team/app", manifest(10), ["v1", "v2"], { blobs: [digest(1), digest(2)], manifests: [] });
        expect(await store.deleteTag("team/app", "v1")).toBe(true);
        expect((await store.repositorySummary("team/app")).bytes).toBe(101 + 102 + 510);
        expect(await store.deleteManifest("team/app", digest(10))).toBe(true);
        expect((await store.repositorySummary("team/app")).bytes).toBe(101 + 102);
        expect(await store.unlinkBlob("team/app", digest(2))).toBe(true);
        expect(await store.unlinkBlob("team/app", digest(2))).toBe(false);
        expect((await store.repositorySummary("team/app")).bytes).toBe(101);
      });
    });

    describe("uploads", () => {
      it("returns a created upload record as it was stored, only in its repository", async () => {
        const record = upload("u1", {
          received: 42,
          hashState: "AAEC",
          multipart: { key: "blobs/chunked/u1", uploadId: "mp-1" },
          parts: [{ partNumber: 1, etag: "e1", size: 5 * 1024 * 1024 }],
          tail: { key: "uploads/u1/tail-1", size: 42 },
        });
        await store.createUpload(record);
        expect(await store.getUpload("library/alpine", "u1")).toEqual(record);
        expect(await store.getUpload("library/other", "u1")).toBeNull();
        expect(await store.getUpload("library/alpine", "u2")).toBeNull();
      });

      it("keeps a record's writer claim through conditional updates, and its clearing (core/uploads.ts claims)", async () => {
        await store.createUpload(upload("u1"));
        const claimed = upload("u1", { version: 2, writer: { token: "t-1", expiresAt: 1_700_000_030_000 } });
        expect(await store.updateUpload(claimed, 1)).toBe(true);
        expect(await store.getUpload("library/alpine", "u1")).toEqual(claimed);
        const committed = upload("u1", { version: 3, received: 7, writer: null });
        expect(await store.updateUpload(committed, 2)).toBe(true);
        expect(await store.getUpload("library/alpine", "u1")).toEqual(committed);
      });

      it("changing a record the store returned does not change the stored one", async () => {
        await store.createUpload(upload("u1"));
        const read = await store.getUpload("library/alpine", "u1");
        read?.parts.push({ partNumber: 1, etag: "e", size: 1 });
        expect(await store.getUpload("library/alpine", "u1")).toEqual(upload("u1"));
      });

      it("updateUpload replaces the record when the stored version is the expected one", async () => {
        await store.createUpload(upload("u1"));
        const next = upload("u1", { version: 2, received: 10 });
        expect(await store.updateUpload(next, 1)).toBe(true);
        expect(await store.getUpload("library/alpine", "u1")).toEqual(next);
      });

      it("updateUpload refuses a stale version and leaves the record unchanged", async () => {
        await store.createUpload(upload("u1"));
        await store.updateUpload(upload("u1", { version: 2, received: 10 }), 1);
        expect(await store.updateUpload(upload("u1", { version: 2, received: 99 }), 1)).toBe(false);
        expect(await store.getUpload("library/alpine", "u1")).toEqual(upload("u1", { version: 2, received: 10 }));
      });

      it("updateUpload answers false for an upload that does not exist", async () => {
        expect(await store.updateUpload(upload("u1", { version: 2 }), 1)).toBe(false);
        expect(await store.getUpload("library/alpine", "u1")).toBeNull();
      });

      it("two racing updateUpload calls with the same version: exactly one succeeds", async () => {
        await store.createUpload(upload("u1"));
        const attempts = Array.from({ length: 6 }, (_, i) => upload("u1", { version: 2, received: 1000 + i }));
        const results = await Promise.all(attempts.map((record) => store.updateUpload(record, 1)));
        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await store.getUpload("library/alpine", "u1")).toEqual(attempts[results.indexOf(true)]);
      });

      it("deleteUpload removes the record; deleting an unknown upload is not an error", async () => {
        await store.createUpload(upload("u1"));
        await store.deleteUpload("library/alpine", "u1");
        expect(await store.getUpload("library/alpine", "u1")).toBeNull();
        await expect(store.deleteUpload("library/alpine", "u1")).resolves.toBeUndefined();
      });

      it("listStaleUploads returns uploads created before the cutoff, at most limit of them", async () => {
        await store.createUpload(upload("old-1", { createdAt: 1000 }));
        await store.createUpload(upload("old-2", { createdAt: 2000, repository: "other/repo" }));
        await store.createUpload(upload("old-3", { createdAt: 3000 }));
        await store.createUpload(upload("new", { createdAt: 5000 }));
        const stale = await store.listStaleUploads(5000, 10);
        expect(stale.map((u) => u.id).sort()).toEqual(["old-1", "old-2", "old-3"]);
        expect(stale).toContainEqual(upload("old-2", { createdAt: 2000, repository: "other/repo" }));
        expect(await store.listStaleUploads(5000, 2)).toHaveLength(2);
        expect(await store.listStaleUploads(1000, 10)).toEqual([]);
      });
    });
  });
}
