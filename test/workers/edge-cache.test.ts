/**
 * Edge caching inside workerd (README "Edge caching on Workers"): blobs and manifests by
 * digest answered from the Cache API, with R2 and the Durable Objects counted, behind token
 * auth. The second pull of a blob reads neither; callers who may not pull still get nothing.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { DurableObjectMetadataStore } from "../../src/adapters/durable-object/metadata-store.ts";
import { R2BlobStore } from "../../src/adapters/r2/blob-store.ts";
import { WorkersEdgeCache } from "../../src/adapters/workers-cache/edge-cache.ts";
import { wasmSha2Hashing } from "../../src/adapters/wasm-sha2/hashing.ts";
import sha256wasm from "../../src/adapters/wasm-sha2/sha256.wasm";
import sha512wasm from "../../src/adapters/wasm-sha2/sha512.wasm";
import { generateSigningJwk } from "../../src/auth/keys.ts";
import { hashPassword } from "../../src/auth/passwords.ts";
import { buildAuth } from "../../src/auth/service.ts";
import { createApp } from "../../src/http/app.ts";
import { MIN_PART_SIZE } from "../../src/ports/blob-store.ts";
import type { Hono } from "hono";

/** Calls of each method of `target`, counted by name. */
function counted<T extends object>(target: T, calls: Map<string, number>): T {
  return new Proxy(target, {
    get(object, property) {
      const value: unknown = Reflect.get(object, property);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        calls.set(String(property), (calls.get(String(property)) ?? 0) + 1);
        return (value as (...a: unknown[]) => unknown).apply(object, args);
      };
    },
  });
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return `sha256:${Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

const r2Calls = new Map<string, number>();
const metadataCalls = new Map<string, number>();
let app: Hono;
const tokens: Record<string, string> = {};
/** Each run its own repository, so a cache left by an earlier run cannot answer. */
const repo = `blue/edge-${crypto.randomUUID().slice(0, 8)}`;

async function request(path: string, init: RequestInit = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await app.request(path, init, env, ctx);
  const body = response.body ? new Uint8Array(await response.arrayBuffer()) : null;
  await waitOnExecutionContext(ctx);
  return new Response(body, { status: response.status, headers: response.headers });
}

const as = (who: string) => ({ authorization: `Bearer ${tokens[who]}` });

beforeAll(async () => {
  const auth = await buildAuth({
    service: "oci-registry",
    signingKeys: [{ jwk: await generateSigningJwk() }],
    users: { alice: { password: await hashPassword("alice-secret"), teams: ["blue"] }, bob: { password: await hashPassword("bob-secret"), teams: ["green"] } },
    rules: [
      { teams: ["blue"], repositories: ["blue/*"], actions: ["pull", "push", "delete"] },
      { teams: ["green"], repositories: ["green/*"], actions: ["pull", "push", "delete"] },
    ],
  });
  const blobs = new R2BlobStore(counted(env.BLOBS, r2Calls));
  const metadata = counted(new DurableObjectMetadataStore({ repositories: env.REPOSITORIES, indexShards: env.INDEX_SHARDS, catalog: env.CATALOG }), metadataCalls);
  const cache = new WorkersEdgeCache(await caches.open(`edge-test-${crypto.randomUUID()}`));
  app = createApp({ blobs, metadata, hashing: wasmSha2Hashing({ sha256: sha256wasm, sha512: sha512wasm }), partSize: MIN_PART_SIZE }, { auth, edgeCache: { cache, seconds: 3600 } });
  for (const [user, password, scope] of [
    ["alice", "alice-secret", `repository:${repo}:pull,push,delete`],
    ["alice-other", "alice-secret", "repository:blue/other:pull"],
    ["bob", "bob-secret", `repository:${repo}:pull`],
  ] as const) {
    const login = await request(`/token?service=oci-registry&scope=${scope}`, { headers: { authorization: `Basic ${btoa(`${user.split("-")[0]}:${password}`)}` } });
    tokens[user] = ((await login.json()) as { token: string }).token;
  }
});

const reads = () => (r2Calls.get("get") ?? 0) + (r2Calls.get("head") ?? 0);
const metadataReads = () => [...metadataCalls.values()].reduce((a, b) => a + b, 0);
const reset = () => {
  r2Calls.clear();
  metadataCalls.clear();
};

describe("edge caching of content by digest (Workers Cache API)", () => {
  let layer: string;
  let manifestDigest: string;
  const layerBytes = new TextEncoder().encode("a layer cached at the edge ".repeat(1000));

  beforeAll(async () => {
    layer = await sha256(layerBytes);
    expect((await request(`/v2/${repo}/blobs/uploads/?digest=${layer}`, { method: "POST", headers: as("alice"), body: layerBytes })).status).toBe(201);
    const config = new TextEncoder().encode("{}");
    const configDigest = await sha256(config);
    expect((await request(`/v2/${repo}/blobs/uploads/?digest=${configDigest}`, { method: "POST", headers: as("alice"), body: config })).status).toBe(201);
    const manifest = new TextEncoder().encode(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: config.byteLength },
        layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: layer, size: layerBytes.byteLength }],
      }),
    );
    manifestDigest = await sha256(manifest);
    const put = await request(`/v2/${repo}/manifests/v1`, { method: "PUT", headers: { ...as("alice"), "content-type": "application/vnd.oci.image.manifest.v1+json" }, body: manifest });
    expect(put.status).toBe(201);
  });

  it("answers a second pull of a blob from the Cache API, reading neither R2 nor the Durable Objects", async () => {
    const first = await request(`/v2/${repo}/blobs/${layer}`, { headers: as("alice") });
    expect(first.status).toBe(200);
    expect(await sha256(new Uint8Array(await first.arrayBuffer()))).toBe(layer);
    reset();
    const second = await request(`/v2/${repo}/blobs/${layer}`, { headers: as("alice") });
    expect(second.status).toBe(200);
    expect(second.headers.get("x-registry-edge-cache")).toBe("hit");
    expect(second.headers.get("docker-content-digest")).toBe(layer);
    expect(second.headers.get("cache-control")).toBe("private, max-age=31536000, immutable");
    expect(await sha256(new Uint8Array(await second.arrayBuffer()))).toBe(layer);
    expect(reads()).toBe(0);
    expect(metadataReads()).toBe(0);
  });

  it("answers a manifest by digest from the cache, and asks the Durable Object for every tag", async () => {
    await request(`/v2/${repo}/manifests/${manifestDigest}`, { headers: as("alice") });
    reset();
    const byDigest = await request(`/v2/${repo}/manifests/${manifestDigest}`, { headers: as("alice") });
    expect(byDigest.status).toBe(200);
    expect(await sha256(new Uint8Array(await byDigest.arrayBuffer()))).toBe(manifestDigest);
    expect(metadataReads()).toBe(0);
    await request(`/v2/${repo}/manifests/v1`, { headers: as("alice") });
    const tagged = await request(`/v2/${repo}/manifests/v1`, { headers: as("alice") });
    expect(tagged.status).toBe(200);
    expect(tagged.headers.get("x-registry-edge-cache")).toBeNull();
    expect(metadataCalls.get("getTaggedManifest")).toBe(2);
  });

  it("gives a cached blob to no caller who may not pull the repository", async () => {
    expect((await request(`/v2/${repo}/blobs/${layer}`)).status).toBe(401);
    const wrongTeam = await request(`/v2/${repo}/blobs/${layer}`, { headers: as("bob") });
    expect(wrongTeam.status).toBe(401);
    expect(wrongTeam.headers.get("www-authenticate")).toContain('error="insufficient_scope"');
    // alice may pull blue/other, which holds no link to the layer: the cache of another repository does not answer.
    const otherRepository = await request(`/v2/blue/other/blobs/${layer}`, { headers: as("alice-other") });
    expect(otherRepository.status).toBe(404);
  });

  it("stops answering a blob from the cache once it is deleted (at this location)", async () => {
    expect((await request(`/v2/${repo}/blobs/${layer}`, { method: "DELETE", headers: as("alice") })).status).toBe(202);
    const after = await request(`/v2/${repo}/blobs/${layer}`, { headers: as("alice") });
    expect(after.status).toBe(404);
  });
});
