import type { Context, Hono } from "hono";
import type { Registry } from "../../core/registry.ts";
import { RegistryError } from "../../core/errors.ts";
import { isDigestAlgorithm, parseDigest } from "../../core/digest.ts";
import { isRepositoryName } from "../../core/names.ts";
import { rangeHeader, uploadLocation } from "../../core/uploads.ts";
import type { BlobInfo, UploadRecord } from "../../ports/metadata-store.ts";
import { readAccessOf } from "../read-access.ts";
import { chunkFromRequest, contentLength, repositoryParam } from "../request.ts";
import { UPLOAD_GRANT_PARAMETER } from "../auth-middleware.ts";

/** Where upload sessions started here continue (AppOptions.uploadUrl). */
export interface UploadHandoff {
  /** The upload server's origin. */
  origin: string;
  /** With auth: the session's grant for the Location (Auth.uploadGrant), for clients that send their token to one host only. */
  grant?: (c: Context, repository: string, id: string) => Promise<string>;
}

/**
 * distribution-spec § Pushing Blobs: end-4a/4b/4c, end-5, end-6, end-11, end-13, end-14.
 *
 * `handoff` (the split deployment, docs/aws.md): another server on the same stores takes upload
 * bodies this one cannot (Lambda's 6 MB). Sessions started here are handed to it with an
 * absolute Location, which the spec allows ("the <location> does not necessarily need to be
 * provided by the registry itself"); clients send their PATCH and PUT there. A grant in that
 * Location is echoed in every Location the session's own requests answer, since clients follow
 * the latest one.
 */
export function uploadRoutes(app: Hono, registry: Registry, maxRequestBytes: number | undefined, handoff?: UploadHandoff): void {
  /** A session started here, answered with its Location on the upload server when there is one. */
  const started = async (c: Context, record: UploadRecord) => {
    if (!handoff) return uploadAccepted(record, 202, maxRequestBytes);
    const grant = handoff.grant ? await handoff.grant(c, record.repository, record.id) : undefined;
    // The chunks go to the upload server, which has no body limit of this platform's.
    return uploadAccepted(record, 202, undefined, handoff.origin, grant);
  };
  const start = async (c: Context) => {
    const repository = repositoryParam(c);
    const mount = c.req.query("mount");
    if (mount !== undefined) {
      const from = c.req.query("from");
      const mounted = await registry.blobs.mount(repository, mount, from && isRepositoryName(from) ? from : undefined, readAccessOf(c));
      if (mounted) return blobCreated(repository, mounted);
    }
    const digest = c.req.query("digest");
    if (digest !== undefined && handoff !== undefined && !fitsHere(c, maxRequestBytes)) {
      // § Single POST: "Registries that do not support single request monolithic uploads SHOULD
      // return a 202 Accepted status code and Location header and clients SHOULD proceed with a
      // subsequent PUT request": the body goes unread and is sent again to the upload server.
      await c.req.raw.body?.cancel();
      return started(c, await registry.uploads.start(repository, parseDigest(digest).algorithm));
    }
    if (digest !== undefined) {
      const info = await registry.uploads.putWhole(repository, parseDigest(digest), chunkFromRequest(c, maxRequestBytes));
      return blobCreated(repository, info);
    }
    const algorithm = c.req.query("digest-algorithm") ?? "sha256";
    if (!isDigestAlgorithm(algorithm)) {
      throw new RegistryError("DIGEST_INVALID", `digest-algorithm "${algorithm.slice(0, 50)}" is not supported; use sha256 or sha512`);
    }
    return started(c, await registry.uploads.start(repository, algorithm));
  };
  app.post("/v2/:name{.+}/blobs/uploads/", start);
  app.post("/v2/:name{.+}/blobs/uploads", start);

  app.patch("/v2/:name{.+}/blobs/uploads/:id", async (c) => {
    const record = await registry.uploads.append(repositoryParam(c), c.req.param("id"), chunkFromRequest(c, maxRequestBytes));
    return uploadAccepted(record, 202, maxRequestBytes, "", c.req.query(UPLOAD_GRANT_PARAMETER));
  });

  app.put("/v2/:name{.+}/blobs/uploads/:id", async (c) => {
    const repository = repositoryParam(c);
    const info = await registry.uploads.finish(repository, c.req.param("id"), c.req.query("digest"), chunkFromRequest(c, maxRequestBytes));
    return blobCreated(repository, info);
  });

  app.get("/v2/:name{.+}/blobs/uploads/:id", async (c) => {
    const record = await registry.uploads.get(repositoryParam(c), c.req.param("id"));
    return uploadAccepted(record, 204, maxRequestBytes, "", c.req.query(UPLOAD_GRANT_PARAMETER));
  });

  app.delete("/v2/:name{.+}/blobs/uploads/:id", async (c) => {
    await registry.uploads.cancel(repositoryParam(c), c.req.param("id"));
    return new Response(null, { status: 204 });
  });
}

/**
 * A body this server takes whole: its length is declared and within the platform's limit. (On
 * Lambda the adapter declares the length of the bytes that arrived; a streamed body on Node
 * declares none and is handed over unread, since reading it would be the upload itself.)
 */
function fitsHere(c: Context, maxRequestBytes: number | undefined): boolean {
  const length = contentLength(c);
  return length !== undefined && (maxRequestBytes === undefined || length <= maxRequestBytes);
}

/**
 * `origin`: the upload server's, when the session continues there; otherwise the Location is
 * relative to this one. `grant`: the session's grant, carried in the Location's query.
 */
function uploadAccepted(record: UploadRecord, status: 202 | 204, maxRequestBytes: number | undefined, origin = "", grant?: string): Response {
  const query = grant === undefined ? "" : `?${UPLOAD_GRANT_PARAMETER}=${encodeURIComponent(grant)}`;
  return new Response(null, {
    status,
    headers: {
      Location: `${origin}${uploadLocation(record)}${query}`,
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
