/**
 * Quota figures on stores whose repositories live apart (Durable Objects, DynamoDB): the bytes
 * a namespace holds, counted as lifecycle/usage.ts counts them (a digest once however many of
 * its repositories hold it), by visiting each repository of the namespace in the catalog.
 * Costs, per quota check: one call per repository of the namespace, and one blob-index read
 * per held digest whose size its repository does not record (a manifest's chunked record, a
 * subject or foreign layer never pushed here).
 */
import type { NamespaceFigures, QuotaDeps } from "../core/quotas.ts";
import type { ScannableMetadata } from "../ports/collectable.ts";
import type { MetadataStore } from "../ports/metadata-store.ts";

const PAGE = 200;

/** The namespace's repositories in the catalog: the name itself, then `<namespace>/…` in order. */
export async function* repositoriesOf(metadata: MetadataStore, namespace: string): AsyncIterable<string> {
  const prefix = `${namespace}/`;
  // Names sort by code point: "<namespace>-x" and "<namespace>.x" come between the namespace and its children.
  let after = namespace;
  if (await metadata.repositoryExists(namespace)) yield namespace;
  for (;;) {
    const names = await metadata.listRepositories({ limit: PAGE, after });
    for (const name of names) {
      if (name.startsWith(prefix)) yield name;
      else if (name > prefix) return;
    }
    if (names.length < PAGE) return;
    after = names[names.length - 1]!;
  }
}

export async function namespaceFigures(metadata: MetadataStore & ScannableMetadata, namespace: string): Promise<NamespaceFigures> {
  const digests = new Set<string>();
  const sizes = new Map<string, number>();
  for await (const name of repositoriesOf(metadata, namespace)) {
    // linkedBefore 0 and a dry run: nothing counts as an orphan, nothing changes.
    const scan = await metadata.scanRepository(name, 0, true);
    for (const digest of scan.held) digests.add(digest);
    for (const [digest, size] of Object.entries(scan.sizes ?? {})) sizes.set(digest, size);
  }
  let bytes = 0;
  const counted = new Set<string>();
  for (const digest of digests) {
    const size = sizes.get(digest) ?? (await metadata.getBlob(digest))?.size;
    // Unknown to the index: referenced but never pushed here (a subject, a foreign layer).
    if (size === undefined) continue;
    bytes += size;
    counted.add(digest);
  }
  return { bytes, digests: counted };
}

export function scannedQuotaDeps(metadata: MetadataStore & ScannableMetadata, limits: Record<string, number>): QuotaDeps {
  return { limits, figures: (namespace) => namespaceFigures(metadata, namespace) };
}
