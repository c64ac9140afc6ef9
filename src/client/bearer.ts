/**
 * The client side of the Docker token flow (docker token-auth spec), shared by the clients of
 * other registries: the pull-through cache's upstream client (src/proxy/upstream-client.ts)
 * and the copy tool (src/copy/). A 401 carries `WWW-Authenticate: Bearer realm,service`; the
 * client asks the realm for a token for its scope (with basic credentials when it has them)
 * and sends `Authorization: Bearer <token>` until the token expires.
 */

/** Tokens without `expires_in` live 60 s (token spec); reuse stops a little before expiry. */
const DEFAULT_TOKEN_SECONDS = 60;
const TOKEN_MARGIN_SECONDS = 5;

/** `Bearer realm="…",service="…",scope="…"` → its parameters. */
export function challengeParams(header: string): Record<string, string> {
  const params: Record<string, string> = {};
  for (const match of header.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) params[match[1]!.toLowerCase()] = match[2]!.replace(/\\(.)/g, "$1");
  return params;
}

/** The challenge's scheme, lower case: `bearer`, `basic`, or whatever else a server sent. */
export function challengeScheme(header: string): string {
  return header.trim().split(/\s+/, 1)[0]?.toLowerCase() ?? "";
}

/** The token endpoint's URL for `scopes` (each `repository:<name>:<actions>`), or undefined when the challenge names no realm. */
export function tokenRequestUrl(params: Record<string, string>, scopes: string[]): URL | undefined {
  if (!params.realm) return undefined;
  let url: URL;
  try {
    url = new URL(params.realm);
  } catch {
    return undefined;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return undefined;
  if (params.service) url.searchParams.set("service", params.service);
  for (const scope of scopes) url.searchParams.append("scope", scope);
  return url;
}

/** The token endpoint's JSON answer → the Authorization header and how long (ms) it may be reused; undefined when it holds no token. */
export function tokenFromAnswer(text: string): { authorization: string; lifetimeMs: number } | undefined {
  let body: { token?: unknown; access_token?: unknown; expires_in?: unknown };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    return undefined;
  }
  const token = typeof body.token === "string" ? body.token : typeof body.access_token === "string" ? body.access_token : undefined;
  if (!token) return undefined;
  const seconds = typeof body.expires_in === "number" && body.expires_in > 0 ? body.expires_in : DEFAULT_TOKEN_SECONDS;
  return { authorization: `Bearer ${token}`, lifetimeMs: Math.max(0, seconds - TOKEN_MARGIN_SECONDS) * 1000 };
}

/** `Basic base64(user:password)`, UTF-8. */
export function basicAuthorization(username: string, password: string): string {
  const bytes = new TextEncoder().encode(`${username}:${password}`);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return `Basic ${btoa(binary)}`;
}
