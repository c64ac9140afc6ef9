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

/*
 * The two wrappers below sit on every chunk of an upload (~1,300 reads per 64 MiB pushed): each
 * adds one promise per read and nothing else. A timer and a Promise.race per read (the first
 * version of timedSource) cost a Timeout, four promises and as many closures per chunk, about a
 * tenth of what a push allocated, and the garbage collections that go with it.
 */

/** `source`, with each chunk's size passed to `count` as it is read. */
export function countedSource(source: ByteSource, count: (bytes: number) => void): ByteSource {
  return wrapped(source, (reader) => {
    const counted = (result: ReadableStreamReadResult<Uint8Array>) => {
      if (!result.done) count(result.value.byteLength);
      return result;
    };
    return { read: () => reader.read().then(counted), cancel: (reason) => reader.cancel(reason), recycle: (chunk) => reader.recycle?.(chunk) };
  });
}

/**
 * `source`, failing a read with `stalled()` when no byte arrives for `timeoutMs` while it waits.
 * The clock runs only during a read, as in the web-stream version (request-limits.ts).
 */
export function timedSource(source: ByteSource, timeoutMs: number, stalled: () => Error): ByteSource {
  return wrapped(source, (reader) => new StallTimedReader(reader, timeoutMs, stalled));
}

/**
 * One watchdog timer per body instead of one timer per read: a read notes when it began, and
 * the timer, when it fires, ends a read that has waited `timeoutMs` or sets itself for the rest
 * of that read's time; with no read waiting it stops, and the next read starts it again. The
 * stalled read is ended by cancelling the reader under it with the error (a Node body reader
 * rejects its pending read with it; a web stream's ends it, which is turned into the error).
 */
class StallTimedReader implements ByteReader {
  readonly #reader: ByteReader;
  readonly #timeoutMs: number;
  readonly #stalled: () => Error;
  /** When the read waiting now began (performance.now()); -1: none waits. */
  #since = -1;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #failure: Error | null = null;

  constructor(reader: ByteReader, timeoutMs: number, stalled: () => Error) {
    this.#reader = reader;
    this.#timeoutMs = timeoutMs;
    this.#stalled = stalled;
  }

  read(): Promise<ReadableStreamReadResult<Uint8Array>> {
    if (this.#failure) return Promise.reject(this.#failure);
    this.#since = performance.now();
    if (!this.#timer) this.#arm(this.#timeoutMs);
    return this.#reader.read().then(this.#settled, this.#failed);
  }

  cancel(reason?: unknown): Promise<void> {
    this.#stop();
    return this.#reader.cancel(reason);
  }

  recycle(chunk: Uint8Array): void {
    this.#reader.recycle?.(chunk);
  }

  #settled = (result: ReadableStreamReadResult<Uint8Array>) => {
    this.#since = -1;
    if (this.#failure) throw this.#failure;
    if (result.done) this.#stop();
    return result;
  };

  #failed = (error: unknown): never => {
    this.#stop();
    throw this.#failure ?? error;
  };

  #check = () => {
    this.#timer = null;
    if (this.#since < 0) return;
    const waited = performance.now() - this.#since;
    if (waited < this.#timeoutMs) return this.#arm(this.#timeoutMs - waited);
    this.#failure = this.#stalled();
    this.#reader.cancel(this.#failure).catch(() => {});
  };

  #arm(ms: number): void {
    this.#timer = setTimeout(this.#check, Math.max(1, Math.ceil(ms)));
    // The server's socket keeps the process alive, not a body's watchdog.
    this.#timer.unref?.();
  }

  #stop(): void {
    this.#since = -1;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }
}

function wrapped(source: ByteSource, wrap: (reader: ByteReader) => ByteReader): ByteSource {
  return { getReader: () => wrap(source.getReader()) };
}
