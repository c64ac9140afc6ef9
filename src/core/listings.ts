import type { ManifestRecord, MetadataStore } from "../ports/metadata-store.ts";
import { RegistryError } from "./errors.ts";
import { parseDigest } from "./digest.ts";
import { OCI_INDEX } from "./media-types.ts";
import type { ReadAccess } from "./read-access.ts";

export interface PageRequest {
  /** `n`: at most this many results; undefined means all. */
  limit?: number;
  /** `last`: results strictly after this name. */
  after?: string;
}

export interface PageResult {
  names: string[];
  /** The `last` to ask for next, when more remain. */
  next?: string;
}

/** Parses `n` and `last` (distribution-spec § Listing Tags). */
export function parsePage(n: string | undefined, last: string | undefined): PageRequest {
  const page: PageRequest = {};
  if (n !== undefined && n !== "") {
    if (!/^\d+$/.test(n) || !Number.isSafeInteger(Number(n))) {
      throw new RegistryError("PAGINATION_NUMBER_INVALID", `n must be a non-negative integer, not "${n.slice(0, 50)}"`);
    }
    page.limit = Number(n);
  }
  if (last !== undefined && last !== "") page.after = last;
  return page;
}

async function paged(page: PageRequest, list: (limit: number | undefined) => Promise<string[]>): Promise<PageResult> {
  if (page.limit === 0) return { names: [] };
  // One extra row tells whether a next page exists without a second query.
  const rows = await list(page.limit === undefined ? undefined : page.limit + 1);
  if (page.limit !== undefined && rows.length > page.limit) {
    const names = rows.slice(0, page.limit);
    return { names, next: names[names.length - 1]! };
  }
  return { names: rows };
}

export async function listTags(metadata: MetadataStore, repository: string, page: PageRequest): Promise<PageResult> {
  if (!(await metadata.repositoryExists(repository))) {
    throw new RegistryError("NAME_UNKNOWN", `repository ${repository} is not known to this registry`);
  }
  return paged(page, (limit) => metadata.listTags(repository, { ...(limit !== undefined ? { limit } : {}), ...(page.after ? { after: page.after } : {}) }));
}

/** With `access`, only repositories the caller may read; `n`, `last` and the next link count those alone. */
export async function listRepositories(metadata: MetadataStore, page: PageRequest, access?: ReadAccess): Promise<PageResult> {
  if (access && !access.mayReadAll) return paged(page, (limit) => readableRepositories(metadata, access, page.after, limit));
  return paged(page, (limit) => metadata.listRepositories({ ...(limit !== undefined ? { limit } : {}), ...(page.after ? { after: page.after } : {}) }));
}

/** Reads the catalog in batches until `limit` readable names are found (or it ends). */
async function readableRepositories(metadata: MetadataStore, access: ReadAccess, after: string | undefined, limit: number | undefined): Promise<string[]> {
  const batch = Math.max(limit ?? 0, 100);
  const found: string[] = [];
  let cursor = after;
  for (;;) {
    const names = await metadata.listRepositories({ limit: batch, ...(cursor ? { after: cursor } : {}) });
    for (const name of names) {
      if (!access.mayRead(name)) continue;
      found.push(name);
      if (found.length === limit) return found;
    }
    if (names.length < batch) return found;
    cursor = names[names.length - 1];
  }
}

export interface ReferrersIndex {
  schemaVersion: 2;
  mediaType: typeof OCI_INDEX;
  manifests: ReferrerDescriptor[];
}

interface ReferrerDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** distribution-spec § Listing Referrers: always an index, empty when nothing refers to the digest. */
export async function listReferrers(
  metadata: MetadataStore,
  repository: string,
  subject: string,
  artifactType: string | undefined,
): Promise<{ index: ReferrersIndex; filtered: boolean }> {
  const { digest } = parseDigest(subject);
  let records = await metadata.listReferrers(repository, digest);
  if (artifactType) records = records.filter((r) => r.artifactType === artifactType);
  records.sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
  return { index: { schemaVersion: 2, mediaType: OCI_INDEX, manifests: records.map(toDescriptor) }, filtered: Boolean(artifactType) };
}

function toDescriptor(record: ManifestRecord): ReferrerDescriptor {
  const descriptor: ReferrerDescriptor = { mediaType: record.mediaType, digest: record.digest, size: record.size };
  if (record.artifactType) descriptor.artifactType = record.artifactType;
  if (record.annotations) descriptor.annotations = record.annotations;
  return descriptor;
}
