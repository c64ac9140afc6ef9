import type { Context, Hono } from "hono";
import type { Registry } from "../../core/registry.ts";
import { resolveRange } from "../../core/blobs.ts";
import { RegistryError } from "../../core/errors.ts";
import type { BlobInfo } from "../../ports/metadata-store.ts";
import { repositoryParam } from "../request.ts";

/** distribution-spec § Pulling blobs (end-2) and § Deleting blobs (end-10). */
export function blobRoutes(app: Hono, registry: Registry): void {
  // Hono answers HEAD with the GET route (dropping the body), so HEAD is told apart
  // here: it must not open the blob, whose unread stream would hold a file or socket.
  app.get("/v2/:name{.+}/blobs/:digest", async (c) => {
    const info = await registry.blobs.stat(repositoryParam(c), c.req.param("digest"));
    if (c.req.method === "HEAD") return new Response(null, { status: 200, headers: blobHeaders(info, info.size) });
    return readBlob(c, registry, info);
  });

  app.delete("/v2/:name{.+}/blobs/:digest", async (c) => {
    await registry.blobs.delete(repositoryParam(c), c.req.param("digest"));
    return new Response(null, { status: 202, headers: { "Content-Length": "0" } });
  });
}

async function readBlob(c: Context, registry: Registry, info: BlobInfo): Promise<Response> {
  const requested = resolveRange(c.req.header("range"), info.size);
  if (requested.kind === "unsatisfiable") {
    throw new RegistryError("RANGE_INVALID", `the blob has ${info.size} bytes; the requested range lies outside it`, {
      headers: { "Content-Range": `bytes */${info.size}` },
    });
  }
  if (requested.kind === "partial") {
    const { offset, length } = requested.range;
    const object = await registry.blobs.read(info, requested.range);
    const headers = blobHeaders(info, length);
    headers["Content-Range"] = `bytes ${offset}-${offset + length - 1}/${info.size}`;
    return new Response(object.body, { status: 206, headers });
  }
  const object = await registry.blobs.read(info);
  return new Response(object.body, { status: 200, headers: blobHeaders(info, info.size) });
}

function blobHeaders(info: BlobInfo, length: number): Record<string, string> {
  return {
    "Content-Type": "application/octet-stream",
    "Content-Length": String(length),
    "Docker-Content-Digest": info.digest,
    "Accept-Ranges": "bytes",
    ETag: `"${info.digest}"`,
    // Content by digest never changes; private because access may be per team.
    "Cache-Control": "private, max-age=31536000, immutable",
  };
}
