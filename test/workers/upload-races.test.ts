/**
 * Racing requests on one upload inside workerd: the upload engine over local R2 and the
 * Durable Object metadata store, each racer with its own R2BlobStore on the one bucket.
 */
import { env, reset } from "cloudflare:test";
import { R2BlobStore } from "../../src/adapters/r2/blob-store.ts";
import { DurableObjectMetadataStore } from "../../src/adapters/durable-object/metadata-store.ts";
import { wasmSha2Hashing } from "../../src/adapters/wasm-sha2/hashing.ts";
import sha256 from "../../src/adapters/wasm-sha2/sha256.wasm";
import sha512 from "../../src/adapters/wasm-sha2/sha512.wasm";
import { uploadRacesContract } from "../contract/upload-races.contract.ts";

uploadRacesContract("r2 + durable-object", async () => ({
  metadata: new DurableObjectMetadataStore({ repositories: env.REPOSITORIES, indexShards: env.INDEX_SHARDS, catalog: env.CATALOG }),
  blobStore: () => new R2BlobStore(env.BLOBS),
  hashing: wasmSha2Hashing({ sha256, sha512 }),
  cleanup: () => reset(),
}));
