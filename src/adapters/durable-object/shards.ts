/**
 * How the registry-wide indexes are spread over IndexShardObjects. The count
 * is part of the storage layout: changing it would hide every entry recorded
 * under the old count, so it is a constant, not a setting.
 */
export const INDEX_SHARD_COUNT = 16;

/** The shard holding `key` (a digest, or an upload's repository and id): FNV-1a, so any string spreads evenly. */
export function indexShardOf(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % INDEX_SHARD_COUNT;
}

/** Durable Object names within each class's namespace: a repository's object is named by the repository. */
export const objectNames = {
  repository: (name: string) => name,
  indexShard: (shard: number) => `shard-${shard}`,
  catalog: "catalog",
};
