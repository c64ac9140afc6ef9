/**
 * The pull-through cache's rules, over the registry's own ports: what a pull of a
 * mirrored repository (mirror-config.ts) answers, and what it stores.
 *
 * - A manifest by digest is fetched once and kept: content by digest never changes.
 * - A tag is served from the store while it is fresh (`tagFreshnessSeconds` since the
 *   upstream last confirmed it); after that the upstream is asked (HEAD, its
 *   Docker-Content-Digest) and a moved tag is fetched again. When the upstream is
 *   down or rate-limits, the stored digest is served with a warning.
 * - A blob is streamed to the client while it is written to the store (verified-tee.ts)
 *   and becomes visible (indexed, linked) only once its bytes hash to its digest.
 *   Concurrent pulls of one missing blob fetch it once: in one process the others wait
 *   for it and read the stored copy; across processes on one store (`flights`, Node's
 *   PROCESSES>1) the one holding the claim fetches and the others poll for the stored copy,
 *   for at most FLIGHT_WAIT_MS, and take over at once when the claimant died.
 * - A repository sees only what the upstream confirms it has: a blob another repository
 *   already holds is linked here only after the upstream answers a HEAD for it in this
 *   repository, so a mirror namespace cannot be used to read any digest (design: Storage).
 *
 * - Every manifest pull is recorded (PullRecords), at most once per PULL_RECORD_INTERVAL_MS
 *   (or a tenth of the mirror's `unpulledAfterSeconds`, when shorter) per manifest and
 *   process, for the mirror's retention (lifecycle/retention.ts). A pull answered by the
 *   Workers edge cache (content by digest) is not seen here and not recorded.
 *
 * How fresh a tag is lives in this process's memory: a new process (or Workers isolate)
 * asks the upstream once per tag before serving it.
 */
import { RegistryError } from "../core/errors.ts";
import { looksLikeDigest, parseDigest } from "../core/digest.ts";
import { digestBytes } from "../core/digest.ts";
import { parseManifest, referencesOf } from "../core/manifest-document.ts";
import { MANIFEST_TYPES } from "../core/media-types.ts";
import { isTag } from "../core/names.ts";
import type { Registry } from "../core/registry.ts";
import { newBlobKey } from "../core/storage-layout.ts";
import { readLimited } from "../core/streams.ts";
import type { BlobStore } from "../ports/blob-store.ts";
import type { BlobFlights } from "../ports/blob-flights.ts";
import type { Hashing } from "../ports/hashing.ts";
import { recordsPulls } from "../ports/collectable.ts";
import type { ManifestRecord, MetadataStore } from "../ports/metadata-store.ts";
import { mirrorOf, type MirrorConfig } from "./mirror-config.ts";
import { UpstreamClient, UpstreamError, type Fetch } from "./upstream-client.ts";
import { verifiedTee } from "./verified-tee.ts";

export interface PullThroughDeps {
  registry: Registry;
  blobs: BlobStore;
  metadata: MetadataStore;
  hashing: Hashing;
  maxManifestBytes: number;
  mirrors: MirrorConfig[];
  /** Claims shared with other processes on the same store; absent, concurrent pulls are joined within this process only. */
  flights?: BlobFlights;
  fetch?: Fetch;
  now?: () => number;
  newId?: () => string;
  /** One line per notable event (stale answers, refused upstream bytes); never holds credentials. */
  log?: (line: string) => void;
}

/** Keeps work alive after the response has been handed over (Workers' ctx.waitUntil), per request. */
export type WaitUntil = (work: Promise<unknown>) => void;

export interface MirroredManifest {
  record: ManifestRecord;
  /** Set when the upstream could not confirm a tag and the stored digest is served anyway. */
  staleBecause?: string;
}

export type MirroredBlob =
  /** The repository holds the blob now: the ordinary blob route serves it (Range included). */
  | { kind: "stored" }
  /** Streamed from the upstream (a GET) or described by it (a HEAD, `body` null). */
  | { kind: "upstream"; digest: string; size: number | undefined; body: ReadableStream<Uint8Array> | null };

const ACCEPT = MANIFEST_TYPES.join(", ");
/** Tags whose freshness is remembered, per process; the oldest are forgotten first. */
const MAX_FRESH_TAGS = 10_000;
/** An upstream blob body that sends nothing for this long is abandoned (client and store both fail). */
const UPSTREAM_IDLE_MS = 60_000;
/** How long a pull waits for other pulls' fetch of the same blob (a stalled upstream) before fetching it itself. */
const FLIGHT_WAIT_MS = 120_000;
/** How often a pull waiting for another process's fetch looks whether the blob has arrived. */
const SHARED_FLIGHT_POLL_MS = 100;
/** Pulls of one manifest are written down at most this often: a pull costs a write once a day, not each time. */
const PULL_RECORD_INTERVAL_MS = 24 * 3600 * 1000;

export class PullThrough {
  readonly #deps: PullThroughDeps;
  readonly #clients = new Map<string, UpstreamClient>();
  /** `<repository>:<tag>` → epoch ms the upstream last confirmed the stored digest. */
  readonly #confirmed = new Map<string, number>();
  /** Blob digest → the fetch in progress in this process. */
  readonly #flights = new Map<string, Promise<void>>();
  /** `<repository>@<digest>` → epoch ms this process last recorded (or found recorded) a pull of it. */
  readonly #pullsRecorded = new Map<string, number>();
  readonly #now: () => number;
  readonly #log: (line: string) => void;

  constructor(deps: PullThroughDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
    this.#log = deps.log ?? ((line) => console.warn(line));
    for (const mirror of deps.mirrors) this.#clients.set(mirror.namespace, new UpstreamClient(mirror, { ...(deps.fetch ? { fetch: deps.fetch } : {}), now: this.#now }));
  }

  /** Whether `repository` lies in a mirrored namespace. */
  mirrors(repository: string): boolean {
    return mirrorOf(this.#deps.mirrors, repository) !== null;
  }

  async manifest(repository: string, reference: string): Promise<MirroredManifest> {
    const answer = await this.#manifest(repository, reference);
    await this.#recordPull(repository, answer.record.digest);
    return answer;
  }

  async #manifest(repository: string, reference: string): Promise<MirroredManifest> {
    const { mirror, upstreamName } = this.#mirror(repository);
    const client = this.#clients.get(mirror.namespace)!;
    if (looksLikeDigest(reference)) {
      const { digest } = parseDigest(reference);
      const stored = await this.#deps.metadata.getManifest(repository, digest);
      if (stored) return { record: stored };
      return { record: await this.#fetchManifest(client, repository, upstreamName, digest, []) };
    }
    if (!isTag(reference)) throw new RegistryError("MANIFEST_UNKNOWN", `manifest ${reference.slice(0, 200)} is not in ${repository}`);
    const stored = await this.#deps.metadata.getTaggedManifest(repository, reference);
    const key = `${repository}:${reference}`;
    const confirmedAt = this.#confirmed.get(key);
    if (stored && confirmedAt !== undefined && this.#now() - confirmedAt < mirror.tagFreshnessSeconds * 1000) return { record: stored };
    try {
      const head = await client.request("HEAD", upstreamName, `manifests/${reference}`, { Accept: ACCEPT });
      const digest = head.headers.get("docker-content-digest");
      let record: ManifestRecord;
      if (stored && digest === stored.digest) record = stored;
      else if (digest && looksLikeDigest(digest)) record = await this.#fetchManifest(client, repository, upstreamName, parseDigest(digest).digest, [reference]);
      else record = await this.#fetchManifest(client, repository, upstreamName, null, [reference]);
      this.#confirm(key);
      return { record };
    } catch (error) {
      if (!(error instanceof UpstreamError)) throw error;
      if (stored && (error.kind === "unavailable" || error.kind === "rate-limited")) {
        this.#log(`mirror ${mirror.namespace}: serving ${repository}:${reference} as ${stored.digest} from the cache without confirming it: ${error.message}`);
        return { record: stored, staleBecause: `${client.host} could not be asked` };
      }
      throw registryError(error, "MANIFEST_UNKNOWN", `${reference} of ${upstreamName}`);
    }
  }

  async blob(repository: string, digest: string, method: "GET" | "HEAD", waitUntil?: WaitUntil): Promise<MirroredBlob> {
    const { mirror, upstreamName } = this.#mirror(repository);
    const client = this.#clients.get(mirror.namespace)!;
    const { digest: canonical, algorithm } = parseDigest(digest);
    const { metadata } = this.#deps;
    if (await metadata.getBlobLink(repository, canonical)) return { kind: "stored" };
    const deadline = Date.now() + FLIGHT_WAIT_MS;
    for (let flight = this.#flights.get(canonical); flight && Date.now() < deadline; flight = this.#flights.get(canonical)) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([flight, new Promise((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now()))))]);
      clearTimeout(timer);
      if (await metadata.getBlobLink(repository, canonical)) return { kind: "stored" };
    }
    // No await between the check above and this: pulls arriving from now on wait for this one.
    const landHere = method === "GET" ? this.#takeOff(canonical, waitUntil) : () => {};
    let claimed = false;
    const land = () => {
      landHere();
      if (claimed) void this.#deps.flights!.release(canonical).catch(() => {});
      claimed = false;
    };
    try {
      if (method === "GET" && this.#deps.flights) {
        claimed = await this.#awaitSharedFlight(repository, canonical);
        if (!claimed && (await metadata.getBlobLink(repository, canonical))) {
          land();
          return { kind: "stored" };
        }
      }
      const known = await metadata.getBlob(canonical);
      if (known) {
        await client.request("HEAD", upstreamName, `blobs/${canonical}`);
        if (await metadata.linkBlob(repository, known)) {
          land();
          return { kind: "stored" };
        }
      }
      const response = await client.request(method, upstreamName, `blobs/${canonical}`);
      const size = contentLength(response);
      if (method === "HEAD" || !response.body) {
        await response.body?.cancel();
        land();
        return { kind: "upstream", digest: canonical, size, body: null };
      }
      return { kind: "upstream", digest: canonical, size, body: await this.#cacheWhileStreaming(repository, canonical, algorithm, size, response.body, land) };
    } catch (error) {
      land();
      if (!(error instanceof UpstreamError)) throw error;
      throw registryError(error, "BLOB_UNKNOWN", `blob ${canonical} of ${upstreamName}`);
    }
  }

  /**
   * Takes the shared claim on fetching `digest`, waiting while another live process holds it:
   * answers true when taken, false when the blob arrived meanwhile (stored, maybe linked
   * elsewhere) or the wait ran out (then this pull fetches it too).
   */
  async #awaitSharedFlight(repository: string, digest: string): Promise<boolean> {
    const flights = this.#deps.flights!;
    const deadline = Date.now() + FLIGHT_WAIT_MS;
    while (!(await flights.claim(digest, FLIGHT_WAIT_MS))) {
      if (Date.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, SHARED_FLIGHT_POLL_MS));
      if ((await this.#deps.metadata.getBlobLink(repository, digest)) || (await this.#deps.metadata.getBlob(digest))) return false;
    }
    return true;
  }

  #mirror(repository: string) {
    const found = mirrorOf(this.#deps.mirrors, repository);
    if (!found) throw new Error(`${repository} is not in a mirrored namespace`);
    return found;
  }

  /** Writes the pull down when the last one written is older than the interval; a failure costs the pull nothing. */
  async #recordPull(repository: string, digest: string): Promise<void> {
    const { metadata } = this.#deps;
    if (!recordsPulls(metadata)) return;
    const { mirror } = this.#mirror(repository);
    const interval = Math.min(PULL_RECORD_INTERVAL_MS, (mirror.unpulledAfterSeconds ?? Infinity) * 100);
    const key = `${repository}@${digest}`;
    const now = this.#now();
    const last = this.#pullsRecorded.get(key);
    if (last !== undefined && now - last < interval) return;
    try {
      await metadata.recordPull(repository, digest, now, now - interval);
      this.#pullsRecorded.delete(key);
      this.#pullsRecorded.set(key, now);
      if (this.#pullsRecorded.size > MAX_FRESH_TAGS) this.#pullsRecorded.delete(this.#pullsRecorded.keys().next().value!);
    } catch (error) {
      this.#log(`mirror ${mirror.namespace}: could not record a pull of ${repository}@${digest}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  #confirm(key: string): void {
    this.#confirmed.delete(key);
    this.#confirmed.set(key, this.#now());
    if (this.#confirmed.size > MAX_FRESH_TAGS) this.#confirmed.delete(this.#confirmed.keys().next().value!);
  }

  /** GETs a manifest (by `digest`, or by the tag in `tags` when the upstream named no digest), checks it and stores it under `tags`. */
  async #fetchManifest(client: UpstreamClient, repository: string, upstreamName: string, digest: string | null, tags: string[]): Promise<ManifestRecord> {
    const response = await client.request("GET", upstreamName, `manifests/${digest ?? tags[0]}`, { Accept: ACCEPT });
    const limit = this.#deps.maxManifestBytes;
    const bytes = await readLimited(response.body, limit, () => new UpstreamError("unavailable", `${client.host} sent a manifest larger than this registry's ${limit} bytes`));
    const actual = await digestBytes(digest ? parseDigest(digest).algorithm : "sha256", bytes);
    if (digest && actual !== digest) {
      this.#log(`mirror: ${client.host} sent bytes hashing to ${actual} for manifest ${digest} of ${upstreamName}; refused`);
      throw new RegistryError("UNKNOWN", `the upstream ${client.host} sent a manifest that does not match ${digest}; nothing was stored, try again later`, { status: 502 });
    }
    const doc = parseManifest(bytes, response.headers.get("content-type") ?? undefined);
    const record: ManifestRecord = { digest: actual, mediaType: doc.mediaType, size: bytes.byteLength, key: await this.#deps.registry.manifests.storeBytes(actual, bytes) };
    if (doc.subject) record.subject = doc.subject;
    if (doc.artifactType) record.artifactType = doc.artifactType;
    if (doc.annotations) record.annotations = doc.annotations;
    // Layers arrive later, when pulled: the references are kept for garbage collection, not required now.
    const references = { blobs: [], manifests: [], held: referencesOf(doc).held };
    let missing = await this.#deps.metadata.putManifest(repository, record, tags, references);
    if (missing.includes(actual)) {
      record.key = await this.#deps.registry.manifests.storeBytes(actual, bytes);
      missing = await this.#deps.metadata.putManifest(repository, record, tags, references);
    }
    if (missing.length > 0) throw new Error(`the cached manifest ${actual} could not be indexed in ${repository}: ${missing.join(", ")} missing`);
    return record;
  }

  /** Marks `digest` as being fetched by this process; the answer lands the flight (idempotent). */
  #takeOff(digest: string, waitUntil: WaitUntil | undefined): () => void {
    let land!: () => void;
    const flight = new Promise<void>((resolve) => (land = resolve));
    this.#flights.set(digest, flight);
    waitUntil?.(flight);
    return () => {
      if (this.#flights.get(digest) === flight) this.#flights.delete(digest);
      land();
    };
  }

  /** The client's copy of the upstream body; the store's copy becomes visible once verified. `done` lands the flight. */
  async #cacheWhileStreaming(
    repository: string,
    digest: string,
    algorithm: "sha256" | "sha512",
    size: number | undefined,
    body: ReadableStream<Uint8Array>,
    done: () => void,
  ): Promise<ReadableStream<Uint8Array>> {
    const { blobs, metadata } = this.#deps;
    const key = newBlobKey(digest, (this.#deps.newId ?? (() => crypto.randomUUID()))());
    let written: Promise<{ size: number }> | undefined;
    const tee = verifiedTee(body, {
      hash: await this.#deps.hashing.resumable(algorithm),
      digest,
      length: size,
      idleTimeoutMs: UPSTREAM_IDLE_MS,
      onVerified: async () => {
        try {
          const stored = await written!;
          const info = await metadata.putBlobIfAbsent({ digest, size: stored.size, key });
          if (info.key !== key) await blobs.delete(key);
          await metadata.linkBlob(repository, info);
        } finally {
          done();
        }
      },
      onRefused: (error) => {
        this.#log(`mirror: ${digest} for ${repository} not cached: ${error.message}`);
        void blobs.delete(key).catch(() => {});
        done();
      },
    });
    written = blobs.put(key, tee.store, size !== undefined ? { length: size } : {});
    written.catch(() => {});
    return tee.client;
  }
}

function contentLength(response: Response): number | undefined {
  const value = response.headers.get("content-length");
  return value && /^\d+$/.test(value) ? Number(value) : undefined;
}

function registryError(error: UpstreamError, unknown: "MANIFEST_UNKNOWN" | "BLOB_UNKNOWN", what: string): RegistryError {
  switch (error.kind) {
    case "not-found":
      return new RegistryError(unknown, `the upstream has no ${what}`);
    case "denied":
      return new RegistryError(unknown, `the upstream refused ${what}: it does not exist there, or the mirror's credentials may not pull it (${error.message})`);
    case "rate-limited":
      return new RegistryError("TOOMANYREQUESTS", `the upstream is rate-limiting this registry; try again in ${error.retryAfterSeconds ?? 10} s`, {
        headers: { "Retry-After": String(error.retryAfterSeconds ?? 10) },
      });
    default:
      return new RegistryError("UNKNOWN", `the upstream could not be reached and ${what} is not cached: ${error.message}; try again later`, { status: 502 });
  }
}
