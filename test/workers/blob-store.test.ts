/** The BlobStore contract inside workerd, against local R2 (the bucket wrangler.toml binds as BLOBS). */
import { env, reset } from "cloudflare:test";
import { R2BlobStore } from "../../src/adapters/r2/blob-store.ts";
import { blobStoreContract } from "../contract/blob-store.contract.ts";

blobStoreContract("r2", async () => ({ store: new R2BlobStore(env.BLOBS), cleanup: () => reset() }));
