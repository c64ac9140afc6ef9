/**
 * putManifest and deleteManifest without transactions (dynalite has none, and
 * a TransactWriteItems call is capped at 100 items anyway). The invariant:
 * a tag never points at a manifest that is gone once both calls have
 * returned; while they run, a reader may meet such a tag only through a
 * lookup that reads the manifest too and finds nothing (getTaggedManifest
 * answers null). core/storage-layout.ts § dynamodb gives the argument.
 */
import { randomUUID } from "node:crypto";
import { deflateRawSync, inflateRawSync } from "node:zlib";
import { ImmutableTagError, type ManifestRecord, type ManifestReferences } from "../../ports/metadata-store.ts";
import { keys, ranges } from "./keys.ts";
import { type Item, text } from "./items.ts";
import { deleteChunks, encodeManifest } from "./manifest-items.ts";
import { countBytes, manifestItemSize } from "./repository-figures.ts";
import type { TableAccess } from "./table-access.ts";

/** Rounds a delete retries when pushes of the same digest keep re-creating the manifest. */
const DELETE_ROUNDS = 5;

export async function putManifest(
  table: TableAccess,
  repository: string,
  record: ManifestRecord,
  tags: string[],
  references: ManifestReferences | null = null,
  fixedTags: string[] = [],
): Promise<void> {
  const putId = { S: randomUUID() };
  const digest = { S: record.digest };
  // 1. The manifest (a large record's chunks first), replacing the item whole: a `deleting`
  //    mark from a delete in progress goes with it, and so do the chunks of the record replaced.
  const encoded = encodeManifest(repository, record, putId.S);
  await Promise.all(encoded.chunks.map((chunk) => table.put(chunk)));
  const refs = references ? referencesAttribute(references) : {};
  const pushedAt = { N: String(Date.now()) };
  const size = { N: String(record.size) };
  const replaced = await table.replace({ ...keys.manifest(repository, record.digest), ...encoded.attributes, ...refs, pushedAt, size });
  // Not listed: the collector dropped the repository as empty between the caller's registration and
  // the write above. Listed again now, with this count, so the catalog and the tag listing do not
  // miss a repository holding a manifest until the next collection's Scan (a drop that reads after
  // the write keeps it).
  const counted = replaced ? 0 : record.size;
  if (!(await countBytes(table, repository, counted, Number(pushedAt.N)))) await countBytes(table, repository, counted, Number(pushedAt.N), true);
  await deleteChunks(table, replaced);
  // 2. What leads to it: the referrer entry, then for each tag its back-reference before the tag
  //    itself (immutable tags first, so a lost one stops the rest).
  if (record.subject !== undefined) await table.put({ ...keys.referrer(repository, record.subject, record.digest), putId });
  await Promise.all(tags.map((tag) => table.put({ ...keys.tagged(repository, record.digest, tag), putId })));
  const taggedAt = { N: String(Date.now()) };
  const fixed = new Set(fixedTags);
  const lost = await writeFixedTags(table, repository, digest, taggedAt, putId, [...fixed].sort());
  if (lost !== null) {
    // The back-references stay: a push of the same digest may have written them again and won the
    // tag; unused ones are harmless, and deleteManifest removes them.
    await takeBackIfDeleted(table, repository, record, tags, putId);
    throw new ImmutableTagError([lost]);
  }
  await Promise.all(tags.filter((tag) => !fixed.has(tag)).map((tag) => table.put({ ...keys.tag(repository, tag), digest, taggedAt })));
  await takeBackIfDeleted(table, repository, record, tags, putId);
}

/**
 * Writes each immutable tag only if it is new or already this digest, in the write itself: two
 * pushes racing for a new immutable tag both pass the caller's read, and only one of these puts.
 * One at a time, in one order for every push, stopping at the first lost: two pushes racing for
 * the same tags then meet at the first, and the one that loses it has taken none (written in
 * parallel, each could take some and both be refused). A loser takes back the tags it created
 * (those that were not there before its put: one conditional put tells, by the item it replaced)
 * and moves no other; its manifest stays, untagged, as a push by digest would leave it. Answers
 * the tag lost, or null if all were written.
 */
async function writeFixedTags(
  table: TableAccess,
  repository: string,
  digest: { S: string },
  taggedAt: { N: string },
  putId: { S: string },
  sorted: string[],
): Promise<string | null> {
  const created: string[] = [];
  const newOrOurs = { expression: "attribute_not_exists(pk) OR digest = :digest", values: { ":digest": digest } };
  for (const tag of sorted) {
    // Written under this put's id even when already this digest, so that a racer of the same
    // digest that created it and then loses another tag does not take it back from under this put.
    const { written, old } = await table.putReturningOld({ ...keys.tag(repository, tag), digest, taggedAt, putId }, newOrOurs);
    if (written) {
      // Created here: there was none, or the one there is this put's own (an SDK retry of a put
      // whose answer was lost).
      if (old === null || old.putId?.S === putId.S) created.push(tag);
      continue;
    }
    const ours = { expression: "putId = :putId", values: { ":putId": putId } };
    await Promise.all(created.map((mine) => table.delete(keys.tag(repository, mine), ours)));
    return tag;
  }
  return null;
}

/**
 * Step 3 of putManifest: a delete that marked or removed the manifest after step 1 may have missed
 * what step 2 wrote: this put then happened just before that delete, and takes back its own tags
 * and referrer.
 */
async function takeBackIfDeleted(table: TableAccess, repository: string, record: ManifestRecord, tags: string[], putId: { S: string }): Promise<void> {
  const now = await table.get(keys.manifest(repository, record.digest));
  if (now && now.deleting === undefined) return;
  const ifStillOurs = { expression: "digest = :digest", values: { ":digest": { S: record.digest } } };
  await Promise.all(tags.map((tag) => table.delete(keys.tag(repository, tag), ifStillOurs)));
  if (record.subject !== undefined) {
    await table.delete(keys.referrer(repository, record.subject, record.digest), { expression: "putId = :putId", values: { ":putId": putId } });
  }
}

/**
 * What the manifest references, for garbage collection: the digests, deflated (an item holds
 * 400 KB). Past REFS_LIMIT the references are left unrecorded, which the collector reads as
 * "unknown": it then keeps every link of the repository.
 */
const REFS_LIMIT = 100 * 1024;

export function referencesAttribute(references: ManifestReferences): Item {
  const packed = deflateRawSync(JSON.stringify([...new Set([...references.blobs, ...references.manifests, ...(references.held ?? [])])]));
  return packed.byteLength <= REFS_LIMIT ? { refs: { B: packed } } : {};
}

/** The digests a manifest item references; null when they were not recorded (earlier versions, or too many). */
export function referencesOf(item: Item): string[] | null {
  const packed = item.refs?.B;
  return packed ? (JSON.parse(inflateRawSync(packed).toString("utf8")) as string[]) : null;
}

export async function deleteManifest(table: TableAccess, repository: string, digest: string): Promise<boolean> {
  const manifestKey = keys.manifest(repository, digest);
  for (let round = 1; round <= DELETE_ROUNDS; round++) {
    const token = { S: randomUUID() };
    // 1. Mark the manifest; a put of the same digest from now on replaces the item and so removes the mark.
    const marked = await table.update(manifestKey, { expression: "SET deleting = :token", values: { ":token": token } }, { expression: "attribute_exists(pk)" });
    if (!marked) return round > 1;
    const subject = marked.subject?.S;
    // 2. Every tag that was ever pointed here has a back-reference written before it: remove those still pointing here.
    const tagged = await table.query({
      KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
      ExpressionAttributeValues: { ":pk": { S: ranges.repositoryPk(repository) }, ":prefix": { S: ranges.taggedPrefix(digest) } },
      ConsistentRead: true,
    });
    const tags = tagged.map((item) => text(item, "sk").slice(ranges.taggedPrefix(digest).length));
    const pointsHere = { expression: "digest = :digest", values: { ":digest": { S: digest } } };
    await Promise.all(tags.map((tag) => table.delete(keys.tag(repository, tag), pointsHere)));
    if (subject !== undefined) await table.delete(keys.referrer(repository, subject, digest));
    // 3. Remove the manifest only if no put came in since the mark; otherwise start again, after that put.
    const { deleted, old } = await table.delete(manifestKey, { expression: "deleting = :token", values: { ":token": token } });
    if (!deleted) continue;
    if (old) await countBytes(table, repository, -manifestItemSize(old));
    await deleteChunks(table, old);
    // 4. Back-references last, each only if no later put rewrote it (a retry must still find them all).
    await Promise.all(
      tagged.map((item) => table.delete({ pk: item.pk!, sk: item.sk! }, { expression: "putId = :putId", values: { ":putId": item.putId! } })),
    );
    return true;
  }
  throw new Error(`manifest ${digest} in ${repository} was pushed again during each of ${DELETE_ROUNDS} attempts to delete it`);
}
