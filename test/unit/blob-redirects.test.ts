import { describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { MemoryBlobStore } from "../../src/adapters/memory/blob-store.ts";
import { MemoryMetadataStore } from "../../src/adapters/memory/metadata-store.ts";
import { hashWasm } from "../../src/adapters/hash-wasm.ts";
import { createApp } from "../../src/http/app.ts";
import type { PresignedReads } from "../../src/ports/blob-store.ts";

/** A signer that records what it was asked for and answers a recognisable URL. */
function recordingSigner(): PresignedReads & { calls: { key: string; expiresInSeconds: number }[] } {
  const calls: { key: string; expiresInSeconds: number }[] = [];
  return {
    calls,
    async presignGet(key, expiresInSeconds) {
      calls.push({ key, expiresInSeconds });
      return `https://bucket.example/${key}?expires=${expiresInSeconds}`;
    },
  };
}

function registry(redirects?: { signer: PresignedReads; expiresInSeconds: number }) {
  const stores = { blobs: new MemoryBlobStore(), metadata: new MemoryMetadataStore(), hashing: hashWasm };
  return createApp(stores, redirects ? { blobReadRedirects: redirects } : {});
}

async function pushBlob(app: ReturnType<typeof createApp>, repository: string, data: Uint8Array): Promise<string> {
  const digest = `sha256:${createHash("sha256").update(data).digest("hex")}`;
  const res = await app.request(`/v2/${repository}/blobs/uploads/?digest=${digest}`, { method: "POST", body: new Uint8Array(data) });
  expect(res.status).toBe(201);
  return digest;
}

describe("blob GET redirects (spec § Pulling blobs; [main]: registries MAY answer any request with a redirect)", () => {
  const data = new TextEncoder().encode("layer bytes that live in the object store");

  it("answers GET with 307 to the signed URL of the blob's key, with Docker-Content-Digest and no body", async () => {
    const signer = recordingSigner();
    const app = registry({ signer, expiresInSeconds: 300 });
    const digest = await pushBlob(app, "team/app", data);
    const res = await app.request(`/v2/team/app/blobs/${digest}`);
    expect(res.status).toBe(307);
    const key = new URL(res.headers.get("location")!).pathname.slice(1);
    expect(key).toMatch(new RegExp(`^blobs/sha256/${digest.slice(7)}-[0-9a-f-]+$`));
    expect(res.headers.get("location")).toBe(`https://bucket.example/${key}?expires=300`);
    expect(res.headers.get("docker-content-digest")).toBe(digest);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect((await res.arrayBuffer()).byteLength).toBe(0);
    expect(signer.calls).toEqual([{ key, expiresInSeconds: 300 }]);
  });

  it("redirects a satisfiable Range request too: the client re-sends Range to the URL, which answers 206", async () => {
    const app = registry({ signer: recordingSigner(), expiresInSeconds: 60 });
    const digest = await pushBlob(app, "team/app", data);
    const res = await app.request(`/v2/team/app/blobs/${digest}`, { headers: { range: "bytes=0-4" } });
    expect(res.status).toBe(307);
  });

  it("refuses a range outside the blob with 416 here, without signing a URL", async () => {
    const signer = recordingSigner();
    const app = registry({ signer, expiresInSeconds: 60 });
    const digest = await pushBlob(app, "team/app", data);
    const res = await app.request(`/v2/team/app/blobs/${digest}`, { headers: { range: `bytes=${data.byteLength}-` } });
    expect(res.status).toBe(416);
    expect(res.headers.get("content-range")).toBe(`bytes */${data.byteLength}`);
    expect(signer.calls).toEqual([]);
  });

  it("answers 404 BLOB_UNKNOWN for a blob the repository does not link, without signing a URL", async () => {
    const signer = recordingSigner();
    const app = registry({ signer, expiresInSeconds: 60 });
    const digest = await pushBlob(app, "team/app", data);
    const res = await app.request(`/v2/team/other/blobs/${digest}`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { errors: { code: string }[] }).errors[0]?.code).toBe("BLOB_UNKNOWN");
    expect(signer.calls).toEqual([]);
  });

  it("still answers HEAD itself with 200, Content-Length and Docker-Content-Digest", async () => {
    const app = registry({ signer: recordingSigner(), expiresInSeconds: 60 });
    const digest = await pushBlob(app, "team/app", data);
    const res = await app.request(`/v2/team/app/blobs/${digest}`, { method: "HEAD" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-length")).toBe(String(data.byteLength));
    expect(res.headers.get("docker-content-digest")).toBe(digest);
  });

  it("without the option, GET serves the bytes with 200 as before", async () => {
    const app = registry();
    const digest = await pushBlob(app, "team/app", data);
    const res = await app.request(`/v2/team/app/blobs/${digest}`);
    expect(res.status).toBe(200);
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(data);
  });
});
