import type { Context, Hono, Next } from "hono";
import type { EdgeCache } from "../../ports/edge-cache.ts";
import { pacedTee } from "../../core/paced-tee.ts";
import { looksLikeDigest } from "../../core/digest.ts";
import { isEdgeCacheable } from "../edge-cacheability.ts";

export interface EdgeCaching {
  cache: EdgeCache;
  /** How long an answer stays at an edge location; a DELETE elsewhere reaches it within this. */
  seconds: number;
}

/**
 * Blob GETs and manifest GETs by digest answered from the edge location's cache, so a
 * repeated pull at one location reads neither the blob store nor the metadata store.
 * Content by digest never changes; tags are never cached here. The key holds the
 * repository's name and this runs after the auth guard, so a cached answer goes only to
 * callers who may pull that repository, and a digest cached for one repository is not
 * an answer for another (design: Storage). A DELETE by digest removes the answer at the
 * location it ran; elsewhere answers expire after `seconds`. Range requests are not
 * cached (the first pull of a layer is whole, resumptions go to storage), nor is a blob a
 * mirror streams from its upstream before verifying it (edge-cacheability.ts): the next
 * pull, from storage, fills the cache.
 */
export function edgeCacheRoutes(app: Hono, { cache, seconds }: EdgeCaching): void {
  const cached = (kind: "blobs" | "manifests") => async (c: Context, next: Next) => {
    const reference = c.req.param(kind === "blobs" ? "digest" : "reference") ?? "";
    if (!looksLikeDigest(reference) || c.req.header("range") !== undefined) return next();
    // A manifest's answer is its stored bytes whatever the Accept header says, so Accept is not in the key.
    const key = cacheKey(c.req.param("name") ?? "", kind, reference);
    const hit = await cache.match(key);
    if (hit) {
      const headers = new Headers(hit.headers);
      headers.set("Cache-Control", "private, max-age=31536000, immutable");
      headers.set("X-Registry-Edge-Cache", "hit");
      if (c.req.method === "HEAD") {
        await hit.body?.cancel();
        return new Response(null, { status: 200, headers });
      }
      return new Response(hit.body, { status: 200, headers });
    }
    await next();
    const response = c.res;
    if (c.req.method !== "GET" || response.status !== 200 || !response.body || !isEdgeCacheable(c)) return;
    const [client, stored] = pacedTee(response.body);
    const headers = new Headers(response.headers);
    // The Cache API keeps only answers marked public; the key is reachable only through this code.
    headers.set("Cache-Control", `public, max-age=${seconds}`);
    const storing = cache.put(key, new Response(stored, { status: 200, headers })).catch(() => stored.cancel().catch(() => {}));
    waitUntil(c, storing);
    c.res = new Response(client, { status: 200, headers: response.headers });
  };
  app.get("/v2/:name{.+}/blobs/:digest", cached("blobs"));
  app.get("/v2/:name{.+}/manifests/:reference", cached("manifests"));

  const purge = (kind: "blobs" | "manifests") => async (c: Context, next: Next) => {
    await next();
    const reference = c.req.param(kind === "blobs" ? "digest" : "reference") ?? "";
    if (c.res.status !== 202 || !looksLikeDigest(reference)) return;
    waitUntil(c, cache.delete(cacheKey(c.req.param("name") ?? "", kind, reference)).catch(() => {}));
  };
  app.delete("/v2/:name{.+}/blobs/:digest", purge("blobs"));
  app.delete("/v2/:name{.+}/manifests/:reference", purge("manifests"));
}

function cacheKey(name: string, kind: "blobs" | "manifests", digest: string): string {
  return `https://edge-cache.registry.invalid/v2/${name}/${kind}/${encodeURIComponent(digest)}`;
}

function waitUntil(c: Context, work: Promise<unknown>): void {
  try {
    c.executionCtx.waitUntil(work);
  } catch {
    // No execution context (Node): the work simply runs on.
  }
}
