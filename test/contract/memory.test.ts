import { MemoryBlobStore } from "../../src/adapters/memory/blob-store.ts";
import { MemoryMetadataStore } from "../../src/adapters/memory/metadata-store.ts";
import { hashWasm } from "../../src/adapters/hash-wasm.ts";
import { blobStoreContract } from "./blob-store.contract.ts";
import { metadataStoreContract } from "./metadata-store.contract.ts";
import { uploadRacesContract } from "./upload-races.contract.ts";
import { scanningCollectorContract } from "./scanning-collector.contract.ts";
import { unpulledContract } from "./unpulled.contract.ts";

const nothingToClean = async () => {};

blobStoreContract("memory", async () => ({ store: new MemoryBlobStore(), cleanup: nothingToClean }));
metadataStoreContract("memory", async () => ({ store: new MemoryMetadataStore(), cleanup: nothingToClean }));
uploadRacesContract("memory", async () => {
  // One store: memory is one process's by nature.
  const blobs = new MemoryBlobStore();
  return { metadata: new MemoryMetadataStore(), blobStore: () => blobs, hashing: hashWasm, cleanup: nothingToClean };
});

scanningCollectorContract("memory", async () => {
  const blobs = new MemoryBlobStore();
  return {
    metadata: new MemoryMetadataStore(),
    blobs,
    hashing: hashWasm,
    synchronous: true,
    objects: async () => blobs.keys().filter((key) => key.startsWith("blobs/")).sort(),
    cleanup: async () => {},
  };
});

unpulledContract("memory", async () => ({ metadata: new MemoryMetadataStore(), cleanup: nothingToClean }));
