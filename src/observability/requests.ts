/**
 * What one finished HTTP request was, as the request log and every metrics
 * adapter see it. Built by http/observe.ts; holds no secret (the identity is
 * a configured name, never a credential).
 */
export interface RequestRecord {
  requestId: string;
  method: string;
  /** The matched route's pattern (`/v2/:name{.+}/blobs/:digest`), or `unmatched`: bounded cardinality for metrics. */
  route: string;
  /** The `<name>` of a /v2/ route; absent elsewhere. Logged, never a metrics label (repository names may be private). */
  repository?: string;
  status: number;
  /** Request body bytes the handler read. */
  bytesIn: number;
  /** The answer's declared Content-Length (0 when none or HEAD). */
  bytesOut: number;
  durationMs: number;
  /** `user:alice`, `robot:ci`, `oidc:…`, `anonymous`; absent when the registry runs without auth. */
  identity?: string;
  /** The client went away before the answer was sent: not a server failure. */
  clientGone?: boolean;
}

/** A metrics adapter (Prometheus on Node, Analytics Engine on Workers, EMF on Lambda). */
export interface RequestMetrics {
  requestFinished(record: RequestRecord): void;
}

/** Which kind of traffic a request was, from its route and method: what metrics count as pushed and pulled bytes. */
export function trafficKind(record: Pick<RequestRecord, "method" | "route">): "push" | "pull" | "other" {
  if (record.route.includes("/blobs/uploads") || (record.method === "PUT" && record.route.includes("/manifests/"))) return "push";
  if (record.method === "GET" && (record.route.includes("/blobs/") || record.route.includes("/manifests/"))) return "pull";
  return "other";
}

/** Token endpoint outcomes: what metrics count as authentication successes and failures. */
export function authOutcome(record: Pick<RequestRecord, "route" | "status">): "success" | "failure" | undefined {
  if (record.route !== "/token") return undefined;
  if (record.status === 200) return "success";
  if (record.status === 401) return "failure";
  return undefined;
}
