import type { Context } from "hono";
import { RegistryError } from "../core/errors.ts";
import type { Logger } from "../observability/log.ts";
import { clientWentAway, requestIdOf } from "./observe.ts";
import { storageFullError } from "./storage-full.ts";

/**
 * nginx's "client closed request": what the log and metrics record when the client
 * left mid-request; nobody receives it.
 */
export const CLIENT_CLOSED_REQUEST = 499;

/** The one place errors become HTTP: the spec's JSON body, the registered status, nothing internal. */
export function renderError(error: unknown, c: Context, logger?: Logger): Response {
  error = storageFullError(error) ?? error;
  if (error instanceof RegistryError) {
    const headers = new Headers(error.headers);
    headers.set("Content-Type", "application/json");
    // These abandon the rest of the request body (too large, stalled, refused before reading, no room), so
    // the connection cannot carry another request.
    if (error.status === 413 || error.status === 408 || error.status === 429 || error.status === 507) headers.set("Connection", "close");
    return new Response(c.req.method === "HEAD" ? null : JSON.stringify(error.toBody()), { status: error.status, headers });
  }
  const requestId = requestIdOf(c);
  const path = new URL(c.req.url).pathname.slice(0, 200);
  // A client that hangs up mid-push is not a fault of this server: one line, no stack.
  if (clientWentAway(c, error)) {
    if (logger) logger.log("info", "client closed the connection mid-request", { requestId, method: c.req.method, path });
    return new Response(null, { status: CLIENT_CLOSED_REQUEST });
  }
  // Internals go to the log with an id the client can quote, never into the response.
  if (logger) logger.log("error", "request failed", { requestId, method: c.req.method, path, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  else console.error(`request ${requestId} ${c.req.method} ${path} failed:`, error);
  const body = new RegistryError("UNKNOWN", `internal error; quote request id ${requestId} to the operator`).toBody();
  return new Response(c.req.method === "HEAD" ? null : JSON.stringify(body), {
    status: 500,
    headers: { "Content-Type": "application/json", "X-Request-Id": requestId },
  });
}
