import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { targetFactories } from "../support/targets.ts";
import {
  expectOciError,
  listTags,
  nextLink,
  pushImage,
  pushManifestJson,
  uniqueRepo,
  type RegistryTarget,
} from "./helpers.ts";

/** Pushed in this (shuffled) order; listed in ASCII (code point) order. */
const TAGS = ["latest", "B", "a", "1.0", "_x", "v1-rc", "A", "b", "10", "9", "a.b", "Z_z"];
const SORTED = [...TAGS].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));

describe.each(targetFactories)("tags list ($name)", (factory) => {
  let t: RegistryTarget;
  let repo: string;
  beforeAll(async () => {
    t = await factory.start();
    repo = uniqueRepo("tags");
    const image = await pushImage(t, repo, { tag: TAGS[0] });
    for (const tag of TAGS.slice(1)) await pushManifestJson(t, repo, image.json, tag);
  });
  afterAll(() => t.close());

  describe("spec § Listing Tags (end-8a)", () => {
    it("answers 200 with {name, tags} holding every tag in ASCII order", async () => {
      const res = await t.request(`/v2/${repo}/tags/list`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { name: string; tags: string[] };
      expect(body.name).toBe(repo);
      expect(body.tags).toEqual(SORTED);
      expect(SORTED.slice(0, 3)).toEqual(["1.0", "10", "9"]);
    });

    it("answers 404 NAME_UNKNOWN for a repository that does not exist", async () => {
      await expectOciError(await t.request(`/v2/${uniqueRepo("never-pushed")}/tags/list`), 404, "NAME_UNKNOWN");
    });

    it("answers 200 with an empty list for a repository whose manifests are all untagged", async () => {
      const r = uniqueRepo("tags");
      await pushImage(t, r);
      expect((await listTags(t, r)).tags).toEqual([]);
    });
  });

  describe("spec § Listing Tags with n and last (end-8b)", () => {
    it("returns the first n tags and a Link rel=\"next\" header when more remain", async () => {
      const { res, tags } = await listTags(t, repo, "?n=5");
      expect(tags).toEqual(SORTED.slice(0, 5));
      expect(nextLink(res)).not.toBeNull();
    });

    it("walks every tag exactly once by following the Link headers", async () => {
      const seen: string[] = [];
      let path: string | null = `/v2/${repo}/tags/list?n=5`;
      let pages = 0;
      while (path !== null) {
        const res = await t.request(path);
        expect(res.status).toBe(200);
        const body = (await res.json()) as { tags: string[] };
        seen.push(...body.tags);
        path = nextLink(res);
        pages += 1;
        expect(pages).toBeLessThan(10);
      }
      expect(seen).toEqual(SORTED);
    });

    it("sends no Link header when n covers every remaining tag", async () => {
      const { res, tags } = await listTags(t, repo, `?n=${TAGS.length}`);
      expect(tags).toEqual(SORTED);
      expect(res.headers.get("link")).toBeNull();
      const larger = await listTags(t, repo, "?n=1000");
      expect(larger.tags).toEqual(SORTED);
      expect(larger.res.headers.get("link")).toBeNull();
    });

    it("returns an empty list and no Link header when n=0", async () => {
      const { res, tags } = await listTags(t, repo, "?n=0");
      expect(tags).toEqual([]);
      expect(res.headers.get("link")).toBeNull();
    });

    it("returns up to n tags after last, excluding last itself", async () => {
      const last = SORTED[3]!;
      const { tags } = await listTags(t, repo, `?n=4&last=${encodeURIComponent(last)}`);
      expect(tags).toEqual(SORTED.slice(4, 8));
    });

    it("returns every tag after last when n is omitted", async () => {
      const { tags } = await listTags(t, repo, "?last=_x");
      expect(tags).toEqual(SORTED.filter((tag) => tag > "_x"));
    });

    it("returns the tags after a last that is not itself a tag", async () => {
      const { tags } = await listTags(t, repo, "?last=Y");
      expect(tags).toEqual(SORTED.filter((tag) => tag > "Y"));
    });

    it("returns an empty list when last is the final tag", async () => {
      const { res, tags } = await listTags(t, repo, `?last=${SORTED[SORTED.length - 1]}`);
      expect(tags).toEqual([]);
      expect(res.headers.get("link")).toBeNull();
    });
  });

  describe("spec § Deleting tags: the list reflects the delete", () => {
    it("drops a deleted tag from the list", async () => {
      const r = uniqueRepo("tags");
      const image = await pushImage(t, r, { tag: "keep" });
      await pushManifestJson(t, r, image.json, "drop");
      const del = await t.request(`/v2/${r}/manifests/drop`, { method: "DELETE" });
      await del.arrayBuffer();
      expect(del.status).toBe(202);
      expect((await listTags(t, r)).tags).toEqual(["keep"]);
    });
  });
});
