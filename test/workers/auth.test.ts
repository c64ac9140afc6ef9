/**
 * Token auth inside workerd: the same src/auth the Node server uses, built
 * from JSON as a Worker builds it from its AUTH_CONFIG secret. PBKDF2, ES256
 * signing and verification all go through the Workers runtime's WebCrypto.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { MemoryBlobStore } from "../../src/adapters/memory/blob-store.ts";
import { MemoryMetadataStore } from "../../src/adapters/memory/metadata-store.ts";
import { wasmSha2Hashing } from "../../src/adapters/wasm-sha2/hashing.ts";
import sha256 from "../../src/adapters/wasm-sha2/sha256.wasm";
import sha512 from "../../src/adapters/wasm-sha2/sha512.wasm";
import { generateSigningJwk } from "../../src/auth/keys.ts";
import { hashPassword } from "../../src/auth/passwords.ts";
import { buildAuth } from "../../src/auth/service.ts";
import { createApp } from "../../src/http/app.ts";
import { MIN_PART_SIZE } from "../../src/ports/blob-store.ts";

async function authedApp() {
  const secret = JSON.stringify({
    service: "oci-registry",
    signingKeys: [{ jwk: await generateSigningJwk() }],
    users: { alice: { password: await hashPassword("alice-secret"), teams: ["blue"] } },
    public: ["public/*"],
    rules: [{ teams: ["blue"], repositories: ["blue/*"], actions: ["pull", "push", "delete"] }],
  });
  const auth = await buildAuth(JSON.parse(secret));
  const hashing = wasmSha2Hashing({ sha256, sha512 });
  return createApp({ blobs: new MemoryBlobStore(), metadata: new MemoryMetadataStore(), hashing, partSize: MIN_PART_SIZE }, { auth });
}

describe("token auth in workerd", () => {
  it("challenges, issues a token for a password login, and lets it push and pull", async () => {
    const app = await authedApp();
    const challenged = await app.request("/v2/blue/app/tags/list", {}, env);
    expect(challenged.status).toBe(401);
    expect(challenged.headers.get("www-authenticate")).toBe('Bearer realm="http://localhost/token",service="oci-registry",scope="repository:blue/app:pull"');

    const login = await app.request("/token?service=oci-registry&scope=repository:blue/app:pull,push", { headers: { authorization: `Basic ${btoa("alice:alice-secret")}` } }, env);
    expect(login.status).toBe(200);
    const { token } = (await login.json()) as { token: string };

    const bytes = new TextEncoder().encode("pushed from a Worker");
    const digest = `sha256:${Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)), (b) => b.toString(16).padStart(2, "0")).join("")}`;
    const headers = { authorization: `Bearer ${token}` };
    expect((await app.request(`/v2/blue/app/blobs/uploads/?digest=${digest}`, { method: "POST", headers, body: bytes }, env)).status).toBe(201);
    const pulled = await app.request(`/v2/blue/app/blobs/${digest}`, { headers }, env);
    expect(pulled.status).toBe(200);
    expect(new TextDecoder().decode(await pulled.arrayBuffer())).toBe("pushed from a Worker");
  });

  it("refuses a wrong password and a token signed by another key", async () => {
    const app = await authedApp();
    const wrong = await app.request("/token?scope=repository:blue/app:pull", { headers: { authorization: `Basic ${btoa("alice:nope")}` } }, env);
    expect(wrong.status).toBe(401);
    const other = await authedApp();
    const { token } = (await (await other.request("/token?scope=repository:public/x:pull", {}, env)).json()) as { token: string };
    const res = await app.request("/v2/", { headers: { authorization: `Bearer ${token}` } }, env);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toContain('error="invalid_token"');
  });
});
