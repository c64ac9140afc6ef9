/** Retention rules on Durable Objects (the shared SQL, through the repository objects), as the cron applies them. */
import { env, reset } from "cloudflare:test";
import { DurableObjectMetadataStore } from "../../src/adapters/durable-object/metadata-store.ts";
import { retentionContract } from "../contract/retention.contract.ts";
import { unpulledContract } from "../contract/unpulled.contract.ts";

retentionContract("durable objects", async () => ({
  metadata: new DurableObjectMetadataStore({ repositories: env.REPOSITORIES, indexShards: env.INDEX_SHARDS, catalog: env.CATALOG }),
  cleanup: () => reset(),
}));

unpulledContract("durable objects", async () => ({
  metadata: new DurableObjectMetadataStore({ repositories: env.REPOSITORIES, indexShards: env.INDEX_SHARDS, catalog: env.CATALOG }),
  cleanup: () => reset(),
}));
