/**
 * The pull-through cache end to end (issue 17), the same cases on every runtime: real
 * upstreams — Distribution 2.8.2 with htpasswd basic auth (through a counting proxy), and our
 * own registry with token auth — pulled with skopeo, podman and curl.
 */
import { createHash } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNodeServer, type NodeServer } from "../support/node-server.ts";
import {
  buildImage,
  removeDir,
  run,
  startCountingProxy,
  startDistribution,
  UPSTREAM_PASSWORD,
  UPSTREAM_USER,
  type CountingProxy,
  type Distribution,
  type MirrorRegistry,
} from "./upstreams.ts";

const creds = `${UPSTREAM_USER}:${UPSTREAM_PASSWORD}`;
export const sha256 = (bytes: Uint8Array) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

export const TOKEN_USER = "conformance:conformance-secret";

/** What a suite's extra tests may use; valid inside its tests. */
export interface SuiteContext {
  work: string;
  upstream: Distribution;
  proxy: CountingProxy;
  registry: MirrorRegistry;
  tokenUpstream: NodeServer;
  upstreamManifest(name: string, tag: string): Promise<{ digest: string; layers: string[] }>;
  pullThrough(reference: string): Promise<string>;
}

/**
 * The pull-through cases against one runtime: `start` serves the registry with the
 * MIRRORS it is given. Distribution 2.8.2 with htpasswd (behind a counting proxy) and our
 * own registry with token auth are the upstreams. `extra` adds the runtime's own cases.
 */
export function mirrorSuite(runtime: string, start: (mirrors: string) => Promise<MirrorRegistry>, extra: (context: SuiteContext) => void = () => {}): void {
  let work: string;
  let upstream: Distribution;
  let proxy: CountingProxy;
  let registry: MirrorRegistry;
  let tokenUpstream: NodeServer;

  async function pushUpstream(name: string, tag: string, text: string, bigBytes = 0): Promise<void> {
    const dir = await mkdtemp(join(work, "image-"));
    const layout = await buildImage(dir, tag, text, bigBytes);
    await run("skopeo", ["copy", "--dest-tls-verify=false", "--dest-creds", creds, `oci:${layout}:${tag}`, `docker://${upstream.hostPort}/${name}:${tag}`]);
  }

  async function upstreamManifest(name: string, tag: string): Promise<{ digest: string; layers: string[] }> {
    const { stdout } = await run("skopeo", ["inspect", "--raw", "--tls-verify=false", "--creds", creds, `docker://${upstream.hostPort}/${name}:${tag}`]);
    const manifest = JSON.parse(stdout) as { layers: { digest: string }[] };
    return { digest: sha256(new TextEncoder().encode(stdout)), layers: manifest.layers.map((l) => l.digest) };
  }

  async function pullThrough(reference: string): Promise<string> {
    const out = await mkdtemp(join(work, "pulled-"));
    await run("skopeo", ["copy", "--src-tls-verify=false", `docker://127.0.0.1:${registry.port}/${reference}`, `dir:${out}`]);
    const { stdout } = await run("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://127.0.0.1:${registry.port}/${reference}`]);
    return sha256(new TextEncoder().encode(stdout));
  }

  const context: SuiteContext = {
    get work() {
      return work;
    },
    get upstream() {
      return upstream;
    },
    get proxy() {
      return proxy;
    },
    get registry() {
      return registry;
    },
    get tokenUpstream() {
      return tokenUpstream;
    },
    upstreamManifest,
    pullThrough,
  };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "pull-through-"));
    upstream = await startDistribution();
    proxy = await startCountingProxy(upstream.url);
    await pushUpstream("team/app", "v1", "first version");
    tokenUpstream = await startNodeServer({ REGISTRY_CONFIG: "test/auth/conformance-registry.json" });
    const layout = await buildImage(await mkdtemp(join(work, "token-image-")), "v1", "behind token auth");
    await run("skopeo", ["copy", "--dest-tls-verify=false", "--dest-creds", TOKEN_USER, `oci:${layout}:v1`, `docker://127.0.0.1:${tokenUpstream.port}/conformance/app:v1`]);
    const mirror = (namespace: string, tagFreshnessSeconds: number) => ({
      namespace,
      url: proxy.url,
      // containerd's ?ns= names the host it was asked for: Distribution's, behind the proxy.
      hosts: [new URL(proxy.url).host, upstream.hostPort],
      username: UPSTREAM_USER,
      password: UPSTREAM_PASSWORD,
      tagFreshnessSeconds,
    });
    const ours = { namespace: "ours", url: tokenUpstream.url, username: "conformance", password: "conformance-secret" };
    registry = await start(JSON.stringify([mirror("mirror", 1), mirror("steady", 3600), ours]));
  }, 180_000);

  afterAll(async () => {
    await registry?.stop();
    await tokenUpstream?.stop();
    await proxy?.stop();
    await upstream?.stop();
    if (work) await removeDir(work);
  });

  describe(`pull-through cache on ${runtime}: Distribution upstream with basic auth, our own with token auth`, () => {
    it("serves a mirrored image with the upstream's manifest digest, every blob verified by skopeo", async () => {
      const { digest } = await upstreamManifest("team/app", "v1");
      expect(await pullThrough("mirror/team/app:v1")).toBe(digest);
      expect(await pullThrough("steady/team/app:v1")).toBe(digest);
    });

    it("answers a second pull from the cache, with no blob request upstream", async () => {
      const before = { proxied: proxy.blobGets, served: upstream.requests().filter((r) => r.startsWith("GET") && r.includes("/blobs/")).length };
      await pullThrough("mirror/team/app:v1");
      expect(proxy.blobGets).toBe(before.proxied);
      expect(upstream.requests().filter((r) => r.startsWith("GET") && r.includes("/blobs/")).length).toBe(before.served);
    });

    it("routes ?ns=<upstream host> to the mirror of that host (distribution-spec main, containerd's mirror requests)", async () => {
      const { digest } = await upstreamManifest("team/app", "v1");
      const response = await fetch(`${registry.url}/v2/team/app/manifests/v1?ns=${upstream.hostPort}`, { headers: { Accept: "application/vnd.oci.image.manifest.v1+json" } });
      expect(response.status).toBe(200);
      expect(response.headers.get("docker-content-digest")).toBe(digest);
      expect(sha256(new Uint8Array(await response.arrayBuffer()))).toBe(digest);
    });

    it("refuses pushes into a mirror namespace with 403 DENIED", async () => {
      const response = await fetch(`${registry.url}/v2/mirror/team/app/blobs/uploads/`, { method: "POST" });
      expect(response.status).toBe(403);
      const body = (await response.json()) as { errors: { code: string; message: string }[] };
      expect(body.errors[0]!.code).toBe("DENIED");
      expect(body.errors[0]!.message).toContain("read-only");
    });

    it("sees a tag moved upstream once its freshness has passed, and not before", async () => {
      const old = (await upstreamManifest("team/app", "v1")).digest;
      await pushUpstream("team/app", "v1", "second version");
      const moved = (await upstreamManifest("team/app", "v1")).digest;
      expect(moved).not.toBe(old);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(await pullThrough("mirror/team/app:v1")).toBe(moved);
      // The same upstream under a freshness of an hour: still the digest it confirmed.
      expect(await pullThrough("steady/team/app:v1")).toBe(old);
    });

    it("fetches a layer once upstream when several clients pull it at the same time", async () => {
      await pushUpstream("team/big", "v1", "big", 3 * 1024 * 1024);
      const { layers } = await upstreamManifest("team/big", "v1");
      const layer = layers.at(-1)!;
      const before = proxy.blobGets;
      proxy.hold = true;
      const pulls = Array.from({ length: 4 }, () => fetch(`${registry.url}/v2/mirror/team/big/blobs/${layer}`).then(async (r) => ({ status: r.status, digest: sha256(new Uint8Array(await r.arrayBuffer())) })));
      // The first pull's upstream body is held until now; the others arrive meanwhile.
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      proxy.hold = false;
      proxy.release();
      for (const pulled of await Promise.all(pulls)) expect(pulled).toEqual({ status: 200, digest: layer });
      expect(proxy.blobGets - before).toBe(1);
    });

    it("refuses an upstream blob whose bytes do not match its digest, and stores nothing", async () => {
      await pushUpstream("team/corrupt", "v1", "corrupt me", 256 * 1024);
      const { layers } = await upstreamManifest("team/corrupt", "v1");
      const layer = layers.at(-1)!;
      proxy.corrupt = true;
      const before = proxy.blobGets;
      // Refused either way: a stream that fails at its end (served while fetched) or an error status (cached first, then redirected).
      const corrupted = await fetch(`${registry.url}/v2/mirror/team/corrupt/blobs/${layer}`);
      const intact = corrupted.status === 200 && (await corrupted.arrayBuffer().then((bytes) => sha256(new Uint8Array(bytes)) === layer, () => false));
      expect(intact).toBe(false);
      await expect(run("skopeo", ["copy", "--src-tls-verify=false", `docker://127.0.0.1:${registry.port}/mirror/team/corrupt:v1`, `dir:${await mkdtemp(join(work, "corrupt-"))}`])).rejects.toThrow();
      proxy.corrupt = false;
      const good = await fetch(`${registry.url}/v2/mirror/team/corrupt/blobs/${layer}`);
      expect(sha256(new Uint8Array(await good.arrayBuffer()))).toBe(layer);
      // Each of the three pulls went upstream: the corrupt bytes were never kept as the blob.
      expect(proxy.blobGets - before).toBeGreaterThanOrEqual(3);
      const again = proxy.blobGets;
      await fetch(`${registry.url}/v2/mirror/team/corrupt/blobs/${layer}`).then((r) => r.arrayBuffer());
      expect(proxy.blobGets).toBe(again);
    });

    it("serves cached content with a Warning when the upstream is stopped", async () => {
      const { digest } = await upstreamManifest("team/app", "v1");
      await upstream.stop();
      try {
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        const head = await fetch(`${registry.url}/v2/mirror/team/app/manifests/v1`, { method: "HEAD", headers: { Accept: "application/vnd.oci.image.manifest.v1+json" } });
        expect(head.status).toBe(200);
        expect(head.headers.get("docker-content-digest")).toBe(digest);
        expect(head.headers.get("warning")).toMatch(/^110 - "Response is Stale/);
        expect(await pullThrough("mirror/team/app:v1")).toBe(digest);
        const missing = await fetch(`${registry.url}/v2/mirror/team/never-pulled/manifests/v1`);
        expect(missing.status).toBe(502);
        expect(((await missing.json()) as { errors: { message: string }[] }).errors[0]!.message).toContain("could not be reached");
      } finally {
        await upstream.start();
      }
    });

    it("pulls with podman through a registries.conf mirror of the upstream (no upstream credentials at the client)", async () => {
      const dir = await mkdtemp(join(work, "podman-"));
      const conf = join(dir, "registries.conf");
      await writeFile(
        conf,
        [
          "[[registry]]",
          `prefix = "${upstream.hostPort}"`,
          `location = "${upstream.hostPort}"`,
          "insecure = true",
          "[[registry.mirror]]",
          `location = "127.0.0.1:${registry.port}/mirror"`,
          "insecure = true",
          "",
        ].join("\n"),
      );
      const podman = ["--root", join(dir, "root"), "--runroot", join(dir, "runroot"), "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file"];
      const env = { ...process.env, CONTAINERS_REGISTRIES_CONF: conf, REGISTRY_AUTH_FILE: join(dir, "auth.json"), TMPDIR: dir };
      await writeFile(join(dir, "auth.json"), "{}");
      await run("podman", [...podman, "pull", `${upstream.hostPort}/team/app:v1`], { env });
      const { stdout } = await run("podman", [...podman, "image", "inspect", "--format", "{{.Digest}}", `${upstream.hostPort}/team/app:v1`], { env });
      expect(stdout.trim()).toBe((await upstreamManifest("team/app", "v1")).digest);
    });

    it("exchanges the mirror's credentials for our own upstream's token and serves the image with its digests", async () => {
      const { stdout } = await run("skopeo", ["inspect", "--raw", "--tls-verify=false", "--creds", TOKEN_USER, `docker://127.0.0.1:${tokenUpstream.port}/conformance/app:v1`]);
      expect(await pullThrough("ours/conformance/app:v1")).toBe(sha256(new TextEncoder().encode(stdout)));
    });

    it("answers 404 MANIFEST_UNKNOWN for a repository the upstream does not hold", async () => {
      const response = await fetch(`${registry.url}/v2/ours/conformance/absent/manifests/v1`);
      expect(response.status).toBe(404);
      expect(((await response.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe("MANIFEST_UNKNOWN");
    });

    extra(context);
  });
}
