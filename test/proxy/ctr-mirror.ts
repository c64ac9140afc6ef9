/** containerd's ctr pulling through a registry set up as a `hosts.toml` mirror (?ns=), on any runtime's mirror suite. */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { expect, it } from "vitest";
import type { SuiteContext } from "./mirror-suite.ts";
import { run } from "./upstreams.ts";

export function ctrPullsThroughHostsToml(context: SuiteContext): void {
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

}
