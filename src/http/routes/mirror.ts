import type { Context, Hono } from "hono";
import { getPath } from "hono/utils/url";
import { RegistryError } from "../../core/errors.ts";
import { namespaceForHost, type MirrorConfig } from "../../proxy/mirror-config.ts";
import type { PullThrough, WaitUntil } from "../../proxy/pull-through.ts";
import type { Registry } from "../../core/registry.ts";
import { repositoryParam } from "../request.ts";
import { markNotEdgeCacheable } from "../edge-cacheability.ts";
import { manifestHeaders } from "./manifests.ts";

/**
 * Pulls of mirrored repositories (src/proxy): manifests and blobs the store lacks come
 * through the pull-through cache; what it holds falls through to the ordinary routes.
 * Mirrors are read-only: pushes into them are refused. Register after the auth guards
 * (who may pull a mirrored repository is decided there, like any other) and before the
 * ordinary routes.
 */
export function mirrorRoutes(app: Hono, registry: Registry, pullThrough: PullThrough, mirrors: MirrorConfig[], options: { cacheBeforeServing: boolean }): void {
  app.on(["POST", "PUT", "PATCH"], "/v2/*", async (c, next) => {
    const namespace = mirrors.find((mirror) => c.req.path.startsWith(`/v2/${mirror.namespace}/`))?.namespace;
    if (namespace) {
      throw new RegistryError("DENIED", `${namespace}/* mirrors an upstream registry and is read-only here; push to another namespace`);
    }
    await next();
  });

  app.get("/v2/:name{.+}/manifests/:reference", async (c, next) => {
    const repository = repositoryParam(c);
    if (!pullThrough.mirrors(repository)) return next();
    const { record, staleBecause } = await pullThrough.manifest(repository, c.req.param("reference"));
    const headers = new Headers(manifestHeaders(record));
    // RFC 9111 § 5.5 (obsoleted, still what clients and proxies print): 110 Response is Stale.
    if (staleBecause) headers.set("Warning", `110 - "Response is Stale: ${staleBecause}"`);
    if (c.req.method === "HEAD") return new Response(null, { status: 200, headers });
    const object = await registry.manifests.read(record);
    return new Response(object.body as BodyInit, { status: 200, headers });
  });

  app.get("/v2/:name{.+}/blobs/:digest", async (c, next) => {
    const repository = repositoryParam(c);
    if (!pullThrough.mirrors(repository)) return next();
    const blob = await pullThrough.blob(repository, c.req.param("digest"), c.req.method === "HEAD" ? "HEAD" : "GET", waitUntilOf(c));
    if (blob.kind === "stored") return next();
    if (options.cacheBeforeServing && blob.body) {
      // Reading our copy to its end drives the store's copy, verified and linked when it ends.
      try {
        for await (const _ of blob.body);
      } catch {
        throw new RegistryError("UNKNOWN", `the upstream's bytes for ${blob.digest} were refused (wrong digest or length, or the transfer broke); nothing was stored, try again`, { status: 502 });
      }
      return next();
    }
    markNotEdgeCacheable(c);
    const headers: Record<string, string> = { "Content-Type": "application/octet-stream", "Docker-Content-Digest": blob.digest };
    if (blob.size !== undefined) headers["Content-Length"] = String(blob.size);
    return new Response(blob.body, { status: 200, headers });
  });
}

/** The runtime's waitUntil (Workers), so a blob's caching outlives a client that leaves; none on Node. */
function waitUntilOf(c: Context): WaitUntil | undefined {
  try {
    const context = c.executionCtx;
    return (work) => context.waitUntil(work);
  } catch {
    return undefined;
  }
}

/**
 * Routing path for a request: `/v2/<name>/…?ns=<host>` (distribution-spec main, sent by
 * containerd to a mirror) routes to `/v2/<namespace>/<name>/…` when a mirror lists that host;
 * every other request routes as it is.
 */
export function mirrorPath(mirrors: MirrorConfig[]): (request: Request) => string {
  return (request) => {
    const path = getPath(request);
    const query = request.url.indexOf("?");
    if (query === -1 || !path.startsWith("/v2/") || path.startsWith("/v2/_catalog")) return path;
    const ns = new URLSearchParams(request.url.slice(query + 1)).get("ns");
    const namespace = ns ? namespaceForHost(mirrors, ns) : undefined;
    return namespace ? `/v2/${namespace}/${path.slice(4)}` : path;
  };
}
