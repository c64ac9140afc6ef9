/**
 * Bodies that stop arriving, and many uploads at once, against the real process (issue 13,
 * defect 6): `node src/runtime/node.ts` on a free port, raw sockets that send part of a body and
 * stall. Before: a stalled PATCH or POST /token stayed open for minutes holding what it had read,
 * and hundreds of stalled PUTs reset every other client's connections.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NodeServer, startNodeServer } from "../support/node-server.ts";
import { stalledRequest } from "../support/stalled-request.ts";

const MiB = 1024 * 1024;
/** Long enough that the stalled requests below all hold their slots together on a loaded machine. */
const TIMEOUT_SECONDS = 4;
/** The server has read a stalled request's head (and so holds its slot) well within this. */
const HEAD_READ_MS = 500;
/** Generous: the answer must come after the timeout, and well before the default 60 s would. */
const ANSWER_WITHIN_MS = 20_000;

describe("body progress timeout and upload limits over real sockets (npm start)", () => {
  let server: NodeServer;
  beforeAll(async () => {
    server = await startNodeServer({ BODY_TIMEOUT_SECONDS: String(TIMEOUT_SECONDS), MAX_UPLOADS: "6", MAX_UPLOADS_PER_CLIENT: "4" });
  });
  afterAll(() => server?.stop());

  it("ends a PATCH whose body stalls with 408 BLOB_UPLOAD_INVALID, keeps nothing of it, and the upload resumes from where it was", async () => {
    const started = await fetch(`${server.url}/v2/limits/stall/blobs/uploads/`, { method: "POST" });
    expect(started.status).toBe(202);
    const location = started.headers.get("location")!;
    const patch = await stalledRequest({ port: server.port, method: "PATCH", path: location, headers: { "Content-Range": `0-${4 * MiB - 1}`, "Content-Type": "application/octet-stream" }, declaredBytes: 4 * MiB, sentBytes: MiB });
    const answer = await patch.answer(ANSWER_WITHIN_MS);
    patch.close();
    expect(answer.status, answer.text.slice(0, 400)).toBe(408);
    expect(answer.text).toContain('"code":"BLOB_UPLOAD_INVALID"');
    expect(answer.text).toContain("bodyTimeoutSeconds");
    expect(answer.afterMs).toBeGreaterThanOrEqual(TIMEOUT_SECONDS * 1000 - 100);

    const status = await fetch(`${server.url}${location}`);
    expect(status.status).toBe(204);
    expect(status.headers.get("range")).toBe("0-0");
    const bytes = new Uint8Array(4 * MiB).fill(0x62);
    const resumed = await fetch(`${server.url}${location}`, { method: "PATCH", headers: { "Content-Range": `0-${bytes.length - 1}`, "Content-Type": "application/octet-stream" }, body: bytes });
    expect(resumed.status).toBe(202);
    const digest = `sha256:${Buffer.from(await crypto.subtle.digest("SHA-256", bytes)).toString("hex")}`;
    const closed = await fetch(`${server.url}${resumed.headers.get("location")!}${resumed.headers.get("location")!.includes("?") ? "&" : "?"}digest=${digest}`, { method: "PUT" });
    expect(closed.status).toBe(201);
  });

  it("answers 429 TOOMANYREQUESTS with Retry-After past the per-client and overall limits, serves other clients meanwhile, and frees the slots when the stalled bodies time out", async () => {
    const stall = (from: string, i: number) =>
      stalledRequest({ port: server.port, method: "PUT", path: `/v2/limits/many/manifests/t${i}`, headers: { "Content-Type": "application/vnd.oci.image.manifest.v1+json" }, declaredBytes: 1000, sentBytes: 10, from });
    const held = [];
    for (let i = 0; i < 4; i++) held.push(await stall("127.0.0.1", i));
    // Each stalled request holds its slot once the server has read its head.
    await new Promise((resolve) => setTimeout(resolve, HEAD_READ_MS));
    const fifth = await stall("127.0.0.1", 4);
    const refused = await fifth.answer(ANSWER_WITHIN_MS);
    expect(refused.status, refused.text.slice(0, 400)).toBe(429);
    expect(refused.text).toMatch(/\r\nretry-after: 5\r\n/i);
    expect(refused.text).toContain('"code":"TOOMANYREQUESTS"');
    expect(refused.text).toContain("maxUploadsPerClient");
    expect(refused.firstByteMs).toBeGreaterThanOrEqual(0);
    expect(refused.firstByteMs).toBeLessThan(TIMEOUT_SECONDS * 1000);

    held.push(await stall("127.0.0.2", 5), await stall("127.0.0.3", 6));
    await new Promise((resolve) => setTimeout(resolve, HEAD_READ_MS));
    const overall = await (await stall("127.0.0.4", 7)).answer(ANSWER_WITHIN_MS);
    expect(overall.status, overall.text.slice(0, 400)).toBe(429);
    expect(overall.text).toContain("maxUploads)");

    // Everyone else is served meanwhile.
    expect((await fetch(`${server.url}/v2/`)).status).toBe(200);
    expect((await fetch(`${server.url}/v2/limits/many/tags/list`)).status).toBe(404);

    const answers = await Promise.all(held.map((request) => request.answer(ANSWER_WITHIN_MS)));
    for (const answer of answers) {
      expect(answer.status, answer.text.slice(0, 400)).toBe(408);
      expect(answer.text).toContain('"code":"MANIFEST_INVALID"');
    }
    const again = await fetch(`${server.url}/v2/limits/many/manifests/t9`, { method: "PUT", headers: { "Content-Type": "application/vnd.oci.image.manifest.v1+json" }, body: "{}" });
    expect(again.status).toBe(400);
  });
});

describe("a stalled POST /token over a real socket (npm start with token auth)", () => {
  let server: NodeServer;
  beforeAll(async () => {
    server = await startNodeServer({ REGISTRY_CONFIG: "examples/teams/registry.json", BODY_TIMEOUT_SECONDS: String(TIMEOUT_SECONDS) });
  });
  afterAll(() => server?.stop());

  it("ends an unauthenticated form that stops arriving with 408 and an OCI error body", async () => {
    const request = await stalledRequest({ port: server.port, method: "POST", path: "/token", headers: { "Content-Type": "application/x-www-form-urlencoded" }, declaredBytes: 500, sentBytes: 20 });
    const answer = await request.answer(ANSWER_WITHIN_MS);
    request.close();
    expect(answer.status, answer.text.slice(0, 400)).toBe(408);
    expect(answer.text).toContain('"errors":[{"code":"UNSUPPORTED"');
    expect(answer.text).toContain("bodyTimeoutSeconds");
    expect((await fetch(`${server.url}/v2/`)).status).toBe(401);
  });
});
