/**
 * The pull-through cache through the Lambda handler itself (src/runtime/lambda.ts), behind the
 * local Function URL stand-in (test/aws/local/function-url-front.ts: bodies buffered whole, 6 MB
 * events), on S3 (Ceph RGW) and DynamoDB (dynalite): the same cases as on Node, the Worker and
 * `BACKEND=aws` (test/proxy/mirror-suite.ts). The Lambda caches a missing blob whole, verifies
 * it, then redirects the client to S3.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { provisionRegistry } from "./local/provision.ts";
import { waitFor } from "./local/processes.ts";
import { ctrPullsThroughHostsToml } from "../proxy/ctr-mirror.ts";
import { mirrorSuite } from "../proxy/mirror-suite.ts";

mirrorSuite("AWS Lambda (Function URL, S3 + DynamoDB, blob GETs redirected to S3)", async (mirrors) => {
  const child = spawn(process.execPath, ["test/aws/local/function-url-front.ts"], {
    env: { ...process.env, ...(await provisionRegistry("mirror-lambda")), MIRRORS: mirrors, PORT: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const stop = async () => {
    if (child.exitCode !== null) return;
    child.kill("SIGTERM");
    await once(child, "exit");
  };
  const url = await waitFor("the Function URL front to listen", 30_000, async () => {
    if (child.exitCode !== null) throw new Error(`it exited with ${child.exitCode}:\n${output}`);
    return /function URL front listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
  }).catch(async (error: unknown) => {
    await stop();
    throw error;
  });
  return { url, port: Number(new URL(url).port), stop };
}, ctrPullsThroughHostsToml);
