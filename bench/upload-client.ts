/**
 * A small blob-push client speaking the distribution-spec upload protocol
 * directly, for the pushes skopeo cannot be asked to make: a layer in fixed
 * PATCHes with Content-Range (§ Pushing a blob in chunks), and one streamed
 * PATCH of unknown length (chunked transfer encoding, as docker and containerd
 * send when piping from a compressor).
 */
import { createHash } from "node:crypto";
import { Agent, request as httpRequest, type IncomingHttpHeaders } from "node:http";

const agent = new Agent({ keepAlive: true, maxSockets: 4 });

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

type Body = Uint8Array | AsyncIterable<Uint8Array> | null;

function send(method: string, url: URL, headers: Record<string, string>, body: Body): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers, agent }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (piece: string) => (text += piece));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      res.on("error", reject);
    });
    req.on("error", reject);
    if (body === null) return void req.end();
    if (body instanceof Uint8Array) return void req.end(body);
    (async () => {
      for await (const piece of body) {
        if (!req.write(piece)) await new Promise((resume) => req.once("drain", resume));
      }
      req.end();
    })().catch((error: unknown) => req.destroy(error as Error));
  });
}

function expect(answer: Answer, status: number, what: string): Answer {
  if (answer.status !== status) throw new Error(`${what}: expected ${status}, got ${answer.status}: ${answer.body.slice(0, 500)}`);
  return answer;
}

function nextLocation(answer: Answer, base: URL): URL {
  const location = answer.headers.location;
  if (!location) throw new Error(`no Location in the ${answer.status} answer`);
  return new URL(location, base);
}

async function startUpload(registry: string, repository: string): Promise<URL> {
  const base = new URL(`/v2/${repository}/blobs/uploads/`, registry);
  const answer = expect(await send("POST", base, { "Content-Length": "0" }, null), 202, "POST upload");
  return nextLocation(answer, base);
}

async function finishUpload(location: URL, digest: string): Promise<void> {
  const url = new URL(location);
  url.searchParams.set("digest", digest);
  expect(await send("PUT", url, { "Content-Length": "0" }, null), 201, "PUT ?digest=");
}

/** Pushes `bytes` in PATCHes of `chunkSize`, each with Content-Range and Content-Length. */
export async function pushChunked(registry: string, repository: string, bytes: Uint8Array, digest: string, chunkSize: number): Promise<void> {
  let location = await startUpload(registry, repository);
  for (let start = 0; start < bytes.byteLength; start += chunkSize) {
    const chunk = bytes.subarray(start, Math.min(start + chunkSize, bytes.byteLength));
    const headers = {
      "Content-Type": "application/octet-stream",
      "Content-Length": String(chunk.byteLength),
      "Content-Range": `${start}-${start + chunk.byteLength - 1}`,
    };
    location = nextLocation(expect(await send("PATCH", location, headers, chunk), 202, `PATCH ${headers["Content-Range"]}`), location);
  }
  await finishUpload(location, digest);
}

/**
 * Pushes `size` bytes in ONE PATCH without Content-Length, made of `pattern`
 * repeated with a counter written into each repetition (so no two pieces are
 * equal), then PUT ?digest=. Returns the digest.
 */
export async function pushStreamed(registry: string, repository: string, size: number, pattern: Uint8Array): Promise<string> {
  const location = await startUpload(registry, repository);
  const hash = createHash("sha256");
  async function* pieces(): AsyncGenerator<Uint8Array> {
    for (let sent = 0, n = 0; sent < size; n++) {
      const piece = Buffer.from(pattern.subarray(0, Math.min(pattern.byteLength, size - sent)));
      piece.writeUInt32BE(n, 0);
      hash.update(piece);
      sent += piece.byteLength;
      yield piece;
    }
  }
  const answer = await send("PATCH", location, { "Content-Type": "application/octet-stream" }, pieces());
  const digest = `sha256:${hash.digest("hex")}`;
  await finishUpload(nextLocation(expect(answer, 202, "streamed PATCH"), location), digest);
  return digest;
}

/** PUT of a manifest under a tag. */
export async function putManifest(registry: string, repository: string, reference: string, mediaType: string, bytes: Uint8Array): Promise<void> {
  const url = new URL(`/v2/${repository}/manifests/${reference}`, registry);
  expect(await send("PUT", url, { "Content-Type": mediaType, "Content-Length": String(bytes.byteLength) }, bytes), 201, `PUT manifest ${reference}`);
}

/** GET returning status and body, for checks before a load run. */
export async function get(url: string, headers: Record<string, string> = {}): Promise<Answer> {
  return send("GET", new URL(url), headers, null);
}

export function closeConnections(): void {
  agent.destroy();
}
