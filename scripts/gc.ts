/**
 * `npm run gc`: collects garbage in the data directory `npm start` uses (same
 * REGISTRY_CONFIG / DATA_DIR settings), while the registry keeps serving.
 *
 *   npm run gc                       # what the server's periodic run does
 *   npm run gc -- --dry-run          # counts what would go, changes nothing
 *   npm run gc -- --grace 0          # no grace period: only when no push is running
 *   npm run gc -- --grace 10m        # seconds, or with s, m, h, d
 *
 * How it stays safe while pushes run: src/lifecycle/collector.ts.
 */
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { ConfigError } from "../src/config/schema.ts";
import { loadConfig } from "../src/runtime/node-config.ts";
import { formatBytes } from "../src/core/format-bytes.ts";
import { collectAws, collectLocal, describeCollection, openStoresOf } from "../src/runtime/node-gc.ts";

const usage = "usage: npm run gc -- [--dry-run] [--grace <duration: 0, 90s, 10m, 2h, 1d>]";

function parseDuration(text: string): number {
  const match = /^(\d+)(s|m|h|d)?$/.exec(text.trim());
  if (!match) throw new Error(`--grace ${JSON.stringify(text)} is not a duration (0, 90s, 10m, 2h, 1d)`);
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[(match[2] ?? "s") as "s" | "m" | "h" | "d"];
  return Number(match[1]) * unit * 1000;
}

let options;
try {
  options = parseArgs({ options: { "dry-run": { type: "boolean" }, grace: { type: "string" }, help: { type: "boolean", short: "h" } } }).values;
} catch (error) {
  console.error(`${(error as Error).message}\n${usage}`);
  process.exit(2);
}
if (options.help) {
  console.log(usage);
  process.exit(0);
}

let config;
let graceMs: number | undefined;
try {
  config = loadConfig();
  graceMs = options.grace === undefined ? undefined : parseDuration(options.grace);
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : (error as Error).message);
  process.exit(2);
}
const { local: metadata, aws } = await openStoresOf(config).catch((error: unknown) => {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(2);
});
const dataDir = resolve(config.dataDir);
const started = Date.now();
let lastLine = 0;
const where = aws ? `S3 bucket ${config.s3Bucket} and DynamoDB table ${config.dynamodbTable}` : dataDir;
console.error(`collecting garbage in ${where}${options["dry-run"] ? " (dry run: nothing is changed)" : ""}, grace ${graceMs === undefined ? `${config.gcGraceSeconds} s` : `${graceMs / 1000} s`}`);
try {
  const collect = aws ? (o: Parameters<typeof collectLocal>[2]) => collectAws(config, aws, o) : (o: Parameters<typeof collectLocal>[2]) => collectLocal(config, metadata!.store, o);
  const result = await collect({
    dryRun: options["dry-run"] ?? false,
    ...(graceMs === undefined ? {} : { graceMs }),
    progress: (report) => {
      if (Date.now() - lastLine < 2000) return;
      lastLine = Date.now();
      console.error(
        `  … ${report.orphanLinksRemoved} links, ${report.blobsMarked} marked, ${report.blobsDeleted} blobs (${formatBytes(report.bytesFreed)}) so far, ${Math.round((Date.now() - started) / 1000)} s`,
      );
    },
  });
  for (const { repository, tag } of result.retention.tags) console.log(`  retention: ${options["dry-run"] ? "would delete" : "deleted"} tag ${repository}:${tag}`);
  for (const { repository, digest } of result.retention.manifests) console.log(`  retention: ${options["dry-run"] ? "would delete" : "deleted"} untagged manifest ${repository}@${digest}`);
  for (const problem of result.collection.problems) console.error(`  problem: ${problem}`);
  console.log(`${describeCollection(result)} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
} catch (error) {
  console.error(`garbage collection failed: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  metadata?.close();
}
