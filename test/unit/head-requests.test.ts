import { describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { MemoryBlobStore } from "../../src/adapters/memory/blob-store.ts";
import { MemoryMetadataStore } from "../../src/adapters/memory/metadata-store.ts";
import { hashWasm } from "../../src/adapters/hash-wasm.ts";
import { createApp } from "../../src/http/app.ts";
import type { ByteRange, ObjectRead } from "../../src/ports/blob-store.ts";

/** Counts reads, so a test can tell whether a request opened an object's bytes. */
class CountingBlobStore extends MemoryBlobStore {
  reads = 0;
  override async get(key: string, range?: ByteRange): Promise<ObjectRead | null> {
    this.reads += 1;
    return super.get(key, range);
  }
}

const sha256 = (data: Uint8Array) => `sha256:${createHash("sha256").update(data).digest("hex")}`;

describe("HEAD (spec § Checking if content exists in the registry) answers from metadata alone", () => {
  it("HEAD of a blob sends its headers without reading its bytes from the blob store", async () => {
    const blobs = new CountingBlobStore();
    const app = createApp({ blobs, metadata: new MemoryMetadataStore(), hashing: hashWasm });
    const data = new TextEncoder().encode("some layer");
    const digest = sha256(data);
    expect((await app.request(`/v2/team/app/blobs/uploads/?digest=${digest}`, { method: "POST", body: data })).status).toBe(201);
    blobs.reads = 0;
    const res = await app.request(`/v2/team/app/blobs/${digest}`, { method: "HEAD" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-length")).toBe(String(data.byteLength));
    expect(res.headers.get("docker-content-digest")).toBe(digest);
    expect(blobs.reads).toBe(0);
  });

  it("HEAD of a manifest sends its headers without reading its bytes from the blob store", async () => {
    const blobs = new CountingBlobStore();
    const app = createApp({ blobs, metadata: new MemoryMetadataStore(), hashing: hashWasm });
    const config = new TextEncoder().encode("{}");
    const configDigest = sha256(config);
    await app.request(`/v2/team/app/blobs/uploads/?digest=${configDigest}`, { method: "POST", body: config });
    const manifest = new TextEncoder().encode(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: { mediaType: "application/vnd.oci.empty.v1+json", digest: configDigest, size: config.byteLength },
        layers: [],
      }),
    );
    const put = await app.request("/v2/team/app/manifests/v1", {
      method: "PUT",
      headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" },
      body: manifest,
    });
    expect(put.status).toBe(201);
    blobs.reads = 0;
    const res = await app.request("/v2/team/app/manifests/v1", { method: "HEAD" });
    expect(res.status).toBe(200);
    expect(res.headers.get("docker-content-digest")).toBe(sha256(manifest));
    expect(res.headers.get("content-length")).toBe(String(manifest.byteLength));
    expect(blobs.reads).toBe(0);
  });
});
