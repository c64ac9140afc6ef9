/**
 * Blob GETs through `npm start`'s server over real sockets, with the chunks of local blob reads
 * freed as soon as the socket has written each (runtime/node-chunk-memory.ts): a blob of several
 * parts arrives byte for byte to clients that read late, to several at once, and as a Range.
 */
import { createHash, randomBytes } from "node:crypto";
import { get, request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NodeServer, startNodeServer } from "../support/node-server.ts";

const MiB = 1024 * 1024;
const PART_SIZE = 5 * MiB;

function send(server: NodeServer, method: string, path: string, headers: Record<string, string>, body?: Uint8Array): Promise<{ status: number; location?: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: server.port, method, path, headers }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, location: res.headers.location }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** GETs `path`, reading nothing for `stallMs`; the status and the body's sha256. */
function pull(server: NodeServer, path: string, stallMs: number, headers: Record<string, string> = {}): Promise<{ status: number; digest: string; size: number }> {
  return new Promise((resolve, reject) => {
    get({ host: "127.0.0.1", port: server.port, path, headers }, (res) => {
      const hash = createHash("sha256");
      let size = 0;
      res.pause();
      setTimeout(() => {
        res.on("data", (piece: Buffer) => {
          hash.update(piece);
          size += piece.byteLength;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, digest: hash.digest("hex"), size }));
        res.resume();
      }, stallMs);
    }).on("error", reject);
  });
}

describe("blob GETs of a blob in several parts (npm start's server)", () => {
  let server: NodeServer;
  const blob = randomBytes(3 * PART_SIZE + 12345);
  const hex = createHash("sha256").update(blob).digest("hex");
  const path = `/v2/pulls/layer/blobs/sha256:${hex}`;

  beforeAll(async () => {
    server = await startNodeServer({ PART_SIZE: String(PART_SIZE) });
    const started = await send(server, "POST", "/v2/pulls/layer/blobs/uploads/", { "Content-Length": "0" });
    expect(started.status).toBe(202);
    const location = started.location!;
    const patched = await send(server, "PATCH", location, { "Content-Type": "application/octet-stream", "Content-Length": String(blob.byteLength), "Content-Range": `0-${blob.byteLength - 1}` }, blob);
    expect(patched.status).toBe(202);
    const put = await send(server, "PUT", `${location}${location.includes("?") ? "&" : "?"}digest=sha256:${hex}`, { "Content-Length": "0" });
    expect(put.status).toBe(201);
  });
  afterAll(() => server?.stop());

  it("sends every byte to clients that read late and to several at once", async () => {
    const pulls = await Promise.all([pull(server, path, 0), pull(server, path, 300), pull(server, path, 150), pull(server, path, 0)]);
    for (const result of pulls) expect(result).toEqual({ status: 200, digest: hex, size: blob.byteLength });
  });

  it("sends a Range across a part boundary byte for byte", async () => {
    const start = PART_SIZE - 1000;
    const end = 2 * PART_SIZE + 999;
    const result = await pull(server, path, 200, { Range: `bytes=${start}-${end}` });
    expect(result).toEqual({ status: 206, digest: createHash("sha256").update(blob.subarray(start, end + 1)).digest("hex"), size: end - start + 1 });
  });
});
