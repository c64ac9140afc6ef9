import { type Context, Hono } from "hono";
import type { Auth } from "../auth/service.ts";
import { RegistryError } from "../core/errors.ts";
import { Registry, type RegistryOptions } from "../core/registry.ts";
import { guardRoutes } from "./auth-middleware.ts";
import { refuseEncodedSlash } from "./encoded-slash.ts";
import { renderError } from "./errors.ts";
import { requestLimits, type RequestLimits } from "./request-limits.ts";
import { uploadBodies, type RequestBodyReader } from "./request-body.ts";
import { blobRoutes, type BlobReadRedirects } from "./routes/blobs.ts";
import { listingRoutes } from "./routes/listings.ts";
import { adminRoutes, type Maintenance } from "./routes/admin.ts";
import { manifestRoutes } from "./routes/manifests.ts";
import { tokenRoutes } from "./routes/token.ts";
import { type UploadHandoff, uploadRoutes } from "./routes/uploads.ts";
import { healthRoutes } from "./routes/health.ts";
import { metricsRoutes, type MetricsEndpoint } from "./routes/metrics.ts";
import { observeRequests, type Observation } from "./observe.ts";
import { recordEvents, type EventSink } from "./events.ts";
import { silentLogger } from "../observability/log.ts";
import type { ReadinessProbe } from "../observability/readiness.ts";
import { uiRoutes } from "../ui/routes.ts";
import { mirrorPath, mirrorRoutes } from "./routes/mirror.ts";
import { edgeCacheRoutes, type EdgeCaching } from "./routes/edge-cache.ts";
import type { MirrorConfig } from "../proxy/mirror-config.ts";
import { PullThrough } from "../proxy/pull-through.ts";
import type { BlobFlights } from "../ports/blob-flights.ts";
import { drainRefusedBodies, type RefusedBodyDrain } from "./drain-refused-body.ts";

export interface AppOptions {
  /**
   * Largest request body the platform lets through (Workers plans, Lambda's
   * 6 MB); larger uploads get a 413 that explains how to push in chunks.
   */
  maxRequestBytes?: number;
  /**
   * Answer blob GETs with 307 to a URL from `signer`, valid for
   * `expiresInSeconds`, instead of streaming the bytes (HEAD is still answered
   * here). Off unless given; Lambda deployments need it.
   */
  blobReadRedirects?: BlobReadRedirects;
  /**
   * Docker token auth (docs/auth.md): `/token`, its JWKS, and a guard before
   * every route. Without it the registry is open to every caller.
   */
  auth?: Auth;
  /** The /admin/ endpoints' work (usage, garbage collection now); without it they answer 404. */
  maintenance?: Maintenance;
  /**
   * The origin clients reach the registry at (RegistryConfig.publicUrl): the challenge's
   * realm is `<publicUrl>/token` unless the auth configuration names one. Without it the
   * realm follows the request's Host header, which the client chooses.
   */
  publicUrl?: string;
  /** The request log and metrics (http/observe.ts); without it nothing is logged per request. */
  observation?: Observation;
  /** What GET /readyz checks; without it /readyz answers 200 like /healthz. */
  readiness?: ReadinessProbe;
  /** GET /metrics (Prometheus text, Node); without it /metrics answers 404. */
  metrics?: MetricsEndpoint;
  /** Body progress timeout and concurrent uploads (Node; the serverless platforms bound these themselves). */
  requestLimits?: RequestLimits;
  /** The client's address (socket, CF-Connecting-IP, Lambda's sourceIp): failed logins are limited per address. */
  clientAddress?: (c: Context) => string | undefined;
  /** Content by digest answered from the edge location's cache (Workers' Cache API); off unless given. */
  edgeCache?: EdgeCaching;
  /**
   * The runtime's own reader of blob upload bodies (Node: runtime/node-request-body.ts), cheaper
   * than the Request's web stream; without it the Request's body is read.
   */
  requestBody?: RequestBodyReader;
  /** Where events (webhooks) go; with an observation's logger, audit lines are written on every runtime. */
  events?: { sink?: EventSink; source: { addr?: string; instanceID: string } };
  /** Pull-through mirrors (src/proxy): namespaces served from upstream registries, read-only here. */
  mirrors?: MirrorConfig[];
  /** Blob-fetch claims shared with the other processes on the same store (Node's PROCESSES>1), so each blob is fetched upstream once. */
  blobFlights?: BlobFlights;
  /**
   * The origin of an upload server on the same stores (RegistryConfig.uploadUrl): upload
   * sessions started here answer an absolute Location there (routes/uploads.ts), with the
   * session's grant when auth is on.
   */
  uploadUrl?: string;
  /**
   * Read (and drop) the body of a refused request before answering (http/drain-refused-body.ts):
   * Workers, whose front resets a connection answered while its body is still coming, and Node,
   * whose adapter closes one whose body takes over 500 ms to drain after the answer.
   */
  drainRefusedBodies?: RefusedBodyDrain;
}

function uploadHandoff({ uploadUrl, auth }: AppOptions): UploadHandoff | undefined {
  if (uploadUrl === undefined) return undefined;
  if (!auth) return { origin: uploadUrl };
  return { origin: uploadUrl, grant: async (c, repository, id) => auth.uploadGrant(await auth.caller(c.req.header("authorization")), repository, id) };
}

/** Builds the HTTP face of a registry over the given adapters. Holds no state of its own. */
export function createApp(registryOrOptions: RegistryOptions | Registry, options: AppOptions = {}): Hono {
  const registry = registryOrOptions instanceof Registry ? registryOrOptions : new Registry(registryOrOptions);
  const mirrors = options.mirrors ?? [];
  const app = mirrors.length > 0 ? new Hono({ getPath: mirrorPath(mirrors) }) : new Hono();
  // First: the runtime's reader of upload bodies must be in place before anything wraps a body.
  if (options.requestBody) app.use("*", uploadBodies(options.requestBody));
  if (options.observation) observeRequests(app, options.observation);
  if (options.drainRefusedBodies) app.use("*", drainRefusedBodies(options.drainRefusedBodies));
  if (options.observation && options.events) {
    recordEvents(app, {
      logger: options.observation.logger,
      ...options.events,
      ...(options.clientAddress ? { clientAddress: options.clientAddress } : {}),
      ...(options.publicUrl ? { publicUrl: options.publicUrl } : {}),
    });
  }

  app.use("*", async (c, next) => {
    await next();
    c.res.headers.set("Docker-Distribution-API-Version", "registry/2.0");
    // Browsers must take every answer as the type it is labelled with, never sniff it into HTML.
    c.res.headers.set("X-Content-Type-Options", "nosniff");
  });

  // Before any guard: probes and the scraper never need a registry token.
  healthRoutes(app, options.readiness, options.observation?.logger ?? silentLogger);
  if (options.metrics) metricsRoutes(app, options.metrics);
  if (options.requestLimits) app.use("*", requestLimits(options.requestLimits));
  app.use("/v2/*", refuseEncodedSlash);

  if (options.auth) {
    tokenRoutes(app, options.auth, options.clientAddress);
    guardRoutes(app, options.auth, options.auth.realm ?? (options.publicUrl ? `${options.publicUrl}/token` : undefined));
  }

  // end-1: a 200 here tells clients this registry implements the spec.
  const base = () => new Response("{}", { status: 200, headers: { "Content-Type": "application/json" } });
  app.get("/v2/", base);
  app.get("/v2", base);

  // After the guards (a cached answer goes only to callers who may pull), before mirrors and storage.
  if (options.edgeCache) edgeCacheRoutes(app, options.edgeCache);

  if (mirrors.length > 0) {
    const pullThrough = new PullThrough({
      registry,
      blobs: registry.store,
      metadata: registry.metadata,
      hashing: registry.hashing,
      maxManifestBytes: registry.manifests.maxManifestBytes,
      mirrors,
      ...(options.blobFlights ? { flights: options.blobFlights } : {}),
    });
    // Where blob GETs redirect to storage (Lambda), a missing blob is cached whole first, then redirected to.
    mirrorRoutes(app, registry, pullThrough, mirrors, { cacheBeforeServing: options.blobReadRedirects !== undefined });
  }

  // Order matters: upload routes before blob routes, since `<name>` may contain "/".
  listingRoutes(app, registry);
  uploadRoutes(app, registry, options.maxRequestBytes, uploadHandoff(options));
  blobRoutes(app, registry, options.blobReadRedirects);
  manifestRoutes(app, registry);
  adminRoutes(app, options.maintenance);
  // The web interface (src/ui/): pages at / and under /ui/, the same policy as the routes above.
  uiRoutes(app, registry, {
    ...(options.auth ? { auth: options.auth } : {}),
    ...(options.publicUrl ? { publicUrl: options.publicUrl } : {}),
    ...(options.maintenance ? { maintenance: options.maintenance } : {}),
    ...(options.clientAddress ? { clientAddress: options.clientAddress } : {}),
  });

  app.notFound((c) =>
    renderError(new RegistryError("UNSUPPORTED", `no such endpoint: ${c.req.method} ${new URL(c.req.url).pathname.slice(0, 200)}`, { status: 404 }), c, options.observation?.logger),
  );
  app.onError((error, c) => renderError(error, c, options.observation?.logger));
  return app;
}
