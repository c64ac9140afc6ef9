/**
 * Who may pull through a mirror is our policy's decision, made before the upstream is
 * asked anything (README "Pull-through cache"): a caller who may not pull a mirrored
 * repository costs the upstream no request, and no identity may push into a mirror.
 * The upstream is a real HTTP server on 127.0.0.1 that counts what it is asked.
 */
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryBlobStore } from "../../src/adapters/memory/blob-store.ts";
import { MemoryMetadataStore } from "../../src/adapters/memory/metadata-store.ts";
import { hashWasm } from "../../src/adapters/hash-wasm.ts";
import { generateSigningJwk } from "../../src/auth/keys.ts";
import { buildAuth } from "../../src/auth/service.ts";
import { createApp } from "../../src/http/app.ts";
import { MIN_PART_SIZE } from "../../src/ports/blob-store.ts";
import { parseMirrors } from "../../src/proxy/mirror-config.ts";
import { basic, bearer, PASSWORDS, SERVICE, teamsConfig } from "./support.ts";

const manifest = JSON.stringify({
  schemaVersion: 2,
  mediaType: "application/vnd.oci.image.manifest.v1+json",
  config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: `sha256:${"1".repeat(64)}`, size: 2 },
  layers: [],
});
const manifestDigest = `sha256:${createHash("sha256").update(manifest).digest("hex")}`;

let upstream: Server;
const asked: string[] = [];
let app: ReturnType<typeof createApp>;
let upstreamHost: string;

beforeAll(async () => {
  upstream = createServer((req, res) => {
    asked.push(`${req.method} ${req.url}`);
    res.writeHead(200, { "Content-Type": "application/vnd.oci.image.manifest.v1+json", "Docker-Content-Digest": manifestDigest, "Content-Length": String(manifest.length) });
    res.end(req.method === "HEAD" ? undefined : manifest);
  });
  upstream.listen(0, "127.0.0.1");
  await once(upstream, "listening");
  upstreamHost = `127.0.0.1:${(upstream.address() as { port: number }).port}`;
  const url = `http://${upstreamHost}`;
  const config = await teamsConfig();
  // green may also push to hub/*: the mirror refuses it anyway.
  (config.rules as unknown[]).push({ teams: ["green"], repositories: ["hub/*"], actions: ["pull", "push", "delete"] });
  const auth = await buildAuth({ ...config, signingKeys: [{ jwk: await generateSigningJwk() }] });
  const { mirrors } = parseMirrors([{ namespace: "hub", url }], {});
  app = createApp({ blobs: new MemoryBlobStore(), metadata: new MemoryMetadataStore(), hashing: hashWasm, partSize: MIN_PART_SIZE }, { auth, mirrors });
});

afterAll(() => {
  upstream.closeAllConnections();
  upstream.close();
});

async function token(user: keyof typeof PASSWORDS, scope: string): Promise<string> {
  const res = await app.request(`/token?service=${SERVICE}&scope=${encodeURIComponent(scope)}`, { headers: { authorization: basic(user, PASSWORDS[user]) } });
  return ((await res.json()) as { token: string }).token;
}

describe("mirror namespaces under token auth", () => {
  it("challenges an anonymous pull and asks the upstream nothing", async () => {
    asked.length = 0;
    const res = await app.request("/v2/hub/team/app/manifests/v1");
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toContain('scope="repository:hub/team/app:pull"');
    expect(asked).toEqual([]);
  });

  it("refuses a caller whose rules do not cover the mirror, asking the upstream nothing", async () => {
    asked.length = 0;
    const res = await app.request("/v2/hub/team/app/manifests/v1", { headers: bearer(await token("alice", "repository:hub/team/app:pull")) });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toContain('error="insufficient_scope"');
    expect(asked).toEqual([]);
  });

  it("pulls through for a caller who may pull the repository, with ?ns= named the same way", async () => {
    asked.length = 0;
    const res = await app.request("/v2/hub/team/app/manifests/v1", { headers: bearer(await token("olga", "repository:hub/team/app:pull")) });
    expect(res.status).toBe(200);
    expect(res.headers.get("docker-content-digest")).toBe(manifestDigest);
    expect(asked.length).toBeGreaterThan(0);
    // ?ns= routes to hub/<name>, and the challenge names that repository, so a client asks the token it needs.
    const challenged = await app.request(`/v2/team/app/manifests/v1?ns=${upstreamHost}`);
    expect(challenged.status).toBe(401);
    expect(challenged.headers.get("www-authenticate")).toContain('scope="repository:hub/team/app:pull"');
  });

  it("refuses pushes into the mirror with 403 DENIED even for a caller whose rules allow them", async () => {
    const headers = bearer(await token("bob", "repository:hub/team/app:pull,push"));
    const upload = await app.request("/v2/hub/team/app/blobs/uploads/", { method: "POST", headers });
    expect(upload.status).toBe(403);
    const put = await app.request("/v2/hub/team/app/manifests/v2", { method: "PUT", headers: { ...headers, "content-type": "application/vnd.oci.image.manifest.v1+json" }, body: manifest });
    expect(put.status).toBe(403);
    expect(((await put.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe("DENIED");
  });
});
