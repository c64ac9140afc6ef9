/**
 * Pushes one file as a blob in PATCH requests of the given sizes, each with
 * Content-Range and Content-Length (distribution-spec § Pushing a blob in
 * chunks), streaming every chunk from disk: the way to push a layer larger
 * than a Workers plan's request body limit. Then PUT ?digest= closes it.
 *
 *   usage: node test/workers/push-in-chunks.ts REGISTRY_URL REPOSITORY FILE SIZE[,SIZE...]
 *
 * The sizes are used in turn, the last one repeating until the file is sent.
 * Prints `blob <digest> <size>` and the time taken; exits non-zero with the
 * registry's whole answer when a request fails.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Readable } from "node:stream";

const [registryArg, repository, file, sizesArg] = process.argv.slice(2);
if (!registryArg || !repository || !file || !sizesArg) {
  console.error("usage: node test/workers/push-in-chunks.ts REGISTRY_URL REPOSITORY FILE SIZE[,SIZE...]");
  process.exit(2);
}
const registry = new URL(registryArg.endsWith("/") ? registryArg : `${registryArg}/`);
const sizes = sizesArg.split(",").map(Number);
if (sizes.some((size) => !Number.isSafeInteger(size) || size < 1)) throw new Error(`chunk sizes must be positive integers: ${sizesArg}`);

async function expectStatus(request: string, response: Response, status: number): Promise<Response> {
  if (response.status === status) return response;
  const headers = [...response.headers].map(([name, value]) => `  ${name}: ${value}`).join("\n");
  throw new Error(`${request}\n-> expected ${status}, got ${response.status}\n${headers}\n${(await response.text()).slice(0, 2000)}`);
}

function location(response: Response): URL {
  const value = response.headers.get("location");
  if (!value) throw new Error("the registry answered without a Location");
  return new URL(value, registry);
}

const total = (await stat(file)).size;
const hash = createHash("sha256");
const started = performance.now();
const post = new URL(`v2/${repository}/blobs/uploads/`, registry);
let upload = location(await expectStatus(`POST ${post}`, await fetch(post, { method: "POST" }), 202));

let offset = 0;
for (let i = 0; offset < total; i++) {
  const length = Math.min(sizes[Math.min(i, sizes.length - 1)]!, total - offset);
  const end = offset + length - 1;
  const source = createReadStream(file, { start: offset, end });
  source.on("data", (piece) => hash.update(piece));
  const request = `PATCH ${upload} (Content-Range: ${offset}-${end}, Content-Length: ${length})`;
  const init = {
    method: "PATCH",
    headers: { "Content-Type": "application/octet-stream", "Content-Range": `${offset}-${end}`, "Content-Length": String(length) },
    body: Readable.toWeb(source),
    duplex: "half",
  };
  const response = await expectStatus(request, await fetch(upload, init as RequestInit), 202);
  if (response.headers.get("range") !== `0-${end}`) throw new Error(`${request}\n-> Range ${response.headers.get("range")}, expected 0-${end}`);
  upload = location(response);
  offset += length;
}

const digest = `sha256:${hash.digest("hex")}`;
const put = new URL(upload);
put.searchParams.set("digest", digest);
await expectStatus(`PUT ${put}`, await fetch(put, { method: "PUT" }), 201);
const seconds = (performance.now() - started) / 1000;
console.log(`blob ${digest} ${total}`);
console.log(`pushed ${total} bytes in ${seconds.toFixed(1)} s (${(total / 1048576 / seconds).toFixed(1)} MiB/s)`);
