import { describe, expect, it } from "vitest";
import { createApp } from "../../src/http/app.ts";
import { MemoryBlobStore } from "../../src/adapters/memory/blob-store.ts";
import { MemoryMetadataStore } from "../../src/adapters/memory/metadata-store.ts";
import { hashWasm } from "../../src/adapters/hash-wasm.ts";

const PART = 6 * 1024 * 1024;

function app(maxRequestBytes?: number) {
  return createApp({ blobs: new MemoryBlobStore(), metadata: new MemoryMetadataStore(), hashing: hashWasm, partSize: PART }, maxRequestBytes === undefined ? {} : { maxRequestBytes });
}

async function uploadAnswers(maxRequestBytes?: number): Promise<Response[]> {
  const registry = app(maxRequestBytes);
  const post = await registry.request("/v2/team/app/blobs/uploads/", { method: "POST" });
  const location = post.headers.get("location")!;
  const patch = await registry.request(location, { method: "PATCH", headers: { "Content-Range": "0-2", "Content-Length": "3" }, body: "abc" });
  const status = await registry.request(patch.headers.get("location")!);
  return [post, patch, status];
}

describe("distribution-spec § Pushing a blob in chunks: OCI-Chunk-Min-Length, and the proposed OCI-Chunk-Max-Length", () => {
  it("advertises the part size as the minimum and the request-body limit as the maximum on POST, PATCH and GET status", async () => {
    for (const answer of await uploadAnswers(100_000_000)) {
      expect(answer.status).toBeLessThan(300);
      expect(answer.headers.get("oci-chunk-min-length")).toBe(String(PART));
      expect(answer.headers.get("oci-chunk-max-length")).toBe("100000000");
    }
  });

  it("never advertises a minimum above the maximum (Lambda's 4.5 MB under a 6 MiB part)", async () => {
    for (const answer of await uploadAnswers(4_500_000)) {
      expect(answer.headers.get("oci-chunk-min-length")).toBe("4500000");
      expect(answer.headers.get("oci-chunk-max-length")).toBe("4500000");
    }
  });

  it("advertises no maximum where the runtime has no request-body limit (Node)", async () => {
    for (const answer of await uploadAnswers()) {
      expect(answer.headers.get("oci-chunk-min-length")).toBe(String(PART));
      expect(answer.headers.has("oci-chunk-max-length")).toBe(false);
    }
  });
});
