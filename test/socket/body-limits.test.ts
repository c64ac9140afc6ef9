/**
 * Request bodies that are not blobs are read only up to their limit, measured
 * on the real thing: `node src/runtime/node.ts` with token auth, a raw socket
 * streaming a 64 MiB chunked body (no Content-Length), the server's memory read
 * from /proc. The answer must come long before the body ends, and the process
 * must not grow by anything like the body's size.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sendChunked } from "../support/chunked-sender.ts";
import { type NodeServer, startNodeServer } from "../support/node-server.ts";

const MiB = 1024 * 1024;
const BODY = 64 * MiB;
/** Loopback and kernel buffers let a few MiB through before the server's answer is read; the body is 64. */
const SENT_AT_MOST = 16 * MiB;
const GROWTH_AT_MOST = 40 * MiB;

describe("bodies read with a limit, over a real socket against npm start (token auth)", () => {
  let server: NodeServer;
  beforeAll(async () => {
    server = await startNodeServer({ REGISTRY_CONFIG: "examples/teams/registry.json" });
  });
  afterAll(() => server?.stop());

  it("POST /token: answers 413 after reading 64 KiB of a 64 MiB chunked form, unauthenticated, with bounded memory", async () => {
    const before = await server.rss();
    const outcome = await sendChunked({
      port: server.port,
      method: "POST",
      path: "/token",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      totalBytes: BODY,
      rss: () => server.rss(),
    });
    expect(outcome.status, outcome.response.slice(0, 300)).toBe(413);
    expect(outcome.response).toContain('"code":"SIZE_INVALID"');
    expect(outcome.response).toContain("at most 65536 bytes");
    expect(outcome.sentBeforeAnswer).toBeLessThan(SENT_AT_MOST);
    expect(outcome.peakRss - before).toBeLessThan(GROWTH_AT_MOST);
    // The server is still there and serving.
    expect((await fetch(`${server.url}/v2/`)).status).toBe(401);
  });

  it("PUT manifest: answers 413 at the manifest limit of a 64 MiB chunked body, with bounded memory", async () => {
    const credentials = Buffer.from("alice:alice-secret").toString("base64");
    const tokenResponse = await fetch(`${server.url}/token?service=oci-registry&scope=repository:blue/app:pull,push`, { headers: { authorization: `Basic ${credentials}` } });
    const { token } = (await tokenResponse.json()) as { token: string };
    const before = await server.rss();
    const outcome = await sendChunked({
      port: server.port,
      method: "PUT",
      path: "/v2/blue/app/manifests/v1",
      headers: { "Content-Type": "application/vnd.oci.image.manifest.v1+json", Authorization: `Bearer ${token}` },
      totalBytes: BODY,
      rss: () => server.rss(),
    });
    expect(outcome.status, outcome.response.slice(0, 300)).toBe(413);
    expect(outcome.response).toContain('"code":"MANIFEST_INVALID"');
    expect(outcome.sentBeforeAnswer).toBeLessThan(SENT_AT_MOST);
    expect(outcome.peakRss - before).toBeLessThan(GROWTH_AT_MOST);
  });
});
