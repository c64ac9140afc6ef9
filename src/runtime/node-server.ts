/**
 * One Node process serving the registry: builds the adapters for the
 * configured backend and serves the app on the configured port. Run directly
 * (PROCESSES=1) or as one of the cluster's workers (node-cluster.ts), which
 * share the listening socket and the DATA_DIR (SQLite in WAL mode, blob files
 * written once and renamed into place).
 */
import { serve } from "@hono/node-server";
import { join, resolve } from "node:path";
import { FilesystemBlobStore } from "../adapters/filesystem/blob-store.ts";
import { hashWasm } from "../adapters/hash-wasm.ts";
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

/** Soon after start (leftovers of a crash go first), then every gcIntervalSeconds; one run at a time. */
function collectPeriodically(config: RegistryConfig, collect: () => Promise<LocalCollection>): { stop(): void } {
  let running = false;
  const run = () => {
    if (running) return;
    running = true;
    collect()
      .then((result) => {
        const { retention, collection, leftovers } = result;
        const changed = retention.tags.length + retention.manifests.length + collection.blobsDeleted + collection.orphanLinksRemoved + collection.blobsMarked + leftovers.files;
        if (changed > 0) console.log(describeCollection(result));
        for (const problem of collection.problems) console.error(`garbage collection: ${problem}`);
      })
      .catch((error: unknown) => console.error("garbage collection failed:", error))
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

export interface ServeOptions {
  auth?: Auth;
  /** This process runs the hourly expiry of abandoned uploads (one process of a cluster does). */
  sweeps: boolean;
  /** Called once listening, with the address. */
  onListening(address: string, port: number, description: string): void;
  /** Called when the port cannot be bound; the process should exit. */
  onListenError(message: string): void;
}

export interface RunningServer {
  /** Stops accepting connections, lets requests in flight finish, closes the database. */
  close(): Promise<void>;
}

export async function serveRegistry(config: RegistryConfig, options: ServeOptions): Promise<RunningServer> {
  const dataDir = resolve(config.dataDir);
  // Imported only for BACKEND=aws: the AWS SDK adds ~11 MiB to the memory of every process that loads it.
  const awsModule = config.backend === "aws" ? await import("./aws-stores.ts") : null;
  const aws: AwsStores | null = awsModule ? awsModule.awsStores(config) : null;
  const local = aws ? null : openLocalMetadata(dataDir);
  const blobs = aws?.blobs ?? new FilesystemBlobStore(join(dataDir, "blobs"));
  const quotas = Object.keys(config.quotas).length === 0 ? null : local ? new Quotas({ limits: config.quotas, usage: (ns) => local.store.namespaceBytes(ns), holds: (ns, digest) => local.store.namespaceHolds(ns, digest) }) : null;
  if (aws && Object.keys(config.quotas).length > 0) console.warn("quotas are enforced on the local disk backend only; BACKEND=aws ignores them");
  const registry = new Registry({
    blobs,
    metadata: aws?.metadata ?? local!.store,
    hashing: hashWasm,
    partSize: config.partSize,
    maxManifestBytes: config.maxManifestBytes,
    automaticMount: config.automaticMount,
    immutableTags: config.immutableTags,
    // The primary releases a dead process's claims by this prefix (adapters/sqlite/instances.ts).
    claimOwner: processOwner(),
    ...(quotas ? { quotas } : {}),
  });
  const redirects = aws && config.blobRedirects ? { blobReadRedirects: { signer: aws.blobs, expiresInSeconds: config.blobRedirectTtlSeconds } } : {};
  const maintenance: Maintenance = {
    usage: () => measureUsage(aws ? aws.metadata : local!.store),
    collect: ({ dryRun }) => (local ? collectLocal(config, local.store, { dryRun }) : collectAws(config, aws!, { dryRun })),
    ...(local ? { deleteRepository: (name: string) => deleteRepository(local.store, blobs, name) } : {}),
  };
  const app = createApp(registry, { ...redirects, maintenance, ...(options.auth ? { auth: options.auth } : {}), ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}), mirrors: config.mirrors });
  const description = awsModule ? awsModule.describeAwsStores(config) : `data in ${dataDir}`;
  const server = serve({ fetch: app.fetch, hostname: config.host, port: config.port }, (info) => options.onListening(info.address, info.port, description));
  server.on("error", (error: NodeJS.ErrnoException) => {
    const reason = error.code === "EADDRINUSE" ? "the address is already in use (set PORT or HOST)" : error.message;
    options.onListenError(`cannot listen on ${config.host}:${config.port}: ${reason}`);
  });
  // Large layers stream for minutes; Node's default 5-minute request timeout would cut them off.
  if ("requestTimeout" in server) server.requestTimeout = 0;

  const sweep = options.sweeps
    ? setInterval(() => {
        registry.uploads.expire(config.uploadTtlSeconds * 1000, { maxBatches: 100 }).catch((error: unknown) => console.error("upload expiry failed:", error));
      }, 60 * 60 * 1000)
    : null;
  sweep?.unref();
  const collect = local ? () => collectLocal(config, local.store) : aws ? () => collectAws(config, aws) : null;
  const collecting = collect && options.sweeps && config.gcIntervalSeconds > 0 ? collectPeriodically(config, collect) : null;

  return {
    close: () =>
      new Promise<void>((done) => {
        if (sweep) clearInterval(sweep);
        collecting?.stop();
        server.close(() => {
          local?.close();
          done();
        });
        // Idle keep-alive connections would hold close() open until their clients leave.
        if ("closeIdleConnections" in server) server.closeIdleConnections();
      }),
  };
}
