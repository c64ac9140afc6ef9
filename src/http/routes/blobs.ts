import type { Context, Hono } from "hono";
import type { Registry } from "../../core/registry.ts";
import { resolveRange, type RangeRequest } from "../../core/blobs.ts";
import { RegistryError } from "../../core/errors.ts";
import type { PresignedReads } from "../../ports/blob-store.ts";
import type { BlobInfo } from "../../ports/metadata-store.ts";
import { repositoryParam } from "../request.ts";

/** Blob GETs answered with 307 to a URL from `signer` valid for `expiresInSeconds` (see AppOptions). */
export interface BlobReadRedirects {
  signer: PresignedReads;
  expiresInSeconds: number;
}

/** distribution-spec § Pulling blobs (end-2) and § Deleting blobs (end-10). */
export function blobRoutes(app: Hono, registry: Registry, redirects?: BlobReadRedirects): void {
  // Hono answers HEAD with the GET route (dropping the body), so HEAD is told apart
  // here: it must not open the blob, whose unread stream would hold a file or socket.
  app.get("/v2/:name{.+}/blobs/:digest", async (c) => {
    const info = await registry.blobs.stat(repositoryParam(c), c.req.param("digest"));
    if (c.req.method === "HEAD") return new Response(null, { status: 200, headers: blobHeaders(info, info.size) });
    if (redirects) return redirectBlob(c, info, redirects.signer, redirects.expiresInSeconds);
    return readBlob(c, registry, info);
  });

  app.delete("/v2/:name{.+}/blobs/:digest", async (c) => {
    await registry.blobs.delete(repositoryParam(c), c.req.param("digest"));
    return new Response(null, { status: 202, headers: { "Content-Length": "0" } });
  });
}

async function readBlob(c: Context, registry: Registry, info: BlobInfo): Promise<Response> {
  const requested = satisfiableRange(c.req.header("range"), info.size);
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

/**
 * [main] "Registries MAY respond to any request with a redirect"; Distribution
 * answers 307 to a presigned URL the same way. A client re-sends its Range
 * header to the new location, which serves the 206 itself; a range outside
 * the blob is still refused here, with the registry's error body.
 */
async function redirectBlob(c: Context, info: BlobInfo, signer: PresignedReads, expiresInSeconds: number): Promise<Response> {
  satisfiableRange(c.req.header("range"), info.size);
  return new Response(null, {
    status: 307,
    headers: {
      Location: await signer.presignGet(info.key, expiresInSeconds),
      "Docker-Content-Digest": info.digest,
      "Content-Length": "0",
      // The URL expires; the redirect must not outlive it in any cache.
      "Cache-Control": "no-store",
    },
  });
}

function satisfiableRange(header: string | undefined, size: number): Exclude<RangeRequest, { kind: "unsatisfiable" }> {
  const requested = resolveRange(header, size);
  if (requested.kind === "unsatisfiable") {
    throw new RegistryError("RANGE_INVALID", `the blob has ${size} bytes; the requested range lies outside it`, {
      headers: { "Content-Range": `bytes */${size}` },
    });
  }
  return requested;
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
