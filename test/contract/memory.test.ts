import { MemoryBlobStore } from "../../src/adapters/memory/blob-store.ts";
import { MemoryMetadataStore } from "../../src/adapters/memory/metadata-store.ts";
import { blobStoreContract } from "./blob-store.contract.ts";
import { metadataStoreContract } from "./metadata-store.contract.ts";

const nothingToClean = async () => {};

blobStoreContract("memory", async () => ({ store: new MemoryBlobStore(), cleanup: nothingToClean }));
metadataStoreContract("memory", async () => ({ store: new MemoryMetadataStore(), cleanup: nothingToClean }));
