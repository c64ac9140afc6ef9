/**
 * Blob upload bodies on Node are read from the IncomingMessage itself (runtime/node-request-body.ts),
 * not through the Request's web stream: proven against the real server over real sockets. A
 * streamed PATCH (chunked, no Content-Length) lands byte for byte and the request log counts it; a
 * client that goes away mid-body leaves the upload where it was, and the next PATCH resumes it.
 */
import { createHash, randomBytes } from "node:crypto";
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NodeServer, startNodeServer } from "../support/node-server.ts";

const MiB = 1024 * 1024;

function send(server: NodeServer, method: string, path: string, headers: Record<string, string>, pieces: Uint8Array[]): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: server.port, method, path, headers }, (res) => {
      let body = "";
      res.on("data", (piece: Buffer) => (body += piece.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    (async () => {
      for (const piece of pieces) if (!req.write(piece)) await new Promise((go) => req.once("drain", go));
      req.end();
    })().catch(reject);
  });
}

describe("upload bodies read from the socket by the Node runtime (npm start's server)", () => {
  let server: NodeServer;
  beforeAll(async () => {
    server = await startNodeServer();
  });
  afterAll(() => server?.stop());

  const start = async (repository: string) => {
    const answer = await send(server, "POST", `/v2/${repository}/blobs/uploads/`, { "Content-Length": "0" }, []);
    expect(answer.status).toBe(202);
    return String(answer.headers.location);
  };

  it("stores a 20 MiB chunked PATCH byte for byte (parts and a tail) and logs the bytes it read", async () => {
    const pieces = Array.from({ length: 20 * 16 + 3 }, () => randomBytes(64 * 1024));
    const digest = `sha256:${createHash("sha256").update(Buffer.concat(pieces)).digest("hex")}`;
    const size = pieces.length * 64 * 1024;
    const location = await start("bodies/streamed");
    const patched = await send(server, "PATCH", location, { "Content-Type": "application/octet-stream", "Transfer-Encoding": "chunked" }, pieces);
    expect(patched.status, patched.body).toBe(202);
    expect(patched.headers.range).toBe(`0-${size - 1}`);
    const put = await send(server, "PUT", `${location}${location.includes("?") ? "&" : "?"}digest=${digest}`, { "Content-Length": "0" }, []);
    expect(put.status, put.body).toBe(201);
    const got = await fetch(`${server.url}/v2/bodies/streamed/blobs/${digest}`);
    expect(`sha256:${createHash("sha256").update(Buffer.from(await got.arrayBuffer())).digest("hex")}`).toBe(digest);
    expect(server.output()).toContain(`"bytesIn":${size}`);
  });

  it("keeps nothing of a PATCH whose client disconnects mid-body; the next PATCH resumes from the recorded range", async () => {
    const location = await start("bodies/abandoned");
    const first = randomBytes(3 * MiB);
    const patched = await send(server, "PATCH", location, { "Content-Length": String(first.byteLength), "Content-Range": `0-${first.byteLength - 1}` }, [first]);
    expect(patched.status, patched.body).toBe(202);
    // 12 MiB declared, 9 sent, then the socket is destroyed.
    await new Promise<void>((resolve) => {
      const req = request({ host: "127.0.0.1", port: server.port, method: "PATCH", path: location, headers: { "Content-Length": String(12 * MiB), "Content-Range": `${3 * MiB}-${15 * MiB - 1}` } });
      req.on("error", () => resolve());
      req.on("response", () => resolve());
      req.write(randomBytes(9 * MiB), () => setTimeout(() => (req.destroy(), resolve()), 200));
    });
    // The server notices the close and releases its claim: the status then shows the first PATCH only.
    let range = "";
    for (let i = 0; i < 50 && range !== `0-${3 * MiB - 1}`; i++) {
      await new Promise((r) => setTimeout(r, 100));
      range = (await fetch(`${server.url}${location}`)).headers.get("range") ?? "";
    }
    expect(range).toBe(`0-${3 * MiB - 1}`);
    const second = randomBytes(5 * MiB);
    const resumed = await send(server, "PATCH", location, { "Content-Length": String(second.byteLength), "Content-Range": `${3 * MiB}-${8 * MiB - 1}` }, [second]);
    expect(resumed.status, resumed.body).toBe(202);
    const digest = `sha256:${createHash("sha256").update(first).update(second).digest("hex")}`;
    const put = await send(server, "PUT", `${location}${location.includes("?") ? "&" : "?"}digest=${digest}`, { "Content-Length": "0" }, []);
    expect(put.status, put.body).toBe(201);
  });
});
