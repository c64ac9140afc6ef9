/**
 * The upstream registry client (src/proxy/upstream-client.ts) against a real HTTP server on
 * 127.0.0.1 that speaks the Docker token flow: token reuse, per-repository scopes,
 * Retry-After, and credentials kept out of errors.
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveConfig } from "../../src/config/schema.ts";
import type { MirrorConfig } from "../../src/proxy/mirror-config.ts";
import { mirrorOf, parseMirrors } from "../../src/proxy/mirror-config.ts";
import { UpstreamClient, UpstreamError } from "../../src/proxy/upstream-client.ts";

let server: Server;
let origin: string;
const seen: { path: string; authorization: string | undefined }[] = [];
let rateLimitNext = false;
let cdn: Server;
let cdnOrigin: string;
const cdnSeen: (string | undefined)[] = [];

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    seen.push({ path: url.pathname + url.search, authorization: req.headers.authorization });
    if (url.pathname === "/token") {
      if (req.headers.authorization !== `Basic ${Buffer.from("robot:s3cret-pass").toString("base64")}`) return res.writeHead(401).end();
      res.writeHead(200, { "Content-Type": "application/json" });
      return res.end(JSON.stringify({ token: `token-for-${url.searchParams.get("scope")}`, expires_in: 300 }));
    }
    if (rateLimitNext) {
      rateLimitNext = false;
      return res.writeHead(429, { "Retry-After": "30" }).end();
    }
    const name = /^\/v2\/(.+)\/(?:manifests|blobs)\//.exec(url.pathname)?.[1];
    if (req.headers.authorization !== `Bearer token-for-repository:${name}:pull`) {
      res.writeHead(401, { "WWW-Authenticate": `Bearer realm="${origin}/token",service="upstream",scope="repository:${name}:pull"` });
      return res.end();
    }
    if (url.pathname.includes("/blobs/")) return res.writeHead(307, { Location: `${cdnOrigin}/signed/blob?sig=1` }).end();
    res.writeHead(200, { "Docker-Content-Digest": "sha256:" + "a".repeat(64) }).end();
  });
  cdn = createServer((req, res) => {
    cdnSeen.push(req.headers.authorization);
    res.writeHead(200, { "Content-Type": "application/octet-stream" }).end("layer bytes");
  });
  cdn.listen(0, "127.0.0.1");
  await once(cdn, "listening");
  // Another origin (another port) standing for the CDN Docker Hub redirects blob GETs to.
  cdnOrigin = `http://127.0.0.1:${(cdn.address() as { port: number }).port}`;
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(() => {
  server.closeAllConnections();
  server.close();
  cdn.closeAllConnections();
  cdn.close();
});

const mirror = (extra: Partial<MirrorConfig> = {}): MirrorConfig => ({
  namespace: "up",
  url: origin,
  hosts: [],
  tagFreshnessSeconds: 60,
  dockerHubLibrary: false,
  username: "robot",
  password: "s3cret-pass",
  ...extra,
});

describe("upstream client: Docker token flow", () => {
  it("asks the token endpoint once per repository and reuses the token until it expires", async () => {
    let now = 1_000_000;
    const client = new UpstreamClient(mirror(), { now: () => now });
    seen.length = 0;
    for (let i = 0; i < 3; i++) await client.request("HEAD", "team/app", "manifests/v1");
    await client.request("HEAD", "team/other", "manifests/v1");
    const tokenRequests = () => seen.filter((r) => r.path.startsWith("/token"));
    expect(tokenRequests().map((r) => new URL(r.path, origin).searchParams.get("scope"))).toEqual(["repository:team/app:pull", "repository:team/other:pull"]);
    now += 301_000;
    await client.request("HEAD", "team/app", "manifests/v1");
    expect(tokenRequests()).toHaveLength(3);
  });

  it("sends nothing upstream until a 429's Retry-After has passed", async () => {
    let now = 2_000_000;
    const client = new UpstreamClient(mirror(), { now: () => now });
    await client.request("HEAD", "team/app", "manifests/v1");
    rateLimitNext = true;
    await expect(client.request("HEAD", "team/app", "manifests/v1")).rejects.toMatchObject({ kind: "rate-limited", retryAfterSeconds: 30 });
    seen.length = 0;
    now += 20_000;
    await expect(client.request("HEAD", "team/app", "manifests/v1")).rejects.toMatchObject({ kind: "rate-limited", retryAfterSeconds: 10 });
    expect(seen).toHaveLength(0);
    now += 11_000;
    await expect(client.request("HEAD", "team/app", "manifests/v1")).resolves.toMatchObject({ status: 200 });
  });

  it("keeps wrong credentials out of its error, and says which setting to check", async () => {
    const client = new UpstreamClient(mirror({ password: "wrong-password-123" }));
    const error = await client.request("GET", "team/app", "manifests/v1").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).kind).toBe("denied");
    expect((error as Error).message).toContain("username and password");
    expect((error as Error).message).not.toContain("wrong-password-123");
  });

  it("follows a blob redirect to another origin without sending it our Authorization", async () => {
    const client = new UpstreamClient(mirror());
    const response = await client.request("GET", "team/app", `blobs/sha256:${"b".repeat(64)}`);
    expect(await response.text()).toBe("layer bytes");
    expect(cdnSeen).toEqual([undefined]);
  });

  it("answers unavailable, not a crash, when nothing listens upstream", async () => {
    const client = new UpstreamClient(mirror({ url: "http://127.0.0.1:1" }));
    await expect(client.request("GET", "team/app", "manifests/v1")).rejects.toMatchObject({ kind: "unavailable" });
  });
});

describe("mirror configuration", () => {
  it("maps Docker Hub's one-segment names to library/ and lists docker.io among its hosts", () => {
    const { mirrors, problems } = parseMirrors([{ namespace: "dockerhub", url: "https://registry-1.docker.io" }], {});
    expect(problems).toEqual([]);
    expect(mirrors[0]!.hosts).toContain("docker.io");
    expect(mirrorOf(mirrors, "dockerhub/alpine")?.upstreamName).toBe("library/alpine");
    expect(mirrorOf(mirrors, "dockerhub/grafana/grafana")?.upstreamName).toBe("grafana/grafana");
    expect(mirrorOf(mirrors, "dockerhubx/alpine")).toBeNull();
  });

  it("reads MIRRORS as JSON text, with passwordEnv and urlEnv from the environment", () => {
    const config = resolveConfig(
      {},
      { MIRRORS: JSON.stringify([{ namespace: "ghcr", url: "https://ghcr.io", urlEnv: "GHCR_URL", username: "me", passwordEnv: "GHCR_TOKEN" }]), GHCR_TOKEN: "ghp_secret", GHCR_URL: "http://127.0.0.1:9999" },
    );
    expect(config.mirrors[0]).toMatchObject({ namespace: "ghcr", url: "http://127.0.0.1:9999", username: "me", password: "ghp_secret", hosts: ["127.0.0.1:9999"], dockerHubLibrary: false, tagFreshnessSeconds: 300 });
  });

  it("takes unpulledAfterSeconds as a positive whole number of seconds, absent meaning cached content is kept", () => {
    const ok = parseMirrors([{ namespace: "hub", url: "https://a.example", unpulledAfterSeconds: 2_592_000 }, { namespace: "kept", url: "https://b.example" }], {});
    expect(ok.problems).toEqual([]);
    expect(ok.mirrors.map((m) => m.unpulledAfterSeconds)).toEqual([2_592_000, undefined]);
    for (const bad of [0, -1, 1.5, "30d"]) {
      expect(parseMirrors([{ namespace: "hub", url: "https://a.example", unpulledAfterSeconds: bad }], {}).problems).toEqual([
        "mirror 0 (hub): unpulledAfterSeconds must be a positive whole number of seconds",
      ]);
    }
  });

  it("reports every mistake at once, naming fields and never a password", () => {
    let message = "";
    try {
      resolveConfig({ mirrors: [{ namespace: "Bad/Name", url: "x" }, { namespace: "ok", url: "ftp://x", password: "hunter2-secret" }, { namespace: "ok2", url: "https://a.example", passwordEnv: "UNSET_VAR", username: "u" }] }, {});
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain("mirrors (config file): mirror 0: namespace must be one lowercase name component");
    expect(message).toContain("mirror 1 (ok): url must be an http(s) origin");
    expect(message).toContain("mirror 2 (ok2): passwordEnv must name an environment variable that is set");
    expect(message).not.toContain("hunter2-secret");
  });
});
