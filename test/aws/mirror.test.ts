/**
 * The pull-through cache on S3 (Ceph RGW) and DynamoDB (dynalite), with blob GETs
 * redirected to presigned S3 URLs as on Lambda: a blob the mirror lacks is cached whole,
 * verified, then redirected to. The same cases as on Node and Workers (test/proxy).
 */
import { provisionRegistry } from "./local/provision.ts";
import { startNodeRegistry } from "./local/node-registry.ts";
import { ctrPullsThroughHostsToml } from "../proxy/ctr-mirror.ts";
import { mirrorSuite } from "../proxy/mirror-suite.ts";

mirrorSuite("AWS (S3 + DynamoDB, blob GETs redirected to S3)", async (mirrors) => {
  const server = await startNodeRegistry({ ...(await provisionRegistry("mirror")), MIRRORS: mirrors, BLOB_REDIRECTS: "true", PROCESSES: "1" });
  return { url: server.url, port: Number(new URL(server.url).port), stop: server.stop };
}, ctrPullsThroughHostsToml);
