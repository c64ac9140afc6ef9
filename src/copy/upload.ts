/**
 * Puts one blob into the destination the way the spec allows and the registry asks:
 *
 *   - skipped when the repository already has it (HEAD), mounted when copying within one
 *     registry (POST ?mount=&from=), as docker, podman and skopeo do;
 *   - otherwise POST, then PATCH chunks, then PUT ?digest= (distribution-spec § Pushing a blob
 *     in chunks). A chunk is at most the registry's `OCI-Chunk-Max-Length` (its request-body
 *     limit: 100 MB on a Free/Pro Cloudflare zone, 4.5 MB on Lambda) and, where the registry
 *     states `OCI-Chunk-Min-Length`, a whole multiple of it (this registry's part size: whole
 *     parts go to storage without being kept as a tail and read again);
 *   - a chunk that fails (connection lost, 5xx, 416, a registry restarting) is resumed from
 *     the Range the registry reports for the upload (GET on its Location), reading the source
 *     again from there; an upload the registry forgot (404) starts over.
 */
import { PassThrough, type Readable } from "node:stream";
import type { BlobProgress } from "./progress.ts";
import { formatBytes } from "../core/format-bytes.ts";
import { discard, header, type HttpAnswer } from "./http.ts";
import { RegistryClient, RegistryHttpError, repositoryScope } from "./registry-client.ts";
import type { Descriptor } from "./sources.ts";

export interface BlobUpload {
  client: RegistryClient;
  repository: string;
  descriptor: Descriptor;
  /** Bytes [start, end) of the blob from the source. */
  read(start: number, end: number): Promise<Readable>;
  /** A repository of the same registry that holds the blob (a copy within one registry). */
  mountFrom: string | undefined;
  /** At most this many bytes per request, below what the registry states (--chunk-size). */
  chunkLimit: number | undefined;
  progress: BlobProgress;
  /** Waits between attempts (tests make it short). */
  retryDelayMs?: (attempt: number) => number;
}

export type UploadOutcome = "exists" | "mounted" | "uploaded";

/** Consecutive failures without any progress before the copy gives up. */
const MAX_ATTEMPTS_WITHOUT_PROGRESS = 20;
const defaultDelay = (attempt: number) => Math.min(5000, 250 * 2 ** attempt);

export async function uploadBlob(upload: BlobUpload): Promise<UploadOutcome> {
  const { client, repository, descriptor, progress } = upload;
  const scopes = [repositoryScope(repository, "pull,push"), ...(upload.mountFrom ? [repositoryScope(upload.mountFrom, "pull")] : [])];
  const blobPath = `/v2/${repository}/blobs/${descriptor.digest}`;

  const head = await client.request("HEAD", blobPath, { scopes });
  discard(head);
  if (head.status === 200) return "exists";

  const started = await startSession(upload, scopes);
  if (started === "mounted") return "mounted";
  let session: Session = started;
  const delay = upload.retryDelayMs ?? defaultDelay;
  let offset = 0;
  let failures = 0;
  for (;;) {
    try {
      while (offset < descriptor.size) {
        const length = Math.min(descriptor.size - offset, chunkLength(session, upload.chunkLimit));
        session = await sendChunk(upload, scopes, session, offset, length);
        offset += length;
        failures = 0;
        progress.set(offset);
        if (offset < descriptor.size) progress.note(`${formatBytes(offset)} of ${formatBytes(descriptor.size)} sent`);
      }
      const put = await client.request("PUT", withDigest(session.location, descriptor.digest), { scopes, headers: { "Content-Length": "0" } });
      if (put.status === 201) {
        discard(put);
        return "uploaded";
      }
      return await client.fail(put, `PUT ${descriptor.digest} into ${repository}`);
    } catch (error) {
      if (!retriable(error)) throw error;
      failures++;
      if (failures > MAX_ATTEMPTS_WITHOUT_PROGRESS) throw new Error(`giving up on ${descriptor.digest} after ${failures - 1} attempts without progress: ${(error as Error).message}`);
      progress.note(`interrupted at ${formatBytes(offset)} (${(error as Error).message}); asking the registry where to resume`);
      await sleep(delay(failures - 1));
      const resumed: Awaited<ReturnType<typeof resumePoint>> | undefined = await resumePoint(upload, scopes, session).catch((e: unknown) => {
        if (!retriable(e)) throw e;
        return undefined;
      });
      if (resumed === undefined) continue;
      if (resumed === "done") return "uploaded";
      session = resumed.session;
      offset = resumed.offset;
      progress.set(offset);
      progress.note(`resuming at ${formatBytes(offset)}`);
    }
  }
}

interface Session {
  location: string;
  minChunk: number | undefined;
  maxChunk: number | undefined;
}

async function startSession(upload: BlobUpload, scopes: string[]): Promise<Session | "mounted"> {
  const { client, repository, descriptor } = upload;
  const query = upload.mountFrom ? `?mount=${encodeURIComponent(descriptor.digest)}&from=${encodeURIComponent(upload.mountFrom)}` : "";
  const answer = await client.request("POST", `/v2/${repository}/blobs/uploads/${query}`, { scopes, headers: { "Content-Length": "0" } });
  if (answer.status === 201) {
    discard(answer);
    return "mounted";
  }
  if (answer.status !== 202) return client.fail(answer, `POST an upload of ${descriptor.digest} to ${repository}`);
  discard(answer);
  return sessionOf(answer, undefined);
}

function sessionOf(answer: HttpAnswer, previous: Session | undefined): Session {
  const location = header(answer, "location");
  if (!location) throw new RegistryHttpError("the registry answered an upload request without a Location", answer.status);
  return { location, minChunk: positive(header(answer, "oci-chunk-min-length")) ?? previous?.minChunk, maxChunk: positive(header(answer, "oci-chunk-max-length")) ?? previous?.maxChunk };
}

function positive(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value.trim())) return undefined;
  const number = Number(value.trim());
  return number > 0 && Number.isSafeInteger(number) ? number : undefined;
}

/** The largest whole multiple of the minimum that fits under the maximum (or the maximum, when none fits). */
export function chunkLength(limits: { minChunk: number | undefined; maxChunk: number | undefined }, ownLimit: number | undefined): number {
  const max = Math.min(limits.maxChunk ?? Number.MAX_SAFE_INTEGER, ownLimit ?? Number.MAX_SAFE_INTEGER);
  const min = limits.minChunk;
  if (min === undefined || min > max) return max;
  return Math.floor(max / min) * min;
}

async function sendChunk(upload: BlobUpload, scopes: string[], session: Session, offset: number, length: number): Promise<Session> {
  const { client, descriptor, progress } = upload;
  const source = await upload.read(offset, offset + length);
  let counted = 0;
  const body = new PassThrough();
  source.on("data", (chunk: Buffer) => {
    counted += chunk.length;
    progress.set(offset + counted);
  });
  source.on("error", (error) => body.destroy(error));
  source.pipe(body);
  let sent = false;
  const answer = await client.request("PATCH", session.location, {
    scopes,
    headers: { "Content-Type": "application/octet-stream", "Content-Length": String(length), "Content-Range": `${offset}-${offset + length - 1}` },
    // A 401 (a token that expired) resends once: the body must be read from the source again, so it fails and resumes instead.
    body: () => {
      if (sent) throw new RetriableError("the token expired during a chunk");
      sent = true;
      return body;
    },
  }).finally(() => source.destroy());
  if (answer.status !== 202) {
    if (answer.status >= 500 || answer.status === 416 || answer.status === 408 || answer.status === 429 || answer.status === 401) {
      discard(answer);
      throw new RetriableError(`PATCH answered ${answer.status}`);
    }
    return client.fail(answer, `PATCH ${descriptor.digest} (bytes ${offset}-${offset + length - 1})`);
  }
  discard(answer);
  const next = sessionOf(answer, session);
  const range = header(answer, "range");
  if (range !== `0-${offset + length - 1}`) throw new RetriableError(`the registry holds ${range ?? "no range"} after bytes ${offset}-${offset + length - 1}`);
  return next;
}

/** Where the upload stands after a failure: the registry's Range, a new session when it forgot this one, or done (the PUT had succeeded). */
async function resumePoint(upload: BlobUpload, scopes: string[], session: Session): Promise<{ session: Session; offset: number } | "done"> {
  const { client, repository, descriptor } = upload;
  const status = await client.request("GET", session.location, { scopes });
  if (status.status === 204 || status.status === 202) {
    discard(status);
    const range = header(status, "range");
    const match = range ? /^0-(\d+)$/.exec(range) : null;
    return { session: sessionOf(status, session), offset: match ? Number(match[1]) + 1 : 0 };
  }
  if (status.status === 404) {
    discard(status);
    const head = await client.request("HEAD", `/v2/${repository}/blobs/${descriptor.digest}`, { scopes });
    discard(head);
    if (head.status === 200) return "done";
    const fresh = await startSession({ ...upload, mountFrom: undefined }, scopes);
    if (fresh === "mounted") return "done";
    return { session: fresh, offset: 0 };
  }
  if (status.status >= 500 || status.status === 429) {
    discard(status);
    throw new RetriableError(`GET upload status answered ${status.status}`);
  }
  return client.fail(status, `GET upload status of ${descriptor.digest}`);
}

class RetriableError extends Error {}

/** Failures worth resuming from: the connection, the registry restarting or busy; never a refusal. */
function retriable(error: unknown): boolean {
  if (error instanceof RetriableError) return true;
  if (error instanceof RegistryHttpError) return error.status >= 500 || error.status === 429 || error.status === 408;
  const code = (error as NodeJS.ErrnoException).code;
  return typeof code === "string" && /^(ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|ECONNABORTED|UND_ERR_SOCKET|ERR_STREAM_PREMATURE_CLOSE)$/.test(code)
    || /socket hang up|no progress for/.test((error as Error).message ?? "");
}

function withDigest(location: string, digest: string): string {
  return `${location}${location.includes("?") ? "&" : "?"}digest=${encodeURIComponent(digest)}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
