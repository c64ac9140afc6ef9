/**
 * The registries the spec suite runs against. Each target answers `request`
 * like `fetch` relative to the registry root. In-process targets build the
 * Hono app over an adapter pair; `REGISTRY_URL` adds a running server (the
 * Node server, wrangler dev, ...) so the same suite proves every runtime;
 * REGISTRY_TARGETS=remote leaves out the in-process targets.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp } from "../../src/http/app.ts";
import { MemoryBlobStore } from "../../src/adapters/memory/blob-store.ts";
import { MemoryMetadataStore } from "../../src/adapters/memory/metadata-store.ts";
import { FilesystemBlobStore } from "../../src/adapters/filesystem/blob-store.ts";
import { openLocalMetadata } from "../../src/adapters/sqlite/open.ts";
import { hashWasm } from "../../src/adapters/hash-wasm.ts";
import { loadNodeHashing } from "../../src/adapters/native-sha2/load.ts";
import { MIN_PART_SIZE } from "../../src/ports/blob-store.ts";

export interface RegistryTarget {
  name: string;
  request(path: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

export interface TargetFactory {
  name: string;
  start(): Promise<RegistryTarget>;
}

function inProcess(name: string, build: () => Promise<{ app: ReturnType<typeof createApp>; close(): Promise<void> }>): TargetFactory {
  return {
    name,
    async start() {
      const { app, close } = await build();
      return {
        name,
        // Streams as request bodies need `duplex: "half"` (fetch standard).
        request: async (path, init) => app.request(path, init?.body instanceof ReadableStream ? { ...init, duplex: "half" } as RequestInit : init),
        close,
      };
    },
  };
}

const inProcessTargets: TargetFactory[] = [
  inProcess("memory", async () => ({
    app: createApp({ blobs: new MemoryBlobStore(), metadata: new MemoryMetadataStore(), hashing: hashWasm, partSize: MIN_PART_SIZE }),
    close: async () => {},
  })),
  inProcess("local disk (files + SQLite)", async () => {
    const root = await mkdtemp(join(tmpdir(), "registry-spec-"));
    const metadata = openLocalMetadata(root);
    return {
      app: createApp({
        blobs: new FilesystemBlobStore(join(root, "blobs")),
        metadata: metadata.store,
        // What npm start hashes with: the native addon, or WebAssembly with NATIVE_HASHING=false
        // (the memory target always hashes with WebAssembly, so the suite covers both).
        hashing: loadNodeHashing({ enabled: process.env.NATIVE_HASHING !== "false" }).hashing,
        partSize: MIN_PART_SIZE,
      }),
      close: async () => {
        metadata.close();
        await rm(root, { recursive: true, force: true });
      },
    };
  }),
];

const remote = process.env.REGISTRY_URL;
const remoteTargets: TargetFactory[] = remote
  ? [
      {
        name: `remote ${remote}`,
        async start() {
          return {
            name: remote,
            request: (path, init) => fetch(new URL(path, remote), init?.body instanceof ReadableStream ? { ...init, duplex: "half" } as RequestInit : init),
            close: async () => {},
          };
        },
      },
    ]
  : [];

/** REGISTRY_TARGETS=remote runs only against REGISTRY_URL (e.g. a Worker under wrangler dev). */
const only = process.env.REGISTRY_TARGETS;
if (only !== undefined && only !== "remote") throw new Error(`REGISTRY_TARGETS must be "remote" or unset, not "${only}"`);
if (only === "remote" && !remote) throw new Error("REGISTRY_TARGETS=remote needs REGISTRY_URL");

export const targetFactories: TargetFactory[] = only === "remote" ? remoteTargets : [...inProcessTargets, ...remoteTargets];
