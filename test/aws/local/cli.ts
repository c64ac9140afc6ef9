/**
 * Local S3 (Ceph RGW), DynamoDB (dynalite) and SQS (fauxqs) for tests, CI and
 * trying the AWS backend by hand:
 *
 *   npm run aws:local -- start [DIR]   starts them, creates a bucket and a table named
 *                                      "registry" and a queue "registry-events", prints
 *                                      `export ...` lines (also in DIR/env)
 *   npm run aws:local -- stop DIR      stops them and removes DIR
 *
 *   eval "$(npm run -s aws:local -- start)"    # exports BACKEND=aws, S3_*, DYNAMODB_*, AWS_*, EVENTS_QUEUE_URL,
 *                                              # LOCAL_SQS_ENDPOINT, LOCAL_AWS_DIR;
 *                                              # fails (status 1) with the reason when it cannot
 *   npm start                                  # the registry on the local S3 and DynamoDB
 *   npm run -s aws:local -- stop "$LOCAL_AWS_DIR"
 */
import { appendFile, mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { missingCephCommands } from "./ceph-rgw.ts";
import { provisionRegistry } from "./provision.ts";
import { startLocalAws, stopLocalAws } from "./servers.ts";

async function main(): Promise<void> {
  const [command, dirArg] = process.argv.slice(2);
  if (command === "start") {
    const missing = missingCephCommands();
    if (missing.length > 0) throw new Error(`missing ${missing.join(", ")}: apt-get install --no-install-recommends ceph-mon ceph-osd radosgw`);
    const dir = dirArg ?? (await mkdtemp(join(tmpdir(), "registry-aws-")));
    const started = Date.now();
    const aws = await startLocalAws(dir);
    try {
      Object.assign(process.env, aws.env);
      const settings = { ...(await provisionRegistry("registry")), LOCAL_AWS_DIR: dir };
      await appendFile(join(dir, "env"), Object.entries(settings).map(([name, value]) => `export ${name}=${value}\n`).join(""));
    } catch (error) {
      await stopLocalAws(dir);
      throw error;
    }
    process.stdout.write(await readFile(join(dir, "env"), "utf8"));
    console.error(`local S3 (Ceph RGW), DynamoDB (dynalite) and SQS (fauxqs) up in ${((Date.now() - started) / 1000).toFixed(1)} s; state in ${dir}`);
  } else if (command === "stop" && dirArg) {
    await stopLocalAws(dirArg);
  } else {
    console.error("usage: cli.ts start [DIR] | stop DIR");
    process.exitCode = 2;
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  // `eval "$(… start)"` takes the status of what it evaluates, not of this process: give it a
  // failing command, so the shell (and `set -e`) sees the failure instead of exporting nothing.
  if (process.argv[2] === "start") process.stdout.write("false\n");
  process.exitCode = 1;
});
