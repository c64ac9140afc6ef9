/**
 * Manifests stored before media types were restricted (src/core/media-types.ts)
 * may carry any type a client sent. They are still served, but never as active
 * content: a type that is not a manifest or JSON type goes out as
 * application/octet-stream, and every answer has nosniff.
 */
import { describe, expect, it } from "vitest";
import { hashWasm } from "../../src/adapters/hash-wasm.ts";
import { MemoryBlobStore } from "../../src/adapters/memory/blob-store.ts";
import { MemoryMetadataStore } from "../../src/adapters/memory/metadata-store.ts";
import { createApp } from "../../src/http/app.ts";
import { MIN_PART_SIZE } from "../../src/ports/blob-store.ts";
import { sha256 } from "../spec/helpers.ts";

/** A registry holding one manifest per type, written straight into the stores as an older version would have. */
async function registryWith(types: string[]) {
  const blobs = new MemoryBlobStore();
  const metadata = new MemoryMetadataStore();
  for (const [i, mediaType] of types.entries()) {
    const bytes = new TextEncoder().encode(`{"schemaVersion":2,"n":${i},"x":"<script>alert(1)</script>"}`);
    const digest = sha256(bytes);
    const key = `blobs/sha256/${digest.slice(7)}-legacy`;
    await blobs.put(key, bytes, { length: bytes.byteLength });
    await metadata.putBlobIfAbsent({ digest, size: bytes.byteLength, key });
    expect(await metadata.putManifest("legacy/app", { digest, mediaType, size: bytes.byteLength, key }, [`t${i}`])).toEqual([]);
  }
  return createApp({ blobs, metadata, hashing: hashWasm, partSize: MIN_PART_SIZE });
}

describe("Content-Type of stored manifests", () => {
  it("serves a stored active type (text/html, SVG, XHTML) as application/octet-stream, with nosniff, on GET and HEAD", async () => {
    const types = ["text/html", "image/svg+xml", "application/xhtml+xml", "text/html; charset=utf-8"];
    const app = await registryWith(types);
    for (const i of types.keys()) {
      for (const method of ["GET", "HEAD"]) {
        const res = await app.request(`/v2/legacy/app/manifests/t${i}`, { method });
        expect(res.status).toBe(200);
        expect(res.headers.get("content-type"), types[i]).toBe("application/octet-stream");
        expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      }
    }
  });

  it("keeps serving manifest and JSON types as stored", async () => {
    const types = ["application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.artifact.manifest.v1+json", "application/json"];
    const app = await registryWith(types);
    for (const i of types.keys()) {
      const res = await app.request(`/v2/legacy/app/manifests/t${i}`);
      expect(res.headers.get("content-type")).toBe(types[i]);
    }
  });
});
