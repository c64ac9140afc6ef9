import type { BlobStore, ByteRange, ObjectRead } from "../ports/blob-store.ts";
import type { BlobInfo, MetadataStore } from "../ports/metadata-store.ts";
import { RegistryError } from "./errors.ts";
import { parseDigest } from "./digest.ts";
import type { ReadAccess } from "./read-access.ts";

export interface BlobDeps {
  blobs: BlobStore;
  metadata: MetadataStore;
  /** Mount without `from`: link a blob the registry already has (distribution-spec end-11). */
  automaticMount: boolean;
}

export class Blobs {
  private readonly deps: BlobDeps;

  constructor(deps: BlobDeps) {
    this.deps = deps;
  }

  /**
   * A repository sees only blobs linked to it; a blob stored for another
   * repository is BLOB_UNKNOWN here, so digests cannot be probed across teams.
   */
  async stat(repository: string, digest: string): Promise<BlobInfo> {
    const { digest: canonical } = parseDigest(digest);
    const info = await this.deps.metadata.getBlobLink(repository, canonical);
    if (!info) throw new RegistryError("BLOB_UNKNOWN", `blob ${canonical} is not in ${repository}`);
    return info;
  }

  async read(info: BlobInfo, range?: ByteRange): Promise<ObjectRead> {
    const object = await this.deps.blobs.get(info.key, range);
    if (!object) throw new Error(`blob ${info.digest} is linked but its bytes are missing at ${info.key}`);
    return object;
  }

  /** Unlinks the blob from the repository; the bytes stay for other repositories until garbage collection. */
  async delete(repository: string, digest: string): Promise<void> {
    const { digest: canonical } = parseDigest(digest);
    if (!(await this.deps.metadata.unlinkBlob(repository, canonical))) {
      throw new RegistryError("BLOB_UNKNOWN", `blob ${canonical} is not in ${repository}`);
    }
  }

  /**
   * Cross-repository mount. Returns the mounted blob, or null when it cannot
   * be mounted and the caller should open an ordinary upload instead. With
   * `access`, `from` must be readable, and a mount without `from` (which could
   * link any repository's blob) happens only for a caller who may read all.
   */
  async mount(repository: string, digest: string, from: string | undefined, access?: ReadAccess): Promise<BlobInfo | null> {
    const { digest: canonical } = parseDigest(digest);
    let info: BlobInfo | null = null;
    if (from) info = access && !access.mayRead(from) ? null : await this.deps.metadata.getBlobLink(from, canonical);
    else if (this.deps.automaticMount && (!access || access.mayReadAll)) info = await this.deps.metadata.getBlob(canonical);
    if (!info) return null;
    // Collected since it was read (an unlinked blob, gone after the grace period): the client uploads it instead.
    return (await this.deps.metadata.linkBlob(repository, info)) ? info : null;
  }
}

export type RangeRequest = { kind: "whole" } | { kind: "partial"; range: ByteRange } | { kind: "unsatisfiable" };

/**
 * RFC 9110 § 14: a single `bytes=` range (first-last, first-, or -suffix).
 * Anything we do not understand (other units, several ranges, bad syntax) is
 * ignored and the whole blob is served, as the RFC allows.
 */
export function resolveRange(header: string | undefined, size: number): RangeRequest {
  const match = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
  if (!match) return { kind: "whole" };
  const [, first, last] = match as unknown as [string, string, string];
  if (first === "" && last === "") return { kind: "whole" };
  if (first === "") {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return { kind: "unsatisfiable" };
    const length = Math.min(suffix, size);
    return { kind: "partial", range: { offset: size - length, length } };
  }
  const start = Number(first);
  const end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
  // The main-branch conformance suite expects 416 for an inverted range (bytes=500-0).
  if (last !== "" && Number(last) < start) return { kind: "unsatisfiable" };
  if (start >= size) return { kind: "unsatisfiable" };
  return { kind: "partial", range: { offset: start, length: end - start + 1 } };
}
