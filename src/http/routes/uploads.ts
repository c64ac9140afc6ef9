import type { Context, Hono } from "hono";
import type { Registry } from "../../core/registry.ts";
import { RegistryError } from "../../core/errors.ts";
import { isDigestAlgorithm, parseDigest } from "../../core/digest.ts";
import { isRepositoryName } from "../../core/names.ts";
import { rangeHeader, uploadLocation } from "../../core/uploads.ts";
import type { BlobInfo, UploadRecord } from "../../ports/metadata-store.ts";
import { readAccessOf } from "../read-access.ts";
import { chunkFromRequest, repositoryParam } from "../request.ts";

/** distribution-spec § Pushing Blobs: end-4a/4b/4c, end-5, end-6, end-11, end-13, end-14. */
export function uploadRoutes(app: Hono, registry: Registry, maxRequestBytes: number | undefined): void {
  const start = async (c: Context) => {
    const repository = repositoryParam(c);
    const mount = c.req.query("mount");
    if (mount !== undefined) {
      const from = c.req.query("from");
      const mounted = await registry.blobs.mount(repository, mount, from && isRepositoryName(from) ? from : undefined, readAccessOf(c));
      if (mounted) return blobCreated(repository, mounted);
    }
    const digest = c.req.query("digest");
    if (digest !== undefined) {
      const info = await registry.uploads.putWhole(repository, parseDigest(digest), chunkFromRequest(c, maxRequestBytes));
      return blobCreated(repository, info);
    }
    const algorithm = c.req.query("digest-algorithm") ?? "sha256";
    if (!isDigestAlgorithm(algorithm)) {
      throw new RegistryError("DIGEST_INVALID", `digest-algorithm "${algorithm.slice(0, 50)}" is not supported; use sha256 or sha512`);
    }
    const record = await registry.uploads.start(repository, algorithm);
    return uploadAccepted(record, 202, maxRequestBytes);
  };
  app.post("/v2/:name{.+}/blobs/uploads/", start);
  app.post("/v2/:name{.+}/blobs/uploads", start);

  app.patch("/v2/:name{.+}/blobs/uploads/:id", async (c) => {
    const record = await registry.uploads.append(repositoryParam(c), c.req.param("id"), chunkFromRequest(c, maxRequestBytes));
    return uploadAccepted(record, 202, maxRequestBytes);
  });

  app.put("/v2/:name{.+}/blobs/uploads/:id", async (c) => {
    const repository = repositoryParam(c);
    const info = await registry.uploads.finish(repository, c.req.param("id"), c.req.query("digest"), chunkFromRequest(c, maxRequestBytes));
    return blobCreated(repository, info);
  });

  app.get("/v2/:name{.+}/blobs/uploads/:id", async (c) => {
    const record = await registry.uploads.get(repositoryParam(c), c.req.param("id"));
    return uploadAccepted(record, 204, maxRequestBytes);
  });

  app.delete("/v2/:name{.+}/blobs/uploads/:id", async (c) => {
    await registry.uploads.cancel(repositoryParam(c), c.req.param("id"));
    return new Response(null, { status: 204 });
  });
}

function uploadAccepted(record: UploadRecord, status: 202 | 204, maxRequestBytes: number | undefined): Response {
  return new Response(null, {
    status,
    headers: {
      Location: uploadLocation(record),
      Range: rangeHeader(record.received),
      "Docker-Upload-UUID": record.id,
      "Content-Length": "0",
      ...chunkLengthHeaders(record.partSize, maxRequestBytes),
    },
  });
}

/**
 * The chunk sizes this registry wants, on every upload answer (POST, PATCH, GET status).
 * Min (distribution-spec § Pushing a blob in chunks): chunks of whole parts are written
 * straight to storage, while a shorter chunk's bytes are kept as a tail and read again
 * by the next request; any size still works. Max (OCI-Chunk-Max-Length, proposed to the
 * spec, not yet in it): the platform's request-body limit (Workers
 * plans, Lambda), above which a request gets 413; none where there is no limit (Node).
 * The minimum never exceeds the maximum, so a client honouring both always can.
 */
function chunkLengthHeaders(partSize: number, maxRequestBytes: number | undefined): Record<string, string> {
  if (maxRequestBytes === undefined) return { "OCI-Chunk-Min-Length": String(partSize) };
  return { "OCI-Chunk-Min-Length": String(Math.min(partSize, maxRequestBytes)), "OCI-Chunk-Max-Length": String(maxRequestBytes) };
}

function blobCreated(repository: string, info: BlobInfo): Response {
  return new Response(null, {
    status: 201,
    headers: {
      Location: `/v2/${repository}/blobs/${info.digest}`,
      "Docker-Content-Digest": info.digest,
      "Content-Length": "0",
    },
  });
}
