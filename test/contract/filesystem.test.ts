import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FilesystemBlobStore } from "../../src/adapters/filesystem/blob-store.ts";
import { openLocalMetadata } from "../../src/adapters/sqlite/open.ts";
import { blobStoreContract } from "./blob-store.contract.ts";
import { metadataStoreContract } from "./metadata-store.contract.ts";
import { uploadRacesContract } from "./upload-races.contract.ts";
import { hashWasm } from "../../src/adapters/hash-wasm.ts";

async function tempRoot(): Promise<{ root: string; cleanup(): Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), "registry-contract-"));
  return { root, cleanup: () => rm(root, { recursive: true, force: true }) };
}

blobStoreContract("filesystem", async () => {
  const { root, cleanup } = await tempRoot();
  return { store: new FilesystemBlobStore(join(root, "blobs")), cleanup };
});

metadataStoreContract("sqlite (node:sqlite)", async () => {
  const { root, cleanup } = await tempRoot();
  const metadata = openLocalMetadata(root);
  return {
    store: metadata.store,
    cleanup: async () => {
      metadata.close();
      await cleanup();
    },
  };
});

// Each racer gets its own FilesystemBlobStore on the one directory, as separate processes
// would: its in-process locks are not shared. The SQLite store is the shared database.
uploadRacesContract("filesystem + SQLite", async () => {
  const { root, cleanup } = await tempRoot();
  const metadata = openLocalMetadata(root);
  return {
    metadata: metadata.store,
    blobStore: () => new FilesystemBlobStore(join(root, "blobs")),
    hashing: hashWasm,
    cleanup: async () => {
      metadata.close();
      await cleanup();
    },
  };
});

/** Files under `dir`, relative, or none when it does not exist. */
async function filesUnder(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { recursive: true, withFileTypes: true }))
      .filter((entry) => entry.isFile())
      .map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1))
      .sort();
  } catch {
    return [];
  }
}

describe("FilesystemBlobStore on disk", () => {
  it("rejects keys that could leave the root or reach its hidden directories", async () => {
    const { root, cleanup } = await tempRoot();
    const store = new FilesystemBlobStore(root);
    for (const key of ["../escape", "blobs/../../escape", "/etc/passwd", ".tmp/x", "blobs/.multipart/x", "blobs//x", ""]) {
      await expect(store.put(key, new Uint8Array(1)), key).rejects.toThrow(/invalid blob key/);
      await expect(store.get(key), key).rejects.toThrow(/invalid blob key/);
    }
    await cleanup();
  });

  it("a failed put leaves no temporary file behind", async () => {
    const { root, cleanup } = await tempRoot();
    const store = new FilesystemBlobStore(root);
    await expect(store.put("blobs/sha256/x", new Uint8Array(10), { digest: `sha256:${"0".repeat(64)}` })).rejects.toThrow();
    await expect(store.put("blobs/sha256/x", new Uint8Array(10), { length: 11 })).rejects.toThrow();
    expect(await filesUnder(root)).toEqual([]);
    await cleanup();
  });

  it("completing keeps the listed part in place (no copy), aborting removes the parts, deleting a key prunes empty directories", async () => {
    const { root, cleanup } = await tempRoot();
    const store = new FilesystemBlobStore(root);
    const completed = await store.createMultipartUpload("blobs/chunked/a");
    const part = await store.uploadPart("blobs/chunked/a", completed, 1, new Uint8Array(10));
    await store.uploadPart("blobs/chunked/a", completed, 1, new Uint8Array(10));
    await expect(store.completeMultipartUpload("blobs/chunked/a", completed, [part])).rejects.toThrow();
    const aborted = await store.createMultipartUpload("blobs/chunked/b");
    await store.uploadPart("blobs/chunked/b", aborted, 1, new Uint8Array(10));
    await store.abortMultipartUpload("blobs/chunked/b", aborted);
    const [current] = (await filesUnder(join(root, ".multipart", completed))).filter((name) => name !== "key");
    expect(current).toMatch(/^1\.[0-9a-f]{32}$/);
    await store.completeMultipartUpload("blobs/chunked/a", completed, [{ partNumber: 1, etag: current!.slice(2) }]);
    await store.put("uploads/u1/tail-1", new Uint8Array(3));
    await store.delete("uploads/u1/tail-1");
    expect(await filesUnder(root)).toEqual([`.segmented/blobs/chunked/a/${current}`, ".segmented/blobs/chunked/a/index.json", ".segmented/blobs/chunked/a/key"]);
    await store.delete("blobs/chunked/a");
    expect(await filesUnder(root)).toEqual([]);
    expect(await readdir(root)).not.toContain("uploads");
    await cleanup();
  });
});

