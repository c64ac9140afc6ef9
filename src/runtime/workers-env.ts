import type { CatalogObject } from "../adapters/durable-object/catalog-object.ts";
import type { IndexShardObject } from "../adapters/durable-object/index-shard-object.ts";
import type { RepositoryObject } from "../adapters/durable-object/repository-object.ts";
import type { WorkersVars } from "./workers-config.ts";

/** The bindings wrangler.toml declares, and the vars. Secrets (signing keys, later) join them here. */
export interface WorkersEnv extends WorkersVars {
  BLOBS: R2Bucket;
  REPOSITORIES: DurableObjectNamespace<RepositoryObject>;
  INDEX_SHARDS: DurableObjectNamespace<IndexShardObject>;
  CATALOG: DurableObjectNamespace<CatalogObject>;
}
