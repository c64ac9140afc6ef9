/** The pull-through cache on Node (`npm start`), plus containerd's ctr and examples/mirror. */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { expect, it } from "vitest";
import { startNodeServer } from "../support/node-server.ts";
import { mirrorSuite, sha256, type SuiteContext } from "./mirror-suite.ts";
import { buildImage, run, UPSTREAM_PASSWORD, UPSTREAM_USER } from "./upstreams.ts";

mirrorSuite("Node", (mirrors) => startNodeServer({ MIRRORS: mirrors }), (context: SuiteContext) => {
  it("containerd's ctr pulls the upstream's image through a hosts.toml mirror (?ns=), with the upstream's digest", async () => {
    const dir = await mkdtemp(join(context.work, "containerd-"));
    await writeFile(
      join(dir, "config.toml"),
      [
        "version = 2",
        `root = "${dir}/root"`,
        `state = "${dir}/state"`,
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
        `[grpc]\n  address = "${dir}/containerd.sock"`,
        `[ttrpc]\n  address = "${dir}/containerd.sock.ttrpc"`,
        '[debug]\n  address = ""',
        '[metrics]\n  address = ""',
        `[plugins."io.containerd.internal.v1.opt"]\n  path = "${dir}/opt"`,
        "",
      ].join("\n"),
    );
    // The upstream itself needs credentials ctr is not given: only the mirror can answer.
    await mkdir(join(dir, "hosts", context.upstream.hostPort), { recursive: true });
    await writeFile(
      join(dir, "hosts", context.upstream.hostPort, "hosts.toml"),
      `server = "${context.upstream.url}"\n\n[host."http://127.0.0.1:${context.registry.port}"]\n  capabilities = ["pull", "resolve"]\n`,
    );
    const containerd = spawn("containerd", ["--config", join(dir, "config.toml")], { stdio: "ignore" });
    const ctr = (...args: string[]) => run("ctr", ["--address", join(dir, "containerd.sock"), "--namespace", "proxy-test", ...args]);
    try {
      for (let i = 0; ; i++) {
        if (await ctr("version").then(() => true, () => false)) break;
        if (i > 200 || containerd.exitCode !== null) throw new Error("containerd did not start");
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const reference = `${context.upstream.hostPort}/team/app:v1`;
      await ctr("images", "pull", "--hosts-dir", join(dir, "hosts"), "--snapshotter", "native", reference);
      const { stdout } = await ctr("images", "ls");
      const line = stdout.split("\n").find((l) => l.startsWith(`${reference} `));
      expect(line?.split(/\s+/)[2]).toBe((await context.upstreamManifest("team/app", "v1")).digest);
    } finally {
      containerd.kill("SIGTERM");
      if (containerd.exitCode === null) await once(containerd, "exit");
    }
  });

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
