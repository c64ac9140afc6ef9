/**
 * The catalog page's figures of a repository on DynamoDB, kept on its catalog entry
 * (pk "catalog", sk <repository>): `pushedAt`, set by every manifest put, and `bytes`, what its
 * link and manifest items weigh, counted as they come and go. Adding up the items on each read
 * would read the whole partition: a catalog page of 50 repositories would Query 50 partitions.
 *
 * Each write that creates or removes a link or manifest item (the item's old image tells which)
 * then ADDs its size and bumps `bytesVersion`, on condition that the entry exists: a count never
 * lists a repository a deletion removed. A crash between the item write and its count leaves the
 * figure off; so does a digest held only through a reference (its link deleted). Each garbage
 * collection's visit of the repository reads every item anyway: it sets the exact figure, on
 * condition that no count landed since it read `bytesVersion` before its Query, so a push during
 * the visit is never lost (it retries at the next collection). One count can still land twice: an
 * item written before the visit's read whose count comes after the visit's write.
 */
import type { RepositorySummary } from "../../ports/metadata-store.ts";
import type { Item } from "./items.ts";
import { keys } from "./keys.ts";
import type { TableAccess } from "./table-access.ts";

const LISTED = "attribute_exists(pk)";

/** Registers the repository in the catalog, leaving its figures as they are (a PutItem would wipe them). */
export async function register(table: TableAccess, repository: string): Promise<void> {
  await table.update(keys.catalogEntry(repository), { expression: "ADD bytes :zero", values: { ":zero": { N: "0" } } });
}

/**
 * Adds `delta` bytes (negative: removed) and, for a manifest put, its time. Answers false when the
 * repository is not listed (nothing counted): the collector dropped it as empty meanwhile.
 * With `listing`, an unlisted repository is listed again with this count (a write just made it
 * hold something), and the answer is always true.
 */
export async function countBytes(table: TableAccess, repository: string, delta: number, pushedAt?: number, listing = false): Promise<boolean> {
  if (delta === 0 && pushedAt === undefined && !listing) return true;
  const after = await table.update(
    keys.catalogEntry(repository),
    {
      expression: `ADD bytes :delta, bytesVersion :one${pushedAt === undefined ? "" : " SET pushedAt = :at"}`,
      values: { ":delta": { N: String(delta) }, ":one": { N: "1" }, ...(pushedAt === undefined ? {} : { ":at": { N: String(pushedAt) } }) },
    },
    listing ? undefined : { expression: LISTED },
  );
  return after !== null;
}

/** What `bytesVersion` the entry has now (0: none yet); null when the repository is not listed. */
export function countVersion(entry: Item | null): number | null {
  return entry ? Number(entry.bytesVersion?.N ?? 0) : null;
}

/** Sets the exact figure a collection measured, unless any count landed since `version` was read. */
export async function recountBytes(table: TableAccess, repository: string, bytes: number, version: number): Promise<boolean> {
  const unchanged =
    version === 0
      ? { expression: `${LISTED} AND (attribute_not_exists(bytesVersion) OR bytesVersion = :version)`, values: { ":version": { N: "0" } } }
      : { expression: "bytesVersion = :version", values: { ":version": { N: String(version) } } };
  return (await table.update(keys.catalogEntry(repository), { expression: "SET bytes = :bytes", values: { ":bytes": { N: String(bytes) } } }, unchanged)) !== null;
}

export async function readFigures(table: TableAccess, repository: string): Promise<RepositorySummary> {
  const entry = await table.get(keys.catalogEntry(repository));
  const pushedAt = entry?.pushedAt?.N;
  return { lastPushedAt: pushedAt === undefined ? null : Number(pushedAt), bytes: Math.max(0, Number(entry?.bytes?.N ?? 0)), bytesFrom: "counted" };
}

/** A manifest item's size: its own attribute, or its inline record's (items of earlier versions). */
export function manifestItemSize(item: Item): number {
  if (item.size?.N !== undefined) return Number(item.size.N);
  const record = item.record?.S;
  return record === undefined ? 0 : ((JSON.parse(record) as { size?: number }).size ?? 0);
}
