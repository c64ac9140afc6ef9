import type { BlobStore } from "../ports/blob-store.ts";
import { MIN_PART_SIZE } from "../ports/blob-store.ts";
import type { Hashing } from "../ports/hashing.ts";
import type { MetadataStore } from "../ports/metadata-store.ts";
import { Blobs } from "./blobs.ts";
import { Manifests } from "./manifests.ts";
import type { ImmutableTagRule } from "./patterns.ts";
import type { Quotas } from "./quotas.ts";
import { Uploads } from "./uploads.ts";

export interface RegistryOptions {
  blobs: BlobStore;
  metadata: MetadataStore;
  hashing: Hashing;
  /** Multipart part size for chunked uploads; at least 5 MiB (default 8 MiB). */
  partSize?: number;
  /** Largest manifest accepted (default 4 MiB; the spec asks for at least 4 MB). */
  maxManifestBytes?: number;
  /** Mount without `from` links a blob the registry already holds (default true). */
  automaticMount?: boolean;
  now?: () => number;
  newId?: () => string;
  /** Tags that never move once pushed (RegistryConfig.immutableTags). */
  immutableTags?: ImmutableTagRule[];
  /** See UploadDeps.claimOwner. */
  claimOwner?: string;
  /** Namespace quotas (core/quotas.ts); absent: none. */
  quotas?: Quotas;
}

/** The registry's rules, independent of HTTP and of any storage technology. */
export class Registry {
  readonly metadata: MetadataStore;
  readonly blobs: Blobs;
  readonly manifests: Manifests;
  readonly uploads: Uploads;
  /** The ports the registry was built over, for rooms that work beside the core (src/proxy). */
  readonly store: BlobStore;
  readonly hashing: Hashing;

  constructor(options: RegistryOptions) {
    this.metadata = options.metadata;
    this.store = options.blobs;
    this.hashing = options.hashing;
    this.blobs = new Blobs({ blobs: options.blobs, metadata: options.metadata, automaticMount: options.automaticMount ?? true });
    const newId = options.newId ?? (() => crypto.randomUUID());
    this.manifests = new Manifests({
      blobs: options.blobs,
      metadata: options.metadata,
      maxManifestBytes: options.maxManifestBytes ?? 4 * 1024 * 1024,
      newId,
      immutableTags: options.immutableTags ?? [],
      ...(options.quotas ? { quotas: options.quotas } : {}),
    });
    this.uploads = new Uploads({
      blobs: options.blobs,
      metadata: options.metadata,
      hashing: options.hashing,
      partSize: options.partSize ?? Math.max(8 * 1024 * 1024, MIN_PART_SIZE),
      now: options.now ?? Date.now,
      newId,
      ...(options.claimOwner ? { claimOwner: options.claimOwner } : {}),
      ...(options.quotas ? { quotas: options.quotas } : {}),
    });
  }
}
