/** Namespace quotas on Durable Objects + R2, inside workerd (lifecycle/namespace-usage.ts). */
import { env, reset } from "cloudflare:test";
import { DurableObjectMetadataStore } from "../../src/adapters/durable-object/metadata-store.ts";
import { R2BlobStore } from "../../src/adapters/r2/blob-store.ts";
import { wasmSha2Hashing } from "../../src/adapters/wasm-sha2/hashing.ts";
import sha256Wasm from "../../src/adapters/wasm-sha2/sha256.wasm";
import sha512Wasm from "../../src/adapters/wasm-sha2/sha512.wasm";
import { scannedQuotasContract } from "../contract/scanned-quotas.contract.ts";

scannedQuotasContract("durable objects + r2", async () => ({
  metadata: new DurableObjectMetadataStore({ repositories: env.REPOSITORIES, indexShards: env.INDEX_SHARDS, catalog: env.CATALOG }),
  blobs: new R2BlobStore(env.BLOBS),
  hashing: wasmSha2Hashing({ sha256: sha256Wasm, sha512: sha512Wasm }),
  cleanup: () => reset(),
}));
