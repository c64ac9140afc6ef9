/**
 * Mirror retention by last pull through the HTTP API of a real `npm start` (README
 * "Pull-through cache", `unpulledAfterSeconds`): a cached manifest not pulled for the
 * mirror's duration is listed by a dry run of POST /admin/gc, then deleted with its tag
 * (its blobs go with garbage collection after the grace period, a minute at least, not waited
 * for here); a pull meanwhile counts, one pulled lately stays; a later pull fetches the
 * deleted one from the upstream again. The upstream is a real HTTP server on 127.0.0.1 that
 * counts what it is asked.
 */
import { createHash } from "node:crypto";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startNodeServer, type NodeServer } from "../support/node-server.ts";

const sha256 = (text: string) => `sha256:${createHash("sha256").update(text).digest("hex")}`;
const config = "{}";
const layer = "a layer only the old image has";
const image = (layers: string[]) =>
  JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256(config), size: config.length },
    layers: layers.map((text) => ({ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: sha256(text), size: text.length })),
  });
const manifests: Record<string, string> = { old: image([layer]), kept: image([]) };
const blobs: Record<string, string> = { [sha256(config)]: config, [sha256(layer)]: layer };
const accept = { Accept: "application/vnd.oci.image.manifest.v1+json" };

let upstream: Server;
let registry: NodeServer;
const asked: string[] = [];

beforeAll(async () => {
  upstream = createServer((req, res) => {
    asked.push(`${req.method} ${req.url}`);
    const [, , , kind, reference] = (req.url ?? "").split("/");
    const body = kind === "manifests" ? (manifests[reference!] ?? Object.values(manifests).find((m) => sha256(m) === reference)) : blobs[reference!];
    if (body === undefined) return void res.writeHead(404).end();
    const type = kind === "manifests" ? "application/vnd.oci.image.manifest.v1+json" : "application/octet-stream";
    res.writeHead(200, { "Content-Type": type, "Docker-Content-Digest": sha256(body), "Content-Length": String(body.length) });
    res.end(req.method === "HEAD" ? undefined : body);
  });
  upstream.listen(0, "127.0.0.1");
  await once(upstream, "listening");
  const url = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;
  registry = await startNodeServer({ MIRRORS: JSON.stringify([{ namespace: "hub", url, unpulledAfterSeconds: 2 }]) });
});

afterAll(async () => {
  await registry?.stop();
  upstream?.closeAllConnections();
  upstream?.close();
});

const pull = async (path: string) => {
  const response = await fetch(`${registry.url}/v2/hub/app/${path}`, { headers: accept });
  await response.arrayBuffer();
  return response.status;
};
const collect = async (dryRun: boolean) => {
  const response = await fetch(`${registry.url}/admin/gc${dryRun ? "?dry-run=true" : ""}`, { method: "POST" });
  expect(response.status).toBe(200);
  return (await response.json()) as { retention: { unpulled: Array<{ repository: string; digest: string }> }; };
};

it("deletes a mirrored manifest not pulled for unpulledAfterSeconds (a dry run lists it first), keeps one pulled lately, and fetches it again when asked", async () => {
  expect(await pull("manifests/old")).toBe(200);
  expect(await pull("manifests/kept")).toBe(200);
  expect(await pull(`blobs/${sha256(layer)}`)).toBe(200);
  expect(await pull(`blobs/${sha256(config)}`)).toBe(200);
  // `old` goes unpulled past unpulledAfterSeconds; `kept` is pulled just before the collection,
  // so a slow machine only makes `old` older, never `kept` old enough.
  await new Promise((resolve) => setTimeout(resolve, 2_200));
  expect(await pull("manifests/kept")).toBe(200);
  await new Promise((resolve) => setTimeout(resolve, 200));

  const old = { repository: "hub/app", digest: sha256(manifests.old!) };
  expect((await collect(true)).retention.unpulled).toEqual([old]);
  expect(await pull(`manifests/${old.digest}`)).toBe(200); // still cached: a dry run changes nothing...
  await new Promise((resolve) => setTimeout(resolve, 2_100)); // ...and a pull counts: wait it out again, and pull `kept` meanwhile
  expect(await pull("manifests/kept")).toBe(200);
  await new Promise((resolve) => setTimeout(resolve, 100));

  const report = await collect(false);
  expect(report.retention.unpulled).toEqual([old]);
  const tags = (await (await fetch(`${registry.url}/v2/hub/app/tags/list`)).json()) as { tags: string[] };
  expect(tags.tags).toEqual(["kept"]);

  asked.length = 0;
  expect(await pull(`manifests/${old.digest}`)).toBe(200);
  expect(asked).toContain(`GET /v2/app/manifests/${old.digest}`);
  asked.length = 0;
  expect(await pull("manifests/kept")).toBe(200);
  expect(asked.filter((line) => line.startsWith("GET"))).toEqual([]);
}, 30_000);
