import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { drainRefusedBodies } from "../../src/http/drain-refused-body.ts";
import { countedBody } from "../support/counted-body.ts";
import { chunkFromRequest } from "../../src/http/request.ts";
import { renderError } from "../../src/http/errors.ts";

function appWith(maxBytes: number, timeoutMs: number, status: 202 | 408 | 416 | 429) {
  const app = new Hono();
  app.use("*", drainRefusedBodies({ maxBytes, timeoutMs }));
  app.patch("/upload", (c) => c.body(null, status));
  return app;
}

function patch(app: Hono, body: ReadableStream<Uint8Array>, length?: number) {
  const headers: Record<string, string> = length === undefined ? {} : { "content-length": String(length) };
  return app.request("/upload", { method: "PATCH", body, headers, duplex: "half" } as RequestInit);
}

describe("drainRefusedBodies", () => {
  it("reads a refused request's unread body to its end before answering", async () => {
    const { stream, seen } = countedBody(10, 1000);
    const res = await patch(appWith(1_000_000, 5000, 416), stream, 10_000);
    expect(res.status).toBe(416);
    expect(seen.bytes).toBe(10_000);
  });

  it("leaves an accepted request's body alone", async () => {
    const { stream, seen } = countedBody(10, 1000);
    const res = await patch(appWith(1_000_000, 5000, 202), stream, 10_000);
    expect(res.status).toBe(202);
    expect(seen.bytes).toBe(0);
  });

  it("answers a 429 or 408 at once, reading nothing of the body (a refused upload holds no connection)", async () => {
    for (const status of [429, 408] as const) {
      const { stream, seen } = countedBody(3, 1000, { stall: true });
      const started = Date.now();
      // A drain would wait out the stalled body's 30 s; answering well before that means none ran.
      const res = await patch(appWith(1_000_000, 30_000, status), stream, 10_000);
      expect(res.status).toBe(status);
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(seen.bytes).toBe(0);
    }
  });

  it("does not read a body whose Content-Length is over the limit", async () => {
    const { stream, seen } = countedBody(10, 1000);
    const res = await patch(appWith(5000, 5000, 416), stream, 10_000);
    expect(res.status).toBe(416);
    expect(seen.bytes).toBe(0);
    expect(seen.cancelled).toBe(true);
  });

  it("stops reading a body of unknown length once it passes the limit", async () => {
    const { stream, seen } = countedBody(100, 1000);
    await patch(appWith(5000, 5000, 416), stream);
    expect(seen.bytes).toBeGreaterThan(5000);
    expect(seen.bytes).toBeLessThan(10_000);
    expect(seen.cancelled).toBe(true);
  });

  it("answers after the time bound when the body stops arriving", async () => {
    const { stream, seen } = countedBody(3, 1000, { stall: true });
    const started = Date.now();
    const res = await patch(appWith(1_000_000, 200, 416), stream, 10_000);
    expect(res.status).toBe(416);
    expect(seen.bytes).toBe(3000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(seen.cancelled).toBe(true);
  });

  it("reads the rest of a body of unknown length that a 413 refused once it passed the request limit", async () => {
    const app = new Hono();
    app.use("*", drainRefusedBodies({ maxBytes: 1_000_000, timeoutMs: 5000 }));
    app.patch("/upload", async (c) => {
      const reader = (chunkFromRequest(c, 5000).body as ReadableStream<Uint8Array>).getReader();
      while (!(await reader.read()).done);
      return c.body(null, 202);
    });
    app.onError((error, c) => renderError(error, c));
    const { stream, seen } = countedBody(20, 1000);
    const res = await patch(app, stream);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe("SIZE_INVALID");
    expect(seen.bytes).toBe(20_000);
    expect(seen.cancelled).toBe(false);
  });

  it("drains the runtime's own reader of an unread body when given one (Node), not the Request's", async () => {
    const runtime = countedBody(10, 1000);
    const app = new Hono();
    app.use("*", drainRefusedBodies({ maxBytes: 1_000_000, timeoutMs: 5000, unreadBody: () => runtime.stream }));
    app.patch("/upload", (c) => c.body(null, 416));
    const request = countedBody(10, 1000);
    const res = await patch(app, request.stream, 10_000);
    expect(res.status).toBe(416);
    expect(runtime.seen.bytes).toBe(10_000);
    expect(request.seen.bytes).toBe(0);
  });
});
