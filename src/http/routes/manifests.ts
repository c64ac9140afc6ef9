import type { Hono } from "hono";
import { servedManifestType } from "../../core/media-types.ts";
import type { Registry } from "../../core/registry.ts";
import type { ManifestRecord } from "../../ports/metadata-store.ts";
import { queryAll, repositoryParam } from "../request.ts";

/** distribution-spec § Pulling manifests (end-3), § Pushing Manifests (end-7a/7b), § Deleting (end-9). */
export function manifestRoutes(app: Hono, registry: Registry): void {
  // HEAD reaches the GET route (Hono); it must not open the manifest's bytes.
  app.get("/v2/:name{.+}/manifests/:reference", async (c) => {
    const record = await registry.manifests.resolve(repositoryParam(c), c.req.param("reference"));
    if (c.req.method === "HEAD") return new Response(null, { status: 200, headers: manifestHeaders(record) });
    const object = await registry.manifests.read(record);
    // The DOM lib types a Uint8Array body as ArrayBuffer-backed only; ours always is.
    return new Response(object.body as BodyInit, { status: 200, headers: manifestHeaders(record) });
  });

  app.put("/v2/:name{.+}/manifests/:reference", async (c) => {
    const repository = repositoryParam(c);
    const stored = await registry.manifests.push({
      repository,
      reference: c.req.param("reference"),
      tags: queryAll(c, "tag"),
      contentType: c.req.header("content-type"),
      body: c.req.raw.body,
    });
    const headers = new Headers({
      Location: `/v2/${repository}/manifests/${stored.digest}`,
      "Docker-Content-Digest": stored.digest,
      "Content-Length": "0",
    });
    if (stored.subject) headers.set("OCI-Subject", stored.subject);
    if (queryAll(c, "tag").length > 0) for (const tag of stored.tags) headers.append("OCI-Tag", tag);
    return new Response(null, { status: 201, headers });
  });

  app.delete("/v2/:name{.+}/manifests/:reference", async (c) => {
    await registry.manifests.delete(repositoryParam(c), c.req.param("reference"));
    return new Response(null, { status: 202, headers: { "Content-Length": "0" } });
  });
}

/** Also the mirror routes' (routes/mirror.ts). */
export function manifestHeaders(record: ManifestRecord): Record<string, string> {
  return {
    "Content-Type": servedManifestType(record.mediaType),
    "Content-Length": String(record.size),
    "Docker-Content-Digest": record.digest,
    ETag: `"${record.digest}"`,
  };
}
