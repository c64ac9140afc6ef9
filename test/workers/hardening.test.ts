/**
 * Issue 13's limits through the real Worker entry point (src/runtime/workers.ts) inside workerd,
 * with the local R2 and Durable Objects of wrangler.toml: what the core refuses on Node it refuses
 * here too.
 */
import { env } from "cloudflare:test";
import { exportJWK, generateKeyPair } from "jose";
import { beforeAll, describe, expect, it, vi } from "vitest";
import example from "../../examples/teams/registry.json" with { type: "json" };
import { client, type Worker } from "./worker-client.ts";
import { DurableObjectAuthState } from "../../src/adapters/durable-object/auth-state-object.ts";
import { authStateContract } from "../contract/auth-state.contract.ts";

let openWorker: Worker | undefined;
/**
 * One module for the open Worker's tests: a fresh copy of the module resets the Durable Objects
 * that are alive (workerd sees a code change), so every test shares this one.
 */
async function openWorkerModule(): Promise<Worker> {
  if (openWorker) return openWorker;
  vi.resetModules();
  // The open Worker's warning about AUTH_CONFIG is worker-auth.test.ts's concern.
  vi.spyOn(console, "warn").mockImplementation(() => {});
  openWorker = (await import("../../src/runtime/workers.ts")).default;
  return openWorker;
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return `sha256:${Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

async function errorOf(response: Response): Promise<{ code: string; message: string }> {
  const body = (await response.json()) as { errors: { code: string; message: string }[] };
  return body.errors[0]!;
}

async function pushBlob(fetch: ReturnType<typeof client>, repo: string, bytes: Uint8Array): Promise<string> {
  const digest = await sha256(bytes);
  const response = await fetch(`/v2/${repo}/blobs/uploads/?digest=${digest}`, { method: "POST", body: bytes });
  expect(response.status).toBe(201);
  return digest;
}

describe("manifest limits in workerd (issue 13, defect 5)", () => {
  it("refuses 20,000 levels of nesting and 10,001 descriptors with 400 MANIFEST_INVALID naming the limit", async () => {
    const fetch = client(await openWorkerModule(), env);
    const config = new TextEncoder().encode("{}");
    const layer = new TextEncoder().encode("a layer");
    const configDigest = await pushBlob(fetch, "limits/app", config);
    const layerDigest = await pushBlob(fetch, "limits/app", layer);
    const manifest = {
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: config.length },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: layerDigest, size: layer.length }],
    };
    const put = (body: string) =>
      fetch("/v2/limits/app/manifests/v1", { method: "PUT", headers: { "content-type": manifest.mediaType }, body });

    const deep = `${JSON.stringify(manifest).slice(0, -1)},"nested":${"[".repeat(20_000)}${"]".repeat(20_000)}}`;
    const deepAnswer = await put(deep);
    expect(deepAnswer.status).toBe(400);
    expect(await errorOf(deepAnswer)).toMatchObject({ code: "MANIFEST_INVALID", message: expect.stringContaining("64 levels") });

    const many = JSON.stringify({ ...manifest, layers: Array.from({ length: 10_000 }, () => manifest.layers[0]) });
    const manyAnswer = await put(many);
    expect(manyAnswer.status).toBe(400);
    expect(await errorOf(manyAnswer)).toMatchObject({ code: "MANIFEST_INVALID", message: expect.stringContaining("at most 10000") });

    expect((await fetch("/v2/limits/app/manifests/v1", { method: "HEAD" })).status).toBe(404);
    expect((await put(JSON.stringify(manifest))).status).toBe(201);
  });
});

describe("encoded slashes in workerd (issue 13, item 11)", () => {
  it("answers 400 NAME_INVALID to /v2/a%2Fb/..., which reached repository a/b", async () => {
    const fetch = client(await openWorkerModule(), env);
    const digest = await pushBlob(fetch, "slash/app", new TextEncoder().encode("slash"));
    expect((await fetch(`/v2/slash/app/blobs/${digest}`, { method: "HEAD" })).status).toBe(200);
    const answer = await fetch(`/v2/slash%2Fapp/blobs/${digest}`);
    expect(answer.status).toBe(400);
    expect((await errorOf(answer)).code).toBe("NAME_INVALID");
  });
});

describe("failed-login limits and refresh rotation in workerd (issue 13, defect 7 and item 11), counted in the AuthStateObject", () => {
  const SERVICE = "oci-registry";
  let fetch: ReturnType<typeof client>;

  beforeAll(async () => {
    const { privateKey } = await generateKeyPair("ES256", { extractable: true });
    const AUTH_CONFIG = JSON.stringify({ ...example.auth, signingKeys: [{ jwk: { ...(await exportJWK(privateKey)), alg: "ES256" } }], loginFailuresPerName: 3, loginFailuresPerAddress: 5 });
    vi.resetModules();
    openWorker = undefined;
    fetch = client((await import("../../src/runtime/workers.ts")).default, { ...env, AUTH_CONFIG });
  });

  const login = (user: string, password: string, from: string) =>
    fetch(`/token?service=${SERVICE}&scope=repository:blue/app:pull`, { headers: { authorization: `Basic ${btoa(`${user}:${password}`)}`, "cf-connecting-ip": from } });

  it("answers 429 with Retry-After to the guessing address, lets alice in from another, and keeps the counts in the Durable Object", async () => {
    for (let i = 0; i < 3; i++) expect((await login("alice", "guess", "203.0.113.1")).status).toBe(401);
    const refused = await login("alice", "alice-secret", "203.0.113.1");
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await errorOf(refused)).code).toBe("TOOMANYREQUESTS");
    expect((await login("alice", "alice-secret", "198.51.100.9")).status).toBe(200);

    const window = Date.now() - (Date.now() % 60_000);
    const counts = await env.AUTH_STATE.getByName("auth-state").failures(["name:alice", "address:203.0.113.1"], window);
    expect(counts).toEqual([3, 3]);
  });

  it("rotates a refresh token asked for with access_type=offline and refuses the used one", async () => {
    const form = (fields: Record<string, string>) =>
      fetch("/token", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ service: SERVICE, client_id: "test", ...fields }) });
    const first = ((await (await form({ grant_type: "password", username: "bob", password: "bob-secret", access_type: "offline" })).json()) as { refresh_token: string }).refresh_token;
    const rotated = await form({ grant_type: "refresh_token", refresh_token: first, access_type: "offline" });
    expect(rotated.status).toBe(200);
    expect(((await rotated.json()) as { refresh_token: string }).refresh_token).not.toBe(first);
    const reused = await form({ grant_type: "refresh_token", refresh_token: first, access_type: "offline" });
    expect(reused.status).toBe(401);
  });
});

authStateContract("Durable Object (AuthStateObject in workerd)", async () => new DurableObjectAuthState(env.AUTH_STATE));
