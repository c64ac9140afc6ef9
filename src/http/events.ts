/**
 * Registry events and the audit log, read off each answered request: a manifest PUT
 * answered 201 is a push, a manifest GET answered 200 a pull, a 202 to DELETE of a
 * manifest, tag, blob or repository a delete; any 401 or 403 is a refusal. A route whose
 * pattern says nothing of what it changed (the web interface's delete forms) notes the
 * change with noteChange, and it is recorded the same way. Events go to
 * the runtime's sink (Node: the SQLite outbox) after the change was committed and before
 * the answer leaves; delivery happens elsewhere, so no receiver slows a request. Audit
 * entries are logged as JSON lines on every runtime (message "audit").
 */
import type { Context, Hono } from "hono";
import type { Logger } from "../observability/log.ts";
import type { EventAction, RegistryEvent } from "../observability/events/envelope.ts";
import type { AuditEntry } from "../observability/events/outbox.ts";
import { decodedOrRaw, identityOf, repositoryOf, requestIdOf, routePatternOf } from "./observe.ts";

/** A delete made by a route other than the /v2/ and /admin/ ones below (the web interface's forms). */
export interface NotedChange {
  action: "delete";
  kind: "tag" | "manifest" | "repository";
  repository: string;
  digest?: string;
  tag?: string;
  /** Who made it (`user:alice`, `anonymous`): a page's visitor is a session, not a token caller. */
  identity: string;
}

declare module "hono" {
  interface ContextVariableMap {
    registryChange?: NotedChange;
  }
}

/** Records `change` as the request's event and audit entry, as if made through the API. */
export function noteChange(c: Context, change: NotedChange): void {
  c.set("registryChange", change);
}

type TargetKind = "manifest" | "tag" | "blob" | "repository";

export interface EventSink {
  /** Records events durably (or hands them to a durable queue); must not wait on a receiver. */
  record(events: RegistryEvent[]): void | Promise<void>;
  audit?(entry: AuditEntry): void;
}

export interface EventOptions {
  sink?: EventSink;
  logger: Logger;
  /** This registry's address and instance id, the envelope's `source`. */
  source: { addr?: string; instanceID: string };
  clientAddress?: (c: Context) => string | undefined;
  /**
   * The origin clients reach the registry at (RegistryConfig.publicUrl): the events' target
   * URLs are built on it. Without it they follow the request's Host header, which the client
   * chooses (Distribution does the same without http.host).
   */
  publicUrl?: string;
}

const MANIFEST = "/v2/:name{.+}/manifests/:reference";
const BLOB = "/v2/:name{.+}/blobs/:digest";
const REPOSITORY = "/admin/repositories/:name{.+}";

export function recordEvents(app: Hono, options: EventOptions): void {
  app.use("*", async (c, next) => {
    await next();
    try {
      await record(c, options);
    } catch (error) {
      // The answer stands (a change is committed, a refusal is a refusal): a recorder's fault
      // (the audit store's disk full or locked) is logged, never turned into a 500.
      options.logger.log("error", "event not recorded", { error: error instanceof Error ? error.message : String(error) });
    }
  });
}

/** The request's audit entry and events, from its route, method and answer. */
async function record(c: Context, options: EventOptions): Promise<void> {
  const status = c.res.status;
  const route = routePatternOf(c);
  const method = c.req.method;
  const url = new URL(c.req.url);
  const noted = c.get("registryChange");
  const action = noted?.action ?? actionOf(method, route, status);
  // GET /v2/'s 401 is the challenge every client asks for before it logs in, not a refusal.
  const refused = !noted && (status === 401 || status === 403) && route !== "/v2/" && route !== "/v2";
  if (!action && !refused) return;
  const repository = noted ? noted.repository : repositoryOf(url.pathname, route);
  const identity = noted?.identity ?? identityOf(c) ?? "anonymous";
  const addr = options.clientAddress?.(c);
  const requestId = requestIdOf(c);
  const reference = !noted && (route === MANIFEST || route === BLOB) ? decodedOrRaw(url.pathname.split("/").at(-1) ?? "") : undefined;
  const digest = noted ? noted.digest : (c.res.headers.get("docker-content-digest") ?? (reference?.includes(":") ? reference : undefined));
  const tag = noted ? noted.tag : reference && !reference.includes(":") ? reference : undefined;
  const kind: TargetKind = noted?.kind ?? (route === BLOB ? "blob" : route === REPOSITORY ? "repository" : tag && action === "delete" ? "tag" : "manifest");
  const audit: AuditEntry = {
    time: new Date().toISOString(),
    action: action ? `${action}${kind === "manifest" ? "" : `:${kind}`}` : `${method} ${route}`,
    outcome: refused ? "refused" : "ok",
    status,
    identity,
    requestId,
    ...(addr ? { addr } : {}),
    ...(repository ? { repository } : {}),
    ...(digest ? { digest } : {}),
    ...(tag ? { tag } : {}),
  };
  options.logger.log(refused ? "warn" : "info", "audit", { ...audit });
  options.sink?.audit?.(audit);
  if (!action || !repository || !options.sink) return;
  const length = Number(method === "PUT" ? c.req.header("content-length") : c.res.headers.get("content-length")) || undefined;
  const mediaType = (method === "PUT" ? c.req.header("content-type") : c.res.headers.get("content-type")) ?? undefined;
  // A push by digest with `?tag=a&tag=b` tags several at once: one event per tag, as if pushed by
  // each. The tags the answer names (OCI-Tag: what was stored, each once), not the query's list,
  // which may repeat a tag as often as the URL has room for.
  const tags = action === "push" && !tag ? (c.res.headers.get("oci-tag")?.split(", ") ?? []) : [];
  const event = (eventTag: string | undefined): RegistryEvent => ({
    id: crypto.randomUUID(),
    timestamp: new Date().toISOString(),
    action,
    target: {
      repository,
      ...(route === MANIFEST && mediaType && action !== "delete" ? { mediaType } : {}),
      ...(digest ? { digest } : {}),
      ...(length !== undefined && action !== "delete" ? { size: length, length } : {}),
      ...(digest && kind !== "repository" ? { url: `${options.publicUrl ?? url.origin}/v2/${repository}/${kind === "blob" ? "blobs" : "manifests"}/${digest}` } : {}),
      ...(eventTag ? { tag: eventTag } : {}),
    },
    request: {
      id: requestId,
      method,
      host: url.host,
      ...(addr ? { addr } : {}),
      ...(c.req.header("user-agent") ? { useragent: c.req.header("user-agent")!.slice(0, 256) } : {}),
    },
    actor: identity === "anonymous" ? {} : { name: identity },
    source: options.source,
  });
  try {
    await options.sink.record(tags.length > 0 ? tags.map(event) : [event(tag)]);
  } catch (error) {
    // The change is committed and answered as done; a lost event is logged, never a failed push.
    options.logger.log("error", "event not recorded", { action, repository, error: error instanceof Error ? error.message : String(error) });
  }
}

function actionOf(method: string, route: string, status: number): EventAction | undefined {
  if (route === MANIFEST && method === "PUT" && status === 201) return "push";
  if (route === MANIFEST && method === "GET" && status === 200) return "pull";
  if ((route === MANIFEST || route === BLOB || route === REPOSITORY) && method === "DELETE" && status >= 200 && status < 300) return "delete";
  return undefined;
}
