/**
 * Local S3 (Ceph RGW) and DynamoDB (dynalite) for tests, CI and trying the
 * AWS backend by hand:
 *
 *   npm run aws:local -- start [DIR]   starts both, prints `export ...` lines (also in DIR/env)
 *   npm run aws:local -- stop DIR      stops them and removes DIR
 *
 *   dir=$(mktemp -d); eval "$(npm run -s aws:local -- start "$dir")"; ...; npm run -s aws:local -- stop "$dir"
 */
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { missingCephCommands } from "./ceph-rgw.ts";
import { startLocalAws, stopLocalAws } from "./servers.ts";

async function main(): Promise<void> {
  const [command, dirArg] = process.argv.slice(2);
  if (command === "start") {
    const missing = missingCephCommands();
    if (missing.length > 0) throw new Error(`missing ${missing.join(", ")}: apt-get install --no-install-recommends ceph-mon ceph-osd radosgw`);
    const dir = dirArg ?? (await mkdtemp(join(tmpdir(), "registry-aws-")));
    const started = Date.now();
    await startLocalAws(dir);
    process.stdout.write(await readFile(join(dir, "env"), "utf8"));
    process.stdout.write(`export LOCAL_AWS_DIR=${dir}\n`);
    console.error(`local S3 (Ceph RGW) and DynamoDB (dynalite) up in ${((Date.now() - started) / 1000).toFixed(1)} s; state in ${dir}`);
  } else if (command === "stop" && dirArg) {
    await stopLocalAws(dirArg);
  } else {
    console.error("usage: cli.ts start [DIR] | stop DIR");
    process.exitCode = 2;
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
