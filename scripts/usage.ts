/**
 * `npm run usage`: stored bytes per namespace and repository, with `npm start`'s settings
 * (local disk, or BACKEND=aws). A layer shared by several repositories counts once per
 * namespace and once overall (src/lifecycle/usage.ts).
 *
 *   npm run usage               # a table
 *   npm run usage -- --json     # the report as JSON
 */
import { parseArgs } from "node:util";
import { ConfigError } from "../src/config/schema.ts";
import { measureUsage } from "../src/lifecycle/usage.ts";
import { loadConfig } from "../src/runtime/node-config.ts";
import { formatBytes } from "../src/core/format-bytes.ts";
import { openStoresOf } from "../src/runtime/node-gc.ts";

const { values } = parseArgs({ options: { json: { type: "boolean" } } });
let config;
try {
  config = loadConfig();
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : (error as Error).message);
  process.exit(2);
}
const { local, aws } = await openStoresOf(config).catch((error: unknown) => {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(2);
});
try {
  const report = await measureUsage(aws ? aws.metadata : local!.store);
  if (values.json) {
    console.log(JSON.stringify(report, null, 2));
  } else {
    console.log(`${formatBytes(report.totalBytes)} in ${report.blobs} blobs and manifests (each counted once)`);
    console.log("\nnamespace                         repositories        stored");
    for (const n of report.namespaces) console.log(`${n.name.padEnd(34)}${String(n.repositories).padStart(12)}${formatBytes(n.bytes).padStart(14)}`);
    console.log("\nrepository                                              stored");
    for (const r of report.repositories) console.log(`${r.name.padEnd(46)}${formatBytes(r.bytes).padStart(14)}`);
  }
} finally {
  local?.close();
}
