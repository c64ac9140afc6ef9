/**
 * Reads and discards what is left of a refused request's body (a racing PATCH's 416 before
 * its body was read, a 404 for an unknown upload, a 413 once a body of unknown length passed
 * the request limit), bounded in bytes and time, before answering.
 *
 * Why: the upload engine refuses a loser before reading its body, so it writes nothing
 * (core/uploads.ts). On Node, @hono/node-server drains such a body after the answer but
 * closes the connection when that takes over 500 ms (an 8 MiB body on a loaded machine); a
 * Worker's answer sent while the client is still sending makes the front in front of it
 * (wrangler dev's, at least) reset the connection, and the client (the
 * conformance suite's Go client, a racing neighbour on the same connection pool) sees a
 * broken pipe instead of the 416 the spec requires. Reading the body first is what the
 * client expects; it costs no memory (every piece is dropped) and no more time than
 * accepting the same body would. A body declared larger than `maxBytes` is not read; one that
 * goes on past it (counted from here) or past the time bound is given up on: those answers go
 * out as they are. (Workers pass the largest plan body: Cloudflare delivers no more.)
 *
 * Not drained: 429 (the upload limit refuses a request so that it holds no connection and
 * no time; reading its body would let a refused client keep what the limit bounds) and 408
 * (the body stopped arriving: there is nothing to wait for). Both close the connection.
 */
import type { Context, MiddlewareHandler } from "hono";
import type { ByteReader, ByteSource } from "../core/streams.ts";

export interface RefusedBodyDrain {
  /** Largest body read to its end; larger ones (by Content-Length or by count) are cut off. */
  maxBytes: number;
  /** How long a refused body may take to arrive before the answer goes out anyway. */
  timeoutMs: number;
  /**
   * The runtime's reader of a body nothing has read yet, undefined otherwise (Node:
   * runtime/node-request-body.ts). Without it, the Request's body, unless something holds it.
   */
  unreadBody?: (c: Context) => ByteSource | null | undefined;
}

const NOT_DRAINED = new Set([408, 429]);

export function drainRefusedBodies({ maxBytes, timeoutMs, unreadBody }: RefusedBodyDrain): MiddlewareHandler {
  return async (c, next) => {
    await next();
    if (c.res.status < 400 || NOT_DRAINED.has(c.res.status)) return;
    const body = unreadBody ? unreadBody(c) : requestBodyLeft(c);
    if (!body) return;
    const reader = body.getReader();
    const declared = c.req.header("content-length");
    if (declared !== undefined && !(Number(declared) <= maxBytes)) {
      await reader.cancel().catch(() => undefined);
      return;
    }
    await discard(reader, maxBytes, timeoutMs);
  };
}

/**
 * The Request's body when nothing holds it: partly read (the byte limit stops reading but
 * leaves the rest, http/request.ts) or not at all; one read to its end or cancelled just
 * reports done.
 */
function requestBodyLeft(c: Context): ByteSource | null {
  const body = c.req.raw.body;
  return body === null || body.locked ? null : body;
}

async function discard(reader: ByteReader, maxBytes: number, timeoutMs: number): Promise<void> {
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
