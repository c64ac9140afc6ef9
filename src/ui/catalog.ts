/**
 * The repositories a visitor may pull, a page at a time, optionally only those whose name
 * contains a search text. The catalog is read in batches in name order and filtered as it
 * goes, never loaded whole; one request reads at most MAX_SCANNED names, and when it stops
 * there the page offers to go on from where it stopped.
 */
import type { MetadataStore } from "../ports/metadata-store.ts";
import type { ReadAccess } from "../core/read-access.ts";

const BATCH = 200;
export const MAX_SCANNED = 5000;

export interface CatalogPage {
  names: string[];
  /** Where the next page starts (`after`), when there may be more. */
  next?: string;
  /** The scan stopped at MAX_SCANNED names before filling the page. */
  stoppedEarly: boolean;
}

export async function catalogPage(metadata: MetadataStore, access: ReadAccess, options: { search: string; after?: string; limit: number }): Promise<CatalogPage> {
  const search = options.search.toLowerCase();
  const found: string[] = [];
  let cursor = options.after;
  let scanned = 0;
  for (;;) {
    const names = await metadata.listRepositories({ limit: BATCH, ...(cursor ? { after: cursor } : {}) });
    for (const name of names) {
      scanned++;
      cursor = name;
      if (!access.mayRead(name) || (search && !name.includes(search))) continue;
      // One name beyond the page tells that there is a next page.
      if (found.length === options.limit) return { names: found, next: found[found.length - 1]!, stoppedEarly: false };
      found.push(name);
    }
    if (names.length < BATCH) return { names: found, stoppedEarly: false };
    if (scanned >= MAX_SCANNED) return { names: found, next: cursor!, stoppedEarly: true };
  }
}
