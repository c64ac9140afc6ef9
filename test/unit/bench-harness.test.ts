/**
 * The bench harness's own logic (bench/): Link parsing for the paged tag
 * listing, Distribution version parsing, and the process-tree handling that
 * PROCESSES > 1 (node:cluster) needs, against a stand-in cluster server.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { nextPage } from "../../bench/load.ts";
import { groupMembers, memoryOfTree, treeOf } from "../../bench/proc.ts";
import { parseVersionOutput, startNodeFlags, startOurs } from "../../bench/servers.ts";

describe("nextPage (Link header of a tag listing)", () => {
  it("returns the path of rel=next, relative or absolute", () => {
    expect(nextPage('</v2/a/tags/list?n=100&last=t0099>; rel="next"')).toBe("/v2/a/tags/list?n=100&last=t0099");
    expect(nextPage('<http://127.0.0.1:5000/v2/a/tags/list?last=t0099&n=100>; rel="next"')).toBe("/v2/a/tags/list?last=t0099&n=100");
    expect(nextPage(['</x>; rel="prev"', '</y>; rel="next"'])).toBe("/y");
    expect(nextPage('</x>; rel="prev", </y>; rel=next')).toBe("/y");
  });

  it("is undefined without a next link", () => {
    expect(nextPage(undefined)).toBeUndefined();
    expect(nextPage('</x>; rel="prev"')).toBeUndefined();
  });
});

describe("startNodeFlags (the server is benched with npm start's Node flags)", () => {
  it("takes the flags between node and the entry of package.json's start script, and none when there are none", () => {
    const root = mkdtempSync(join(tmpdir(), "bench-flags-"));
    const flagsOf = (start: string) => {
      writeFileSync(join(root, "package.json"), JSON.stringify({ scripts: { start } }));
      return startNodeFlags(root);
    };
    expect(flagsOf("node --max-semi-space-size=1 --no-warnings src/runtime/node.ts")).toEqual(["--max-semi-space-size=1", "--no-warnings"]);
    expect(flagsOf("node src/runtime/node.ts")).toEqual([]);
    expect(flagsOf("exec node --max-semi-space-size=1 bin/oci-registry.mjs")).toEqual(["--max-semi-space-size=1"]);
    rmSync(root, { recursive: true, force: true });
  });
});

describe("parseVersionOutput (registry --version)", () => {
  it("reads Debian's 2.8.2 and a v3 build", () => {
    expect(parseVersionOutput("docker-registry github.com/docker/distribution 2.8.2+ds1")).toEqual({
      module: "github.com/docker/distribution",
      version: "2.8.2+ds1",
      shortVersion: "2.8.2",
      label: "Distribution 2.8.2",
    });
    expect(parseVersionOutput("/opt/registry github.com/distribution/distribution/v3 v3.0.0+unknown\n").label).toBe("Distribution 3.0.0");
    expect(parseVersionOutput("something else").label).toBe("Distribution (unknown version)");
  });
});

// A stand-in for `node src/runtime/node.ts` with PROCESSES: a node:cluster
// primary forking PROCESSES workers (PROCESSES=1: no fork) that answer /v2/.
const STAND_IN = `
import cluster from "node:cluster";
import { createServer } from "node:http";
const n = Number(process.env.PROCESSES ?? 1);
const serve = () => createServer((req, res) => { res.writeHead(200, { "content-type": "application/json" }); res.end("{}"); })
  .listen(Number(process.env.PORT), process.env.HOST);
if (n > 1 && cluster.isPrimary) {
  for (let i = 0; i < n; i++) cluster.fork();
} else {
  serve();
}
`;

describe("startOurs with a process tree", () => {
  const work = mkdtempSync(join(tmpdir(), "bench-harness-test-"));
  const entry = join(work, "stand-in.mjs");
  writeFileSync(entry, STAND_IN);
  const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("counts a primary and its workers, sums their memory, and stops the whole group", async () => {
    const registry = await startOurs(work, repoRoot, 2, entry);
    try {
      expect(registry.treeSize).toBe(3);
      expect(registry.serving).toBe(2);
      const tree = treeOf(registry.pid);
      expect(tree).toHaveLength(3);
      expect(tree[0]).toBe(registry.pid);
      const total = memoryOfTree(registry.pid);
      const primaryOnly = memoryOfTree(registry.pid, [registry.pid]);
      expect(total.processes).toBe(3);
      expect(total.rss).toBeGreaterThan(primaryOnly.rss);
    } finally {
      await registry.stop();
    }
    expect(groupMembers(registry.pid)).toEqual([]);
  });

  it("reports one serving process when PROCESSES=1", async () => {
    const registry = await startOurs(work, repoRoot, 1, entry);
    try {
      expect(registry.treeSize).toBe(1);
      expect(registry.serving).toBe(1);
      expect(registry.label).toBe("ours P=1");
    } finally {
      await registry.stop();
    }
    expect(groupMembers(registry.pid)).toEqual([]);
  });
});
