/**
 * Whole repositories on DynamoDB: deleting one, and finding every repository that holds
 * something, listed in the catalog or not. Without transactions (dynalite has none) a push
 * writing its first item while a deletion removes the catalog entry can end up unlisted;
 * so here, unlike on Durable Objects, the garbage collector does not rely on the catalog
 * alone: it visits every partition a Scan finds (repositoriesHoldingAnything), and lists
 * again any the catalog lost, which makes the catalog right by the next collection.
 *
 * The deletion: every item of the repository's partition (tags first, so no tag is read
 * while its manifest goes), the catalog entry, then one more read of the partition: a push
 * that wrote meanwhile lists the repository again at once. What it can still miss is a push
 * whose catalog write came before the entry's removal and whose next write came after that
 * last read; the collector's Scan finds that one (above).
 */
import type { DeletedRepository } from "../../ports/collectable.ts";
import type { Page, UploadRecord } from "../../ports/metadata-store.ts";
import { type Item, text, uploadFromItem } from "./items.ts";
import { CATALOG_PK, keys, ranges } from "./keys.ts";
import { register } from "./repository-figures.ts";
import type { TableAccess } from "./table-access.ts";

/** Deletes run this many at a time: DynamoDB takes them in parallel, and a repository may have thousands of items. */
const PARALLEL_DELETES = 16;
const CATALOG_PAGE = 200;

export async function deleteRepository(table: TableAccess, repository: string): Promise<DeletedRepository | null> {
  const pk = { S: ranges.repositoryPk(repository) };
  const listed = (await table.get(keys.catalogEntry(repository))) !== null;
  const items = await table.query({ KeyConditionExpression: "pk = :pk", ExpressionAttributeValues: { ":pk": pk }, ConsistentRead: true });
  if (!listed && items.length === 0) return null;
  const kind = (item: Item) => text(item, "sk").split("#", 1)[0]!;
  const uploads: UploadRecord[] = items.filter((item) => kind(item) === "upload").map(uploadFromItem);
  const deleted = {
    manifests: items.filter((item) => /^manifest#[^#]+$/.test(text(item, "sk"))).length,
    tags: items.filter((item) => kind(item) === "tag").length,
    links: items.filter((item) => kind(item) === "link").length,
    uploads,
  };
  const tagsFirst = [...items.filter((item) => kind(item) === "tag"), ...items.filter((item) => kind(item) !== "tag")];
  for (let i = 0; i < tagsFirst.length; i += PARALLEL_DELETES) {
    await Promise.all(tagsFirst.slice(i, i + PARALLEL_DELETES).map((item) => table.delete({ pk: item.pk!, sk: item.sk! })));
  }
  await table.delete(keys.catalogEntry(repository));
  const since = await table.query({ KeyConditionExpression: "pk = :pk", ExpressionAttributeValues: { ":pk": pk }, ConsistentRead: true, Limit: 1 }, 1);
  if (since.length > 0) await table.put(keys.catalogEntry(repository));
  return deleted;
}

/**
 * Drops the catalog entry of a repository whose partition holds no item (the collector's
 * clean-up of empty repositories), then reads the partition once more: a push that wrote
 * meanwhile lists the repository again at once, as after a deletion. A manifest put whose write
 * lands after that read lists it again itself (it registers after writing too); a link alone
 * (layers pushed, no manifest yet) is listed again by the next collection's Scan (above), which
 * also sets its figures right.
 */
export async function removeRepositoryIfEmpty(table: TableAccess, repository: string): Promise<boolean> {
  const pk = { S: ranges.repositoryPk(repository) };
  const anyItem = async () => (await table.query({ KeyConditionExpression: "pk = :pk", ExpressionAttributeValues: { ":pk": pk }, ConsistentRead: true, Limit: 1 }, 1)).length > 0;
  if (await anyItem()) return false;
  const { deleted } = await table.delete(keys.catalogEntry(repository), { expression: "attribute_exists(pk)" });
  if (!deleted) return false;
  if (!(await anyItem())) return true;
  await register(table, repository);
  return false;
}

/**
 * Every repository with an item in the table, and every one in the catalog: the catalog's
 * names first, in order, then those a Scan finds that it does not list, which are listed
 * again on the way (a push that raced a deletion, above). The Scan reads the whole table:
 * a collection costs a second pass over it, besides the blob index's.
 */
export async function* repositoriesHoldingAnything(table: TableAccess, listCatalog: (page: Page) => Promise<string[]>): AsyncIterable<string> {
  const seen = new Set<string>();
  let after: string | undefined;
  for (;;) {
    const names = await listCatalog({ limit: CATALOG_PAGE, ...(after === undefined ? {} : { after }) });
    for (const name of names) {
      seen.add(name);
      yield name;
    }
    if (names.length < CATALOG_PAGE) break;
    after = names[names.length - 1];
  }
  const prefix = ranges.repositoryPk("");
  for await (const page of table.scanPages({ FilterExpression: "begins_with(pk, :repo)", ExpressionAttributeValues: { ":repo": { S: prefix } }, ProjectionExpression: "pk" })) {
    for (const item of page) {
      const name = text(item, "pk").slice(prefix.length);
      if (seen.has(name)) continue;
      seen.add(name);
      await table.put({ pk: { S: CATALOG_PK }, sk: { S: name } });
      yield name;
    }
  }
}
