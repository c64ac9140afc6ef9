/** The MetadataStore contract inside workerd, against the Durable Objects wrangler.toml binds. */
import { env, reset } from "cloudflare:test";
import { DurableObjectMetadataStore } from "../../src/adapters/durable-object/metadata-store.ts";
import { metadataStoreContract } from "../contract/metadata-store.contract.ts";

metadataStoreContract("durable-object", async () => ({
  store: new DurableObjectMetadataStore({ repositories: env.REPOSITORIES, indexShards: env.INDEX_SHARDS, catalog: env.CATALOG }),
  cleanup: () => reset(),
}));
