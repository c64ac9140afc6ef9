/**
 * Starts Ceph RGW and dynalite once for `npm run test:aws` and hands their
 * settings to the test files through the environment. When Ceph is not
 * installed nothing starts, and every test that needs the servers fails with
 * the reason (test/aws/support.ts): never a silent skip.
 */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { missingCephCommands } from "./local/ceph-rgw.ts";
import { startLocalAws, stopLocalAws } from "./local/servers.ts";

export default async function setup(): Promise<() => Promise<void>> {
  const missing = missingCephCommands();
  if (missing.length > 0) {
    process.env.LOCAL_AWS_PROBLEM = `Ceph RGW cannot start: ${missing.join(", ")} not on PATH. Install it with: apt-get install --no-install-recommends ceph-mon ceph-osd radosgw`;
    return async () => {};
  }
  const dir = await mkdtemp(join(tmpdir(), "registry-aws-test-"));
  const started = Date.now();
  const aws = await startLocalAws(dir);
  Object.assign(process.env, aws.env);
  console.log(`local S3 (Ceph RGW) at ${aws.env.S3_ENDPOINT} and DynamoDB (dynalite) at ${aws.env.DYNAMODB_ENDPOINT}, up in ${Date.now() - started} ms`);
  return () => stopLocalAws(dir);
}
