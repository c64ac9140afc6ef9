/**
 * Blob upload bodies read through a runtime's own reader when it has one (Node: the
 * IncomingMessage, see runtime/node-request-body.ts) instead of the Request's web stream.
 * The middlewares that would wrap the Request's body (the request log's byte count, the
 * body progress timeout) wrap this reader instead, at the cost of a function call per chunk
 * rather than a web stream layer with its queue and promises each.
 */
import type { Context, MiddlewareHandler } from "hono";
import type { ByteReader, ByteSource } from "../core/streams.ts";

declare module "hono" {
  interface ContextVariableMap {
    /** The body of a blob upload request (POST, PATCH, PUT under /blobs/uploads/) when the runtime reads it itself; null: none. */
    uploadBody?: ByteSource | null;
  }
}

/** The runtime's reader of `c`'s body; undefined where it has none for this request (the Request's body is read then). */
export type RequestBodyReader = (c: Context) => ByteSource | null | undefined;

export function isBlobUpload(c: Context): boolean {
  const { method } = c.req;
  return (method === "POST" || method === "PATCH" || method === "PUT") && /^\/v2\/.+\/blobs\/uploads\//.test(c.req.path);
}

/** Installs the runtime's reader for blob upload requests: first, before anything reads or wraps a body. */
export function uploadBodies(read: RequestBodyReader): MiddlewareHandler {
  return async (c, next) => {
    if (isBlobUpload(c)) {
      const source = read(c);
      if (source !== undefined) c.set("uploadBody", source);
    }
    await next();
  };
}

/** The request's body as the upload engine reads it: the runtime's reader, or the Request's stream. */
export function requestBodyOf(c: Context): ByteSource | null {
  const source = c.get("uploadBody");
  return source !== undefined ? source : c.req.raw.body;
}

/** `source`, with each chunk's size passed to `count` as it is read. */
export function countedSource(source: ByteSource, count: (bytes: number) => void): ByteSource {
  return wrapped(source, (reader) => ({
    read: async () => {
      const result = await reader.read();
      if (!result.done) count(result.value.byteLength);
      return result;
    },
    cancel: (reason) => reader.cancel(reason),
  }));
}

/**
 * `source`, failing a read with `stalled()` when no byte arrives for `timeoutMs` while it waits.
 * The clock runs only during a read, as in the web-stream version (request-limits.ts).
 */
export function timedSource(source: ByteSource, timeoutMs: number, stalled: () => Error): ByteSource {
  return wrapped(source, (reader) => ({
    read: () => {
      const pending = reader.read();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(stalled()), timeoutMs);
      });
      return Promise.race([pending, timeout]).finally(() => clearTimeout(timer));
    },
    cancel: (reason) => reader.cancel(reason),
  }));
}

function wrapped(source: ByteSource, wrap: (reader: ByteReader) => ByteReader): ByteSource {
  return { getReader: () => wrap(source.getReader()) };
}
