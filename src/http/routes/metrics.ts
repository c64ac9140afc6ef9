/**
 * GET /metrics: the Prometheus text exposition, where a runtime has one (Node).
 * Labels carry route patterns and statuses, never repository names, so the text
 * reveals traffic volumes but no names. Still, with token auth configured it is
 * refused unless `metricsToken` is set and presented as a bearer token: a
 * registry that keeps strangers out keeps its traffic figures from them too.
 */
import type { Hono } from "hono";
import { RegistryError } from "../../core/errors.ts";

export interface MetricsEndpoint {
  /** The exposition text and its content type. */
  render(): Promise<{ contentType: string; text: string }>;
  /** `metricsToken`: a bearer token the scraper must present; undefined: see `open`. */
  token?: string;
  /** Without a token: answer anyone (a registry without auth), or refuse everyone (with auth). */
  open: boolean;
}

export function metricsRoutes(app: Hono, endpoint: MetricsEndpoint): void {
  app.get("/metrics", async (c) => {
    if (endpoint.token === undefined && !endpoint.open) {
      throw new RegistryError("DENIED", "metrics are off on a registry with token auth until metricsToken (METRICS_TOKEN) is set; then scrape with Authorization: Bearer <that token>", {
        status: 403,
      });
    }
    if (endpoint.token !== undefined && !sameSecret(bearerOf(c.req.header("authorization")), endpoint.token)) {
      throw new RegistryError("UNAUTHORIZED", "metrics need Authorization: Bearer <metricsToken>", { status: 401, headers: { "WWW-Authenticate": 'Bearer realm="metrics"' } });
    }
    const { contentType, text } = await endpoint.render();
    return c.body(text, 200, { "Content-Type": contentType, "Cache-Control": "no-store" });
  });
}

function bearerOf(header: string | undefined): string {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return match ? match[1]! : "";
}

/** Compares every byte whatever the first difference, so timing tells nothing about the token. */
function sameSecret(given: string, expected: string): boolean {
  const a = new TextEncoder().encode(given);
  const b = new TextEncoder().encode(expected);
  let difference = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) difference |= (a[i % Math.max(a.length, 1)] ?? 0) ^ b[i]!;
  return difference === 0;
}
