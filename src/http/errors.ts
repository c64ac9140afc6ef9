import type { Context } from "hono";
import { RegistryError } from "../core/errors.ts";
import { storageFullError } from "./storage-full.ts";

/** The one place errors become HTTP: the spec's JSON body, the registered status, nothing internal. */
export function renderError(error: unknown, c: Context): Response {
  error = storageFullError(error) ?? error;
  if (error instanceof RegistryError) {
    const headers = new Headers(error.headers);
    headers.set("Content-Type", "application/json");
    // These abandon the rest of the request body (too large, stalled, refused before reading, no room), so
    // the connection cannot carry another request.
    if (error.status === 413 || error.status === 408 || error.status === 429 || error.status === 507) headers.set("Connection", "close");
    return new Response(c.req.method === "HEAD" ? null : JSON.stringify(error.toBody()), { status: error.status, headers });
  }
  const requestId = crypto.randomUUID();
  // Internals go to the log with an id the client can quote, never into the response.
  console.error(`request ${requestId} ${c.req.method} ${new URL(c.req.url).pathname} failed:`, error);
  const body = new RegistryError("UNKNOWN", `internal error; quote request id ${requestId} to the operator`).toBody();
  return new Response(c.req.method === "HEAD" ? null : JSON.stringify(body), {
    status: 500,
    headers: { "Content-Type": "application/json" },
  });
}
