/**
 * Garbage collection on the Node runtime's local disk: the collector over the
 * SQLite store and the filesystem blob store, then the sweep of leftovers no
 * record names. Used by the server's periodic run and by `npm run gc`.
 */
import { statSync } from "node:fs";
import { join, resolve } from "node:path";
import { FilesystemBlobStore } from "../adapters/filesystem/blob-store.ts";
import { sweepLeftovers, type LeftoverReport } from "../adapters/filesystem/leftovers.ts";
import type { SqliteMetadataStore } from "../adapters/sqlite/metadata-store.ts";
import { type LocalMetadata, openLocalMetadata, prepareLocalMetadata } from "../adapters/sqlite/open.ts";
import { ConfigError, type RegistryConfig } from "../config/schema.ts";
import { formatBytes } from "../core/format-bytes.ts";
import { Collector, type CollectionReport } from "../lifecycle/collector.ts";
import { ScanningCollector } from "../lifecycle/scanning-collector.ts";
import { applyRetention, type RetentionReport } from "../lifecycle/retention.ts";
import type { AwsStores } from "./aws-stores.ts";
import { LEFTOVER_MIN_AGE_MS, sweepObjectLeftovers } from "../lifecycle/object-leftovers.ts";


export interface LocalCollection {
  retention: RetentionReport;
  collection: CollectionReport;
  leftovers: LeftoverReport;
}

export async function collectLocal(
  config: RegistryConfig,
  metadata: SqliteMetadataStore,
  options: { dryRun?: boolean; graceMs?: number; progress?: (report: CollectionReport) => void } = {},
): Promise<LocalCollection> {
  const root = join(resolve(config.dataDir), "blobs");
  const graceMs = options.graceMs ?? config.gcGraceSeconds * 1000;
  const collector = new Collector({
    metadata,
    blobs: new FilesystemBlobStore(root),
    graceMs,
    // An explicit grace (npm run gc -- --grace) stands for both: the operator says no push is running.
    orphanLinkAgeMs: options.graceMs ?? Math.max(graceMs, config.uploadTtlSeconds * 1000),
    ...(options.progress ? { progress: options.progress } : {}),
  });
  const retention = await applyRetention({ metadata, rules: config.retention, immutableTags: config.immutableTags, mirrors: config.mirrors ?? [] }, { dryRun: options.dryRun ?? false });
  const collection = await collector.run({ dryRun: options.dryRun ?? false });
  const { multipartIds, tailKeys } = metadata.uploadStorage();
  const leftovers = await sweepLeftovers(
    root,
    { isIndexed: (key) => metadata.keyIndexed(key), multipartIds, tailKeys },
    { olderThanMs: Math.max(graceMs, LEFTOVER_MIN_AGE_MS), dryRun: options.dryRun ?? false },
  );
  return { retention, collection, leftovers };
}

/**
 * The stores `npm start` would serve with these settings, for a command run beside it
 * (npm run gc, npm run usage): the local database (prepared as at start-up), or S3 and DynamoDB.
 */
export async function openStoresOf(config: RegistryConfig): Promise<{ local: LocalMetadata | null; aws: AwsStores | null }> {
  if (config.backend === "aws") return { local: null, aws: (await import("./aws-stores.ts")).awsStores(config) };
  const dataDir = resolve(config.dataDir);
  // Never made here: a mistyped DATA_DIR would otherwise be collected or measured as an empty registry (or fail inside SQLite).
  if (!statSync(dataDir, { throwIfNoEntry: false })?.isDirectory()) {
    throw new ConfigError([`DATA_DIR ${dataDir} is not a directory: set DATA_DIR (or dataDir in REGISTRY_CONFIG) to the data directory npm start uses`]);
  }
  prepareLocalMetadata(dataDir);
  return { local: openLocalMetadata(dataDir), aws: null };
}

/**
 * BACKEND=aws: the scanning collector over DynamoDB and S3, then the sweep of objects no record
 * names (what the scheduled Lambda runs); S3's lifecycle rule aborts leftover multipart uploads.
 */
export async function collectAws(
  config: RegistryConfig,
  stores: AwsStores,
  options: { dryRun?: boolean; graceMs?: number; progress?: (report: CollectionReport) => void } = {},
): Promise<LocalCollection> {
  const graceMs = options.graceMs ?? config.gcGraceSeconds * 1000;
  const collector = new ScanningCollector({
    ...stores,
    graceMs,
    orphanLinkAgeMs: options.graceMs ?? Math.max(graceMs, config.uploadTtlSeconds * 1000),
    ...(options.progress ? { progress: options.progress } : {}),
  });
  const retention = await applyRetention({ metadata: stores.metadata, rules: config.retention, immutableTags: config.immutableTags, mirrors: config.mirrors ?? [] }, { dryRun: options.dryRun ?? false });
  const collection = await collector.run({ dryRun: options.dryRun ?? false });
  const leftovers = await sweepObjectLeftovers({ ...stores, olderThanMs: Math.max(graceMs, LEFTOVER_MIN_AGE_MS), dryRun: options.dryRun ?? false });
  collection.problems.push(...leftovers.problems);
  return { retention, collection, leftovers: { files: leftovers.files, bytes: leftovers.bytes } };
}

export function describeCollection({ retention, collection, leftovers }: LocalCollection): string {
  const dry = collection.dryRun;
  const count = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
  const retained =
    retention.tags.length + retention.manifests.length + retention.unpulled.length > 0
      ? `retention rules ${dry ? "would delete" : "deleted"} ${count(retention.tags.length, "tag", "tags")}, ${count(retention.manifests.length, "untagged manifest", "untagged manifests")} and ${count(retention.unpulled.length, "mirrored manifest not pulled lately", "mirrored manifests not pulled lately")}${dry ? " (what they held is not counted below)" : ""}; `
      : "";
  // With no grace period a run removes what it marks; otherwise marked blobs go in a later run.
  const marked =
    collection.blobsMarked > 0 && collection.graceMs !== 0
      ? `; ${count(collection.blobsMarked, "newly unreferenced blob", "newly unreferenced blobs")} ${dry ? "would be" : ""} marked, to go once unreferenced for the grace period`.replace("  ", " ")
      : "";
  return (
    retained +
    `garbage collection ${dry ? "would remove" : "removed"} ${count(collection.blobsDeleted, "blob", "blobs")} (${formatBytes(collection.bytesFreed)}), ` +
    `${count(collection.orphanLinksRemoved, "link", "links")} no manifest uses, and ${count(leftovers.files, "leftover file", "leftover files")} (${formatBytes(leftovers.bytes)})` +
    marked +
    (collection.referencesRecorded > 0 ? `; read the references of ${collection.referencesRecorded} imported manifests` : "")
  );
}
