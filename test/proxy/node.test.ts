/** The pull-through cache on Node (`npm start`), plus containerd's ctr and examples/mirror. */
import { mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import { expect, it } from "vitest";
import { startNodeServer } from "../support/node-server.ts";
import { ctrPullsThroughHostsToml } from "./ctr-mirror.ts";
import { mirrorSuite, sha256, type SuiteContext } from "./mirror-suite.ts";
import { buildImage, run, UPSTREAM_PASSWORD, UPSTREAM_USER } from "./upstreams.ts";

mirrorSuite("Node", (mirrors) => startNodeServer({ MIRRORS: mirrors }), (context: SuiteContext) => {
  ctrPullsThroughHostsToml(context);

  it("fetches a layer once upstream when clients pull it at the same time from three processes on one DATA_DIR (PROCESSES=3)", async () => {
    const layout = await buildImage(await mkdtemp(join(context.work, "shared-")), "v1", "shared flight", 3 * 1024 * 1024);
    const creds = `${UPSTREAM_USER}:${UPSTREAM_PASSWORD}`;
    await run("skopeo", ["copy", "--dest-tls-verify=false", "--dest-creds", creds, `oci:${layout}:v1`, `docker://${context.upstream.hostPort}/team/shared:v1`]);
    const { layers } = await context.upstreamManifest("team/shared", "v1");
    const layer = layers.at(-1)!;
    const mirrors = JSON.stringify([{ namespace: "mirror", url: context.proxy.url, username: UPSTREAM_USER, password: UPSTREAM_PASSWORD }]);
    const cluster = await startNodeServer({ MIRRORS: mirrors, PROCESSES: "3" });
    try {
      const before = context.proxy.blobGets;
      context.proxy.hold = true;
      // Connections are spread over the three processes (the cluster's round-robin): each gets some of the pulls.
      const pulls = Array.from({ length: 9 }, () =>
        fetch(`${cluster.url}/v2/mirror/team/shared/blobs/${layer}`).then(async (r) => ({ status: r.status, digest: sha256(new Uint8Array(await r.arrayBuffer())) })),
      );
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      context.proxy.hold = false;
      context.proxy.release();
      for (const pulled of await Promise.all(pulls)) expect(pulled).toEqual({ status: 200, digest: layer });
      expect(context.proxy.blobGets - before).toBe(1);
    } finally {
      await cluster.stop();
    }
  });

  it("examples/mirror mirrors mirror/* to the registry MIRROR_UPSTREAM names, anonymously", async () => {
    // The upstream here is the open registry under test: examples' mirror/mirror/team/app is its mirror/team/app.
    const example = await startNodeServer({ REGISTRY_CONFIG: "examples/mirror/registry.json", MIRROR_UPSTREAM: context.registry.url });
    try {
      const expected = await fetch(`${context.registry.url}/v2/mirror/team/app/manifests/v1`, { method: "HEAD", headers: { Accept: "application/vnd.oci.image.manifest.v1+json" } });
      const response = await fetch(`${example.url}/v2/mirror/mirror/team/app/manifests/v1`, { headers: { Accept: "application/vnd.oci.image.manifest.v1+json" } });
      expect(response.status).toBe(200);
      expect(sha256(new Uint8Array(await response.arrayBuffer()))).toBe(expected.headers.get("docker-content-digest"));
    } finally {
      await example.stop();
    }
  });
});
