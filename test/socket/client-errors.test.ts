/**
 * Requests Node's HTTP parser answers itself (issue 13, item 11): before, a raw space in the
 * request line got 400, more than 16 KiB of headers 431, an unknown Expect 417, each with an empty
 * body. Now each carries an OCI error body. Raw sockets against `node src/runtime/node.ts`.
 */
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NodeServer, startNodeServer } from "../support/node-server.ts";

/** Writes `raw` and reads until the server closes the connection (or 10 s). */
async function exchange(port: number, raw: string): Promise<{ status: number; headers: string; body: string }> {
  const socket = connect({ host: "127.0.0.1", port });
  let text = "";
  socket.on("data", (chunk: Buffer) => (text += chunk.toString("latin1")));
  socket.on("error", () => {});
  socket.write(raw);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 10_000);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
  });
  socket.destroy();
  const split = text.indexOf("\r\n\r\n");
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), headers: text.slice(0, split), body: text.slice(split + 4) };
}

function expectOciBody(body: string, code: string): void {
  const parsed = JSON.parse(body) as { errors: { code: string; message: string }[] };
  expect(parsed.errors[0]?.code).toBe(code);
  expect(parsed.errors[0]?.message.length).toBeGreaterThan(10);
}

describe("malformed requests get OCI error bodies from npm start", () => {
  let server: NodeServer;
  beforeAll(async () => {
    server = await startNodeServer();
  });
  afterAll(() => server?.stop());

  it("answers a raw space in the request line with 400 and an OCI error body", async () => {
    const answer = await exchange(server.port, "GET /v2/a b/tags/list HTTP/1.1\r\nHost: x\r\n\r\n");
    expect(answer.status).toBe(400);
    expect(answer.headers).toMatch(/content-type: application\/json/i);
    expectOciBody(answer.body, "UNSUPPORTED");
  });

  it("answers more than 16 KiB of headers with 431 and an OCI error body", async () => {
    const answer = await exchange(server.port, `GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20 * 1024)}\r\n\r\n`);
    expect(answer.status).toBe(431);
    expectOciBody(answer.body, "UNSUPPORTED");
    expect(JSON.parse(answer.body).errors[0].message).toContain("16 KiB");
  });

  it("answers an unknown Expect with 417 and an OCI error body", async () => {
    const answer = await exchange(server.port, "PUT /v2/x/manifests/v1 HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
    expect(answer.status).toBe(417);
    expectOciBody(answer.body, "UNSUPPORTED");
    expect(JSON.parse(answer.body).errors[0].message).toContain("100-continue");
  });

  it("still serves well-formed requests after them", async () => {
    expect((await fetch(`${server.url}/v2/`)).status).toBe(200);
  });
});
