/**
 * The auth matrix: every registry route × every kind of caller. Allowed
 * callers get the route's usual answer; denied ones get 401 with a Bearer
 * challenge, the same whether the repository, blob, manifest or upload exists
 * or not, and change nothing.
 */
import { base64url, decodeJwt, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { publicPart } from "../../src/auth/keys.ts";
import { guardedRoutes } from "../../src/http/auth-middleware.ts";
import { createApp } from "../../src/http/app.ts";
import { MemoryBlobStore } from "../../src/adapters/memory/blob-store.ts";
import { MemoryMetadataStore } from "../../src/adapters/memory/metadata-store.ts";
import { hashWasm } from "../../src/adapters/hash-wasm.ts";
import { randomDigest, sha256 } from "../spec/helpers.ts";
import { type AuthedRegistry, authedRegistry, bearer, PASSWORDS, ROBOT_TOKEN, SERVICE } from "./support.ts";

type Need = "base" | "catalog" | "pull" | "push" | "delete";

interface Fixture {
  repo: string;
  tag: string;
  digest: string;
  manifestDigest: string;
  uploadId: string;
}

interface RouteCase {
  name: string;
  need: Need;
  /** The statuses an allowed caller gets on an existing fixture. */
  ok: number[];
  request(f: Fixture): [string, RequestInit];
}

const utf8 = (text: string) => new TextEncoder().encode(text);
const configBytes = utf8('{"architecture":"amd64","os":"linux"}');
const layerBytes = utf8("layer bytes");
const manifestFor = (annotation: string) =>
  utf8(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256(configBytes), size: configBytes.length },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: sha256(layerBytes), size: layerBytes.length }],
      annotations: { note: annotation },
    }),
  );
const seededManifest = manifestFor("v1");
const newManifest = manifestFor("v2");
const newBlob = utf8("a new blob");

const routes: RouteCase[] = [
  { name: "GET /v2/", need: "base", ok: [200], request: () => ["/v2/", {}] },
  { name: "GET /v2/_catalog", need: "catalog", ok: [200], request: () => ["/v2/_catalog", {}] },
  { name: "GET tags/list", need: "pull", ok: [200], request: (f) => [`/v2/${f.repo}/tags/list`, {}] },
  { name: "GET manifest", need: "pull", ok: [200], request: (f) => [`/v2/${f.repo}/manifests/${f.tag}`, {}] },
  { name: "HEAD manifest", need: "pull", ok: [200], request: (f) => [`/v2/${f.repo}/manifests/${f.manifestDigest}`, { method: "HEAD" }] },
  {
    name: "PUT manifest",
    need: "push",
    ok: [201],
    request: (f) => [`/v2/${f.repo}/manifests/${f.tag}`, { method: "PUT", headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" }, body: newManifest }],
  },
  { name: "DELETE manifest", need: "delete", ok: [202], request: (f) => [`/v2/${f.repo}/manifests/${f.manifestDigest}`, { method: "DELETE" }] },
  { name: "GET blob", need: "pull", ok: [200], request: (f) => [`/v2/${f.repo}/blobs/${f.digest}`, {}] },
  { name: "HEAD blob", need: "pull", ok: [200], request: (f) => [`/v2/${f.repo}/blobs/${f.digest}`, { method: "HEAD" }] },
  { name: "DELETE blob", need: "delete", ok: [202], request: (f) => [`/v2/${f.repo}/blobs/${f.digest}`, { method: "DELETE" }] },
  { name: "POST upload", need: "push", ok: [202], request: (f) => [`/v2/${f.repo}/blobs/uploads/`, { method: "POST" }] },
  { name: "POST monolithic upload", need: "push", ok: [201], request: (f) => [`/v2/${f.repo}/blobs/uploads/?digest=${sha256(newBlob)}`, { method: "POST", body: newBlob }] },
  { name: "POST mount from", need: "push", ok: [201], request: (f) => [`/v2/${f.repo}/blobs/uploads/?mount=${f.digest}&from=blue/src`, { method: "POST" }] },
  { name: "POST mount without from", need: "push", ok: [202], request: (f) => [`/v2/${f.repo}/blobs/uploads/?mount=${f.digest}`, { method: "POST" }] },
  { name: "PATCH upload", need: "push", ok: [202], request: (f) => [`/v2/${f.repo}/blobs/uploads/${f.uploadId}`, { method: "PATCH", body: newBlob }] },
  { name: "PUT upload", need: "push", ok: [201], request: (f) => [`/v2/${f.repo}/blobs/uploads/${f.uploadId}?digest=${sha256(newBlob)}`, { method: "PUT", body: newBlob }] },
  { name: "GET upload", need: "push", ok: [204], request: (f) => [`/v2/${f.repo}/blobs/uploads/${f.uploadId}`, {}] },
  { name: "DELETE upload", need: "push", ok: [204], request: (f) => [`/v2/${f.repo}/blobs/uploads/${f.uploadId}`, { method: "DELETE" }] },
  { name: "GET referrers", need: "pull", ok: [200], request: (f) => [`/v2/${f.repo}/referrers/${f.manifestDigest}`, {}] },
];

/** Pushes blue/app (blobs, manifest v1, an open upload) and the blob in blue/src to mount from, with a token minted for it. */
async function seed(registry: AuthedRegistry): Promise<Fixture> {
  const admin = bearer(
    await registry.forge({
      sub: "alice",
      access: [
        { type: "repository", name: "blue/app", actions: ["pull", "push"] },
        { type: "repository", name: "blue/src", actions: ["push"] },
      ],
    }),
  );
  const put = async (path: string, init: RequestInit, status: number) => {
    const res = await registry.request(path, { ...init, headers: { ...admin, ...(init.headers as Record<string, string>) } });
    expect(res.status, `seeding ${init.method} ${path}: ${await res.clone().text()}`).toBe(status);
    return res;
  };
  for (const bytes of [configBytes, layerBytes]) await put(`/v2/blue/app/blobs/uploads/?digest=${sha256(bytes)}`, { method: "POST", body: bytes }, 201);
  await put(`/v2/blue/src/blobs/uploads/?digest=${sha256(layerBytes)}`, { method: "POST", body: layerBytes }, 201);
  await put("/v2/blue/app/manifests/v1", { method: "PUT", headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" }, body: seededManifest }, 201);
  const upload = await put("/v2/blue/app/blobs/uploads/", { method: "POST" }, 202);
  const uploadId = upload.headers.get("location")!.split("/").pop()!;
  return { repo: "blue/app", tag: "v1", digest: sha256(layerBytes), manifestDigest: sha256(seededManifest), uploadId };
}

/** The same requests aimed at things that do not exist: in the same repository, and in a repository that does not exist. */
function missing(f: Fixture, repo = f.repo): Fixture {
  return { repo, tag: "never-pushed", digest: randomDigest(), manifestDigest: randomDigest(), uploadId: crypto.randomUUID() };
}

const SCOPES = ["repository:blue/app:pull,push,delete", "repository:blue/ghost:pull,push,delete", "repository:blue/src:pull", "registry:catalog:*"];

interface CallerCase {
  name: string;
  /** Authorization header for this registry, or none. */
  authorization(registry: AuthedRegistry): Promise<string | undefined>;
  allowed: Need[];
  /** The challenge's error parameter when denied. */
  error?: "invalid_token" | "insufficient_scope";
}

const login = (username: string, password: string) => async (registry: AuthedRegistry) => `Bearer ${await registry.token([username, password], ...SCOPES)}`;
const forged = (claims: Record<string, unknown>, header: Record<string, unknown> = {}) => async (registry: AuthedRegistry) =>
  `Bearer ${await registry.forge({ access: [{ type: "repository", name: "blue/app", actions: ["pull", "push", "delete"] }], ...claims }, header)}`;
const now = () => Math.floor(Date.now() / 1000);

const callers: CallerCase[] = [
  { name: "anonymous, no token", authorization: async () => undefined, allowed: [] },
  { name: "anonymous token", authorization: async (r) => `Bearer ${await r.token(null, ...SCOPES)}`, allowed: ["base"], error: "insufficient_scope" },
  { name: "wrong team (bob, green)", authorization: login("bob", PASSWORDS.bob), allowed: ["base", "catalog"], error: "insufficient_scope" },
  { name: "pull only (carol, readers)", authorization: login("carol", PASSWORDS.carol), allowed: ["base", "catalog", "pull"], error: "insufficient_scope" },
  { name: "push (robot blue-pusher)", authorization: login("blue-pusher", ROBOT_TOKEN), allowed: ["base", "catalog", "pull", "push"], error: "insufficient_scope" },
  { name: "delete (alice, blue)", authorization: login("alice", PASSWORDS.alice), allowed: ["base", "catalog", "pull", "push", "delete"] },
  { name: "expired token", authorization: forged({ iat: now() - 900, nbf: now() - 900, exp: now() - 600 }), allowed: [], error: "invalid_token" },
  { name: "token for another audience", authorization: forged({ aud: "another-registry" }), allowed: [], error: "invalid_token" },
  { name: "token from another issuer", authorization: forged({ iss: "another-issuer" }), allowed: [], error: "invalid_token" },
  { name: "unknown kid", authorization: forged({}, { kid: "not-a-known-key" }), allowed: [], error: "invalid_token" },
  {
    name: "tampered signature",
    authorization: async (r) => {
      const [header, payload, signature] = (await r.forge({ access: [] })).split(".") as [string, string, string];
      const bytes = base64url.decode(signature);
      bytes[10] = bytes[10]! ^ 0xff;
      return `Bearer ${header}.${payload}.${base64url.encode(bytes)}`;
    },
    allowed: [],
    error: "invalid_token",
  },
  {
    name: "tampered payload (access added)",
    authorization: async (r) => {
      const [header, payload, signature] = (await r.forge({ access: [] })).split(".") as [string, string, string];
      const claims = { ...JSON.parse(new TextDecoder().decode(base64url.decode(payload))), access: [{ type: "repository", name: "blue/app", actions: ["*"] }] };
      return `Bearer ${header}.${base64url.encode(JSON.stringify(claims))}.${signature}`;
    },
    allowed: [],
    error: "invalid_token",
  },
  {
    name: "alg none",
    authorization: async (r) => {
      const payload = (await r.forge({ access: [{ type: "repository", name: "blue/app", actions: ["*"] }] })).split(".")[1];
      return `Bearer ${base64url.encode(JSON.stringify({ alg: "none", typ: "JWT", kid: r.signingJwk.kid }))}.${payload}.`;
    },
    allowed: [],
    error: "invalid_token",
  },
  {
    name: "HS256 keyed with the public key",
    authorization: async (r) => {
      const claims = decodeJwt(await r.forge({ access: [{ type: "repository", name: "blue/app", actions: ["*"] }] }));
      const secret = utf8(JSON.stringify(publicPart(r.signingJwk)));
      return `Bearer ${await new SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT", kid: r.signingJwk.kid! }).sign(secret)}`;
    },
    allowed: [],
    error: "invalid_token",
  },
  {
    name: "refresh token used as an access token",
    authorization: async (r) => {
      const res = await r.request(`/token?service=${SERVICE}&offline_token=true`, { headers: { authorization: `Basic ${btoa(`alice:${PASSWORDS.alice}`)}` } });
      return `Bearer ${((await res.json()) as { refresh_token: string }).refresh_token}`;
    },
    allowed: [],
    error: "invalid_token",
  },
];

async function send(registry: AuthedRegistry, route: RouteCase, fixture: Fixture, authorization: string | undefined): Promise<{ status: number; body: string; challenge: string | null }> {
  const [path, init] = route.request(fixture);
  const headers = { ...(init.headers as Record<string, string> | undefined), ...(authorization ? { authorization } : {}) };
  const res = await registry.request(path, { ...init, headers });
  return { status: res.status, body: await res.text(), challenge: res.headers.get("www-authenticate") };
}

function expectedScope(route: RouteCase, repo: string): string | undefined {
  switch (route.need) {
    case "base":
      return undefined;
    case "catalog":
      return "registry:catalog:*";
    case "pull":
      return `repository:${repo}:pull`;
    case "delete":
      return `repository:${repo}:delete`;
    case "push":
      return route.name === "POST mount from" ? `repository:${repo}:pull,push repository:blue/src:pull` : `repository:${repo}:pull,push`;
  }
}

describe("auth matrix: every route × every caller (docker-token-auth token.md, jwt.md)", () => {
  describe.each(callers)("$name", (caller) => {
    let registry: AuthedRegistry;
    let fixture: Fixture;
    let authorization: string | undefined;
    beforeAll(async () => {
      registry = await authedRegistry();
      fixture = await seed(registry);
      authorization = await caller.authorization(registry);
    });

    const denied = routes.filter((route) => !caller.allowed.includes(route.need));
    const allowed = routes.filter((route) => caller.allowed.includes(route.need));

    if (denied.length > 0) {
      it.each(denied)("is refused $name with 401 and a Bearer challenge that tells nothing about what exists", async (route) => {
        const seen = await send(registry, route, fixture, authorization);
        expect(seen.status, seen.body).toBe(401);
        if (route.request(fixture)[1].method !== "HEAD") expect(JSON.parse(seen.body).errors[0].code).toBe("UNAUTHORIZED");
        let challenge = `Bearer realm="http://localhost/token",service="${SERVICE}"`;
        const scope = expectedScope(route, fixture.repo);
        if (scope) challenge += `,scope="${scope}"`;
        if (caller.error) challenge += `,error="${caller.error}"`;
        expect(seen.challenge).toBe(challenge);

        const absentHere = await send(registry, route, missing(fixture), authorization);
        expect(absentHere, "same answer for a blob/manifest/upload that does not exist").toEqual(seen);
        const otherRepo = await send(registry, route, missing(fixture, "blue/ghost"), authorization);
        const renamed = { ...otherRepo, body: otherRepo.body.replaceAll("blue/ghost", "blue/app"), challenge: otherRepo.challenge?.replaceAll("blue/ghost", "blue/app") ?? null };
        expect(renamed, "same answer for a repository that does not exist").toEqual(seen);
      });

      it("changed nothing while being refused", async () => {
        for (const route of denied) await send(registry, route, fixture, authorization);
        const owner = bearer(await registry.forge({ access: [{ type: "repository", name: "blue/app", actions: ["pull", "push"] }] }));
        const check = async (path: string, status: number) => expect((await registry.request(path, { headers: owner })).status, path).toBe(status);
        await check(`/v2/blue/app/manifests/${fixture.tag}`, 200);
        await check(`/v2/blue/app/blobs/${fixture.digest}`, 200);
        await check(`/v2/blue/app/blobs/uploads/${fixture.uploadId}`, 204);
        await check(`/v2/blue/app/blobs/${sha256(newBlob)}`, 404);
      });
    }

    if (allowed.length > 0) {
      it.each(allowed)("is served $name", async (route) => {
        // Each allowed request gets a registry of its own: deletes and pushes change what the next would see.
        const own = await authedRegistry();
        const ownFixture = await seed(own);
        const seen = await send(own, route, ownFixture, await caller.authorization(own));
        expect(route.ok, `${seen.status} ${seen.body}`).toContain(seen.status);
      });
    }
  });
});

describe("guard coverage", () => {
  it("has a guard for every route of the app (a new route without one fails here)", () => {
    const app = createApp({ blobs: new MemoryBlobStore(), metadata: new MemoryMetadataStore(), hashing: hashWasm });
    const served = app.routes.filter((route) => route.path.startsWith("/v2/") && route.method !== "ALL" && route.path !== "/v2/");
    expect(served.length).toBeGreaterThan(10);
    for (const route of served) {
      const guard = guardedRoutes.find((g) => g.path === route.path && g.methods.includes(route.method));
      expect(guard, `${route.method} ${route.path} has no auth guard in src/http/auth-middleware.ts`).toBeDefined();
    }
  });
});
