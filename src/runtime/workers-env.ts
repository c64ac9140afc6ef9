import type { AuthStateObject } from "../adapters/durable-object/auth-state-object.ts";
import type { CatalogObject } from "../adapters/durable-object/catalog-object.ts";
import type { IndexShardObject } from "../adapters/durable-object/index-shard-object.ts";
import type { RepositoryObject } from "../adapters/durable-object/repository-object.ts";
import type { QueuedEnvelope } from "../observability/events/queued-delivery.ts";
import type { WorkersSecrets, WorkersVars } from "./workers-config.ts";

/**
 * The bindings wrangler.toml declares, the vars, and the secrets
 * (`AUTH_CONFIG`: `wrangler secret put AUTH_CONFIG`, or `.dev.vars` for wrangler dev).
 */
export interface WorkersEnv extends WorkersVars, WorkersSecrets {
  BLOBS: R2Bucket;
  REPOSITORIES: DurableObjectNamespace<RepositoryObject>;
  INDEX_SHARDS: DurableObjectNamespace<IndexShardObject>;
  CATALOG: DurableObjectNamespace<CatalogObject>;
  /** Optional `[[analytics_engine_datasets]]` binding: one data point per request when bound (observability/analytics-engine.ts). */
  REGISTRY_ANALYTICS?: AnalyticsEngineDataset;
  /** debug, info (one line per request, the default), warn or error: Workers Logs. */
  LOG_LEVEL?: string;
  /** Store calls one cron run spends on garbage collection (runtime/workers.ts). */
  GC_STEP_SUBREQUESTS?: string;
  /** Failed logins and used refresh tokens, shared by every isolate (auth-state-object.ts). */
  AUTH_STATE: DurableObjectNamespace<AuthStateObject>;
  /** Cloudflare Queue of events waiting for their webhooks (producer and consumer: this Worker); needed with NOTIFICATIONS. */
  REGISTRY_EVENTS?: Queue<QueuedEnvelope>;
}
