/**
 * Stored bytes per repository, per namespace (a repository name's first component:
 * `team` for `team/app`) and overall. A blob or manifest counts once per repository that
 * holds it (a link, a manifest stored under it, or a reference from one of its manifests),
 * once per namespace however many of its repositories share it, and once overall: the
 * overall figure is what the blob store holds for the registry's current content. Bytes
 * waiting for garbage collection count nowhere.
 */
import type { ScannableMetadata } from "../ports/collectable.ts";
import type { MetadataStore } from "../ports/metadata-store.ts";
import { everyRepository } from "./catalog.ts";

export interface UsageReport {
  totalBytes: number;
  blobs: number;
  namespaces: Array<{ name: string; bytes: number; repositories: number }>;
  repositories: Array<{ name: string; bytes: number }>;
}

export function namespaceOf(repository: string): string {
  return repository.split("/")[0]!;
}

export async function measureUsage(metadata: MetadataStore & ScannableMetadata): Promise<UsageReport> {
  const heldBy = new Map<string, string[]>();
  for await (const name of everyRepository(metadata)) {
    // linkedBefore 0: no link counts as an orphan; dry run: nothing changes.
    heldBy.set(name, (await metadata.scanRepository(name, 0, true)).held);
  }
  const sizes = new Map<string, number>();
  for await (const page of metadata.blobIndexPages(500)) for (const entry of page) sizes.set(entry.digest, entry.size);

  const repositories: UsageReport["repositories"] = [];
  const namespaces = new Map<string, { digests: Set<string>; repositories: number }>();
  const overall = new Set<string>();
  for (const [name, held] of heldBy) {
    let bytes = 0;
    const namespace = namespaces.get(namespaceOf(name)) ?? { digests: new Set<string>(), repositories: 0 };
    namespace.repositories++;
    namespaces.set(namespaceOf(name), namespace);
    for (const digest of held) {
      const size = sizes.get(digest);
      if (size === undefined) continue; // a reference to something never pushed (a subject, a foreign layer)
      bytes += size;
      namespace.digests.add(digest);
      overall.add(digest);
    }
    repositories.push({ name, bytes });
  }
  const sum = (digests: Iterable<string>) => [...digests].reduce((total, d) => total + (sizes.get(d) ?? 0), 0);
  return {
    totalBytes: sum(overall),
    blobs: overall.size,
    namespaces: [...namespaces].map(([name, n]) => ({ name, bytes: sum(n.digests), repositories: n.repositories })).sort((a, b) => b.bytes - a.bytes || (a.name < b.name ? -1 : 1)),
    repositories: repositories.sort((a, b) => b.bytes - a.bytes || (a.name < b.name ? -1 : 1)),
  };
}
