/**
 * Request observation: every request gets an id (a sane `X-Request-Id` from a
 * proxy in front is kept, otherwise a new one), answered in `X-Request-Id`
 * so a user can quote it; its request body bytes are counted as the handler
 * reads them; when the answer is ready one record goes to the request log and
 * to the metrics adapter. The record names the route pattern, the repository
 * and the caller's identity name, never a header value or a credential.
 */
import type { Context, Hono } from "hono";
import { matchedRoutes } from "hono/route";
import { Caller } from "../auth/caller.ts";
import type { Logger } from "../observability/log.ts";
import type { RequestMetrics, RequestRecord } from "../observability/requests.ts";
import { readAccessOf } from "./read-access.ts";
import { countedSource } from "./request-body.ts";

declare module "hono" {
  interface ContextVariableMap {
    requestId?: string;
    /** The connection's abort signal as the runtime gave it (it fires when the client goes away). */
    clientSignal?: AbortSignal;
  }
}

export interface Observation {
  logger: Logger;
  metrics?: RequestMetrics;
}

const HAS_BODY = new Set(["POST", "PUT", "PATCH"]);

export function observeRequests(app: Hono, observation: Observation): void {
  app.use("*", async (c, next) => {
    const started = performance.now();
    const requestId = acceptedRequestId(c.req.header("x-request-id")) ?? crypto.randomUUID();
    c.set("requestId", requestId);
    const raw = c.req.raw;
    c.set("clientSignal", raw.signal);
    let bytesIn = 0;
    const source = c.get("uploadBody");
    if (source) c.set("uploadBody", countedSource(source, (bytes) => (bytesIn += bytes)));
    else if (source === undefined && raw.body && HAS_BODY.has(raw.method)) {
      const counted = raw.body.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, controller) {
            bytesIn += chunk.byteLength;
            controller.enqueue(chunk);
          },
        }),
      );
      c.req.raw = new Request(raw, { body: counted, duplex: "half", signal: raw.signal } as RequestInit);
    }
    await next();
    c.res.headers.set("X-Request-Id", requestId);
    const route = routePatternOf(c);
    const repository = repositoryOf(new URL(c.req.url).pathname, route);
    const identity = identityOf(c);
    const record: RequestRecord = {
      requestId,
      method: c.req.method,
      route,
      status: c.res.status,
      bytesIn,
      bytesOut: c.req.method === "HEAD" ? 0 : Number(c.res.headers.get("content-length") ?? 0) || 0,
      durationMs: Math.round((performance.now() - started) * 10) / 10,
      ...(repository ? { repository } : {}),
      ...(identity ? { identity } : {}),
      ...(raw.signal.aborted ? { clientGone: true } : {}),
    };
    observation.logger.log(record.status >= 500 && !record.clientGone ? "error" : "info", "request", { ...record });
    observation.metrics?.requestFinished(record);
  });
}

/** The request id of this request (set by observeRequests; a fresh one when it is not installed). */
export function requestIdOf(c: Context): string {
  return c.get("requestId") ?? crypto.randomUUID();
}

/**
 * The client closed the connection before the answer: reading its body failed because it
 * went away, not because of a fault here. Node aborts the request's signal; undici's and
 * node:http's stream errors name it too.
 */
export function clientWentAway(c: Context, error: unknown): boolean {
  if (c.get("clientSignal")?.aborted || c.req.raw.signal?.aborted) return true;
  const code = (error as { code?: unknown })?.code;
  const message = error instanceof Error ? error.message : "";
  return code === "ECONNRESET" || code === "ERR_STREAM_PREMATURE_CLOSE" || message === "aborted" || message === "terminated";
}

/** A proxy's id is kept when it is short and plain (it is echoed in a header and logged). */
function acceptedRequestId(value: string | undefined): string | undefined {
  return value !== undefined && /^[A-Za-z0-9._:-]{1,64}$/.test(value) ? value : undefined;
}

export function routePatternOf(c: Context): string {
  const routes = matchedRoutes(c).filter((r) => r.path !== "/*" && r.path !== "*");
  return routes.at(-1)?.path ?? "unmatched";
}

/**
 * `<name>` from the path, by the route pattern's segments around `:name{.+}` (names hold "/"),
 * decoded as the router decodes the `name` parameter the handlers act on: `/v2/bl%75e/app/…`
 * changes blue/app, so its log line, audit entry and event must say blue/app (an endpoint's
 * repository filter and /admin/audit?repository= match on it).
 */
export function repositoryOf(pathname: string, route: string): string | undefined {
  const pattern = route.split("/");
  const at = pattern.findIndex((part) => part.startsWith(":name"));
  if (at < 0) return undefined;
  const parts = pathname.split("/");
  const after = pattern.length - at - 1;
  const name = decodedOrRaw(parts.slice(at, parts.length - after).join("/"));
  return name === "" ? undefined : name.slice(0, 256);
}

/** A path segment decoded; a malformed escape (a refused request may carry one) is kept as sent. */
export function decodedOrRaw(segment: string): string {
  if (!segment.includes("%")) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

export function identityOf(c: Context): string | undefined {
  const access = readAccessOf(c);
  if (!(access instanceof Caller)) return undefined;
  return access.identity ? `${access.identity.kind}:${access.identity.name}` : "anonymous";
}
