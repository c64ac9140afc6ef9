/** The manifest half of the MetadataStore contract: manifests, tags and referrers (spec § Listing Tags, § Listing Referrers). */
import { beforeEach, describe, expect, it } from "vitest";
import type { MetadataStore } from "../../src/ports/metadata-store.ts";
import { blob, digest, manifest } from "./records.ts";

/** Runs inside `metadataStoreContract`, whose hooks give `use()` a fresh store per test. */
export function manifestContract(use: () => MetadataStore): void {
  let store: MetadataStore;

  beforeEach(() => {
    store = use();
  });

  describe("manifests and tags", () => {
    it("stores a manifest record with every field and finds it by digest and by tag", async () => {
      const record = manifest(1, { subject: digest(9), artifactType: "application/vnd.example", annotations: { "org.example": "x" } });
      await store.putManifest("r", record, ["latest", "v1"]);
      expect(await store.getManifest("r", digest(1))).toEqual(record);
      expect(await store.getTaggedManifest("r", "latest")).toEqual(record);
      expect(await store.getTaggedManifest("r", "v1")).toEqual(record);
      expect(await store.getTaggedManifest("r", "v2")).toBeNull();
      expect(await store.getManifest("r", digest(2))).toBeNull();
      expect(await store.getManifest("other", digest(1))).toBeNull();
    });

    it("putManifest writes nothing when the repository lacks a referenced blob or manifest, and names each missing one once", async () => {
      await store.linkBlob("r", blob(1));
      await store.putManifest("r", manifest(5), []);
      const references = { blobs: [digest(1), digest(2), digest(2), digest(3)], manifests: [digest(5), digest(6)] };
      expect((await store.putManifest("r", manifest(10), ["latest", "v1"], references)).sort()).toEqual([digest(2), digest(3), digest(6)].sort());
      expect(await store.getManifest("r", digest(10))).toBeNull();
      expect(await store.listTags("r", {})).toEqual([]);
      // Another repository's links do not count.
      await store.linkBlob("other", blob(2));
      expect(await store.putManifest("r", manifest(10), [], { blobs: [digest(2)], manifests: [] })).toEqual([digest(2)]);
      expect(await store.putManifest("fresh", manifest(10), ["x"], { blobs: [digest(1)], manifests: [] })).toEqual([digest(1)]);
      expect(await store.listTags("fresh", {})).toEqual([]);
    });

    it("putManifest stores the manifest when every reference is there, however often each is repeated", async () => {
      await store.linkBlob("r", blob(1));
      await store.putManifest("r", manifest(5), []);
      const blobs = Array.from({ length: 5000 }, () => digest(1));
      expect(await store.putManifest("r", manifest(10), ["latest"], { blobs, manifests: [digest(5), digest(5)] })).toEqual([]);
      expect((await store.getTaggedManifest("r", "latest"))?.digest).toBe(digest(10));
    });

    it("a blob unlinked before the put fails the put", async () => {
      await store.linkBlob("r", blob(1));
      expect(await store.unlinkBlob("r", digest(1))).toBe(true);
      expect(await store.putManifest("r", manifest(10), ["latest"], { blobs: [digest(1)], manifests: [] })).toEqual([digest(1)]);
      expect(await store.getTaggedManifest("r", "latest")).toBeNull();
    });

    it("an immutable tag (fixedTags) never moves to another digest: the put throws ImmutableTagError and writes nothing", async () => {
      await store.putManifest("r", manifest(1), ["v1", "latest"], undefined, ["v1"]);
      await expect(store.putManifest("r", manifest(2), ["v1", "latest", "v2"], undefined, ["v1", "v2"])).rejects.toMatchObject({
        name: "ImmutableTagError",
        tags: ["v1"],
      });
      expect((await store.getTaggedManifest("r", "v1"))?.digest).toBe(digest(1));
      expect((await store.getTaggedManifest("r", "latest"))?.digest).toBe(digest(1));
      expect(await store.getTaggedManifest("r", "v2")).toBeNull();
      expect(await store.getManifest("r", digest(2))).toBeNull();
      // The same digest again, or a new immutable tag, is fine; a mutable tag still moves.
      expect(await store.putManifest("r", manifest(1), ["v1"], undefined, ["v1"])).toEqual([]);
      expect(await store.putManifest("r", manifest(2), ["v2", "latest"], undefined, ["v2"])).toEqual([]);
      expect((await store.getTaggedManifest("r", "latest"))?.digest).toBe(digest(2));
    });

    it("two puts racing for a new immutable tag with different digests: one wins, the other throws ImmutableTagError and moves no tag", async () => {
      for (let round = 0; round < 5; round++) {
        const [a, b] = [manifest(20 + 2 * round), manifest(21 + 2 * round)];
        const results = await Promise.allSettled([
          store.putManifest("race", a, [`v${round}`, `latest-a${round}`], undefined, [`v${round}`]),
          store.putManifest("race", b, [`v${round}`, `latest-b${round}`], undefined, [`v${round}`]),
        ]);
        const won = results.filter((r) => r.status === "fulfilled");
        const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
        expect(won, `round ${round}`).toHaveLength(1);
        expect(lost[0]?.reason).toMatchObject({ name: "ImmutableTagError", tags: [`v${round}`] });
        const winner = results[0]!.status === "fulfilled" ? a : b;
        const loser = winner === a ? "b" : "a";
        expect((await store.getTaggedManifest("race", `v${round}`))?.digest).toBe(winner.digest);
        expect(await store.getTaggedManifest("race", `latest-${loser}${round}`)).toBeNull();
      }
    });

    it("two puts racing for the same new immutable tags, named in opposite orders: one takes them all, the other throws and takes none", async () => {
      for (let round = 0; round < 8; round++) {
        const [a, b] = [manifest(40 + 2 * round), manifest(41 + 2 * round)];
        const fixed = Array.from({ length: 6 }, (_, i) => `r${round}-${i}`);
        const reversed = [...fixed].reverse();
        const results = await Promise.allSettled([
          store.putManifest("race2", a, [...fixed, `latest-a${round}`], undefined, fixed),
          store.putManifest("race2", b, [...reversed, `latest-b${round}`], undefined, reversed),
        ]);
        const won = results.filter((r) => r.status === "fulfilled");
        const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
        expect(won, `round ${round}: tags split between the racers leave both refused`).toHaveLength(1);
        expect(lost[0]?.reason).toMatchObject({ name: "ImmutableTagError" });
        const winner = results[0]!.status === "fulfilled" ? a : b;
        const loser = winner === a ? "b" : "a";
        for (const tag of fixed) expect((await store.getTaggedManifest("race2", tag))?.digest, `round ${round}, ${tag}`).toBe(winner.digest);
        expect(await store.getTaggedManifest("race2", `latest-${loser}${round}`)).toBeNull();
      }
    });

    it("putManifest registers the repository", async () => {
      await store.putManifest("x/y", manifest(1), []);
      expect(await store.repositoryExists("x/y")).toBe(true);
      expect(await store.repositoryExists("x")).toBe(false);
    });

    it("moves a tag to the manifest most recently put with it", async () => {
      await store.putManifest("r", manifest(1), ["latest", "v1"]);
      await store.putManifest("r", manifest(2), ["latest"]);
      expect((await store.getTaggedManifest("r", "latest"))?.digest).toBe(digest(2));
      expect((await store.getTaggedManifest("r", "v1"))?.digest).toBe(digest(1));
    });

    it("putting a manifest again adds tags and keeps the ones it had", async () => {
      await store.putManifest("r", manifest(1), ["a"]);
      await store.putManifest("r", manifest(1), ["b"]);
      expect(await store.listTags("r", {})).toEqual(["a", "b"]);
    });

    it("lists tags in ASCII order, not locale order", async () => {
      const tags = ["v1.9", "latest", "Latest", "_x", "1.0", "a-b", "a.b", "a_b", "v1.10", "B"];
      await store.putManifest("r", manifest(1), tags);
      expect(await store.listTags("r", {})).toEqual(["1.0", "B", "Latest", "_x", "a-b", "a.b", "a_b", "latest", "v1.10", "v1.9"]);
    });

    it("listTags pages with limit/after in ASCII order (after is exclusive)", async () => {
      await store.putManifest("r", manifest(1), ["v1.9", "latest", "Latest", "1.0", "v1.10"]);
      expect(await store.listTags("r", { limit: 2 })).toEqual(["1.0", "Latest"]);
      expect(await store.listTags("r", { limit: 2, after: "Latest" })).toEqual(["latest", "v1.10"]);
      expect(await store.listTags("r", { after: "v1.10" })).toEqual(["v1.9"]);
      expect(await store.listTags("r", { after: "b" })).toEqual(["latest", "v1.10", "v1.9"]);
      expect(await store.listTags("r", { after: "v1.9" })).toEqual([]);
      expect(await store.listTags("r", { limit: 0 })).toEqual([]);
    });

    it("lists no tags for an unknown repository", async () => {
      expect(await store.listTags("never", {})).toEqual([]);
    });

    it("deleteTag removes only the tag and answers whether it existed", async () => {
      await store.putManifest("r", manifest(1), ["latest", "v1"]);
      expect(await store.deleteTag("r", "latest")).toBe(true);
      expect(await store.getTaggedManifest("r", "latest")).toBeNull();
      expect(await store.deleteTag("r", "latest")).toBe(false);
      expect(await store.listTags("r", {})).toEqual(["v1"]);
      expect(await store.getManifest("r", digest(1))).not.toBeNull();
    });

    it("deleteManifest removes tags pointing to it and the referrer entry, and keeps other tags", async () => {
      await store.putManifest("r", manifest(1), ["keep"]);
      await store.putManifest("r", manifest(2, { subject: digest(1) }), ["gone", "also-gone"]);
      expect(await store.deleteManifest("r", digest(2))).toBe(true);
      expect(await store.getManifest("r", digest(2))).toBeNull();
      expect(await store.getTaggedManifest("r", "gone")).toBeNull();
      expect(await store.listTags("r", {})).toEqual(["keep"]);
      expect(await store.listReferrers("r", digest(1))).toEqual([]);
    });

    it("deleteManifest answers false for a manifest that is not there", async () => {
      expect(await store.deleteManifest("r", digest(1))).toBe(false);
      await store.putManifest("r", manifest(1), []);
      expect(await store.deleteManifest("r", digest(1))).toBe(true);
      expect(await store.deleteManifest("r", digest(1))).toBe(false);
    });

    it("a tag is listed only once the whole manifest it points at can be read", async () => {
      const records = Array.from({ length: 20 }, (_, i) => manifest(i + 1, { annotations: { n: String(i) } }));
      let writing = true;
      const writer = (async () => {
        for (const [i, record] of records.entries()) await store.putManifest("r", record, [`t${i}`]);
        writing = false;
      })();
      const seen = new Set<string>();
      while (writing) {
        for (const tag of await store.listTags("r", {})) {
          seen.add(tag);
          expect(await store.getTaggedManifest("r", tag)).toEqual(records[Number(tag.slice(1))]);
        }
      }
      await writer;
      expect(seen.size).toBeGreaterThan(0);
    });
  });

  describe("referrers", () => {
    it("lists the manifests in the repository whose subject is the given digest", async () => {
      const subject = digest(1);
      await store.putManifest("r", manifest(1), []);
      const first = manifest(2, { subject, artifactType: "application/vnd.example.sig" });
      const second = manifest(3, { subject, annotations: { "org.opencontainers.image.created": "2024-01-01T00:00:00Z" } });
      await store.putManifest("r", first, []);
      await store.putManifest("r", second, ["sig"]);
      await store.putManifest("r", manifest(4, { subject: digest(5) }), []);
      await store.putManifest("other", manifest(6, { subject }), []);
      const referrers = await store.listReferrers("r", subject);
      expect(referrers.toSorted((a, b) => (a.digest < b.digest ? -1 : 1))).toEqual([first, second]);
    });

    it("lists no referrers for a subject nothing refers to, even one that does not exist", async () => {
      await store.putManifest("r", manifest(1), []);
      expect(await store.listReferrers("r", digest(1))).toEqual([]);
      expect(await store.listReferrers("r", digest(99))).toEqual([]);
      expect(await store.listReferrers("never", digest(1))).toEqual([]);
    });
  });
}
