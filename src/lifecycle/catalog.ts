import type { MetadataStore } from "../ports/metadata-store.ts";

/** Every repository in the catalog, in order, read a page at a time (what each lifecycle run visits). */
export async function* everyRepository(metadata: MetadataStore, pageSize = 200): AsyncIterable<string> {
  let after: string | undefined;
  for (;;) {
    const names = await metadata.listRepositories({ limit: pageSize, ...(after === undefined ? {} : { after }) });
    yield* names;
    if (names.length < pageSize) return;
    after = names[names.length - 1];
  }
}
