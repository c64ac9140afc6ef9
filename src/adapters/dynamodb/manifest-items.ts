/**
 * Manifest records as items. Most records are small and stored as JSON in
 * the manifest item itself. A record's annotations can make it as large as
 * the manifest (the spec asks registries to take 4 MiB manifests; the
 * conformance suite pushes one of ~3.9 MB of annotations), far over
 * DynamoDB's 400 KB per item. Such a record is deflated and, if still too
 * large, cut into chunk items written before the manifest item that names
 * them. Chunk keys carry the put's id, so a later put of the same digest
 * never overwrites chunks a reader may be following; it removes the ones it
 * replaced once its own manifest item is in place.
 */
import { deflateRawSync, inflateRawSync } from "node:zlib";
import type { ManifestRecord } from "../../ports/metadata-store.ts";
import { text, type Item } from "./items.ts";
import { keys, manifestChunkSk, ranges } from "./keys.ts";
import type { TableAccess } from "./table-access.ts";

/** Records up to this size (JSON bytes) stay inline; chunks hold this much each. Both well under 400 KB. */
const INLINE_LIMIT = 300_000;
const CHUNK_SIZE = 300_000;

export interface EncodedManifest {
  /** The manifest item's attributes besides its key. */
  attributes: Item;
  /** Items to write before the manifest item (none for an inline record). */
  chunks: Item[];
}

export function encodeManifest(repository: string, record: ManifestRecord, putId: string): EncodedManifest {
  const json = JSON.stringify(record);
  // `subject` stays readable on its own: deleteManifest needs it without the whole record.
  const common: Item = { putId: { S: putId }, ...(record.subject === undefined ? {} : { subject: { S: record.subject } }) };
  if (Buffer.byteLength(json) <= INLINE_LIMIT) return { attributes: { ...common, record: { S: json } }, chunks: [] };
  const packed = deflateRawSync(json);
  const chunks: Item[] = [];
  for (let offset = 0, index = 0; offset < packed.byteLength; offset += CHUNK_SIZE, index++) {
    chunks.push({ ...keys.manifestChunk(repository, record.digest, putId, index), chunk: { B: packed.subarray(offset, offset + CHUNK_SIZE) } });
  }
  return { attributes: { ...common, chunkCount: { N: String(chunks.length) } }, chunks };
}

/**
 * The record an item holds, reading its chunks if it has any; null when the
 * chunks are gone (a newer put of the digest replaced them after this item
 * was read: read the manifest item again).
 */
export async function decodeManifest(table: TableAccess, item: Item): Promise<ManifestRecord | null> {
  if (item.record?.S !== undefined) return JSON.parse(item.record.S) as ManifestRecord;
  const count = Number(item.chunkCount?.N);
  const prefix = ranges.manifestChunkPrefix(text(item, "sk"), text(item, "putId"));
  const chunks = await table.query({
    KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
    ExpressionAttributeValues: { ":pk": item.pk!, ":prefix": { S: prefix } },
    ConsistentRead: true,
  });
  if (chunks.length !== count) return null;
  const packed = Buffer.concat(chunks.map((chunk) => chunk.chunk!.B!));
  return JSON.parse(inflateRawSync(packed).toString("utf8")) as ManifestRecord;
}

/** Removes the chunk items a manifest item named (after that item was replaced or deleted). */
export async function deleteChunks(table: TableAccess, old: Item | null): Promise<void> {
  if (!old || old.chunkCount === undefined) return;
  const [sk, putId, count] = [text(old, "sk"), text(old, "putId"), Number(old.chunkCount.N)];
  await Promise.all(Array.from({ length: count }, (_, index) => table.delete({ pk: old.pk!, sk: { S: manifestChunkSk(sk, putId, index) } })));
}
