/**
 * Reads and discards what is left of a refused request's body (a racing PATCH's 416 before
 * its body was read, a 404 for an unknown upload, a 413 once a body of unknown length passed
 * the request limit), bounded in bytes and time, before answering.
 *
 * Why: the upload engine refuses a loser before reading its body, so it writes nothing
 * (core/uploads.ts). Node's HTTP server discards such a body itself and keeps the
 * connection; a Worker's answer sent while the client is still sending makes the front
 * in front of it (wrangler dev's, at least) reset the connection, and the client (the
 * conformance suite's Go client, a racing neighbour on the same connection pool) sees a
 * broken pipe instead of the 416 the spec requires. Reading the body first is what the
 * client expects; it costs no memory (every piece is dropped) and no more time than
 * accepting the same body would. A body declared larger than `maxBytes` is not read; one that
 * goes on past it (counted from here) or past the time bound is given up on: those answers go
 * out as they are. (Workers pass the largest plan body: Cloudflare delivers no more.)
 */
import type { MiddlewareHandler } from "hono";

export interface RefusedBodyDrain {
  /** Largest body read to its end; larger ones (by Content-Length or by count) are cut off. */
  maxBytes: number;
  /** How long a refused body may take to arrive before the answer goes out anyway. */
  timeoutMs: number;
}

export function drainRefusedBodies({ maxBytes, timeoutMs }: RefusedBodyDrain): MiddlewareHandler {
  return async (c, next) => {
    await next();
    if (c.res.status < 400) return;
    const request = c.req.raw;
    const body = request.body;
    // Partly read (the byte limit stops reading but leaves the rest, http/request.ts) or not
    // at all; a stream read to its end or cancelled just reports done.
    if (body === null || body.locked) return;
    const declared = c.req.header("content-length");
    if (declared !== undefined && !(Number(declared) <= maxBytes)) {
      await body.cancel().catch(() => undefined);
      return;
    }
    await discard(body, maxBytes, timeoutMs);
  };
}

async function discard(body: ReadableStream<Uint8Array>, maxBytes: number, timeoutMs: number): Promise<void> {
  const reader = body.getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  try {
    let seen = 0;
    for (;;) {
      const next = await Promise.race([reader.read(), timedOut]);
      if (next === "timeout" || next.done) break;
      seen += next.value.byteLength;
      if (seen > maxBytes) break;
    }
  } catch {
    // The client went away: nothing left to answer politely.
  } finally {
    clearTimeout(timer);
    await reader.cancel().catch(() => undefined);
  }
}
