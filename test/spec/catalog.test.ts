import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { targetFactories } from "../support/targets.ts";
import { nextLink, pushImage, uniqueRepo, type RegistryTarget } from "./helpers.ts";

/**
 * `/v2/_catalog` is outside spec.md (checklist A.1: distribution's
 * `registry/handlers/catalog.go`, `_catalog` being a reserved extension
 * name). It pages like the tags list: `n`, `last`, `Link: <...>; rel="next"`.
 */
describe.each(targetFactories)("catalog ($name)", (factory) => {
  let t: RegistryTarget;
  let repos: string[];
  let prefix: string;
  beforeAll(async () => {
    t = await factory.start();
    const base = uniqueRepo("catalog");
    prefix = base;
    repos = [`${base}/c`, `${base}/a`, `${base}/b-b`, `${base}/bx`, `${base}/a/nested`];
    for (const repo of repos) await pushImage(t, repo, { tag: "latest" });
    repos.sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  });
  afterAll(() => t.close());

  async function catalog(query = ""): Promise<{ res: Response; repositories: string[] }> {
    const res = await t.request(`/v2/_catalog${query}`);
    const text = await res.text();
    expect(res.status, text.slice(0, 300)).toBe(200);
    const body = JSON.parse(text) as { repositories: string[] };
    expect(Array.isArray(body.repositories)).toBe(true);
    return { res, repositories: body.repositories };
  }

  describe("catalog (checklist A.1, distribution catalog.go)", () => {
    it("lists every repository in ASCII order", async () => {
      const all: string[] = [];
      let path: string | null = "/v2/_catalog";
      for (let pages = 0; path !== null && pages < 1000; pages++) {
        const res = await t.request(path);
        expect(res.status).toBe(200);
        all.push(...((await res.json()) as { repositories: string[] }).repositories);
        path = nextLink(res);
      }
      const mine = all.filter((r) => r.startsWith(`${prefix}/`));
      expect(mine).toEqual(repos);
      expect([...all].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))).toEqual(all);
    });

    it("returns n repositories after last, with a Link rel=\"next\" when more remain", async () => {
      const { res, repositories } = await catalog(`?n=2&last=${encodeURIComponent(prefix)}`);
      expect(repositories).toEqual(repos.slice(0, 2));
      expect(nextLink(res)).not.toBeNull();
    });

    it("continues from the Link header where the previous page ended", async () => {
      const first = await catalog(`?n=2&last=${encodeURIComponent(prefix)}`);
      const link = nextLink(first.res);
      expect(link).not.toBeNull();
      const res = await t.request(link!);
      expect(res.status).toBe(200);
      const page = ((await res.json()) as { repositories: string[] }).repositories;
      expect(page.slice(0, 2)).toEqual(repos.slice(2, 4));
    });

    it("excludes last itself", async () => {
      const { repositories } = await catalog(`?n=1&last=${encodeURIComponent(repos[0]!)}`);
      expect(repositories).toEqual([repos[1]]);
    });

    it("sends no Link header on the final page", async () => {
      const { res, repositories } = await catalog(`?last=${encodeURIComponent(repos[repos.length - 1]!)}&n=100000`);
      expect(repositories).not.toContain(repos[repos.length - 1]);
      expect(res.headers.get("link")).toBeNull();
    });
  });
});
