/**
 * Token auth through the real Worker entry point (src/runtime/workers.ts),
 * inside workerd with the local R2 and Durable Objects of wrangler.toml:
 * the AUTH_CONFIG secret is the example teams configuration
 * (examples/teams/registry.json) plus a signing key made here, at test time,
 * so no private key is committed.
 *
 * The Worker builds its deployment once per isolate, so each configuration
 * gets a fresh copy of the module (vi.resetModules) with its own env. A fresh
 * copy resets the Durable Objects that are alive (workerd sees a code
 * change), so requests after one touch no repository made before it.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { exportJWK, generateKeyPair } from "jose";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import example from "../../examples/teams/registry.json" with { type: "json" };
import type { WorkersEnv } from "../../src/runtime/workers-env.ts";
import { countedBody } from "../support/counted-body.ts";
import { client, ORIGIN, type Worker } from "./worker-client.ts";

const SERVICE = "oci-registry";

async function freshWorker(): Promise<Worker> {
  vi.resetModules();
  return (await import("../../src/runtime/workers.ts")).default;
}

async function signingJwk() {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  return { ...(await exportJWK(privateKey)), alg: "ES256" };
}

const basic = (user: string, password: string) => ({ authorization: `Basic ${btoa(`${user}:${password}`)}` });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return `sha256:${Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

type Fetch = ReturnType<typeof client>;

async function tokenFor(fetch: Fetch, scope: string, credentials?: { user: string; password: string }): Promise<{ token: string; scope: string }> {
  const headers = credentials ? basic(credentials.user, credentials.password) : {};
  const response = await fetch(`/token?service=${SERVICE}&scope=${encodeURIComponent(scope)}`, { headers });
  expect(response.status).toBe(200);
  return (await response.json()) as { token: string; scope: string };
}

/** Pushes one layer, a config and an image manifest to `repository:tag`; returns the manifest's digest. */
async function pushImage(fetch: Fetch, token: string, repository: string, tag: string): Promise<string> {
  const layer = new TextEncoder().encode(`a layer of ${repository}`);
  const config = new TextEncoder().encode(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } }));
  for (const blob of [layer, config]) {
    const pushed = await fetch(`/v2/${repository}/blobs/uploads/?digest=${await sha256(blob)}`, { method: "POST", headers: bearer(token), body: blob });
    expect(pushed.status).toBe(201);
  }
  const manifest = new TextEncoder().encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: await sha256(config), size: config.byteLength },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: await sha256(layer), size: layer.byteLength }],
    }),
  );
  const put = await fetch(`/v2/${repository}/manifests/${tag}`, {
    method: "PUT",
    headers: { ...bearer(token), "content-type": "application/vnd.oci.image.manifest.v1+json" },
    body: manifest,
  });
  expect(put.status).toBe(201);
  return sha256(manifest);
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("the Worker with AUTH_CONFIG (the example teams configuration)", () => {
  let fetch: Fetch;
  const alice = { user: "alice", password: "alice-secret" };
  const bob = { user: "bob", password: "bob-secret" };

  let AUTH_CONFIG: string;

  beforeAll(async () => {
    AUTH_CONFIG = JSON.stringify({ ...example.auth, signingKeys: [{ jwk: await signingJwk() }] });
    fetch = client(await freshWorker(), { ...env, AUTH_CONFIG });
  });

  it("challenges an anonymous GET /v2/ with a Bearer challenge naming its token endpoint", async () => {
    const response = await fetch("/v2/");
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe(`Bearer realm="${ORIGIN}/token",service="${SERVICE}"`);
  });

  it("gives alice a token for blue/app with pull and push, which pushes an image and pulls it back", async () => {
    const { token, scope } = await tokenFor(fetch, "repository:blue/app:pull,push", alice);
    expect(scope).toBe("repository:blue/app:pull,push");
    const digest = await pushImage(fetch, token, "blue/app", "v1");

    const pulled = await fetch("/v2/blue/app/manifests/v1", { headers: { ...bearer(token), accept: "application/vnd.oci.image.manifest.v1+json" } });
    expect(pulled.status).toBe(200);
    expect(pulled.headers.get("docker-content-digest")).toBe(digest);
  });

  it("refuses an anonymous pull of a blue repository, with or without an anonymous token", async () => {
    const bare = await fetch("/v2/blue/app/manifests/v1");
    expect(bare.status).toBe(401);
    expect(bare.headers.get("www-authenticate")).toBe(`Bearer realm="${ORIGIN}/token",service="${SERVICE}",scope="repository:blue/app:pull"`);

    const anonymous = await tokenFor(fetch, "repository:blue/app:pull");
    expect(anonymous.scope).toBe("");
    const refused = await fetch("/v2/blue/app/manifests/v1", { headers: bearer(anonymous.token) });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toContain('error="insufficient_scope"');
  });

  it("reads a POST /token form only up to 64 KiB: a 64 MiB stream of unknown length gets 413 and is not read whole", async () => {
    // 64 MiB of "a" offered as a stream of unknown length; the endpoint must stop pulling at the limit.
    const { stream: body, seen } = countedBody(4096, 16 * 1024, { fill: 0x61 });
    const response = await fetch("/token", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body, duplex: "half" } as RequestInit);
    expect(response.status).toBe(413);
    const error = ((await response.json()) as { errors: { code: string; message: string }[] }).errors[0]!;
    expect(error.code).toBe("SIZE_INVALID");
    expect(error.message).toContain("at most 65536 bytes");
    expect(seen.bytes).toBeLessThan(1024 * 1024);
  });

  it("refuses a wrong password at /token", async () => {
    const response = await fetch(`/token?service=${SERVICE}&scope=repository:blue/app:pull`, { headers: basic("alice", "not-her-password") });
    expect(response.status).toBe(401);
  });

  it("gives bob (team green) nothing on blue/*: his token cannot push there", async () => {
    const { token, scope } = await tokenFor(fetch, "repository:blue/app:pull,push", bob);
    expect(scope).toBe("");
    const start = await fetch("/v2/blue/app/blobs/uploads/", { method: "POST", headers: bearer(token) });
    expect(start.status).toBe(401);
    expect(start.headers.get("www-authenticate")).toContain('error="insufficient_scope"');
    const blob = new TextEncoder().encode("bob was here");
    const monolithic = await fetch(`/v2/blue/app/blobs/uploads/?digest=${await sha256(blob)}`, { method: "POST", headers: bearer(token), body: blob });
    expect(monolithic.status).toBe(401);

    // His own team's repositories are his.
    const green = await tokenFor(fetch, "repository:green/app:pull,push", bob);
    expect(green.scope).toBe("repository:green/app:pull,push");
    await pushImage(fetch, green.token, "green/app", "v1");
  });

  it("answers wrong bytes alike whether another team holds the digest or nobody does (no cross-team probe)", async () => {
    const secret = new TextEncoder().encode("blue's secret layer, in R2");
    const held = await sha256(secret);
    const pusher = await tokenFor(fetch, "repository:blue/probe:pull,push", alice);
    expect((await fetch(`/v2/blue/probe/blobs/uploads/?digest=${held}`, { method: "POST", headers: bearer(pusher.token), body: secret })).status).toBe(201);
    const prober = await tokenFor(fetch, "repository:green/probe:pull,push", bob);
    const wrong = new TextEncoder().encode("bytes that hash to neither digest");
    const nowhere = await sha256(new TextEncoder().encode(`held by nobody ${Math.random()}`));
    const answer = async (digest: string, withLength: boolean) => {
      const body = withLength
        ? wrong
        : new ReadableStream<Uint8Array>({
            start(controller) {
              controller.enqueue(wrong.slice(0, 7));
              controller.enqueue(wrong.slice(7));
              controller.close();
            },
          });
      const headers = withLength ? { ...bearer(prober.token), "content-length": String(wrong.byteLength) } : bearer(prober.token);
      const response = await fetch(`/v2/green/probe/blobs/uploads/?digest=${digest}`, { method: "POST", headers, body, duplex: "half" } as RequestInit);
      // X-Request-Id is new for every request, whoever holds the digest.
      return { status: response.status, headers: [...response.headers].filter(([name]) => name !== "x-request-id").sort(), body: await response.text() };
    };
    for (const withLength of [true, false]) {
      const known = await answer(held, withLength);
      expect(known.status).toBe(400);
      expect(known.body).toContain("DIGEST_INVALID");
      expect(known).toEqual(await answer(nowhere, withLength));
    }
    expect((await fetch(`/v2/green/probe/blobs/${held}`, { method: "HEAD", headers: bearer(prober.token) })).status).toBe(404);
  });

  it("checks a manifest's references whatever its Content-Type, refuses other types, and serves nosniff", async () => {
    const { token } = await tokenFor(fetch, "repository:green/types:pull,push", bob);
    const random = async () => sha256(new TextEncoder().encode(`nowhere ${Math.random()}`));
    const dangling = JSON.stringify({
      schemaVersion: 2,
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: await random(), size: 10 },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: await random(), size: 20 }],
    });
    const put = (body: string, contentType: string) => fetch("/v2/green/types/manifests/v1", { method: "PUT", headers: { ...bearer(token), "content-type": contentType }, body });
    for (const contentType of ["application/json", "application/octet-stream", "Application/Vnd.OCI.Image.Manifest.v1+JSON"]) {
      const response = await put(dangling, contentType);
      expect(response.status, contentType).toBe(404);
      expect(await response.text()).toContain("MANIFEST_BLOB_UNKNOWN");
    }
    const html = await put(JSON.stringify({ schemaVersion: 2, manifests: [], x: "<script>alert(1)</script>" }), "text/html");
    expect(html.status).toBe(400);
    expect(await html.text()).toContain("MANIFEST_INVALID");
    expect(html.headers.get("x-content-type-options")).toBe("nosniff");

    const index = await put(JSON.stringify({ schemaVersion: 2, manifests: [] }), "application/json");
    expect(index.status).toBe(201);
    const pulled = await fetch("/v2/green/types/manifests/v1", { headers: bearer(token) });
    expect(pulled.headers.get("content-type")).toBe("application/vnd.oci.image.index.v1+json");
    expect(pulled.headers.get("x-content-type-options")).toBe("nosniff");
  });

  it("lets anyone pull public/*, which alice (team blue) may push", async () => {
    const pusher = await tokenFor(fetch, "repository:public/base:pull,push", alice);
    const digest = await pushImage(fetch, pusher.token, "public/base", "v1");
    const accept = { accept: "application/vnd.oci.image.manifest.v1+json" };

    // Without any Authorization header...
    const bare = await fetch("/v2/public/base/manifests/v1", { headers: accept });
    expect(bare.status).toBe(200);
    expect(bare.headers.get("docker-content-digest")).toBe(digest);
    // ...and the way clients do it: an anonymous token first.
    const anonymous = await tokenFor(fetch, "repository:public/base:pull");
    expect(anonymous.scope).toBe("repository:public/base:pull");
    const pulled = await fetch("/v2/public/base/manifests/v1", { headers: { ...accept, ...bearer(anonymous.token) } });
    expect(pulled.status).toBe(200);

    // But an anonymous caller cannot push there.
    const push = await fetch("/v2/public/base/blobs/uploads/", { method: "POST", headers: bearer(anonymous.token) });
    expect(push.status).toBe(401);
  });

  it("accepts a token in another isolate built from the same secret, and refuses it where another key signs", async () => {
    const { token } = await tokenFor(fetch, "repository:blue/app:pull", alice);
    const sameSecret = client(await freshWorker(), { ...env, AUTH_CONFIG });
    // Only /v2/ here: re-importing the entry module resets the live Durable Objects (workerd treats it as a code change).
    expect((await sameSecret("/v2/", { headers: bearer(token) })).status).toBe(200);

    const otherKey = client(await freshWorker(), { ...env, AUTH_CONFIG: JSON.stringify({ ...example.auth, signingKeys: [{ jwk: await signingJwk() }] }) });
    const refused = await otherKey("/v2/", { headers: bearer(token) });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toContain('error="invalid_token"');
  });
});

describe("the Worker's AUTH_CONFIG mistakes", () => {
  it("answers 500 naming the problem, never echoing the secret, when AUTH_CONFIG is not JSON; then recovers once it is fixed", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const worker = await freshWorker();
    const secretText = '{"signingKeys": [{"jwk": {"d": "TOP-SECRET-PRIVATE-KEY-MATERIAL"';
    const broken = await client(worker, { ...env, AUTH_CONFIG: secretText })("/v2/");
    expect(broken.status).toBe(500);
    expect(broken.headers.get("x-content-type-options")).toBe("nosniff");
    const body = await broken.text();
    expect(body).toContain("auth (env AUTH_CONFIG) is not valid JSON");
    expect(body).not.toContain("TOP-SECRET");
    const logged = errors.mock.calls.flat().map(String).join("\n");
    expect(logged).toContain("not valid JSON");
    expect(logged).not.toContain("TOP-SECRET");

    // The failed build is not cached: the same isolate with a good secret serves (and challenges).
    const fixed = await client(worker, { ...env, AUTH_CONFIG: JSON.stringify({ ...example.auth, signingKeys: [{ jwk: await signingJwk() }] }) })("/v2/");
    expect(fixed.status).toBe(401);
  });

  it("requires signingKeys: no throwaway key per isolate", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const response = await client(await freshWorker(), { ...env, AUTH_CONFIG: JSON.stringify(example.auth) })("/v2/");
    expect(response.status).toBe(500);
    expect(await response.text()).toContain("auth.signingKeys (secret AUTH_CONFIG) is empty");
  });

  it("reports an invalid auth section setting by name (AuthConfigError-safe messages), not its value", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const auth = { ...example.auth, signingKeys: [{ jwk: await signingJwk() }], users: { alice: { password: "hunter2-in-clear", teams: ["blue"] } } };
    const response = await client(await freshWorker(), { ...env, AUTH_CONFIG: JSON.stringify(auth) })("/v2/");
    expect(response.status).toBe(500);
    const body = await response.text();
    expect(body).toContain("users.alice.password");
    expect(body).not.toContain("hunter2");
  });

  it("reports a signing key that cannot be imported (AuthConfigError) as a configuration error", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const { d: _private, ...publicOnly } = await signingJwk();
    const auth = { ...example.auth, signingKeys: [{ jwk: { ...publicOnly, d: "bm90LWEta2V5" } }] };
    const response = await client(await freshWorker(), { ...env, AUTH_CONFIG: JSON.stringify(auth) })("/v2/");
    expect(response.status).toBe(500);
    const body = await response.text();
    expect(body).toMatch(/invalid (auth )?configuration/);
    expect(body).toContain("signingKeys[0]");
    expect(body).not.toContain("bm90LWEta2V5");
  });
});

describe("the Worker without AUTH_CONFIG", () => {
  it("stays open, as before, and warns once per isolate", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const fetch = client(await freshWorker(), env);
    for (let i = 0; i < 3; i++) {
      const response = await fetch("/v2/");
      expect(response.status).toBe(200);
      expect(response.headers.get("www-authenticate")).toBeNull();
    }
    const warnings = warn.mock.calls.filter(([message]) => String(message).includes("AUTH_CONFIG is not set"));
    expect(warnings).toHaveLength(1);
  });
});

describe("the Worker with PUBLIC_URL", () => {
  it("names <PUBLIC_URL>/token as the realm whatever host the request came to; without it, the request's", async () => {
    const AUTH_CONFIG = JSON.stringify({ ...example.auth, signingKeys: [{ jwk: await signingJwk() }] });
    const worker = await freshWorker();
    const challenge = async (workerEnv: WorkersEnv) => {
      const ctx = createExecutionContext();
      const response = await worker.fetch(new Request("http://evil.example/v2/", { headers: { host: "evil.example" } }) as Request<unknown, IncomingRequestCfProperties>, workerEnv, ctx);
      await waitOnExecutionContext(ctx);
      return response.headers.get("www-authenticate");
    };
    expect(await challenge({ ...env, AUTH_CONFIG, PUBLIC_URL: "https://registry.example.com" })).toBe(`Bearer realm="https://registry.example.com/token",service="${SERVICE}"`);
    expect(await client(await freshWorker(), { ...env, AUTH_CONFIG })("/v2/").then((r) => r.headers.get("www-authenticate"))).toBe(`Bearer realm="${ORIGIN}/token",service="${SERVICE}"`);
  });
});
