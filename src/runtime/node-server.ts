/**
 * One Node process serving the registry: builds the adapters for the
 * configured backend and serves the app on the configured port. Run directly
 * (PROCESSES=1) or as one of the cluster's workers (node-cluster.ts), which
 * share the listening socket and the DATA_DIR (SQLite in WAL mode, blob files
 * written once and renamed into place).
 */
import { serve } from "@hono/node-server";
import type { ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { access, constants, stat } from "node:fs/promises";
import type { Server as TlsServer } from "node:tls";
import type { Logger } from "../observability/log.ts";
import type { CollectionReport } from "../lifecycle/collector.ts";
import { PrometheusMetrics } from "../observability/prometheus.ts";
import { storageReadiness } from "../observability/readiness.ts";
import type { TlsFiles } from "./node-tls.ts";
import { dirname, join, resolve } from "node:path";
import { FilesystemBlobStore } from "../adapters/filesystem/blob-store.ts";
import { loadNodeHashing } from "../adapters/native-sha2/load.ts";
import { openLocalMetadata } from "../adapters/sqlite/open.ts";
import type { Auth } from "../auth/service.ts";
import type { RegistryConfig } from "../config/schema.ts";
import { Registry } from "../core/registry.ts";
import { Quotas } from "../core/quotas.ts";
import { processOwner } from "../adapters/sqlite/instances.ts";
import { createApp } from "../http/app.ts";
import type { AwsStores } from "./aws-stores.ts";
import { collectAws, collectLocal, describeCollection, type LocalCollection } from "./node-gc.ts";
import type { Maintenance } from "../http/routes/admin.ts";
import { measureUsage } from "../lifecycle/usage.ts";
import { deleteRepository } from "../lifecycle/repositories.ts";
import { nodeClientAddress, nodeRequestLimits } from "./node-request-limits.ts";
import { answerClientErrorsAsOci } from "./node-client-errors.ts";
import { nodeRequestBody } from "./node-request-body.ts";
import { freeChunksOnceWritten } from "./node-chunk-memory.ts";
import { Server as HttpServer } from "node:http";
import { scannedQuotaDeps } from "../lifecycle/namespace-usage.ts";
import { openNodeEvents } from "./node-events.ts";
import { sendCollectionEvents } from "../observability/events/collection-events.ts";
import type { RetentionReport } from "../lifecycle/retention.ts";
import { hostname } from "node:os";
import { openSqsEvents } from "./sqs-events.ts";

/** Largest refused body read to its end before answering (http/drain-refused-body.ts): chunked pushes send 5-100 MiB. */
const REFUSED_BODY_DRAIN_BYTES = 64 * 1024 * 1024;

/** Soon after start (leftovers of a crash go first), then every gcIntervalSeconds; one run at a time. */
function collectPeriodically(config: RegistryConfig, collect: () => Promise<LocalCollection>, metrics: PrometheusMetrics, logger: Logger): { stop(): void } {
  let running = false;
  const run = () => {
    if (running) return;
    running = true;
    collect()
      .then((result) => {
        const { retention, collection, leftovers } = result;
        metrics.collectionFinished(collection);
        const changed = retention.tags.length + retention.manifests.length + retention.unpulled.length + collection.blobsDeleted + collection.orphanLinksRemoved + collection.blobsMarked + leftovers.files;
        if (changed > 0) logger.log("info", describeCollection(result), { bytesFreed: collection.bytesFreed, blobsDeleted: collection.blobsDeleted });
        for (const problem of collection.problems) logger.log("error", `garbage collection: ${problem}`);
      })
      .catch((error: unknown) => {
        metrics.collectionFinished(null);
        logger.log("error", "garbage collection failed", { error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
      })
      .finally(() => (running = false));
  };
  const first = setTimeout(run, 5_000);
  const every = setInterval(run, config.gcIntervalSeconds * 1000);
  first.unref();
  every.unref();
  return {
    stop: () => {
      clearTimeout(first);
      clearInterval(every);
    },
  };
}

/** The blob directory (or, before the first push made it, DATA_DIR) is a directory that may be written: what a push needs. */
async function writableDirectory(path: string): Promise<void> {
  const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return null;
    throw error;
  });
  if (!info) return writableDirectory(dirname(path));
  if (!info.isDirectory()) throw Object.assign(new Error(`${path} is not a directory`), { code: "ENOTDIR" });
  await access(path, constants.W_OK);
}

export interface ServeOptions {
  auth?: Auth;
  /** This process runs the hourly expiry of abandoned uploads (one process of a cluster does). */
  sweeps: boolean;
  /** Called once listening, with the address. */
  onListening(address: string, port: number, description: string): void;
  /** Called when the port cannot be bound; the process should exit. */
  onListenError(message: string): void;
  logger: Logger;
  /** HTTPS with these PEM files (node-tls.ts); null: plain HTTP. */
  tls: TlsFiles | null;
  /**
   * Where GET /metrics text comes from: this process's own metrics (one process), or the
   * cluster primary's sum over every worker (node-cluster.ts).
   */
  clusterMetrics?: () => Promise<{ contentType: string; text: string }>;
}

export interface RunningServer {
  /** Stops accepting connections, lets requests in flight finish, closes the database. */
  close(): Promise<void>;
  /** Requests being served now. */
  inFlight(): number;
  /** Serves a new certificate and key from the next TLS handshake on. */
  replaceTls(files: TlsFiles): void;
}

export async function serveRegistry(config: RegistryConfig, options: ServeOptions): Promise<RunningServer> {
  const dataDir = resolve(config.dataDir);
  // Imported only for BACKEND=aws: the AWS SDK adds ~11 MiB to the memory of every process that loads it.
  const awsModule = config.backend === "aws" ? await import("./aws-stores.ts") : null;
  const aws: AwsStores | null = awsModule ? awsModule.awsStores(config) : null;
  const local = aws ? null : openLocalMetadata(dataDir);
  const blobs = aws?.blobs ?? new FilesystemBlobStore(join(dataDir, "blobs"));
  const quotas =
    Object.keys(config.quotas).length === 0
      ? null
      : local
        ? new Quotas({ limits: config.quotas, usage: (ns) => local.store.namespaceBytes(ns), holds: (ns, digest) => local.store.namespaceHolds(ns, digest) })
        : new Quotas(scannedQuotaDeps(aws!.metadata, config.quotas));
  const hashing = loadNodeHashing({ enabled: config.nativeHashing });
  // Only an unexpected fallback is worth a line: pushes are slower, results the same.
  if (hashing.kind === "webassembly" && config.nativeHashing) console.warn(`uploads are hashed with WebAssembly: ${hashing.reason}`);
  const registry = new Registry({
    blobs,
    metadata: aws?.metadata ?? local!.store,
    hashing: hashing.hashing,
    partSize: config.partSize,
    maxManifestBytes: config.maxManifestBytes,
    automaticMount: config.automaticMount,
    immutableTags: config.immutableTags,
    // The primary releases a dead process's claims by this prefix (adapters/sqlite/instances.ts).
    claimOwner: processOwner(),
    ...(quotas ? { quotas } : {}),
  });
  const redirects = aws && config.blobRedirects ? { blobReadRedirects: { signer: aws.blobs, expiresInSeconds: config.blobRedirectTtlSeconds } } : {};
  const metrics = new PrometheusMetrics(local ? { uploadsInProgress: () => local.store.countUploads() } : {});
  if (options.clusterMetrics) metrics.shareWithPrimary();
  // Local disk: the SQLite outbox (and audit table), delivered by every process. BACKEND=aws: the SQS
  // queue the Lambda's trigger delivers from (EVENTS_QUEUE_URL), as the Lambda itself sends; audit lines only.
  const source = { addr: `${hostname()}:${config.port}`, instanceID: processOwner() };
  const events = local ? openNodeEvents(dataDir, config.notifications, { logger: options.logger, metrics: metrics.eventDelivery, owner: processOwner() }) : null;
  const sqsEvents = aws ? await openSqsEvents(config) : null;
  const record = events?.sink.record ?? sqsEvents?.record;
  /** A collection's deletes as events (POST /admin/gc and scheduled runs alike). */
  const announce = (result: { collection: CollectionReport; retention?: RetentionReport }) => void sendCollectionEvents(record, result, source, options.logger);
  /** POST /admin/gc runs counted like scheduled ones. */
  const counted = <T extends { collection: CollectionReport }>(run: Promise<T>): Promise<T> =>
    run.then(
      (result) => (metrics.collectionFinished(result.collection), announce(result), result),
      (error: unknown) => {
        metrics.collectionFinished(null);
        throw error;
      },
    );
  const maintenance: Maintenance = {
    ...(events ? { audit: events.audit } : {}),
    usage: () => measureUsage(aws ? aws.metadata : local!.store),
    collect: ({ dryRun }) => counted(local ? collectLocal(config, local.store, { dryRun }) : collectAws(config, aws!, { dryRun })),
    deleteRepository: (name: string) => deleteRepository(aws ? aws.metadata : local!.store, blobs, name),
  };
  const app = createApp(registry, {
    ...redirects,
    maintenance,
    ...(options.auth ? { auth: options.auth } : {}),
    ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
    ...(config.uploadUrl ? { uploadUrl: config.uploadUrl } : {}),
    observation: { logger: options.logger, metrics },
    events: { ...(events ? { sink: events.sink } : record ? { sink: { record } } : {}), source },
    readiness: storageReadiness({ blobs, metadata: aws?.metadata ?? local!.store, ...(local ? { blobsCheck: () => writableDirectory(join(dataDir, "blobs")) } : {}) }),
    metrics: {
      render: options.clusterMetrics ?? (() => metrics.render()),
      open: !options.auth,
      ...(config.metricsToken ? { token: config.metricsToken } : {}),
    },
    requestLimits: nodeRequestLimits(config),
    clientAddress: nodeClientAddress,
    requestBody: nodeRequestBody,
    // Read, never kept; larger or slower refused bodies are left to @hono/node-server (64 MiB in
    // 500 ms, then closed). 5 s: an unauthenticated caller's refused body holds a connection no longer.
    drainRefusedBodies: { maxBytes: REFUSED_BODY_DRAIN_BYTES, timeoutMs: 5_000, unreadBody: nodeRequestBody },
    mirrors: config.mirrors,
    ...(local ? { blobFlights: local.flights } : {}),
  });
  const stores = awsModule ? awsModule.describeAwsStores(config) : `data in ${dataDir}`;
  const description = `${stores}, uploads hashed ${hashing.kind === "native" ? "natively (OpenSSL)" : "with WebAssembly"}` + (options.tls ? ", HTTPS" : "");
  const tlsServer = options.tls ? { createServer: createHttpsServer, serverOptions: { cert: options.tls.cert, key: options.tls.key } } : {};
  const server = serve({ fetch: app.fetch, hostname: config.host, port: config.port, ...tlsServer }, (info) => options.onListening(info.address, info.port, description));
  server.on("error", (error: NodeJS.ErrnoException) => {
    const reason = error.code === "EADDRINUSE" ? "the address is already in use (set PORT or HOST)" : error.message;
    options.onListenError(`cannot listen on ${config.host}:${config.port}: ${reason}`);
  });
  if (server instanceof HttpServer) answerClientErrorsAsOci(server);
  // Large layers stream for minutes; Node's default 5-minute request timeout would cut them off.
  if ("requestTimeout" in server) server.requestTimeout = 0;
  let inFlight = 0;
  let closing = false;
  // Before the app's listener, so every write of the answer goes through it.
  server.prependListener("request", (_request: unknown, response: ServerResponse) => freeChunksOnceWritten(response));
  server.on("request", (_request: unknown, response: ServerResponse) => {
    inFlight++;
    response.once("close", () => {
      inFlight--;
      // Once closing, a keep-alive connection that just finished its request is idle: let it go now, not when its client leaves.
      if (closing && "closeIdleConnections" in server) setImmediate(() => server.closeIdleConnections());
    });
  });

  const sweep = options.sweeps
    ? setInterval(() => {
        registry.uploads.expire(config.uploadTtlSeconds * 1000, { maxBatches: 100 }).catch((error: unknown) => options.logger.log("error", "upload expiry failed", { error: error instanceof Error ? (error.stack ?? error.message) : String(error) }));
      }, 60 * 60 * 1000)
    : null;
  sweep?.unref();
  const collect = local ? () => collectLocal(config, local.store) : aws ? () => collectAws(config, aws) : null;
  const announced = collect ? () => collect().then((result) => (announce(result), result)) : null;
  const collecting = announced && options.sweeps && config.gcIntervalSeconds > 0 ? collectPeriodically(config, announced, metrics, options.logger) : null;

  return {
    inFlight: () => inFlight,
    replaceTls: (files) => (server as TlsServer).setSecureContext({ cert: files.cert, key: files.key }),
    close: () =>
      new Promise<void>((done) => {
        closing = true;
        if (sweep) clearInterval(sweep);
        collecting?.stop();
        server.close(() => {
          void (events?.close() ?? Promise.resolve()).finally(() => {
            local?.close();
            done();
          });
        });
        // Idle keep-alive connections would hold close() open until their clients leave.
        if ("closeIdleConnections" in server) server.closeIdleConnections();
      }),
  };
}
