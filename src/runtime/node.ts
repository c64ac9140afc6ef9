/**
 * Node entry point: the embedded registry on local disk, or on S3 and
 * DynamoDB (BACKEND=aws, for container hosts). Reads configuration, builds
 * the adapters, serves the app. No registry rules here.
 */
import { serve } from "@hono/node-server";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { FilesystemBlobStore } from "../adapters/filesystem/blob-store.ts";
import { FilesystemMetadataStore } from "../adapters/filesystem/metadata-store.ts";
import { hashWasm } from "../adapters/hash-wasm.ts";
import { awsStores, describeAwsStores } from "./aws-stores.ts";
import { ConfigError, resolveConfig, type RegistryConfig } from "../config/schema.ts";
import { createApp } from "../http/app.ts";
import { Registry } from "../core/registry.ts";

function loadConfig(): RegistryConfig {
  const path = process.env.REGISTRY_CONFIG;
  let file: Record<string, unknown> = {};
  if (path) {
    try {
      file = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
    } catch (error) {
      throw new ConfigError([`REGISTRY_CONFIG=${path} could not be read as JSON: ${(error as Error).message}`]);
    }
  }
  return resolveConfig(file, process.env);
}

function main(): void {
  let config: RegistryConfig;
  try {
    config = loadConfig();
  } catch (error) {
    console.error(error instanceof ConfigError ? error.message : error);
    process.exit(2);
  }
  const dataDir = resolve(config.dataDir);
  const aws = config.backend === "aws" ? awsStores(config) : null;
  const options = {
    blobs: aws?.blobs ?? new FilesystemBlobStore(join(dataDir, "blobs")),
    metadata: aws?.metadata ?? new FilesystemMetadataStore(join(dataDir, "metadata")),
    hashing: hashWasm,
    partSize: config.partSize,
    maxManifestBytes: config.maxManifestBytes,
    automaticMount: config.automaticMount,
  };
  const registry = new Registry(options);
  const redirects = aws && config.blobRedirects ? { blobReadRedirects: { signer: aws.blobs, expiresInSeconds: config.blobRedirectTtlSeconds } } : {};
  const app = createApp(registry, redirects);
  const server = serve({ fetch: app.fetch, hostname: config.host, port: config.port }, (info) => {
    console.log(`registry listening on http://${info.address}:${info.port} with ${aws ? describeAwsStores(config) : `data in ${dataDir}`}`);
  });
  // Large layers stream for minutes; Node's default 5-minute request timeout would cut them off.
  if ("requestTimeout" in server) server.requestTimeout = 0;

  const sweep = setInterval(() => {
    registry.uploads.expire(config.uploadTtlSeconds * 1000).catch((error: unknown) => console.error("upload expiry failed:", error));
  }, 60 * 60 * 1000);
  sweep.unref();

  const stop = () => server.close(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

main();
