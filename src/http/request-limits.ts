import type { Context, MiddlewareHandler } from "hono";
import { type ErrorCode, RegistryError } from "../core/errors.ts";
import { timedSource } from "./request-body.ts";

/**
 * What one client may hold of a server that keeps connections (Node): a body that stops sending
 * is ended, and upload requests are bounded per client address and overall. Workers and Lambda
 * bound both themselves (request limits of the platform), so only the Node runtime passes these.
 */
export interface RequestLimits {
  /** A body that delivers no byte for this long, while the registry waits for one, ends with 408; 0: never. */
  bodyTimeoutMs: number;
  /** Upload requests served at once (blob POST, PATCH, PUT and manifest PUT). */
  maxUploads: number;
  maxUploadsPerClient: number;
  /** The client's address from the runtime's bindings (Node: the socket's remote address). */
  clientAddress(c: Context): string | undefined;
}

/** How long a client told 429 should wait: uploads in progress usually finish within seconds. */
const RETRY_AFTER_SECONDS = 5;

export function requestLimits(limits: RequestLimits): MiddlewareHandler {
  const perClient = new Map<string, number>();
  let total = 0;
  return async (c, next) => {
    const source = c.get("uploadBody");
    if (source !== undefined) {
      if (source && limits.bodyTimeoutMs > 0) c.set("uploadBody", timedSource(source, limits.bodyTimeoutMs, () => bodyStalled(limits.bodyTimeoutMs, stalledCode(c))));
    } else if (c.req.raw.body && limits.bodyTimeoutMs > 0) {
      const body = c.req.raw.body;
      const { url, method, headers, signal } = c.req.raw;
      c.req.raw = new Request(url, { method, headers, signal, body: withProgressTimeout(body, limits.bodyTimeoutMs, stalledCode(c)), duplex: "half" } as RequestInit);
    }
    if (!isUpload(c)) return next();
    const client = limits.clientAddress(c) ?? "unknown";
    const held = perClient.get(client) ?? 0;
    if (held >= limits.maxUploadsPerClient) throw tooMany(`this client address has ${held} uploads in progress, the most this registry serves per address (maxUploadsPerClient)`);
    if (total >= limits.maxUploads) throw tooMany(`the registry is serving ${total} uploads, the most it serves at once (maxUploads)`);
    perClient.set(client, held + 1);
    total++;
    try {
      await next();
    } finally {
      total--;
      const left = (perClient.get(client) ?? 1) - 1;
      if (left === 0) perClient.delete(client);
      else perClient.set(client, left);
    }
  };
}

function isUpload(c: Context): boolean {
  const { method } = c.req;
  const path = new URL(c.req.url).pathname;
  if (method === "PUT" && /^\/v2\/.+\/manifests\/[^/]+$/.test(path)) return true;
  return (method === "POST" || method === "PATCH" || method === "PUT") && /^\/v2\/.+\/blobs\/uploads\//.test(path);
}

function tooMany(why: string): RegistryError {
  // The body is left unread: the connection closes after the answer (http/errors.ts).
  return new RegistryError("TOOMANYREQUESTS", `${why}; retry in ${RETRY_AFTER_SECONDS} s`, {
    headers: { "Retry-After": String(RETRY_AFTER_SECONDS) },
  });
}

/**
 * The body, failing with 408 when the client sends nothing for `timeoutMs` while the registry is
 * waiting to read. Time the registry spends writing what it read does not count (the clock runs
 * only during a read), so a slow disk never ends a client's push. The source is left as it is on
 * timeout: cancelling it would close the socket before the answer is written.
 */
function withProgressTimeout(body: ReadableStream<Uint8Array>, timeoutMs: number, code: ErrorCode): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const stalled = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(bodyStalled(timeoutMs, code)), timeoutMs);
        });
        try {
          const { done, value } = await Promise.race([reader.read(), stalled]);
          if (done) controller.close();
          else controller.enqueue(value);
        } finally {
          clearTimeout(timer);
        }
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

/** The spec has no timeout code: the one of the thing whose body stopped, with status 408. */
function stalledCode(c: Context): ErrorCode {
  const path = new URL(c.req.url).pathname;
  return path.includes("/blobs/") ? "BLOB_UPLOAD_INVALID" : path.includes("/manifests/") ? "MANIFEST_INVALID" : "UNSUPPORTED";
}

function bodyStalled(timeoutMs: number, code: ErrorCode): RegistryError {
  const seconds = Math.round(timeoutMs / 100) / 10;
  return new RegistryError(
    code,
    `no byte of the request body arrived for ${seconds} s (bodyTimeoutSeconds); the request was ended and nothing of it kept: send it again`,
    { status: 408 },
  );
}
