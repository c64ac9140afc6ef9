/**
 * Chunked and streamed blob pushes against a running registry, then a manifest
 * over the pushed blobs (distribution-spec v1.1, "Pushing a blob in chunks" and
 * "Pushing Manifests").
 *
 *   usage: node test/e2e/chunked-push.ts REGISTRY_URL [REPOSITORY] [TAG]
 *
 * Blob 1 goes up in PATCHes of odd sizes, each with Content-Range and
 * Content-Length, so no chunk lines up with a storage part boundary. Blob 2 goes
 * up in ONE PATCH whose body is a stream of unknown length (chunked transfer
 * encoding, no Content-Length), as clients piping from a compressor do.
 * Blob 3 loses its connection in the middle of a PATCH; the client asks the
 * registry how far it got (GET on the upload) and resumes from there.
 * Every failure prints the request and the registry's full answer.
 * The last line printed is `manifest <digest>` for the caller to pull and compare.
 */
import { createHash, randomBytes } from "node:crypto";

const MiB = 1024 * 1024;
const CHUNK_SIZES = [1 * MiB, 7 * MiB, 3, 12 * MiB, 5 * MiB + 1, 1, 9 * MiB, 64 * 1024 - 1, 2 * MiB];
const STREAMED_SIZE = 40 * MiB;
const STREAM_PIECE = 256 * 1024 + 7;
const RESUMED_SIZE = 20 * MiB;
const RESUMED_FIRST_CHUNK = 3 * MiB;
const RESUMED_DROP_AT = 12 * MiB + 5;

const [registryArg, repository = "e2e/chunked", tag = "v1"] = process.argv.slice(2);
if (!registryArg) {
  console.error("usage: node test/e2e/chunked-push.ts REGISTRY_URL [REPOSITORY] [TAG]");
  process.exit(2);
}
const registry = new URL(registryArg.endsWith("/") ? registryArg : `${registryArg}/`);

interface PushedBlob {
  digest: string;
  size: number;
}

class RegistryAnswerError extends Error {}

async function describe(request: string, response: Response): Promise<string> {
  const headers = [...response.headers].map(([name, value]) => `  ${name}: ${value}`).join("\n");
  const body = await response.text().catch((error: unknown) => `<unreadable body: ${String(error)}>`);
  return `${request}\n-> ${response.status} ${response.statusText}\n${headers}\n${body.slice(0, 2000)}`;
}

async function expectStatus(request: string, response: Response, status: number): Promise<Response> {
  if (response.status !== status) {
    throw new RegistryAnswerError(`expected ${status}:\n${await describe(request, response)}`);
  }
  return response;
}

async function expectHeader(request: string, response: Response, name: string, expected: string): Promise<void> {
  const actual = response.headers.get(name);
  if (actual !== expected) {
    throw new RegistryAnswerError(`expected header ${name}: ${expected}, got ${actual}:\n${await describe(request, response)}`);
  }
}

/** The upload URL for the next request: the spec lets Location be absolute or relative. */
async function nextLocation(request: string, response: Response): Promise<URL> {
  const location = response.headers.get("location");
  if (!location) throw new RegistryAnswerError(`no Location header:\n${await describe(request, response)}`);
  return new URL(location, registry);
}

function withDigest(location: URL, digest: string): URL {
  const url = new URL(location);
  url.searchParams.set("digest", digest);
  return url;
}

async function startUpload(): Promise<URL> {
  const url = new URL(`v2/${repository}/blobs/uploads/`, registry);
  const request = `POST ${url}`;
  const response = await expectStatus(request, await fetch(url, { method: "POST", headers: { "Content-Length": "0" } }), 202);
  await response.body?.cancel();
  return nextLocation(request, response);
}

async function finishUpload(location: URL, digest: string): Promise<void> {
  const url = withDigest(location, digest);
  const request = `PUT ${url}`;
  const response = await expectStatus(request, await fetch(url, { method: "PUT", headers: { "Content-Length": "0" } }), 201);
  await expectHeader(request, response, "docker-content-digest", digest);
  await response.body?.cancel();
}

/** GET on the upload: 204 with the Range received so far; returns the end of that range and the upload URL. */
async function uploadStatus(location: URL): Promise<{ end: number; location: URL }> {
  const request = `GET ${location}`;
  const response = await expectStatus(request, await fetch(location), 204);
  const range = /^0-(\d+)$/.exec(response.headers.get("range") ?? "");
  if (!range?.[1]) throw new RegistryAnswerError(`expected a Range header 0-<end>:\n${await describe(request, response)}`);
  await response.body?.cancel();
  return { end: Number(range[1]), location: await nextLocation(request, response) };
}

/** One PATCH with Content-Range and Content-Length; returns the next upload URL. */
async function patchChunk(location: URL, chunk: Uint8Array<ArrayBuffer>, offset: number, what: string): Promise<URL> {
  const end = offset + chunk.length - 1;
  const request = `PATCH ${location} (${what}, Content-Range: ${offset}-${end}, Content-Length: ${chunk.length})`;
  const response = await expectStatus(
    request,
    await fetch(location, {
      method: "PATCH",
      headers: { "Content-Type": "application/octet-stream", "Content-Range": `${offset}-${end}`, "Content-Length": String(chunk.length) },
      body: chunk,
    }),
    202,
  );
  await expectHeader(request, response, "range", `0-${end}`);
  await response.body?.cancel();
  return nextLocation(request, response);
}

async function pushInChunks(): Promise<PushedBlob> {
  const hash = createHash("sha256");
  let location = await startUpload();
  let offset = 0;
  for (const [index, size] of CHUNK_SIZES.entries()) {
    const chunk = randomBytes(size);
    hash.update(chunk);
    location = await patchChunk(location, chunk, offset, `chunk ${index + 1}/${CHUNK_SIZES.length}`);
    offset += size;
    if (index === 3) {
      const status = await uploadStatus(location);
      if (status.end !== offset - 1) throw new RegistryAnswerError(`GET ${location}: Range 0-${status.end}, expected 0-${offset - 1}`);
    }
  }
  const digest = `sha256:${hash.digest("hex")}`;
  await finishUpload(location, digest);
  return { digest, size: offset };
}

/** The connection drops after RESUMED_DROP_AT bytes of a PATCH; GET tells where to resume. */
async function pushResumed(): Promise<{ blob: PushedBlob; kept: number }> {
  const data = randomBytes(RESUMED_SIZE);
  const digest = `sha256:${createHash("sha256").update(data).digest("hex")}`;
  let location = await patchChunk(await startUpload(), data.subarray(0, RESUMED_FIRST_CHUNK), 0, "first chunk");

  let sent = RESUMED_FIRST_CHUNK;
  const dropping = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= RESUMED_DROP_AT) {
        controller.error(new Error("simulated connection drop"));
        return;
      }
      const piece = data.subarray(sent, Math.min(sent + STREAM_PIECE, RESUMED_DROP_AT));
      sent += piece.length;
      controller.enqueue(new Uint8Array(piece));
    },
  });
  const init = { method: "PATCH", headers: { "Content-Type": "application/octet-stream" }, body: dropping, duplex: "half" };
  const dropped = await fetch(location, init as RequestInit).then(
    async (response) => `the registry answered ${await describe(`PATCH ${location}`, response)}`,
    () => undefined,
  );
  if (dropped) throw new RegistryAnswerError(`a PATCH whose body broke off was not supposed to complete, but ${dropped}`);
  // Give the registry a moment to notice the dropped connection before asking.
  await new Promise((resolve) => setTimeout(resolve, 500));

  // A 416 here means the dropped request was still being wound up: do what the
  // spec asks after a 416, get the Range again and resume from it (a few times at most).
  let kept = 0;
  for (let attempt = 1; ; attempt++) {
    const status = await uploadStatus(location);
    kept = status.end + 1;
    if (kept < RESUMED_FIRST_CHUNK || kept > RESUMED_DROP_AT) {
      throw new RegistryAnswerError(`GET ${location} after the drop: Range 0-${status.end}, outside the ${RESUMED_FIRST_CHUNK}..${RESUMED_DROP_AT} bytes sent`);
    }
    try {
      location = await patchChunk(status.location, data.subarray(kept), kept, `resume after the drop, attempt ${attempt}`);
      break;
    } catch (error) {
      if (attempt >= 5 || !(error instanceof RegistryAnswerError) || !error.message.includes("-> 416 ")) throw error;
      console.log(`resumed: attempt ${attempt} answered 416 (the dropped request still in progress?); asking for the Range again`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  await finishUpload(location, digest);
  return { blob: { digest, size: RESUMED_SIZE }, kept };
}

/** A body of unknown length: fetch sends it with Transfer-Encoding: chunked. */
function randomStream(size: number, hash: ReturnType<typeof createHash>): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= size) {
        controller.close();
        return;
      }
      const piece = randomBytes(Math.min(STREAM_PIECE, size - sent));
      hash.update(piece);
      sent += piece.length;
      controller.enqueue(new Uint8Array(piece));
    },
  });
}

async function pushStreamed(): Promise<PushedBlob> {
  const hash = createHash("sha256");
  const location = await startUpload();
  const request = `PATCH ${location} (streamed body of ${STREAMED_SIZE} bytes, no Content-Length, no Content-Range)`;
  const init = {
    method: "PATCH",
    headers: { "Content-Type": "application/octet-stream" },
    body: randomStream(STREAMED_SIZE, hash),
    duplex: "half",
  };
  const response = await expectStatus(request, await fetch(location, init as RequestInit), 202);
  await expectHeader(request, response, "range", `0-${STREAMED_SIZE - 1}`);
  await response.body?.cancel();
  const digest = `sha256:${hash.digest("hex")}`;
  await finishUpload(await nextLocation(request, response), digest);
  return { digest, size: STREAMED_SIZE };
}

/** Monolithic push (POST, then PUT with the body) for the small config blob. */
async function pushWhole(bytes: Uint8Array<ArrayBuffer>): Promise<PushedBlob> {
  const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
  const url = withDigest(await startUpload(), digest);
  const request = `PUT ${url} (${bytes.length} bytes)`;
  const response = await expectStatus(
    request,
    await fetch(url, { method: "PUT", headers: { "Content-Type": "application/octet-stream", "Content-Length": String(bytes.length) }, body: bytes }),
    201,
  );
  await expectHeader(request, response, "docker-content-digest", digest);
  await response.body?.cancel();
  return { digest, size: bytes.length };
}

/** HEAD then GET the blob; the bytes read back must hash to its digest. */
async function verifyBlob(blob: PushedBlob): Promise<void> {
  const url = new URL(`v2/${repository}/blobs/${blob.digest}`, registry);
  const head = await expectStatus(`HEAD ${url}`, await fetch(url, { method: "HEAD" }), 200);
  await expectHeader(`HEAD ${url}`, head, "content-length", String(blob.size));
  await expectHeader(`HEAD ${url}`, head, "docker-content-digest", blob.digest);
  const response = await expectStatus(`GET ${url}`, await fetch(url), 200);
  if (!response.body) throw new RegistryAnswerError(`GET ${url} answered without a body`);
  const hash = createHash("sha256");
  let size = 0;
  for await (const piece of response.body) {
    hash.update(piece);
    size += piece.length;
  }
  const digest = `sha256:${hash.digest("hex")}`;
  if (digest !== blob.digest || size !== blob.size) {
    throw new RegistryAnswerError(`GET ${url} returned ${size} bytes hashing to ${digest}, expected ${blob.size} bytes, ${blob.digest}`);
  }
}

async function pushManifest(config: PushedBlob, layers: PushedBlob[]): Promise<string> {
  const manifest = new TextEncoder().encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
      layers: layers.map((layer) => ({ mediaType: "application/vnd.oci.image.layer.v1.tar", ...layer })),
    }),
  );
  const digest = `sha256:${createHash("sha256").update(manifest).digest("hex")}`;
  const url = new URL(`v2/${repository}/manifests/${tag}`, registry);
  const request = `PUT ${url}`;
  const response = await expectStatus(
    request,
    await fetch(url, { method: "PUT", headers: { "Content-Type": "application/vnd.oci.image.manifest.v1+json" }, body: manifest }),
    201,
  );
  await expectHeader(request, response, "docker-content-digest", digest);
  await response.body?.cancel();

  const got = await expectStatus(`GET ${url}`, await fetch(url, { headers: { Accept: "application/vnd.oci.image.manifest.v1+json" } }), 200);
  const bytes = new Uint8Array(await got.arrayBuffer());
  if (Buffer.compare(bytes, manifest) !== 0) throw new RegistryAnswerError(`GET ${url} returned other bytes than were pushed`);
  return digest;
}

function seconds(since: number): string {
  return `${((performance.now() - since) / 1000).toFixed(1)}s`;
}

async function main(): Promise<void> {
  let started = performance.now();
  const chunked = await pushInChunks();
  console.log(`chunked: ${CHUNK_SIZES.length} PATCHes, ${chunked.size} bytes, ${chunked.digest} (${seconds(started)})`);
  started = performance.now();
  await verifyBlob(chunked);
  console.log(`chunked: read back and verified (${seconds(started)})`);

  started = performance.now();
  const streamed = await pushStreamed();
  console.log(`streamed: 1 PATCH without Content-Length, ${streamed.size} bytes, ${streamed.digest} (${seconds(started)})`);
  started = performance.now();
  await verifyBlob(streamed);
  console.log(`streamed: read back and verified (${seconds(started)})`);

  started = performance.now();
  const resumed = await pushResumed();
  console.log(`resumed: connection dropped after ${RESUMED_DROP_AT} bytes, registry kept ${resumed.kept}, resumed from there; ${resumed.blob.digest} (${seconds(started)})`);
  started = performance.now();
  await verifyBlob(resumed.blob);
  console.log(`resumed: read back and verified (${seconds(started)})`);

  // Layers are random bytes, not tars: with the uncompressed tar media type the diff IDs equal the digests.
  const configJson = {
    architecture: "amd64",
    os: "linux",
    rootfs: { type: "layers", diff_ids: [chunked.digest, streamed.digest, resumed.blob.digest] },
  };
  const config = await pushWhole(new TextEncoder().encode(JSON.stringify(configJson)));
  await verifyBlob(config);
  const manifestDigest = await pushManifest(config, [chunked, streamed, resumed.blob]);
  console.log(`manifest ${manifestDigest}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof RegistryAnswerError ? `chunked-push FAILED: ${error.message}` : error);
  process.exit(1);
});
