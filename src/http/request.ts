import type { Context } from "hono";
import { RegistryError } from "../core/errors.ts";
import { assertRepositoryName } from "../core/names.ts";
import { asReadableStream } from "../core/streams.ts";
import type { Chunk } from "../core/uploads.ts";
import { requestBodyOf } from "./request-body.ts";

/** The `<name>` path parameter, validated against the spec's grammar. */
export function repositoryParam(c: Context): string {
  const name = c.req.param("name") ?? "";
  assertRepositoryName(name);
  return name;
}

export function contentLength(c: Context): number | undefined {
  const value = c.req.header("content-length");
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new RegistryError("SIZE_INVALID", `Content-Length "${value.slice(0, 50)}" is not a byte count`);
  return Number(value);
}

/**
 * The request body as an upload chunk. `maxBytes` is the platform's request
 * body limit (Workers plans, Lambda), refused with a 413 that says what to do.
 * distribution-spec § Pushing a blob in chunks: `Content-Range: <start>-<end>`, inclusive, no unit.
 */
export function chunkFromRequest(c: Context, maxBytes?: number): Chunk {
  const length = contentLength(c);
  const chunk: Chunk = { body: requestBodyOf(c) };
  if (maxBytes !== undefined) {
    if (length !== undefined && length > maxBytes) throw requestTooLarge(maxBytes);
    // preventCancel: past the limit the rest stays unread, not cancelled, so a runtime that
    // reads refused bodies to their end before answering (Workers, http/drain-refused-body.ts) can.
    if (length === undefined && chunk.body) chunk.body = asReadableStream(chunk.body).pipeThrough(byteLimit(maxBytes), { preventCancel: true });
  }
  if (length !== undefined) chunk.length = length;
  const rangeHeader = c.req.header("content-range");
  if (rangeHeader !== undefined) {
    const match = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(rangeHeader.trim());
    if (!match || Number(match[2]) < Number(match[1])) {
      throw new RegistryError("BLOB_UPLOAD_INVALID", `Content-Range "${rangeHeader.slice(0, 100)}" must be <start>-<end>, inclusive`, { status: 416 });
    }
    chunk.range = { start: Number(match[1]), end: Number(match[2]) };
  }
  return chunk;
}

/** Every value of a repeated query parameter (`?tag=a&tag=b`). */
export function queryAll(c: Context, name: string): string[] {
  return c.req.queries(name) ?? [];
}

function requestTooLarge(maxBytes: number): RegistryError {
  return new RegistryError(
    "SIZE_INVALID",
    `this registry accepts at most ${maxBytes} bytes per request; push the blob in chunks (POST, then PATCH requests of at most ${maxBytes} bytes each with Content-Range, then PUT ?digest=)`,
    { status: 413, detail: { maxRequestBytes: maxBytes } },
  );
}

function byteLimit(maxBytes: number): TransformStream<Uint8Array, Uint8Array> {
  let seen = 0;
  return new TransformStream({
    transform(chunk, controller) {
      seen += chunk.byteLength;
      if (seen > maxBytes) throw requestTooLarge(maxBytes);
      controller.enqueue(chunk);
    },
  });
}
