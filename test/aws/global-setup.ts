/**
 * Starts Ceph RGW and dynalite once for `npm run test:aws`, and the Node
 * server (`npm start`'s entry point) over them with BACKEND=aws, which the
 * spec suite then runs against (REGISTRY_URL, REGISTRY_TARGETS=remote). The
 * settings reach the test files through the environment. When Ceph is not
 * installed nothing starts, and every test that needs the servers fails with
 * the reason (test/aws/support.ts, test/support/targets.ts): never a silent skip.
 */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { missingCephCommands } from "./local/ceph-rgw.ts";
import { startNodeRegistry } from "./local/node-registry.ts";
import { provisionRegistry } from "./local/provision.ts";
import { startLocalAws, stopLocalAws } from "./local/servers.ts";

export default async function setup(): Promise<() => Promise<void>> {
  // The spec suite runs only against the server started here (when it cannot start, that fails loudly).
  process.env.REGISTRY_TARGETS = "remote";
  const missing = missingCephCommands();
  if (missing.length > 0) {
    process.env.LOCAL_AWS_PROBLEM = `Ceph RGW cannot start: ${missing.join(", ")} not on PATH. Install it with: apt-get install --no-install-recommends ceph-mon ceph-osd radosgw`;
    return async () => {};
  }
  const dir = await mkdtemp(join(tmpdir(), "registry-aws-test-"));
  const started = Date.now();
  const aws = await startLocalAws(dir);
  try {
    Object.assign(process.env, aws.env);
    // Blob GETs are served, not redirected, so the suite sees the registry's own headers on them;
    // redirects are covered by test/aws/lambda.test.ts and the e2e run (npm run test:e2e:aws).
    const server = await startNodeRegistry(await provisionRegistry("spec"));
    process.env.REGISTRY_URL = server.url;
    console.log(
      `local S3 (Ceph RGW) at ${aws.env.S3_ENDPOINT}, DynamoDB (dynalite) at ${aws.env.DYNAMODB_ENDPOINT}, ` +
        `the Node registry on them at ${server.url}: up in ${Date.now() - started} ms`,
    );
    return async () => {
      await server.stop();
      await stopLocalAws(dir);
    };
  } catch (error) {
    await stopLocalAws(dir);
    throw error;
  }
}
