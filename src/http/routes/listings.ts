import type { Hono } from "hono";
import type { Registry } from "../../core/registry.ts";
import { listReferrers, listRepositories, listTags, parsePage, type PageRequest, type PageResult } from "../../core/listings.ts";
import { OCI_INDEX } from "../../core/media-types.ts";
import { readAccessOf } from "../read-access.ts";
import { repositoryParam } from "../request.ts";

/** § Listing Tags (end-8a/8b), § Listing Referrers (end-12a/12b), and the `_catalog` extension. */
export function listingRoutes(app: Hono, registry: Registry): void {
  app.get("/v2/_catalog", async (c) => {
    const page = parsePage(c.req.query("n"), c.req.query("last"));
    const result = await listRepositories(registry.metadata, page, readAccessOf(c));
    return c.json({ repositories: result.names }, 200, linkHeader("/v2/_catalog", page, result));
  });

  app.get("/v2/:name{.+}/tags/list", async (c) => {
    const repository = repositoryParam(c);
    const page = parsePage(c.req.query("n"), c.req.query("last"));
    const result = await listTags(registry.metadata, repository, page);
    return c.json({ name: repository, tags: result.names }, 200, linkHeader(`/v2/${repository}/tags/list`, page, result));
  });

  app.get("/v2/:name{.+}/referrers/:digest", async (c) => {
    const repository = repositoryParam(c);
    const artifactType = c.req.query("artifactType") || undefined;
    const { index, filtered } = await listReferrers(registry.metadata, repository, c.req.param("digest"), artifactType);
    const headers: Record<string, string> = { "Content-Type": OCI_INDEX };
    if (filtered) headers["OCI-Filters-Applied"] = "artifactType";
    return new Response(JSON.stringify(index), { status: 200, headers });
  });
}

/** RFC 8288 `Link: <url>; rel="next"` when more results remain. */
function linkHeader(path: string, page: PageRequest, result: PageResult): Record<string, string> {
  if (result.next === undefined || page.limit === undefined) return {};
  const query = new URLSearchParams({ n: String(page.limit), last: result.next });
  return { Link: `<${path}?${query}>; rel="next"` };
}
