/**
 * The token endpoint (docker-token-auth token.md: GET with Basic
 * credentials; oauth.md: POST with a form) and the JWKS of its keys.
 */
import type { Context, Hono } from "hono";
import type { Auth, TokenOutcome, TokenRequest } from "../../auth/service.ts";
import { RegistryError } from "../../core/errors.ts";
import { readLimited } from "../../core/streams.ts";
import { contentLength } from "../request.ts";

/** Token requests are a few hundred bytes; anything much larger is not a client. */
export const MAX_FORM_BYTES = 64 * 1024;

export function tokenRoutes(app: Hono, auth: Auth, clientAddress?: (c: Context) => string | undefined): void {
  app.get("/token", async (c) => {
    const request: TokenRequest = {
      scopes: c.req.queries("scope") ?? [],
      offline: c.req.query("offline_token") === "true",
    };
    const client = clientAddress?.(c);
    if (client !== undefined) request.client = client;
    const service = c.req.query("service");
    if (service !== undefined) request.service = service;
    // `account` (sent by distribution's client) is only a hint: the credentials say who is asking.
    const credentials = basicCredentials(c.req.header("authorization"));
    if (credentials === null) throw invalidCredentials(auth, "the Authorization header is not valid Basic credentials");
    if (credentials) request.credentials = credentials;
    return respond(c, auth, await auth.exchange(request));
  });

  app.post("/token", async (c) => {
    // Unauthenticated: the body is read only up to the limit, so a huge (or endless,
    // chunked) body costs 64 KiB of memory and is cut off there, not buffered whole.
    const length = contentLength(c);
    if (length !== undefined && length > MAX_FORM_BYTES) throw formTooLarge();
    const form = new URLSearchParams(new TextDecoder().decode(await readLimited(c.req.raw.body, MAX_FORM_BYTES, formTooLarge)));
    const request: TokenRequest = {
      scopes: form.getAll("scope"),
      offline: form.get("access_type") === "offline",
    };
    const client = clientAddress?.(c);
    if (client !== undefined) request.client = client;
    const service = form.get("service");
    if (service !== null) request.service = service;
    const grant = form.get("grant_type");
    if (grant === "password") {
      const username = form.get("username");
      const password = form.get("password");
      if (!username || password === null) throw badRequest("grant_type=password needs username and password");
      request.credentials = { username, password };
    } else if (grant === "refresh_token") {
      const refreshToken = form.get("refresh_token");
      if (!refreshToken) throw badRequest("grant_type=refresh_token needs refresh_token");
      request.refreshToken = refreshToken;
    } else {
      throw badRequest("grant_type must be password or refresh_token");
    }
    return respond(c, auth, await auth.exchange(request));
  });

  app.get("/token/jwks.json", (c) => c.json(auth.jwks(), 200, { "Cache-Control": "public, max-age=300" }));
}

function respond(c: Context, auth: Auth, outcome: TokenOutcome): Response {
  if (outcome.ok) return c.json(outcome.body, 200, { "Cache-Control": "no-store" });
  if (outcome.status === 429) throw new RegistryError("TOOMANYREQUESTS", outcome.message, { headers: { "Retry-After": String(outcome.retryAfterSeconds) } });
  throw outcome.status === 401 ? invalidCredentials(auth, outcome.message) : badRequest(outcome.message);
}

/** Basic credentials; undefined when there are none (an anonymous request), null when the header is malformed. */
function basicCredentials(header: string | undefined): { username: string; password: string } | null | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/]+={0,2})\s*$/i.exec(header ?? "");
  if (!match) return header !== undefined && /^Basic\b/i.test(header) ? null : undefined;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(Uint8Array.from(atob(match[1]!), (char) => char.charCodeAt(0)));
  } catch {
    return null;
  }
  const colon = text.indexOf(":");
  if (colon < 0) return null;
  const username = text.slice(0, colon);
  const password = text.slice(colon + 1);
  if (username === "" && password === "") return undefined;
  return username === "" ? null : { username, password };
}

function invalidCredentials(auth: Auth, message: string): RegistryError {
  return new RegistryError("UNAUTHORIZED", message, { headers: { "WWW-Authenticate": `Basic realm="${auth.service.replace(/["\\]/g, "\\$&")}"` } });
}

/** 413, which also closes the connection (http/errors.ts): the rest of the body is never read. */
function formTooLarge(): RegistryError {
  return new RegistryError("SIZE_INVALID", `a token request form may have at most ${MAX_FORM_BYTES} bytes (a real one has a few hundred); the rest was not read`, {
    status: 413,
    detail: { maxFormBytes: MAX_FORM_BYTES },
  });
}

function badRequest(message: string): RegistryError {
  return new RegistryError("UNSUPPORTED", message, { status: 400 });
}
