/**
 * Garbage collection on the Node runtime's stores (files + SQLite), driven
 * through the HTTP API as clients push, pull and delete: what goes, what
 * stays, the grace period, orphan links, dry runs, imported data, and pushes
 * racing the collector.
 */
import { createHash } from "node:crypto";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FilesystemBlobStore } from "../../src/adapters/filesystem/blob-store.ts";
import { hashWasm } from "../../src/adapters/hash-wasm.ts";
import { openLocalMetadata, type LocalMetadata } from "../../src/adapters/sqlite/open.ts";
import { Registry } from "../../src/core/registry.ts";
import { createApp } from "../../src/http/app.ts";
import { Collector } from "../../src/lifecycle/collector.ts";
import { MIN_PART_SIZE } from "../../src/ports/blob-store.ts";

const MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const sha256 = (bytes: Uint8Array) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
const utf8 = (text: string) => new TextEncoder().encode(text);

interface Fixture {
  root: string;
  metadata: LocalMetadata;
  request(path: string, init?: RequestInit): Promise<Response>;
  collector(options: { graceMs: number; orphanLinkAgeMs: number; now?: () => number }): Collector;
  /** Every object file in the blob store (parts of a multipart object count once, as their folder). */
  objects(): Promise<string[]>;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** `beforeLink` runs inside every linkBlob the registry makes, before the store's: the collector can be made to run exactly there. */
async function fixture(clock: { now: number } | null = null, beforeLink?: () => Promise<void>): Promise<Fixture> {
  const root = await mkdtemp(join(tmpdir(), "registry-gc-"));
  const now = clock ? () => clock.now : Date.now;
  const metadata = openLocalMetadata(root, { now });
  const blobs = new FilesystemBlobStore(join(root, "blobs"));
  const store = beforeLink
    ? new Proxy(metadata.store, {
        get(target, property) {
          const value = Reflect.get(target, property) as unknown;
          if (property === "linkBlob") return async (...args: Parameters<typeof target.linkBlob>) => (await beforeLink(), target.linkBlob(...args));
          return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      })
    : metadata.store;
  const app = createApp(new Registry({ blobs, metadata: store, hashing: hashWasm, partSize: MIN_PART_SIZE, now }));
  cleanups.push(async () => {
    metadata.close();
    await rm(root, { recursive: true, force: true });
  });
  return {
    root,
    metadata,
    request: async (path, init) => app.request(path, init),
    collector: (options) => new Collector({ metadata: metadata.store, blobs, now, ...options }),
    objects: async () => {
      const found: string[] = [];
      const walk = async (dir: string, relative: string) => {
        for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
          if (entry.name === ".tmp" || entry.name === ".multipart") continue;
          const path = join(dir, entry.name);
          if (entry.isDirectory()) {
            const inner = await readdir(path);
            if (inner.includes("index.json")) found.push(`${relative}${entry.name}`);
            else await walk(path, `${relative}${entry.name}/`);
          } else found.push(`${relative}${entry.name}`);
        }
      };
      await walk(join(root, "blobs"), "");
      return found.sort();
    },
  };
}

async function pushBlob(f: Fixture, repo: string, bytes: Uint8Array): Promise<Response> {
  return f.request(`/v2/${repo}/blobs/uploads/?digest=${sha256(bytes)}`, { method: "POST", body: bytes as unknown as BodyInit, headers: { "Content-Length": String(bytes.byteLength) } });
}

interface Image {
  config: Uint8Array;
  layers: Uint8Array[];
  manifest: Uint8Array;
  digest: string;
}

function image(configText: string, layers: Uint8Array[]): Image {
  const config = utf8(configText);
  const descriptor = (mediaType: string, bytes: Uint8Array) => ({ mediaType, digest: sha256(bytes), size: bytes.byteLength });
  const manifest = utf8(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST,
      config: descriptor("application/vnd.oci.image.config.v1+json", config),
      layers: layers.map((layer) => descriptor("application/vnd.oci.image.layer.v1.tar", layer)),
    }),
  );
  return { config, layers, manifest, digest: sha256(manifest) };
}

/** Pushes an image's blobs then its manifest under `tag`; answers the manifest PUT's status. */
async function pushImage(f: Fixture, repo: string, tag: string, img: Image): Promise<number> {
  for (const bytes of [img.config, ...img.layers]) {
    const res = await pushBlob(f, repo, bytes);
    await res.arrayBuffer();
    if (res.status !== 201) return res.status;
  }
  const res = await f.request(`/v2/${repo}/manifests/${tag}`, { method: "PUT", body: img.manifest as unknown as BodyInit, headers: { "Content-Type": MANIFEST } });
  await res.arrayBuffer();
  return res.status;
}

/** Pulls the tag and every blob, checking each digest: the image is whole. */
async function pullsWhole(f: Fixture, repo: string, tag: string): Promise<boolean> {
  const res = await f.request(`/v2/${repo}/manifests/${tag}`, { headers: { Accept: MANIFEST } });
  if (res.status !== 200) return false;
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (sha256(bytes) !== res.headers.get("docker-content-digest")) return false;
  const doc = JSON.parse(new TextDecoder().decode(bytes)) as { config: { digest: string }; layers: { digest: string }[] };
  for (const digest of [doc.config.digest, ...doc.layers.map((l) => l.digest)]) {
    const blob = await f.request(`/v2/${repo}/blobs/${digest}`);
    if (blob.status !== 200 || sha256(new Uint8Array(await blob.arrayBuffer())) !== digest) return false;
  }
  return true;
}

async function du(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}

const random = (size: number) => {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(bytes.subarray(i, Math.min(i + 65536, size)));
  return bytes;
};

describe("garbage collection (files + SQLite)", () => {
  it("deleting one of two images that share a layer frees exactly its own blobs and manifest; the other still pulls whole", async () => {
    const f = await fixture();
    const base = random(300_000);
    const a = image('{"a":1}', [base, random(200_000)]);
    const b = image('{"b":1}', [base, random(100_000)]);
    expect(await pushImage(f, "team/a", "v1", a)).toBe(201);
    expect(await pushImage(f, "team/b", "v1", b)).toBe(201);
    const before = await du(join(f.root, "blobs"));
    expect(await f.collector({ graceMs: 0, orphanLinkAgeMs: 0 }).run()).toMatchObject({ blobsDeleted: 0, orphanLinksRemoved: 0 });

    const del = await f.request(`/v2/team/a/manifests/${a.digest}`, { method: "DELETE" });
    expect(del.status).toBe(202);
    const report = await f.collector({ graceMs: 0, orphanLinkAgeMs: 0 }).run();
    const freed = a.config.byteLength + a.layers[1]!.byteLength + a.manifest.byteLength + base.byteLength * 0;
    expect(report).toMatchObject({ orphanLinksRemoved: 3, blobsDeleted: 3, bytesFreed: freed, problems: [] });
    expect(before - (await du(join(f.root, "blobs")))).toBe(freed);
    expect(await pullsWhole(f, "team/b", "v1")).toBe(true);
    // The shared layer goes only with its last holder.
    await f.request(`/v2/team/b/manifests/${b.digest}`, { method: "DELETE" });
    expect(await f.collector({ graceMs: 0, orphanLinkAgeMs: 0 }).run()).toMatchObject({ blobsDeleted: 4 });
    expect(await f.objects()).toEqual([]);
  });

  it("waits the grace period between marking and deleting, and a blob linked again meanwhile survives", async () => {
    const clock = { now: 1_000_000 };
    const f = await fixture(clock);
    const layer = random(50_000);
    const img = image('{"g":1}', [layer]);
    expect(await pushImage(f, "team/a", "v1", img)).toBe(201);
    await f.request(`/v2/team/a/manifests/${img.digest}`, { method: "DELETE" });
    const gc = () => f.collector({ graceMs: 60_000, orphanLinkAgeMs: 40_000 }).run();

    clock.now += 50_000;
    expect(await gc()).toMatchObject({ orphanLinksRemoved: 2, blobsMarked: 3, blobsDeleted: 0 });
    clock.now += 30_000;
    // Pushed again to another repository during the grace period: revived, so kept.
    expect((await pushBlob(f, "team/c", layer)).status).toBe(201);
    clock.now += 30_000;
    expect(await gc()).toMatchObject({ blobsDeleted: 2 });
    expect((await f.request(`/v2/team/c/blobs/${sha256(layer)}`)).status).toBe(200);
    expect(sha256(new Uint8Array(await (await f.request(`/v2/team/c/blobs/${sha256(layer)}`)).arrayBuffer()))).toBe(sha256(layer));
  });

  it("keeps what a manifest holds but does not require: a foreign (non-distributable) layer pushed anyway", async () => {
    const f = await fixture();
    const foreign = random(2_000);
    const config = utf8("{}");
    for (const bytes of [foreign, config]) expect((await pushBlob(f, "team/a", bytes)).status).toBe(201);
    const withForeign = JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST,
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256(config), size: 2 },
      layers: [{ mediaType: "application/vnd.oci.image.layer.nondistributable.v1.tar", digest: sha256(foreign), size: foreign.byteLength, urls: ["https://example.com/layer"] }],
    });
    expect((await f.request("/v2/team/a/manifests/win", { method: "PUT", body: withForeign, headers: { "Content-Type": MANIFEST } })).status).toBe(201);
    expect(await f.collector({ graceMs: 0, orphanLinkAgeMs: 0 }).run()).toMatchObject({ orphanLinksRemoved: 0, blobsDeleted: 0 });
    const blob = await f.request(`/v2/team/a/blobs/${sha256(foreign)}`);
    expect(blob.status).toBe(200);
    expect(sha256(new Uint8Array(await blob.arrayBuffer()))).toBe(sha256(foreign));
  });

  it("keeps layers pushed before their manifest until they are older than the orphan-link age", async () => {
    const clock = { now: 5_000_000 };
    const f = await fixture(clock);
    const layer = random(10_000);
    expect((await pushBlob(f, "team/a", layer)).status).toBe(201);
    const gc = () => f.collector({ graceMs: 0, orphanLinkAgeMs: 3_600_000 }).run();
    clock.now += 3_599_000;
    expect(await gc()).toMatchObject({ orphanLinksRemoved: 0, blobsDeleted: 0 });
    expect((await f.request(`/v2/team/a/blobs/${sha256(layer)}`, { method: "HEAD" })).status).toBe(200);
    clock.now += 2_000;
    expect(await gc()).toMatchObject({ orphanLinksRemoved: 1, blobsDeleted: 1, bytesFreed: 10_000 });
    expect((await f.request(`/v2/team/a/blobs/${sha256(layer)}`, { method: "HEAD" })).status).toBe(404);
    expect(await f.objects()).toEqual([]);
  });

  it("a dry run changes nothing and counts what the real run then removes", async () => {
    const f = await fixture();
    const img = image('{"d":1}', [random(40_000), random(20_000)]);
    expect(await pushImage(f, "team/a", "v1", img)).toBe(201);
    await f.request(`/v2/team/a/manifests/${img.digest}`, { method: "DELETE" });
    const objects = await f.objects();
    const dry = await f.collector({ graceMs: 0, orphanLinkAgeMs: 0 }).run({ dryRun: true });
    expect(await f.objects()).toEqual(objects);
    const real = await f.collector({ graceMs: 0, orphanLinkAgeMs: 0 }).run();
    expect(dry).toMatchObject({ dryRun: true, orphanLinksRemoved: real.orphanLinksRemoved, blobsDeleted: real.blobsDeleted, bytesFreed: real.bytesFreed });
    expect(real.blobsDeleted).toBe(4);
    // With a grace period, a dry run says the newly unreferenced blobs would only be marked now.
    const img2 = image('{"d":2}', [random(10_000)]);
    expect(await pushImage(f, "team/b", "v1", img2)).toBe(201);
    await f.request(`/v2/team/b/manifests/${img2.digest}`, { method: "DELETE" });
    expect(await f.collector({ graceMs: 60_000, orphanLinkAgeMs: 0 }).run({ dryRun: true })).toMatchObject({ blobsMarked: 3, blobsDeleted: 0 });
  });

  it("a blob collected between being indexed and being linked is never linked: the push fails cleanly, nothing dangles", async () => {
    let collect: (() => Promise<unknown>) | null = null;
    const f = await fixture(null, async () => {
      await collect?.();
    });
    collect = () => f.collector({ graceMs: 0, orphanLinkAgeMs: 0 }).run();
    const layer = random(20_000);
    const res = await pushBlob(f, "team/a", layer);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("garbage-collected while this push ran; push it again");
    expect((await f.request(`/v2/team/a/blobs/${sha256(layer)}`, { method: "HEAD" })).status).toBe(404);
    expect(await f.objects()).toEqual([]);
    // Once the collector is quiet, the same push succeeds.
    collect = null;
    expect((await pushBlob(f, "team/a", layer)).status).toBe(201);
    expect(sha256(new Uint8Array(await (await f.request(`/v2/team/a/blobs/${sha256(layer)}`)).arrayBuffer()))).toBe(sha256(layer));
  });

  it("pushes and deletes racing the collector (grace 0) never lose a blob an accepted manifest needs; afterwards only held objects remain", async () => {
    const f = await fixture();
    const bases = [random(70_000), random(60_000)];
    const gc = f.collector({ graceMs: 0, orphanLinkAgeMs: 200 });
    let stop = false;
    let runs = 0;
    const collecting = (async () => {
      while (!stop) {
        const report = await gc.run();
        expect(report.problems).toEqual([]);
        runs++;
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const accepted: Array<{ repo: string; tag: string }> = [];
    const statuses = new Map<number, number>();
    await Promise.all(
      Array.from({ length: 4 }, async (_, worker) => {
        for (let i = 0; i < 12; i++) {
          const repo = `race/r${worker}`;
          const tag = `t${i}`;
          const img = image(`{"w":${worker},"i":${i}}`, [bases[i % 2]!, random(5_000 + i)]);
          const status = await pushImage(f, repo, tag, img);
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          if (status === 201) accepted.push({ repo, tag });
          // Every other image is deleted again at once, its blobs left to the collector.
          if (i % 2 === 1 && status === 201) {
            expect((await f.request(`/v2/${repo}/manifests/${img.digest}`, { method: "DELETE" })).status).toBe(202);
            accepted.pop();
          }
        }
      }),
    );
    stop = true;
    await collecting;
    // No 5xx: a push that lost a race to the collector got a client error naming the cause.
    expect([...statuses.keys()].every((status) => status < 500)).toBe(true);
    expect(runs).toBeGreaterThan(3);
    expect(accepted.length).toBeGreaterThan(10);
    for (const { repo, tag } of accepted) expect(await pullsWhole(f, repo, tag), `${repo}:${tag}`).toBe(true);

    // Quiet now: what remains on disk is exactly what the remaining images hold.
    await new Promise((resolve) => setTimeout(resolve, 250));
    await f.collector({ graceMs: 0, orphanLinkAgeMs: 0 }).run();
    const held = new Set<string>();
    for (const { repo, tag } of accepted) {
      const res = await f.request(`/v2/${repo}/manifests/${tag}`, { headers: { Accept: MANIFEST } });
      const doc = JSON.parse(await res.text()) as { config: { digest: string }; layers: { digest: string }[] };
      held.add(res.headers.get("docker-content-digest")!);
      held.add(doc.config.digest);
      for (const layer of doc.layers) held.add(layer.digest);
    }
    expect((await f.objects()).length).toBe(held.size);
  }, 60_000);
});
