/**
 * The Node body reader (src/runtime/node-request-body.ts) over a real node:http server and socket:
 * `recycle` frees a chunk the caller copied (its ArrayBuffer detached, so its memory goes back at
 * once instead of at the next collection) and leaves alone a chunk that shares its buffer; bytes
 * read before each recycle are the bytes sent. `cancel` fails a read still waiting.
 */
import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Context } from "hono";
import { afterEach, describe, expect, it } from "vitest";
import type { ByteReader } from "../../src/core/streams.ts";
import { nodeRequestBody } from "../../src/runtime/node-request-body.ts";

let server: Server | null = null;
afterEach(() => new Promise<void>((resolve) => (server ? (server.closeAllConnections(), server.close(() => resolve())) : resolve())));

/** Serves one request: hands its body reader to `consume`, answers 200 with what it returns. */
async function oneRequest(consume: (reader: ByteReader, incoming: IncomingMessage) => Promise<string>, send: (port: number) => Promise<unknown>): Promise<string> {
  let result!: Promise<string>;
  server = createServer((incoming, response) => {
    const source = nodeRequestBody({ env: { incoming } } as unknown as Context);
    if (!source) throw new Error("no reader for a PUT");
    result = consume(source.getReader(), incoming);
    result.then(
      (text) => response.end(text),
      (error: unknown) => response.end(String(error)),
    );
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  await send((server.address() as AddressInfo).port);
  return result;
}

function put(port: number, pieces: Uint8Array[], options: { end?: boolean } = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method: "PUT", path: "/", headers: { "Transfer-Encoding": "chunked" } }, (res) => {
      res.resume();
      res.on("end", resolve);
    });
    req.on("error", reject);
    for (const piece of pieces) req.write(piece);
    if (options.end !== false) req.end();
    else setTimeout(() => resolve(), 200);
  });
}

describe("the Node body reader", () => {
  it("frees each chunk the caller recycles, after the caller copied it, and the copied bytes are the bytes sent", async () => {
    const pieces = Array.from({ length: 64 }, () => randomBytes(48 * 1024));
    const sent = createHash("sha256").update(Buffer.concat(pieces)).digest("hex");
    let detached = 0;
    let chunks = 0;
    const received = await oneRequest(async (reader) => {
      const hash = createHash("sha256");
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks++;
        hash.update(value);
        const buffer = value.buffer;
        reader.recycle?.(value);
        if (buffer.byteLength === 0) detached++;
      }
      return hash.digest("hex");
    }, (port) => put(port, pieces));
    expect(received).toBe(sent);
    expect(chunks).toBeGreaterThan(0);
    // Node's HTTP parser copies each piece of body into a Buffer of its own: every one is freed.
    expect(detached).toBe(chunks);
  });

  it("leaves a chunk that is only part of its buffer as it is", async () => {
    const piece = randomBytes(32 * 1024);
    const result = await oneRequest(async (reader) => {
      const { value } = await reader.read();
      const slice = value!.subarray(1);
      const before = Buffer.from(slice);
      reader.recycle?.(slice);
      await reader.cancel();
      return String(value!.buffer.byteLength > 0 && Buffer.from(slice).equals(before));
    }, (port) => put(port, [piece]));
    expect(result).toBe("true");
  });

  it("fails a read still waiting when cancelled with a reason", async () => {
    const result = await oneRequest(async (reader) => {
      await reader.read();
      const waiting = reader.read();
      await reader.cancel(new Error("stalled body"));
      return waiting.then(
        () => "resolved",
        (error: Error) => error.message,
      );
    }, (port) => put(port, [randomBytes(1024)], { end: false }));
    expect(result).toBe("stalled body");
  });
});
