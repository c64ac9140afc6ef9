/**
 * Body chunks freed as soon as they are done with (src/runtime/node-chunk-memory.ts), over a real
 * node:http server and socket: a chunk a blob store marked as its own is freed once the response
 * has written it, never before (a client that reads slowly still gets every byte), and any other
 * chunk is left as it is. The same through `npm start`'s server, pulling blobs of several parts
 * with slow and concurrent clients: test/socket/blob-pulls.test.ts.
 */
import { createHash, randomBytes } from "node:crypto";
import { createServer, get, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FilesystemBlobStore } from "../../src/adapters/filesystem/blob-store.ts";
import { isOwnChunk, markOwnChunk } from "../../src/ports/blob-store.ts";
import { readLimited } from "../../src/core/streams.ts";
import { freeChunk, freeChunksOnceWritten } from "../../src/runtime/node-chunk-memory.ts";

let server: Server | null = null;
afterEach(() => new Promise<void>((resolve) => (server ? (server.closeAllConnections(), server.close(() => resolve())) : resolve())));

async function serve(handler: (response: ServerResponse) => void): Promise<number> {
  server = createServer((_request, response) => {
    freeChunksOnceWritten(response);
    handler(response);
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

/** GETs `/`, pausing `stallMs` before reading anything; the body's sha256. */
function fetchSlowly(port: number, stallMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ host: "127.0.0.1", port, path: "/" }, (response) => {
      const hash = createHash("sha256");
      response.pause();
      setTimeout(() => {
        response.on("data", (piece: Buffer) => hash.update(piece));
        response.on("end", () => resolve(hash.digest("hex")));
        response.resume();
      }, stallMs);
    }).on("error", reject);
  });
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

describe("freeing body chunks once written", () => {
  it("frees a marked chunk only after the socket has written it, even to a client that reads late, and leaves other chunks alone", async () => {
    const own = new Uint8Array(randomBytes(8 * 1024 * 1024));
    const other = new Uint8Array(randomBytes(64 * 1024));
    const expected = sha256(Buffer.concat([own, other]));
    const seen: { ownLengthAtWrite?: number; ownLengthAfter?: number; callbacks: number } = { callbacks: 0 };
    const port = await serve((response) => {
      response.writeHead(200, { "Content-Length": String(own.byteLength + other.byteLength) });
      // 8 MiB cannot all go into the socket at once while the client is not reading: the write
      // is still under way when write() returns, so freeing now would send freed memory.
      response.write(markOwnChunk(own), () => {
        seen.callbacks++;
        seen.ownLengthAfter = own.buffer.byteLength;
      });
      seen.ownLengthAtWrite = own.buffer.byteLength;
      response.end(other);
    });
    const received = await fetchSlowly(port, 300);
    expect(received).toBe(expected);
    expect(seen.ownLengthAtWrite).toBe(8 * 1024 * 1024);
    expect(seen.callbacks).toBe(1);
    // Freed before the caller's callback ran.
    expect(seen.ownLengthAfter).toBe(0);
    expect(other.buffer.byteLength).toBe(64 * 1024);
  });

  it("passes an unmarked chunk's encoding and callback through", async () => {
    let called = false;
    const port = await serve((response) => {
      response.write("héllo", "latin1", () => (called = true));
      response.end();
    });
    const received = await fetchSlowly(port, 0);
    expect(received).toBe(sha256(Buffer.from("héllo", "latin1")));
    expect(called).toBe(true);
  });

  it("leaves alone a local blob read into memory and kept (a cached manifest, an upload's tail), even when written", async () => {
    // Found by review: readLimited returns a single chunk as it is, so a small blob's marked chunk
    // became the cache's copy; written through a response, it would have been freed under the cache.
    const dir = await mkdtemp(join(tmpdir(), "chunk-memory-"));
    try {
      const blobs = new FilesystemBlobStore(dir);
      const manifest = new TextEncoder().encode(JSON.stringify({ schemaVersion: 2, filler: "m".repeat(300) }));
      await blobs.put("manifests/m", manifest);
      const object = (await blobs.get("manifests/m"))!;
      const kept = await readLimited(object.body, object.size, () => new Error("too large"));
      expect(isOwnChunk(kept)).toBe(false);
      const port = await serve((response) => {
        response.writeHead(200, { "Content-Length": String(kept.byteLength) });
        response.write(kept, () => response.end());
      });
      expect(await fetchSlowly(port, 0)).toBe(sha256(manifest));
      expect(Buffer.from(kept)).toEqual(Buffer.from(manifest));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("frees only a chunk that is its buffer's whole view", () => {
    const whole = new Uint8Array(16);
    const backing = new Uint8Array(32);
    const slice = backing.subarray(8, 24);
    freeChunk(whole);
    freeChunk(slice);
    expect(whole.buffer.byteLength).toBe(0);
    expect(backing.byteLength).toBe(32);
  });
});
