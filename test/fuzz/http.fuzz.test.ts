/**
 * Property-based fuzzing of the HTTP face of `npm start` (issue 13): random names, tags, digests,
 * manifests, Content-Range and Range headers, query parameters and Content-Length lies, against
 * the real process on a free port. For every answer: no 5xx, and on /v2/ an OCI error body
 * (`{"errors":[{"code","message"}]}`) with a known code whenever the status is an error; at the end
 * the process still serves and its memory stayed bounded. Time-bounded (FUZZ_SECONDS, default 60);
 * `npm run test:fuzz`. A failure prints the shrunk request that caused it.
 */
import { createHash } from "node:crypto";
import { connect } from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorCodes } from "../../src/core/errors.ts";
import { type NodeServer, startNodeServer } from "../support/node-server.ts";

const SECONDS = Number(process.env.FUZZ_SECONDS ?? 60);
/** Loose on purpose: the server starts near 100 MB; an unbounded buffer would pass it quickly. */
const RSS_LIMIT = 400 * 1024 * 1024;
const KNOWN_CODES = new Set(Object.keys(errorCodes));

const sha256 = (bytes: Uint8Array | string) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Uint8Array<ArrayBuffer>;
}

/** What every answer must satisfy; returns a description of the violation, or null. */
async function violation(request: FuzzRequest, response: Response): Promise<string | null> {
  const text = await response.text();
  if (response.status >= 500) return `${response.status} ${text.slice(0, 300)}`;
  if (response.status >= 400 && request.path.startsWith("/v2") && request.method !== "HEAD") {
    try {
      const body = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
      const first = body.errors?.[0];
      if (!first || !KNOWN_CODES.has(first.code ?? "") || typeof first.message !== "string") return `not an OCI error body: ${text.slice(0, 300)}`;
    } catch {
      return `${response.status} with a body that is not JSON: ${text.slice(0, 300)}`;
    }
  }
  return null;
}

/** One image the fuzzer's digests and ranges can hit. */
const CONFIG = new TextEncoder().encode("{}");
const LAYER = new TextEncoder().encode("a layer to read ranges of");
const MANIFEST = JSON.stringify({
  schemaVersion: 2,
  mediaType: "application/vnd.oci.image.manifest.v1+json",
  config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256(CONFIG), size: CONFIG.length },
  layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: sha256(LAYER), size: LAYER.length }],
});
const held = { repo: "fuzz/app", layer: sha256(LAYER), manifest: sha256(MANIFEST) };

describe("fuzzing npm start's HTTP API", () => {
  let server: NodeServer;

  beforeAll(async () => {
    server = await startNodeServer({ BODY_TIMEOUT_SECONDS: "1", MAX_UPLOADS_PER_CLIENT: "64" });
    for (const blob of [CONFIG, LAYER]) {
      const answer = await fetch(`${server.url}/v2/${held.repo}/blobs/uploads/?digest=${sha256(blob)}`, { method: "POST", body: blob });
      expect(answer.status).toBe(201);
    }
    const put = await fetch(`${server.url}/v2/${held.repo}/manifests/v1`, { method: "PUT", headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" }, body: MANIFEST });
    expect(put.status).toBe(201);
  }, 60_000);
  afterAll(() => server?.stop());

  // ------------------------------------------------------------------ generators
  const text = fc.string({ unit: "binary", maxLength: 40 }).map((s) => encodeURIComponent(s));
  const name = fc.oneof(
    fc.constant(held.repo),
    fc.stringMatching(/^[a-z0-9]{1,8}(\/[a-z0-9]{1,8}){0,3}$/),
    fc.constantFrom("a..b", "A/B", "a//b", "a%2Fb", "-x", "x/", ".", "..", "a/../b", "%00", "x".repeat(300)),
    text,
  );
  const tag = fc.oneof(fc.stringMatching(/^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,20}$/), fc.constantFrom("v1", "-bad", "a".repeat(200), ""), text);
  const digest = fc.oneof(
    fc.constant(held.layer),
    fc.constant(held.manifest),
    fc.stringMatching(/^[0-9a-f]{64}$/).map((hex) => `sha256:${hex}`),
    fc.stringMatching(/^[0-9a-f]{128}$/).map((hex) => `sha512:${hex}`),
    fc.constantFrom("sha256:", "md5:abc", "sha256:XYZ", "sha512:00", ""),
    text,
  );
  const reference = fc.oneof(tag, digest);
  const number = fc.oneof(fc.nat({ max: 1_000_000 }).map(String), fc.constantFrom("-1", "1e9", "99999999999999999999", "0x10", " 5", "", "NaN"));
  const range = fc.oneof(
    fc.tuple(fc.nat({ max: 100 }), fc.nat({ max: 100 })).map(([a, b]) => `bytes=${a}-${b}`),
    fc.nat({ max: 100 }).map((a) => `bytes=${a}-`),
    fc.nat({ max: 100 }).map((a) => `bytes=-${a}`),
    fc.constantFrom("bytes=0-0,5-6", "bytes=abc", "items=0-1", "bytes=99999999999999999999-", "bytes=5-1"),
  );
  const contentRange = fc.oneof(
    fc.tuple(fc.nat({ max: 200 }), fc.nat({ max: 200 })).map(([a, b]) => `${a}-${b}`),
    fc.constantFrom("0-", "bytes 0-10/*", "-5", "0-99999999999999999999", "a-b", ""),
  );
  const descriptor = fc.record({
    mediaType: fc.constantFrom("application/vnd.oci.image.layer.v1.tar", "application/vnd.oci.image.manifest.v1+json", "x"),
    digest,
    size: fc.oneof(fc.nat(), fc.constant(-1), fc.constant(1.5)),
  });
  const manifest = fc.oneof(
    fc.record({
      schemaVersion: fc.constantFrom(1, 2, 3),
      mediaType: fc.constantFrom("application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json", "text/html", undefined),
      config: fc.option(descriptor),
      layers: fc.array(descriptor, { maxLength: 5 }),
      manifests: fc.option(fc.array(descriptor, { maxLength: 3 })),
      subject: fc.option(descriptor),
      annotations: fc.option(fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 2 }))),
    }).map((doc) => JSON.stringify(doc)),
    fc.json({ maxDepth: 4 }),
    fc.string({ maxLength: 200 }),
    fc.nat({ max: 5000 }).map((depth) => `{"schemaVersion":2,"x":${"[".repeat(depth)}${"]".repeat(depth)}}`),
  );
  const contentType = fc.constantFrom(
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/json",
    "text/html",
    "",
    "application/vnd.oci.image.index.v1+json; charset=utf-8",
  );
  const bytes = fc.uint8Array({ maxLength: 300 }).map((array) => new Uint8Array(array));
  const query = fc.dictionary(fc.constantFrom("n", "last", "digest", "mount", "from", "digest-algorithm", "tag", "artifactType", "dry-run"), fc.oneof(text, number, digest), { maxKeys: 3 });

  const request: fc.Arbitrary<FuzzRequest> = fc.oneof(
    fc.record({ method: fc.constantFrom("GET", "HEAD", "DELETE"), name, reference }).map(({ method, name, reference }): FuzzRequest => ({ method, path: `/v2/${name}/manifests/${reference}`, headers: {} })),
    fc.record({ name, reference, body: manifest, type: contentType, q: query }).map(({ name, reference, body, type, q }): FuzzRequest => ({
      method: "PUT",
      path: `/v2/${name}/manifests/${reference}?${new URLSearchParams(q)}`,
      headers: type ? { "content-type": type } : {},
      body: new TextEncoder().encode(body),
    })),
    fc.record({ method: fc.constantFrom("GET", "HEAD", "DELETE"), name, digest, range: fc.option(range) }).map(({ method, name, digest, range }): FuzzRequest => ({
      method,
      path: `/v2/${name}/blobs/${digest}`,
      headers: range ? { range } : {},
    })),
    fc.record({ name, q: query, body: fc.option(bytes) }).map(({ name, q, body }): FuzzRequest => ({ method: "POST", path: `/v2/${name}/blobs/uploads/?${new URLSearchParams(q)}`, headers: {}, ...(body ? { body } : {}) })),
    fc.record({ name, q: query }).map(({ name, q }): FuzzRequest => ({ method: "GET", path: `/v2/${name}/tags/list?${new URLSearchParams(q)}`, headers: {} })),
    fc.record({ name, digest, q: query }).map(({ name, digest, q }): FuzzRequest => ({ method: "GET", path: `/v2/${name}/referrers/${digest}?${new URLSearchParams(q)}`, headers: {} })),
    query.map((q): FuzzRequest => ({ method: "GET", path: `/v2/_catalog?${new URLSearchParams(q)}`, headers: {} })),
    fc.record({ method: fc.constantFrom("GET", "POST", "OPTIONS", "PATCH", "PUT"), path: fc.webPath() }).map(({ method, path }): FuzzRequest => ({ method, path: `/v2${path}`, headers: {} })),
  );

  /** An upload session, then a random chunk, Content-Range and closing PUT on it. */
  const uploadSteps = fc.record({
    name: fc.constantFrom(held.repo, "fuzz/other"),
    chunks: fc.array(fc.record({ body: bytes, range: fc.option(contentRange), method: fc.constantFrom("PATCH", "PUT") }), { maxLength: 4 }),
    digest: fc.option(digest),
    q: query,
  });

  it(`answers every request without a 5xx and with OCI error bodies (${SECONDS} s budget)`, async () => {
    const deadline = Date.now() + (SECONDS * 1000) / 3;
    await fc.assert(
      fc
        .asyncProperty(request, async (r) => {
          const response = await fetch(`${server.url}${r.path}`, { method: r.method, headers: r.headers, ...(r.body ? { body: r.body } : {}) });
          const problem = await violation(r, response);
          if (problem) throw new Error(`${r.method} ${r.path}: ${problem}`);
        }),
      { interruptAfterTimeLimit: deadline - Date.now(), numRuns: 1_000_000, markInterruptAsFailure: false },
    );
  }, SECONDS * 1000 + 60_000);

  it("answers random upload sequences (PATCH, PUT, Content-Range, digests) without a 5xx and with OCI error bodies", async () => {
    const deadline = Date.now() + (SECONDS * 1000) / 3;
    await fc.assert(
      fc.asyncProperty(uploadSteps, async ({ name, chunks, digest, q }) => {
        const started = await fetch(`${server.url}/v2/${name}/blobs/uploads/?${new URLSearchParams(q)}`, { method: "POST" });
        await started.arrayBuffer();
        let location = started.headers.get("location");
        if (!location) return;
        for (const chunk of chunks) {
          const path = chunk.method === "PUT" ? `${location}${location.includes("?") ? "&" : "?"}digest=${encodeURIComponent(digest ?? "")}` : location;
          const r: FuzzRequest = { method: chunk.method, path, headers: chunk.range ? { "content-range": chunk.range } : {}, body: chunk.body };
          const response = await fetch(`${server.url}${r.path}`, { method: r.method, headers: r.headers, body: chunk.body });
          location = response.headers.get("location") ?? location;
          const problem = await violation(r, response);
          if (problem) throw new Error(`${r.method} ${r.path} (Content-Range ${chunk.range}): ${problem}`);
        }
      }),
      { interruptAfterTimeLimit: deadline - Date.now(), numRuns: 1_000_000, markInterruptAsFailure: false },
    );
  }, SECONDS * 1000 + 60_000);

  it("answers Content-Length lies (more declared than sent, then a stall or a close; less declared than sent) with no 5xx and OCI bodies", async () => {
    const deadline = Date.now() + (SECONDS * 1000) / 3;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          target: fc.constantFrom(`/v2/${held.repo}/manifests/lie`, `/v2/${held.repo}/blobs/uploads/?digest=${held.layer}`, "/v2/fuzz/lie/blobs/uploads/"),
          method: fc.constantFrom("PUT", "POST", "PATCH"),
          declared: fc.nat({ max: 5000 }),
          sent: fc.nat({ max: 5000 }),
          then: fc.constantFrom("stall", "close"),
        }),
        async ({ target, method, declared, sent, then }) => {
          const answers = await rawExchange(server.port, `${method} ${target} HTTP/1.1\r\nHost: fuzz\r\nContent-Length: ${declared}\r\nContent-Type: application/octet-stream\r\n\r\n`, sent, then === "close" && sent < declared);
          for (const answer of answers) {
            if (answer.status >= 500) throw new Error(`${method} ${target} declared ${declared} sent ${sent}: ${answer.status} ${answer.body.slice(0, 300)}`);
            if (answer.status >= 400) {
              let code: string | undefined;
              try {
                code = (JSON.parse(answer.body) as { errors?: { code?: string }[] }).errors?.[0]?.code;
              } catch {
                code = undefined;
              }
              if (!KNOWN_CODES.has(code ?? "")) throw new Error(`${method} ${target} declared ${declared} sent ${sent}: ${answer.status} without an OCI error body: ${JSON.stringify(answer.body.slice(0, 300))}`);
            }
          }
        },
      ),
      { interruptAfterTimeLimit: deadline - Date.now(), numRuns: 1_000_000, markInterruptAsFailure: false },
    );
  }, SECONDS * 1000 + 60_000);

  it("still serves, with bounded memory, after all of it", async () => {
    expect((await fetch(`${server.url}/v2/`)).status).toBe(200);
    // The fuzzer may have deleted the image; a new push must work.
    const blob = new TextEncoder().encode(`after fuzzing ${Date.now()}`);
    expect((await fetch(`${server.url}/v2/fuzz/after/blobs/uploads/?digest=${sha256(blob)}`, { method: "POST", body: blob })).status).toBe(201);
    expect(await server.rss()).toBeLessThan(RSS_LIMIT);
  });
});

/**
 * Sends a request head and `sent` body bytes over a raw socket; with `closeEarly` closes its side
 * at once (a client that dies mid-body), else waits for the server (answers, or the 1 s body
 * timeout). Returns each answer found in what came back.
 */
async function rawExchange(port: number, head: string, sent: number, closeEarly: boolean): Promise<{ status: number; body: string }[]> {
  const socket = connect({ host: "127.0.0.1", port });
  let text = "";
  socket.on("data", (chunk: Buffer) => (text += chunk.toString("latin1")));
  socket.on("error", () => {});
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.write(head);
  if (sent > 0) socket.write(Buffer.alloc(sent, 0x7b));
  if (closeEarly) socket.end();
  await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 5_000))]);
  socket.destroy();
  const answers: { status: number; body: string }[] = [];
  for (const match of text.matchAll(/HTTP\/1\.1 (\d{3})[^\r]*\r\n([\s\S]*?)\r\n\r\n/g)) {
    const length = Number(/content-length: (\d+)/i.exec(match[2] ?? "")?.[1] ?? 0);
    const start = (match.index ?? 0) + match[0].length;
    answers.push({ status: Number(match[1]), body: text.slice(start, start + length) });
  }
  return answers;
}
