import type { Context } from "hono";
import { RegistryError } from "../core/errors.ts";
import { assertRepositoryName } from "../core/names.ts";
import type { Chunk } from "../core/uploads.ts";

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

/** distribution-spec § Pushing a blob in chunks: `Content-Range: <start>-<end>`, inclusive, no unit. */
export function chunkFromRequest(c: Context): Chunk {
  const chunk: Chunk = { body: c.req.raw.body };
  const length = contentLength(c);
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
