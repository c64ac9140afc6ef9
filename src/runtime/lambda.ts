/**
 * AWS Lambda entry point behind a Function URL (payload format 2.0): blobs in
 * S3, metadata in DynamoDB, the same app as everywhere else. Reads the
 * environment (and the auth secret), builds the adapters, hands them to the
 * app. No registry rules here.
 *
 * Lambda's limits shape two choices (docs/aws.md):
 *   - Blob GETs always answer 307 to a presigned S3 URL: a buffered response
 *     holds at most 6 MB, and the bytes need not pass through the function.
 *   - Request bodies above LAMBDA_MAX_REQUEST_BYTES get the registry's 413,
 *     which tells the client to push in chunks; chunks of any smaller size
 *     are re-chunked into S3 parts through the upload's tail object.
 * An EventBridge schedule invokes the same function to expire abandoned uploads.
 */
import { handle, type APIGatewayProxyResult, type LambdaContext, type LambdaEvent } from "hono/aws-lambda";
import { hashWasm } from "../adapters/hash-wasm.ts";
import { createAuth } from "../auth/service.ts";
import { resolveConfig, type RegistryConfig } from "../config/schema.ts";
import { Quotas } from "../core/quotas.ts";
import { Registry } from "../core/registry.ts";
import { createApp } from "../http/app.ts";
import type { CollectionReport } from "../lifecycle/collector.ts";
import { ScanningCollector } from "../lifecycle/scanning-collector.ts";
import { measureUsage } from "../lifecycle/usage.ts";
import { deleteRepository } from "../lifecycle/repositories.ts";
import { scannedQuotaDeps } from "../lifecycle/namespace-usage.ts";
import { LEFTOVER_MIN_AGE_MS, sweepObjectLeftovers, type ObjectLeftoverReport } from "../lifecycle/object-leftovers.ts";
import { applyRetention, type RetentionReport } from "../lifecycle/retention.ts";
import { awsStores } from "./aws-stores.ts";
import { EmbeddedMetrics, embeddedDeliveryMetrics } from "../observability/embedded-metrics.ts";
import { createLogger, type Logger } from "../observability/log.ts";
import type { SqsEventQueue } from "../adapters/sqs/event-queue.ts";
import { sendCollectionEvents, type CollectionRun } from "../observability/events/collection-events.ts";
import { consumeSqsEvent, isSqsEvent, type SqsEvent } from "../observability/events/sqs-consumer.ts";
import { storageReadiness } from "../observability/readiness.ts";
import { readSecretString } from "./lambda-secrets.ts";
import { openSqsEvents } from "./sqs-events.ts";

/**
 * Lambda takes at most 6,291,456 bytes per invocation, and a binary body
 * arrives base64-encoded (4/3 larger) inside a JSON event with the headers:
 * 4.5 MB of body leaves about 290 KB for them.
 */
export const LAMBDA_MAX_REQUEST_BYTES = 4_500_000;

/** Uploads expired per scheduled run: batches of 100, so a run stays well within its timeout. */
const EXPIRY_BATCHES = 20;

type Environment = Record<string, string | undefined>;

interface ScheduledEvent {
  source: "aws.events";
  "detail-type": string;
}

interface Deployment {
  config: RegistryConfig;
  registry: Registry;
  stores: ReturnType<typeof awsStores>;
  serve: ReturnType<typeof handle>;
  logger: Logger;
  /** The SQS queue events wait in, when NOTIFICATIONS has endpoints (EVENTS_QUEUE_URL). */
  events: SqsEventQueue | null;
  /** Sends a collection's deletes as events through the queue (nothing without endpoints). */
  announce(run: CollectionRun): Promise<void>;
}

/** The envelope's `source` of every event this function sends. */
const SOURCE = { instanceID: "aws-lambda" };

/** A handler over `env`; the deployment is built on the first invocation and kept while the instance lives. */
export function createLambdaHandler(env: Environment) {
  let deployment: Promise<Deployment> | undefined;
  return async (event: LambdaEvent | ScheduledEvent | SqsEvent, context?: LambdaContext): Promise<APIGatewayProxyResult | ScheduledResult | SqsResult> => {
    deployment ??= deploy(env);
    let current: Deployment;
    try {
      current = await deployment;
    } catch (error) {
      // Configuration problems name settings, never their values (which may be secrets).
      console.error("registry configuration failed:", error instanceof Error ? error.message : error);
      deployment = undefined;
      if (isScheduled(event) || isSqsEvent(event)) throw error;
      return misconfigured();
    }
    if (isScheduled(event)) return maintain(current);
    if (isSqsEvent(event)) return deliverEvents(current, event);
    return current.serve(event, context);
  };
}

export const handler = createLambdaHandler(process.env);

async function deploy(env: Environment): Promise<Deployment> {
  // The auth section: AUTH_CONFIG, or the Secrets Manager secret AUTH_CONFIG_SECRET_ARN names.
  const authText = env.AUTH_CONFIG ?? (env.AUTH_CONFIG_SECRET_ARN ? await readSecretString(env.AUTH_CONFIG_SECRET_ARN, env) : undefined);
  // The mirrors (upstream credentials included): MIRRORS, or the secret MIRRORS_SECRET_ARN names (infra/registry-stack.ts).
  const mirrorsText = env.MIRRORS ?? (env.MIRRORS_SECRET_ARN ? await readSecretString(env.MIRRORS_SECRET_ARN, env) : undefined);
  const config = resolveConfig({}, { ...env, BACKEND: "aws", AUTH_CONFIG: authText, MIRRORS: mirrorsText });
  const stores = awsStores(config);
  const registry = new Registry({
    ...stores,
    hashing: hashWasm,
    partSize: config.partSize,
    maxManifestBytes: config.maxManifestBytes,
    automaticMount: config.automaticMount,
    immutableTags: config.immutableTags,
    ...(Object.keys(config.quotas).length > 0 ? { quotas: new Quotas(scannedQuotaDeps(stores.metadata, config.quotas)) } : {}),
  });
  const auth = config.auth ? await createAuth(config.auth, { warn: (message) => console.warn(message), state: stores.authState }) : undefined;
  // JSON lines on stdout: CloudWatch Logs keeps them, and turns the EMF lines into metrics.
  const write = (line: string) => process.stdout.write(`${line}\n`);
  const logger = createLogger({ level: config.logLevel, format: "json", write });
  const sqsEvents = await openSqsEvents(config);
  const events = sqsEvents?.queue ?? null;
  const record = sqsEvents?.record;
  const announce = (run: CollectionRun) => sendCollectionEvents(record, run, SOURCE, logger);
  const app = createApp(registry, {
    observation: { logger, metrics: new EmbeddedMetrics(write) },
    // The request waits for SQS to take the messages, never for a receiver.
    events: { ...(record ? { sink: { record } } : {}), source: SOURCE },
    readiness: storageReadiness(stores),
    maxRequestBytes: LAMBDA_MAX_REQUEST_BYTES,
    maintenance: {
      usage: () => measureUsage(stores.metadata),
      // POST /admin/gc: its retention deletes are events too.
      collect: async ({ dryRun }) => {
        const run = await collectNow(config, stores, dryRun);
        await announce(run);
        return run;
      },
      deleteRepository: (name) => deleteRepository(stores.metadata, stores.blobs, name),
    },
    blobReadRedirects: { signer: stores.blobs, expiresInSeconds: config.blobRedirectTtlSeconds },
    mirrors: config.mirrors,
    ...(auth ? { auth } : {}),
    ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
    // The split deployment: upload bodies go to the Node runtime behind UPLOAD_URL (docs/aws.md).
    ...(config.uploadUrl ? { uploadUrl: config.uploadUrl } : {}),
    // The Function URL's (API Gateway v2's) connecting address; v1 events name it identity.sourceIp.
    clientAddress: (c) => {
      const context = (c.env as { requestContext?: { http?: { sourceIp?: string }; identity?: { sourceIp?: string } } } | undefined)?.requestContext;
      return context?.http?.sourceIp ?? context?.identity?.sourceIp;
    },
  });
  return { config, registry, stores, serve: handle(app), logger, events, announce };
}

/** Retention rules, then the scanning collector over DynamoDB and S3. */
async function collectNow(
  config: RegistryConfig,
  stores: ReturnType<typeof awsStores>,
  dryRun: boolean,
): Promise<{ retention: RetentionReport; collection: CollectionReport; leftovers: ObjectLeftoverReport }> {
  const retention = await applyRetention({ metadata: stores.metadata, rules: config.retention, immutableTags: config.immutableTags, mirrors: config.mirrors ?? [] }, { dryRun });
  const graceMs = config.gcGraceSeconds * 1000;
  const collection = await new ScanningCollector({ ...stores, graceMs, orphanLinkAgeMs: Math.max(graceMs, config.uploadTtlSeconds * 1000) }).run({ dryRun });
  const leftovers = await sweepObjectLeftovers({ ...stores, olderThanMs: Math.max(graceMs, LEFTOVER_MIN_AGE_MS), dryRun });
  return { retention, collection, leftovers };
}

interface ScheduledResult {
  expired: number;
  collected: CollectionReport;
}

/** The scheduled run: upload expiry, then garbage collection (lifecycle/scanning-collector.ts). */
async function maintain({ config, registry, stores, announce }: Deployment): Promise<ScheduledResult> {
  const expired = await registry.uploads.expire(config.uploadTtlSeconds * 1000, { maxBatches: EXPIRY_BATCHES });
  console.log(`upload expiry: ${expired} abandoned upload(s) aborted`);
  const { retention, collection: collected, leftovers } = await collectNow(config, stores, false);
  await announce({ retention, collection: collected });
  if (retention.tags.length + retention.manifests.length + retention.unpulled.length > 0) console.log(`retention: deleted ${retention.tags.length} tag(s), ${retention.manifests.length} untagged manifest(s) and ${retention.unpulled.length} unpulled mirrored manifest(s)`);
  console.log(
    `garbage collection: removed ${collected.blobsDeleted} blob(s) (${collected.bytesFreed} bytes) and ${collected.orphanLinksRemoved} link(s) no manifest uses; marked ${collected.blobsMarked}`,
  );
  if (leftovers.files > 0) console.log(`leftover sweep: removed ${leftovers.files} object(s) no record names (${leftovers.bytes} bytes)`);
  for (const problem of [...collected.problems, ...leftovers.problems]) console.error(`garbage collection: ${problem}`);
  return { expired, collected };
}

type SqsResult = { batchItemFailures: { itemIdentifier: string }[] };

/** The events queue's event source mapping invoked us: post each envelope (observability/events/sqs-consumer.ts). */
async function deliverEvents({ config, logger, events }: Deployment, event: SqsEvent): Promise<SqsResult> {
  if (!events) {
    // Messages left from before NOTIFICATIONS was unset: nothing to send them to.
    logger.log("warn", "event messages dropped: NOTIFICATIONS has no endpoints", { messages: event.Records.length });
    return { batchItemFailures: [] };
  }
  const metrics = embeddedDeliveryMetrics((line) => process.stdout.write(`${line}\n`));
  return consumeSqsEvent(event, config.notifications.endpoints, logger, (handle, seconds) => events.retryAfter(handle, seconds), metrics);
}

function isScheduled(event: LambdaEvent | ScheduledEvent | SqsEvent): event is ScheduledEvent {
  return (event as Partial<ScheduledEvent>).source === "aws.events";
}

function misconfigured(): APIGatewayProxyResult {
  const body = { errors: [{ code: "UNKNOWN", message: "the registry is misconfigured; its operator will find why in the function's log", detail: null }] };
  return { statusCode: 500, headers: { "content-type": "application/json", "x-content-type-options": "nosniff" }, body: JSON.stringify(body), isBase64Encoded: false };
}
