/**
 * The token endpoint: GET with Basic credentials (token.md), POST with the
 * OAuth2 form (oauth.md), refresh tokens, the JWKS, and anonymous access.
 */
import { decodeJwt, decodeProtectedHeader } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { hashPassword } from "../../src/auth/passwords.ts";
import { buildAuth } from "../../src/auth/service.ts";
import { createApp } from "../../src/http/app.ts";
import { MemoryBlobStore } from "../../src/adapters/memory/blob-store.ts";
import { MemoryMetadataStore } from "../../src/adapters/memory/metadata-store.ts";
import { hashWasm } from "../../src/adapters/hash-wasm.ts";
import type { TokenResponse } from "../../src/auth/service.ts";
import { sha256 } from "../spec/helpers.ts";
import { countedBody } from "../support/counted-body.ts";
import { type AuthedRegistry, authedRegistry, basic, bearer, PASSWORDS, ROBOT_TOKEN, SERVICE, teamsConfig } from "./support.ts";

const form = (fields: Record<string, string>): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams(fields).toString(),
});

describe("GET /token (token.md § Requesting a Token)", () => {
  let registry: AuthedRegistry;
  beforeAll(async () => {
    registry = await authedRegistry();
  });
  const get = (query: string, authorization?: string) => registry.request(`/token?${query}`, authorization ? { headers: { authorization } } : {});

  it("answers token, access_token (equal), expires_in and issued_at, with the granted access in the token", async () => {
    const res = await get(`service=${SERVICE}&scope=repository:blue/app:pull,push&scope=repository:green/app:pull`, basic("alice", PASSWORDS.alice));
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = (await res.json()) as TokenResponse;
    expect(body.access_token).toBe(body.token);
    expect(body.expires_in).toBeGreaterThanOrEqual(60);
    expect(Date.parse(body.issued_at)).toBeGreaterThan(Date.now() - 60_000);
    expect(body.refresh_token).toBeUndefined();
    expect(decodeJwt(body.token)).toMatchObject({ sub: "alice", aud: SERVICE, iss: SERVICE, access: [{ type: "repository", name: "blue/app", actions: ["pull", "push"] }] });
    expect(body.scope).toBe("repository:blue/app:pull,push");
  });

  it("accepts a robot's token as the Basic password with the robot's name", async () => {
    const res = await get(`scope=repository:blue/app:pull,push,delete`, basic("blue-pusher", ROBOT_TOKEN));
    expect(res.status).toBe(200);
    expect(((await res.json()) as TokenResponse).scope).toBe("repository:blue/app:pull,push");
  });

  it("issues an anonymous token without credentials: empty subject, public pulls only", async () => {
    const res = await get(`service=${SERVICE}&scope=repository:public/base:pull,push&scope=repository:blue/app:pull`);
    expect(res.status).toBe(200);
    const claims = decodeJwt(((await res.json()) as TokenResponse).token);
    expect(claims.sub).toBe("");
    expect(claims.access).toEqual([{ type: "repository", name: "public/base", actions: ["pull"] }]);
  });

  it("answers 401 UNAUTHORIZED, the same for a wrong password and an unknown user", async () => {
    const wrong = await get("scope=repository:blue/app:pull", basic("alice", "not-her-password"));
    const unknown = await get("scope=repository:blue/app:pull", basic("mallory", "whatever"));
    const robot = await get("scope=repository:blue/app:pull", basic("blue-pusher", "ocirobot_guess"));
    const bodies = await Promise.all([wrong, unknown, robot].map((res) => res.text()));
    for (const res of [wrong, unknown, robot]) {
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toBe(`Basic realm="${SERVICE}"`);
    }
    expect(JSON.parse(bodies[0]!).errors[0].code).toBe("UNAUTHORIZED");
    expect(new Set(bodies).size).toBe(1);
    expect(bodies[0]).not.toContain("not-her-password");
  });

  it("answers 401 for malformed Basic credentials, 400 for another service", async () => {
    expect((await get("scope=x", "Basic !!!")).status).toBe(401);
    expect((await get("scope=x", `Basic ${btoa("no-colon")}`)).status).toBe(401);
    const other = await get("service=another-registry&scope=repository:blue/app:pull", basic("alice", PASSWORDS.alice));
    expect(other.status).toBe(400);
    expect(JSON.parse(await other.text()).errors[0].message).toContain(`"${SERVICE}"`);
  });

  it("returns a refresh token with offline_token=true, which a POST exchanges for new access tokens", async () => {
    const res = await get(`offline_token=true&client_id=test&account=alice`, basic("alice", PASSWORDS.alice));
    const { refresh_token: refresh, scope } = (await res.json()) as TokenResponse;
    expect(scope).toBe("");
    expect(refresh).toBeTruthy();
    const refreshed = await registry.request("/token", form({ grant_type: "refresh_token", refresh_token: refresh!, service: SERVICE, client_id: "test", scope: "repository:blue/app:pull" }));
    expect(refreshed.status).toBe(200);
    const body = (await refreshed.json()) as TokenResponse;
    expect(decodeJwt(body.access_token)).toMatchObject({ sub: "alice", access: [{ type: "repository", name: "blue/app", actions: ["pull"] }] });
    expect(body.refresh_token).toBeUndefined();
  });
});

describe("POST /token (oauth.md)", () => {
  let registry: AuthedRegistry;
  beforeAll(async () => {
    registry = await authedRegistry();
  });

  it("grant_type=password with access_type=offline returns access_token, scope (space-separated) and a refresh token", async () => {
    const res = await registry.request(
      "/token",
      form({ grant_type: "password", username: "alice", password: PASSWORDS.alice, service: SERVICE, client_id: "docker", access_type: "offline", scope: "repository:blue/app:pull,push repository:blue/lib:pull" }),
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as TokenResponse;
    expect(body.scope).toBe("repository:blue/app:pull,push repository:blue/lib:pull");
    expect(body.refresh_token).toBeTruthy();

    const again = await registry.request("/token", form({ grant_type: "refresh_token", refresh_token: body.refresh_token!, service: SERVICE, client_id: "docker", access_type: "offline" }));
    const rotated = ((await again.json()) as TokenResponse).refresh_token;
    expect(rotated, "a new refresh token (issue 13: rotated, not the same one back)").toBeTruthy();
    expect(rotated).not.toBe(body.refresh_token);
  });

  it("refuses wrong passwords and invalid refresh tokens with 401, bad forms with 400", async () => {
    expect((await registry.request("/token", form({ grant_type: "password", username: "alice", password: "nope", service: SERVICE }))).status).toBe(401);
    expect((await registry.request("/token", form({ grant_type: "refresh_token", refresh_token: "kas9Da81Dfa8", service: SERVICE }))).status).toBe(401);
    const access = await registry.token(["alice", PASSWORDS.alice], "repository:blue/app:pull");
    expect((await registry.request("/token", form({ grant_type: "refresh_token", refresh_token: access }))).status, "an access token is not a refresh token").toBe(401);
    expect((await registry.request("/token", form({ grant_type: "authorization_code", code: "x" }))).status).toBe(400);
    expect((await registry.request("/token", form({ grant_type: "password", username: "alice" }))).status).toBe(400);
  });

  it("reads a form only up to 64 KiB: a larger body, even chunked without Content-Length, gets 413 after at most that much is read", async () => {
    // 64 MiB of "a" offered as a stream of unknown length; the endpoint must stop pulling at the limit.
    const { stream: body, seen } = countedBody(4096, 16 * 1024, { fill: 0x61 });
    const res = await registry.request("/token", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body, duplex: "half" } as RequestInit);
    expect(res.status).toBe(413);
    expect(res.headers.get("connection")).toBe("close");
    const error = ((await res.json()) as { errors: { code: string; message: string }[] }).errors[0]!;
    expect(error.code).toBe("SIZE_INVALID");
    expect(error.message).toContain("at most 65536 bytes");
    expect(seen.bytes).toBeLessThan(1024 * 1024);

    // A declared Content-Length above the limit is refused before anything is read.
    const declared = await registry.request("/token", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", "content-length": String(65537) }, body: "x".repeat(65537) });
    expect(declared.status).toBe(413);
    // At the limit, a form is still read (and judged on its fields).
    const atLimit = await registry.request("/token", form({ grant_type: "password", username: "alice", password: PASSWORDS.alice, padding: "x".repeat(65536 - 200) }));
    expect(atLimit.status).toBe(200);
  });
});

describe("refresh tokens end with the credential they were issued for", () => {
  it("stops working once the user's password changes", async () => {
    const config = await teamsConfig();
    const first = await authedRegistry(config);
    const res = await first.request(`/token?offline_token=true`, { headers: { authorization: basic("alice", PASSWORDS.alice) } });
    const { refresh_token: refresh } = (await res.json()) as TokenResponse;
    const users = { ...(config.users as Record<string, unknown>), alice: { password: await hashPassword("a-new-password"), teams: ["blue"] } };
    const sameKey = await buildAuth({ ...config, users, signingKeys: [{ jwk: first.signingJwk }] });
    const app = createApp({ blobs: new MemoryBlobStore(), metadata: new MemoryMetadataStore(), hashing: hashWasm }, { auth: sameKey });
    const unchangedKey = await buildAuth({ ...config, signingKeys: [{ jwk: first.signingJwk }] });
    const unchanged = createApp({ blobs: new MemoryBlobStore(), metadata: new MemoryMetadataStore(), hashing: hashWasm }, { auth: unchangedKey });
    expect((await unchanged.request("/token", form({ grant_type: "refresh_token", refresh_token: refresh! }))).status).toBe(200);
    expect((await app.request("/token", form({ grant_type: "refresh_token", refresh_token: refresh! }))).status).toBe(401);
  });
});

describe("JWKS", () => {
  it("publishes the signing key's public part under its kid", async () => {
    const registry = await authedRegistry();
    const res = await registry.request("/token/jwks.json");
    expect(res.status).toBe(200);
    const { keys } = (await res.json()) as { keys: Record<string, unknown>[] };
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ kty: "EC", crv: "P-256", kid: registry.signingJwk.kid, alg: "ES256", use: "sig" });
    expect(keys[0]).not.toHaveProperty("d");
    const token = await registry.token(null);
    expect(decodeProtectedHeader(token).kid).toBe(keys[0]!.kid);
  });
});

describe("anonymous pulls of public repositories", () => {
  let registry: AuthedRegistry;
  let digest: string;
  beforeAll(async () => {
    registry = await authedRegistry();
    const bytes = new TextEncoder().encode("public layer");
    digest = sha256(bytes);
    const alice = await registry.token(["alice", PASSWORDS.alice], "repository:public/base:push");
    const res = await registry.request(`/v2/public/base/blobs/uploads/?digest=${digest}`, { method: "POST", headers: bearer(alice), body: bytes });
    expect(res.status).toBe(201);
  });

  it("still challenges GET /v2/ without a token, so that docker login works (checklist B.10)", async () => {
    const res = await registry.request("/v2/");
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe(`Bearer realm="http://localhost/token",service="${SERVICE}"`);
  });

  it("serves them without any token, with an anonymous token, and with another team's token", async () => {
    const anonymous = await registry.token(null, "repository:public/base:pull");
    const bob = await registry.token(["bob", PASSWORDS.bob], "repository:green/app:pull");
    for (const headers of [{}, bearer(anonymous), bearer(bob)]) {
      expect((await registry.request(`/v2/public/base/blobs/${digest}`, { headers })).status).toBe(200);
    }
  });

  it("does not let anyone push there but team blue", async () => {
    const bob = await registry.token(["bob", PASSWORDS.bob], "repository:public/base:pull,push");
    for (const headers of [{}, bearer(bob)]) {
      const res = await registry.request("/v2/public/base/blobs/uploads/", { method: "POST", headers });
      expect(res.status).toBe(401);
    }
  });

  it("uses the configured realm instead of the request's origin (behind a proxy)", async () => {
    const proxied = await authedRegistry(await teamsConfig({ realm: "https://registry.example.com/token" }));
    const res = await proxied.request("/v2/blue/app/tags/list");
    expect(res.headers.get("www-authenticate")).toBe(`Bearer realm="https://registry.example.com/token",service="${SERVICE}",scope="repository:blue/app:pull"`);
  });

  it("names <publicUrl>/token as the realm whatever Host the request carries, once publicUrl is configured", async () => {
    const auth = await buildAuth({ ...(await teamsConfig()), signingKeys: [{ jwk: registry.signingJwk }] });
    const stores = { blobs: new MemoryBlobStore(), metadata: new MemoryMetadataStore(), hashing: hashWasm };
    const configured = createApp(stores, { auth, publicUrl: "https://registry.example.com" });
    for (const path of ["http://evil.example/v2/", "http://evil.example/v2/blue/app/tags/list"]) {
      const res = await configured.request(path, { headers: { host: "evil.example" } });
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer realm="https:\/\/registry\.example\.com\/token",/);
    }
    // auth.realm, when set, still wins over publicUrl.
    const both = createApp(stores, { auth: await buildAuth({ ...(await teamsConfig({ realm: "https://auth.example.com/token" })), signingKeys: [{ jwk: registry.signingJwk }] }), publicUrl: "https://registry.example.com" });
    expect((await both.request("http://evil.example/v2/")).headers.get("www-authenticate")).toContain('realm="https://auth.example.com/token"');
    // Unconfigured (local use, documented): the realm follows the request's origin.
    const local = createApp(stores, { auth });
    expect((await local.request("http://evil.example/v2/")).headers.get("www-authenticate")).toContain('realm="http://evil.example/token"');
  });

  it("refuses malformed names before anything else, as the route would", async () => {
    const res = await registry.request("/v2/Public/Base/tags/list");
    expect(res.status).toBe(400);
    expect(JSON.parse(await res.text()).errors[0].code).toBe("NAME_INVALID");
  });
});
