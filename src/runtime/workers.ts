/**
 * Cloudflare Workers entry point: blobs in R2, metadata in Durable Objects,
 * SHA-2 from precompiled WASM. Reads bindings and vars (wrangler.toml) and
 * the AUTH_CONFIG secret (token auth, docs/auth.md), builds the adapters,
 * hands them to the app. No registry rules here.
 */
import type { Hono } from "hono";
import { DurableObjectAuthState } from "../adapters/durable-object/auth-state-object.ts";
import { DurableObjectMetadataStore } from "../adapters/durable-object/metadata-store.ts";
import { R2BlobStore } from "../adapters/r2/blob-store.ts";
import { WorkersEdgeCache } from "../adapters/workers-cache/edge-cache.ts";
import { wasmSha2Hashing } from "../adapters/wasm-sha2/hashing.ts";
import sha256 from "../adapters/wasm-sha2/sha256.wasm";
import sha512 from "../adapters/wasm-sha2/sha512.wasm";
import { AuthConfigError, createAuth } from "../auth/service.ts";
import { ConfigError } from "../config/schema.ts";
import { Quotas } from "../core/quotas.ts";
import { Registry } from "../core/registry.ts";
import { createApp } from "../http/app.ts";
import { ResumableCollector } from "../lifecycle/resumable-collector.ts";
import { ScanningCollector } from "../lifecycle/scanning-collector.ts";
import { applyRetention } from "../lifecycle/retention.ts";
import { measureUsage } from "../lifecycle/usage.ts";
import { AnalyticsEngineMetrics, analyticsDeliveryMetrics } from "../observability/analytics-engine.ts";
import { createLogger, isLogLevel } from "../observability/log.ts";
import { storageReadiness } from "../observability/readiness.ts";
import { deleteRepository } from "../lifecycle/repositories.ts";
import { scannedQuotaDeps } from "../lifecycle/namespace-usage.ts";
import { LEFTOVER_MIN_AGE_MS, sweepObjectLeftovers } from "../lifecycle/object-leftovers.ts";
import { resolveWorkersConfig, type WorkersConfig } from "./workers-config.ts";
import type { WorkersEnv } from "./workers-env.ts";

import { sendCollectionEvents, type CollectionRun } from "../observability/events/collection-events.ts";
import { deliverQueued, envelopesFor, MESSAGES_PER_QUEUE_BATCH, type QueuedEnvelope } from "../observability/events/queued-delivery.ts";
import type { RegistryEvent } from "../observability/events/envelope.ts";
import type { Logger } from "../observability/log.ts";

export { AuthStateObject } from "../adapters/durable-object/auth-state-object.ts";
export { CatalogObject } from "../adapters/durable-object/catalog-object.ts";
export { IndexShardObject } from "../adapters/durable-object/index-shard-object.ts";
export { RepositoryObject } from "../adapters/durable-object/repository-object.ts";

interface Deployment {
  config: WorkersConfig;
  registry: Registry;
  metadata: DurableObjectMetadataStore;
  blobs: R2BlobStore;
  app: Hono;
  logger: Logger;
  /** Sends a collection's deletes as events through the REGISTRY_EVENTS queue (nothing without endpoints). */
  announce(run: CollectionRun): Promise<void>;
}

/** The envelope's `source` of every event this Worker sends. */
const SOURCE = { instanceID: "cloudflare-workers" };

const EXPIRY_BATCHES = 5;

/**
 * Built once per isolate (bindings, vars and secrets do not change while it
 * lives); a build that failed is forgotten, so the next request tries again.
 */
let deployment: Promise<Deployment> | undefined;

function deploymentFor(env: WorkersEnv): Promise<Deployment> {
  if (deployment) return deployment;
  const building = deploy(env);
  deployment = building;
  building.catch(() => {
    if (deployment === building) deployment = undefined;
  });
  return building;
}

async function deploy(env: WorkersEnv): Promise<Deployment> {
  const config = resolveWorkersConfig(env, { AUTH_CONFIG: env.AUTH_CONFIG, MIRRORS: env.MIRRORS, NOTIFICATIONS: env.NOTIFICATIONS });
  const endpoints = config.notifications?.endpoints ?? [];
  if (endpoints.length > 0 && !env.REGISTRY_EVENTS) throw new ConfigError(["NOTIFICATIONS needs the REGISTRY_EVENTS queue binding (wrangler.toml [[queues.producers]] and [[queues.consumers]])"]);
  const blobs = new R2BlobStore(env.BLOBS);
  const metadata = new DurableObjectMetadataStore({ repositories: env.REPOSITORIES, indexShards: env.INDEX_SHARDS, catalog: env.CATALOG });
  const registry = new Registry({
    blobs,
    metadata,
    hashing: wasmSha2Hashing({ sha256, sha512 }),
    partSize: config.partSize,
    maxManifestBytes: config.maxManifestBytes,
    automaticMount: config.automaticMount,
    immutableTags: config.immutableTags,
    ...(Object.keys(config.quotas).length > 0 ? { quotas: new Quotas(scannedQuotaDeps(metadata, config.quotas)) } : {}),
  });
  // No ephemeralKeyIfNone: resolveWorkersConfig already requires signingKeys, which every isolate shares.
  const auth = config.auth ? await createAuth(config.auth, { warn: (message) => console.warn(message), state: new DurableObjectAuthState(env.AUTH_STATE) }) : undefined;
  if (!auth) {
    console.warn(
      "registry: AUTH_CONFIG is not set, so anyone who can reach this Worker can pull, push and delete. " +
        "Set it with `npx wrangler secret put AUTH_CONFIG` (docs/workers.md, docs/auth.md).",
    );
  }
  // Workers Logs indexes the fields of JSON logged to the console.
  const logger = createLogger({
    level: env.LOG_LEVEL && isLogLevel(env.LOG_LEVEL) ? env.LOG_LEVEL : "info",
    format: "json",
    write: (line, level) => (level === "error" ? console.error(line) : console.log(line)),
  });
  const observation = { logger, ...(env.REGISTRY_ANALYTICS ? { metrics: new AnalyticsEngineMetrics(env.REGISTRY_ANALYTICS) } : {}) };
  const queue = env.REGISTRY_EVENTS;
  // The queue holds each event until the consumer (queue() below) has delivered it; the request only waits for the send.
  const record = queue && endpoints.length > 0 ? (events: RegistryEvent[]) => sendEvents(queue, envelopesFor(endpoints, events)) : undefined;
  const sink = record ? { sink: { record } } : {};
  const announce = (run: CollectionRun) => sendCollectionEvents(record, run, SOURCE, logger);
  const maintenance = {
    usage: () => measureUsage(metadata),
    // POST /admin/gc (and the web interface's button): its retention deletes are events too.
    collect: async ({ dryRun }: { dryRun: boolean }) => {
      const run = await collect(config, metadata, blobs, dryRun);
      await announce(run);
      return run;
    },
    deleteRepository: (name: string) => deleteRepository(metadata, blobs, name),
  };
  const edgeCache = config.edgeCacheSeconds ? { edgeCache: { cache: new WorkersEdgeCache(caches.default), seconds: config.edgeCacheSeconds } } : {};
  const app = createApp(registry, {
    maxRequestBytes: config.maxRequestBytes,
    // Cloudflare delivers no body over the plan's limit (500 MB at most, Enterprise), so a refused
    // body, even one over MAX_REQUEST_BYTES, is read to its end and the client gets the 413 that
    // tells it to push in chunks rather than a reset.
    drainRefusedBodies: { maxBytes: Math.max(config.maxRequestBytes, LARGEST_PLAN_BODY_BYTES), timeoutMs: 30_000 },
    maintenance,
    observation,
    events: { ...sink, source: SOURCE },
    readiness: storageReadiness({ blobs, metadata }),
    mirrors: config.mirrors ?? [],
    ...edgeCache,
    ...(auth ? { auth } : {}),
    ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
    // Cloudflare sets it to the connecting client's address; a client cannot choose it.
    clientAddress: (c) => c.req.header("cf-connecting-ip"),
  });
  return { config, registry, metadata, blobs, app, logger, announce };
}

/** Retention rules, then the scanning collector (lifecycle/scanning-collector.ts): the cron's work, and POST /admin/gc's. */
async function collect(config: WorkersConfig, metadata: DurableObjectMetadataStore, blobs: R2BlobStore, dryRun: boolean) {
  const retention = await applyRetention({ metadata, rules: config.retention, immutableTags: config.immutableTags, mirrors: config.mirrors ?? [] }, { dryRun });
  const graceMs = config.gcGraceSeconds * 1000;
  const collector = new ScanningCollector({ metadata, blobs, graceMs, orphanLinkAgeMs: Math.max(graceMs, config.uploadTtlSeconds * 1000) });
  const collection = await collector.run({ dryRun });
  const leftovers = await sweepObjectLeftovers({ metadata, blobs, olderThanMs: Math.max(graceMs, LEFTOVER_MIN_AGE_MS), dryRun });
  // The cron's cycle in progress, if any: how far the scheduled collection has come.
  const cycle = await metadata.collectionCycles().currentCycle();
  return { retention, collection, leftovers, cycle };
}

/** One cron run's share of a collection cycle (lifecycle/resumable-collector.ts). */
function collectionStep(config: WorkersConfig, metadata: DurableObjectMetadataStore, blobs: R2BlobStore, budget: number): ResumableCollector {
  const graceMs = config.gcGraceSeconds * 1000;
  return new ResumableCollector({
    metadata,
    blobs,
    cycles: metadata.collectionCycles(),
    graceMs,
    orphanLinkAgeMs: Math.max(graceMs, config.uploadTtlSeconds * 1000),
    budget,
    maxMs: GC_STEP_MAX_MS,
  });
}

/**
 * GC_STEP_SUBREQUESTS: store calls one cron run spends on collection. The default leaves room
 * under the Paid plan's 1,000 subrequests per invocation for upload expiry and retention; on the
 * Free plan (50) set it to about 30.
 */
function gcStepBudget(env: WorkersEnv): number {
  const value = Number(env.GC_STEP_SUBREQUESTS ?? DEFAULT_GC_STEP_SUBREQUESTS);
  if (!Number.isInteger(value) || value < 1) throw new ConfigError(["GC_STEP_SUBREQUESTS must be a positive whole number"]);
  return value;
}

const DEFAULT_GC_STEP_SUBREQUESTS = 600;
/** Wall time one run spends on collection: well inside a cron invocation's limits. */
const GC_STEP_MAX_MS = 60_000;

async function sendEvents(queue: Queue<QueuedEnvelope>, envelopes: QueuedEnvelope[]): Promise<void> {
  for (let at = 0; at < envelopes.length; at += MESSAGES_PER_QUEUE_BATCH) {
    await queue.sendBatch(envelopes.slice(at, at + MESSAGES_PER_QUEUE_BATCH).map((body) => ({ body, contentType: "json" })));
  }
}

/** Configuration mistakes whose messages name settings, never their values: safe to show. */
function isConfigurationError(error: unknown): error is ConfigError | AuthConfigError {
  return error instanceof ConfigError || error instanceof AuthConfigError;
}

/** The largest request body any Cloudflare plan delivers to a Worker (Enterprise: 500 MB). */
const LARGEST_PLAN_BODY_BYTES = 500_000_000;

export default {
  async fetch(request, env, ctx) {
    let app: Hono;
    try {
      app = (await deploymentFor(env)).app;
    } catch (error) {
      if (!isConfigurationError(error)) throw error;
      console.error(error.message);
      return new Response(`${error.message}\n`, { status: 500, headers: { "Content-Type": "text/plain", "X-Content-Type-Options": "nosniff" } });
    }
    return app.fetch(request, env, ctx);
  },

  /** The REGISTRY_EVENTS queue's consumer: posts each envelope to its webhook, retried by the queue with backoff. */
  async queue(batch, env) {
    const { config, logger } = await deploymentFor(env);
    await deliverQueued(
      batch.messages.map((message) => ({ body: message.body, attempts: message.attempts, ack: () => message.ack(), retry: (delaySeconds) => message.retry({ delaySeconds }) })),
      config.notifications?.endpoints ?? [],
      logger,
      env.REGISTRY_ANALYTICS ? analyticsDeliveryMetrics(env.REGISTRY_ANALYTICS) : undefined,
    );
  },

  /**
   * Cron (wrangler.toml `[triggers]`): aborts uploads untouched for UPLOAD_TTL_SECONDS
   * and frees their storage, in batches of 100, at most EXPIRY_BATCHES per run so
   * one run stays within a Worker's subrequest limit; the next run takes the rest.
   * Then advances the collection cycle by one step of at most GC_STEP_SUBREQUESTS store
   * calls (lifecycle/resumable-collector.ts): a registry too large for one run is collected
   * over several, each continuing where the last stopped. Retention runs when a cycle begins,
   * the leftover sweep when one ends.
   */
  async scheduled(_controller, env) {
    const { config, registry, metadata, blobs, announce } = await deploymentFor(env);
    const expired = await registry.uploads.expire(config.uploadTtlSeconds * 1000, { maxBatches: EXPIRY_BATCHES });
    console.log(`upload expiry: ${expired} abandoned upload(s) aborted`);
    const cycles = metadata.collectionCycles();
    // Retention once per collection cycle, in the run that begins it, so its deletions are collected in that cycle.
    if ((await cycles.currentCycle()) === null) {
      const retention = await applyRetention({ metadata, rules: config.retention, immutableTags: config.immutableTags, mirrors: config.mirrors ?? [] });
      if (retention.tags.length + retention.manifests.length + retention.unpulled.length > 0) {
        console.log(`retention: deleted ${retention.tags.length} tag(s), ${retention.manifests.length} untagged manifest(s) and ${retention.unpulled.length} unpulled mirrored manifest(s)`);
      }
      // Its deletes as events, through the queue like a request's (observability/events/collection-events.ts).
      await announce({ retention });
    }
    const { cycle, step, finished, calls } = await collectionStep(config, metadata, blobs, gcStepBudget(env)).step();
    const started = new Date(cycle.startedAt).toISOString();
    console.log(
      `garbage collection: cycle started ${started}, run ${cycle.invocations}, ${finished ? "finished" : `continues next run (${cycle.phase} phase)`}; this run: ` +
        `removed ${step.blobsDeleted} blob(s) (${step.bytesFreed} bytes) and ${step.orphanLinksRemoved} link(s) no manifest uses, marked ${step.blobsMarked}, ${calls} store call(s); ` +
        `cycle so far: removed ${cycle.report.blobsDeleted} blob(s) (${cycle.report.bytesFreed} bytes), marked ${cycle.report.blobsMarked}`,
    );
    for (const problem of step.problems) console.error(`garbage collection: ${problem}`);
    if (!finished) return;
    const graceMs = config.gcGraceSeconds * 1000;
    const leftovers = await sweepObjectLeftovers({ metadata, blobs, olderThanMs: Math.max(graceMs, LEFTOVER_MIN_AGE_MS), dryRun: false });
    if (leftovers.files > 0) console.log(`leftover sweep: removed ${leftovers.files} object(s) no record names (${leftovers.bytes} bytes)`);
    for (const problem of leftovers.problems) console.error(`garbage collection: ${problem}`);
  },
} satisfies ExportedHandler<WorkersEnv, QueuedEnvelope>;
