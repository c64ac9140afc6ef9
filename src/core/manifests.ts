import type { BlobStore, ObjectRead } from "../ports/blob-store.ts";
import { ImmutableTagError, type ManifestRecord, type ManifestReferences, type MetadataStore } from "../ports/metadata-store.ts";
import { type ImmutableTagRule, isImmutableTag } from "./patterns.ts";
import type { Quotas } from "./quotas.ts";
import { RegistryError } from "./errors.ts";
import { digestBytes, looksLikeDigest, parseDigest } from "./digest.ts";
import { isTag } from "./names.ts";
import { parseManifest, referencesOf } from "./manifest-document.ts";
import { ContentCache } from "./content-cache.ts";
import { newBlobKey } from "./storage-layout.ts";
import { readLimited } from "./streams.ts";

export interface ManifestDeps {
  blobs: BlobStore;
  metadata: MetadataStore;
  /** distribution-spec: registries SHOULD accept at least 4 MiB and answer 413 above their limit. */
  maxManifestBytes: number;
  /** Ids for new blob-store objects. */
  newId: () => string;
  /** Tags that never move to another digest once pushed. */
  immutableTags?: ImmutableTagRule[];
  /** The last check of a push against its namespace's quota: the manifest and its bytes. */
  quotas?: Quotas;
}

export interface PushManifestRequest {
  repository: string;
  reference: string;
  /** Extra tags from `?tag=` ([main] end-7b), only with a digest reference. */
  tags: string[];
  contentType: string | undefined;
  body: ReadableStream<Uint8Array> | null;
}

/**
 * Manifest bytes kept in memory (per process, per isolate on Workers): every
 * pull of an image reads its manifest, so the same few KiB are read over and
 * over. Storage still holds the truth, and the metadata lookup before each
 * read still decides whether the repository has the manifest at all.
 */
const MANIFEST_CACHE_BYTES = 4 * 1024 * 1024;
const MANIFEST_CACHE_ENTRY_BYTES = 256 * 1024;

export interface ManifestContent {
  body: ObjectRead["body"] | Uint8Array;
  size: number;
}

export class Manifests {
  private readonly deps: ManifestDeps;
  private readonly cache = new ContentCache(MANIFEST_CACHE_BYTES, MANIFEST_CACHE_ENTRY_BYTES);

  constructor(deps: ManifestDeps) {
    this.deps = deps;
  }

  get maxManifestBytes(): number {
    return this.deps.maxManifestBytes;
  }

  /** Resolves a tag or digest; MANIFEST_UNKNOWN (404) when absent, including references no tag could be. */
  async resolve(repository: string, reference: string): Promise<ManifestRecord> {
    let record: ManifestRecord | null = null;
    if (looksLikeDigest(reference)) {
      record = await this.deps.metadata.getManifest(repository, parseDigest(reference).digest);
    } else if (isTag(reference)) {
      record = await this.deps.metadata.getTaggedManifest(repository, reference);
    }
    if (!record) throw new RegistryError("MANIFEST_UNKNOWN", `manifest ${reference} is not in ${repository}`);
    return record;
  }

  /**
   * The manifest's bytes: in memory when cached or small enough to cache (a
   * byte body also lets every runtime send Content-Length; workerd drops it
   * for a stream of unknown length), otherwise streamed from the store.
   */
  async read(record: ManifestRecord): Promise<ManifestContent> {
    const cached = this.cache.get(record.key);
    if (cached) return { body: cached, size: cached.byteLength };
    const object = await this.deps.blobs.get(record.key);
    if (!object) throw new Error(`manifest ${record.digest} is indexed but its bytes are missing at ${record.key}`);
    if (!this.cache.fits(object.size)) return object;
    const bytes = await readLimited(object.body, object.size, () => new Error(`manifest ${record.digest} at ${record.key} is larger than its ${object.size} bytes`));
    this.cache.set(record.key, bytes);
    return { body: bytes, size: bytes.byteLength };
  }

  async push(request: PushManifestRequest): Promise<ManifestRecord & { tags: string[] }> {
    const { repository, reference } = request;
    const byDigest = looksLikeDigest(reference) ? parseDigest(reference) : null;
    if (!byDigest && !isTag(reference)) {
      throw new RegistryError("MANIFEST_INVALID", `"${reference.slice(0, 200)}" is neither a digest nor a tag ([a-zA-Z0-9_][a-zA-Z0-9._-]{0,127})`);
    }
    for (const tag of request.tags) {
      if (!isTag(tag)) throw new RegistryError("MANIFEST_INVALID", `tag "${tag.slice(0, 200)}" is not a valid tag`);
    }
    const limit = this.deps.maxManifestBytes;
    const bytes = await readLimited(
      request.body,
      limit,
      () => new RegistryError("MANIFEST_INVALID", `manifest is larger than this registry's limit of ${limit} bytes`, { status: 413 }),
    );
    const digest = await digestBytes(byDigest?.algorithm ?? "sha256", bytes);
    if (byDigest && byDigest.digest !== digest) {
      throw new RegistryError("DIGEST_INVALID", `the manifest body has digest ${digest}, not ${byDigest.digest}`);
    }
    await this.deps.quotas?.check(repository, bytes.byteLength, digest);
    const doc = parseManifest(bytes, request.contentType);
    const references = referencesOf(doc);
    // Fails early without writing bytes; the store checks again inside its write (atomically).
    await this.assertReferencesPresent(repository, references);

    const record: ManifestRecord = { digest, mediaType: doc.mediaType, size: bytes.byteLength, key: await this.storeBytes(digest, bytes) };
    if (doc.subject) record.subject = doc.subject;
    if (doc.artifactType) record.artifactType = doc.artifactType;
    if (doc.annotations) record.annotations = doc.annotations;
    const tags = byDigest ? [...new Set(request.tags)] : [reference];
    const fixed = tags.filter((tag) => isImmutableTag(this.deps.immutableTags ?? [], repository, tag));
    const put = () => this.deps.metadata.putManifest(repository, record, tags, references, fixed).catch((error: unknown) => {
      if (error instanceof ImmutableTagError) throw immutable(repository, error.tags);
      throw error;
    });
    let missing = await put();
    if (missing.includes(digest)) {
      // Garbage collection removed the bytes' index entry since storeBytes read it: write them again, once.
      record.key = await this.storeBytes(digest, bytes);
      missing = await put();
    }
    if (missing.length > 0) throw missingReferences(repository, missing);
    this.cache.set(record.key, bytes);
    return { ...record, tags };
  }

  async delete(repository: string, reference: string): Promise<void> {
    if (looksLikeDigest(reference)) {
      const { digest } = parseDigest(reference);
      if (!(await this.deps.metadata.deleteManifest(repository, digest))) {
        throw new RegistryError("MANIFEST_UNKNOWN", `manifest ${digest} is not in ${repository}`);
      }
      return;
    }
    if (isTag(reference) && isImmutableTag(this.deps.immutableTags ?? [], repository, reference)) throw immutable(repository, [reference]);
    if (!isTag(reference) || !(await this.deps.metadata.deleteTag(repository, reference))) {
      throw new RegistryError("MANIFEST_UNKNOWN", `tag ${reference} is not in ${repository}`);
    }
  }

  /**
   * The blob-store object holding the manifest's bytes: the indexed one when the registry
   * has them (a re-push writes nothing), otherwise a new object of this write's own
   * (storage-layout.ts says why writes never share a key). Public for the pull-through
   * cache (src/proxy), which stores upstream manifests the same way.
   */
  async storeBytes(digest: string, bytes: Uint8Array): Promise<string> {
    const known = await this.deps.metadata.getBlob(digest);
    if (known) return known.key;
    const key = newBlobKey(digest, this.deps.newId());
    await this.deps.blobs.put(key, bytes, { digest, length: bytes.byteLength });
    const info = await this.deps.metadata.putBlobIfAbsent({ digest, size: bytes.byteLength, key });
    if (info.key !== key) await this.deps.blobs.delete(key);
    return info.key;
  }

  /**
   * distribution-spec § Pushing Manifests: referenced blobs and manifests must exist; `subject` need not.
   * Each distinct digest is checked once, a few at a time: a manifest may repeat one layer thousands of times.
   */
  private async assertReferencesPresent(repository: string, references: ManifestReferences): Promise<void> {
    const checks = [
      ...[...new Set(references.blobs)].map((d) => async () => ((await this.deps.metadata.getBlobLink(repository, d)) ? null : d)),
      ...[...new Set(references.manifests)].map((d) => async () => ((await this.deps.metadata.getManifest(repository, d)) ? null : d)),
    ];
    const missing: string[] = [];
    for (let i = 0; i < checks.length; i += REFERENCE_CHECKS_AT_ONCE) {
      for (const d of await Promise.all(checks.slice(i, i + REFERENCE_CHECKS_AT_ONCE).map((check) => check()))) if (d) missing.push(d);
    }
    if (missing.length > 0) throw missingReferences(repository, missing);
  }
}

const REFERENCE_CHECKS_AT_ONCE = 16;

/** DENIED (403): retrying cannot help, so clients should stop and say so. */
function immutable(repository: string, tags: string[]): RegistryError {
  const list = tags.join(", ");
  return new RegistryError("DENIED", `tag ${list} in ${repository} is immutable (immutableTags in the registry's configuration): it keeps its digest; push under a new tag`, {
    detail: { immutableTags: tags },
  });
}

function missingReferences(repository: string, missing: string[]): RegistryError {
  return new RegistryError("MANIFEST_BLOB_UNKNOWN", `push these to ${repository} before the manifest: ${missing.join(", ")}`, {
    detail: { missing },
  });
}
