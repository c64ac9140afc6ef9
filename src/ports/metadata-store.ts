/**
 * The metadata port: everything that must be strongly consistent. A client
 * that pushes and then pulls by tag, from anywhere, must see what it pushed,
 * and a delete must be visible to the very next request.
 *
 * Methods that change several records (`putManifest`, `deleteManifest`) are
 * atomic: a reader sees either the old state or the new one, never a tag
 * that points at a manifest that is not there, and a crash leaves all of the
 * change or none of it (the DynamoDB adapter, which has no transactions,
 * documents how close it comes in core/storage-layout.ts).
 */

/** A blob's place in the blob store. Immutable once written. */
export interface BlobInfo {
  digest: string;
  size: number;
  /** Blob-store key holding the bytes (see core/storage-layout.ts). */
  key: string;
}

export interface ManifestRecord {
  digest: string;
  mediaType: string;
  size: number;
  /** Blob-store key holding the exact bytes the client sent. */
  key: string;
  /** Digest of the manifest this one refers to (OCI `subject`), if any. */
  subject?: string;
  /** `artifactType`, or the config media type for image manifests (spec § Listing Referrers). */
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface UploadPartRecord {
  partNumber: number;
  etag: string;
  size: number;
}

export type DigestAlgorithm = "sha256" | "sha512";

/** State of a blob upload session, carried between stateless requests. */
export interface UploadRecord {
  id: string;
  repository: string;
  algorithm: DigestAlgorithm;
  /** Epoch milliseconds. */
  createdAt: number;
  /** Epoch milliseconds of the last change (absent: never changed); abandoned uploads expire from this. */
  updatedAt?: number;
  /** Bumped on every update; updates are conditional on it. */
  version: number;
  /** Bytes accepted so far (parts + tail). */
  received: number;
  /** Saved resumable hash state over all `received` bytes, base64; null before any byte. */
  hashState: string | null;
  /** Size every non-final part has. */
  partSize: number;
  multipart: { key: string; uploadId: string } | null;
  parts: UploadPartRecord[];
  /** Bytes received after the last full part, kept as a small object. */
  tail: { key: string; size: number } | null;
  /**
   * The request writing to the upload's storage right now, if any: only it may
   * write parts or a tail (core/uploads.ts, "One writer at a time"). Optional, so
   * records written before it existed read as unclaimed.
   */
  writer?: UploadWriter | null;
}

/** A request's claim on an upload, taken and renewed by conditional `updateUpload`s. */
export interface UploadWriter {
  /** Random, per request: tells the claimant its own claim when a write's answer was lost. */
  token: string;
  /** Epoch milliseconds; after this another request may take the upload over. */
  expiresAt: number;
}

/** What a manifest refers to, which its repository must hold first (distribution-spec § Pushing Manifests). */
export interface ManifestReferences {
  blobs: string[];
  manifests: string[];
  /** More digests the manifest keeps from garbage collection, not required to be present (foreign layers, unchecked types). */
  held?: string[];
}

export interface Page {
  limit?: number;
  /** Return names strictly after this one. */
  after?: string;
}

/** What the catalog page shows of a repository (MetadataStore.repositorySummary). */
export interface RepositorySummary {
  /** Epoch ms of the newest manifest put; null when none is known. A store may remember it after that manifest is deleted. */
  lastPushedAt: number | null;
  /**
   * Bytes of the distinct blobs and manifests the repository holds (its links, its manifests and
   * what they reference), each once however often it is linked or referenced: the figure
   * lifecycle/usage.ts reports per repository.
   */
  bytes: number;
  /**
   * "exact": computed from the repository's records on this read. "counted": a figure the store
   * keeps as links and manifests come and go, which a crash between a write and its count can put
   * off until the next garbage collection recounts it (DynamoDB: an exact figure would read the
   * whole partition).
   */
  bytesFrom: "exact" | "counted";
}

export interface MetadataStore {
  /**
   * The global blob index: one entry per digest (first writer wins) naming the blob-store
   * object that holds its bytes, for blobs and manifests alike. Garbage collection removes
   * entries nothing holds (see lifecycle/collector.ts for the protocol).
   */
  getBlob(digest: string): Promise<BlobInfo | null>;
  /**
   * Records `info` unless the digest is known; returns the entry that is now stored. A known
   * entry marked by garbage collection is revived (its mark cleared).
   */
  putBlobIfAbsent(info: BlobInfo): Promise<BlobInfo>;

  /**
   * A repository sees a blob only through its own link. Linking registers the repository and
   * revives the blob's index entry. Answers false, linking nothing, when the index has no
   * entry for `info.digest` at `info.key` (garbage collection removed it since it was read).
   */
  linkBlob(repository: string, info: BlobInfo): Promise<boolean>;
  getBlobLink(repository: string, digest: string): Promise<BlobInfo | null>;
  unlinkBlob(repository: string, digest: string): Promise<boolean>;

  /**
   * Stores the record, points each tag at it and indexes its subject; registers the repository.
   * First checks, in the same transaction, that the repository links every blob and holds every
   * manifest in `references`, and that the blob index holds the manifest's own bytes at
   * `record.key` (reviving that entry): when any is missing nothing is written and the missing
   * digests are answered (an empty list means stored; `record.digest` among them means the bytes'
   * entry is gone). So a blob unlinked at the same moment either fails the put or is unlinked
   * after it, never between the check and the write. The references are kept with the record:
   * they are what garbage collection follows. Each of `fixedTags` (immutable tags among `tags`)
   * that already names another digest makes the put throw ImmutableTagError, writing nothing; a
   * put that loses a race for a new immutable tag throws it too, moving no tag (on a store without
   * transactions its manifest may stay, untagged, as after a push by digest).
   */
  putManifest(repository: string, record: ManifestRecord, tags: string[], references?: ManifestReferences, fixedTags?: string[]): Promise<string[]>;
  getManifest(repository: string, digest: string): Promise<ManifestRecord | null>;
  getTaggedManifest(repository: string, tag: string): Promise<ManifestRecord | null>;
  /** Tags in ASCII (code point) order. */
  listTags(repository: string, page: Page): Promise<string[]>;
  deleteTag(repository: string, tag: string): Promise<boolean>;
  /** Removes the manifest, every tag pointing at it, and its referrer entry. */
  deleteManifest(repository: string, digest: string): Promise<boolean>;
  /** Manifests in `repository` whose subject is `subject`. */
  listReferrers(repository: string, subject: string): Promise<ManifestRecord[]>;

  repositoryExists(repository: string): Promise<boolean>;
  /** Repository names in ASCII order. */
  listRepositories(page: Page): Promise<string[]>;
  /**
   * The repository's last push time and size, cheap enough to ask for every repository of a
   * catalog page: no store reads the whole registry for it. An unknown repository has none (null, 0).
   */
  repositorySummary(repository: string): Promise<RepositorySummary>;

  createUpload(record: UploadRecord): Promise<void>;
  getUpload(repository: string, id: string): Promise<UploadRecord | null>;
  /**
   * Replaces the record only if the stored one still has `expectedVersion`;
   * returns false otherwise. This is what keeps racing PATCHes from both winning,
   * across processes: the upload engine's claims (core/uploads.ts) rest on it
   * alone. The whole record is stored, fields this port may add later included.
   */
  updateUpload(record: UploadRecord, expectedVersion: number): Promise<boolean>;
  deleteUpload(repository: string, id: string): Promise<void>;
  /**
   * Uploads last changed (`updatedAt`, else `createdAt`) before `before` (epoch ms), oldest
   * first, for expiry. Stores that index uploads by creation only may also answer uploads
   * created before `before` but changed since; the caller checks `updatedAt`.
   */
  listStaleUploads(before: number, limit: number): Promise<UploadRecord[]>;
}

/** Thrown by putManifest when an immutable tag would move to another digest; nothing was written. */
export class ImmutableTagError extends Error {
  readonly tags: string[];
  constructor(tags: string[]) {
    super(`immutable tags would move: ${tags.join(", ")}`);
    this.tags = tags;
    this.name = "ImmutableTagError";
  }
}
