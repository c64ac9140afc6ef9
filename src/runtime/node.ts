/**
 * Node entry point: the embedded registry on local disk, or on S3 and
 * DynamoDB (BACKEND=aws, for container hosts). Reads configuration, builds
 * the adapters, serves the app. No registry rules here.
 */
import { serve } from "@hono/node-server";
import { readFileSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { FilesystemBlobStore } from "../adapters/filesystem/blob-store.ts";
import { FilesystemMetadataStore } from "../adapters/filesystem/metadata-store.ts";
import { hashWasm } from "../adapters/hash-wasm.ts";
import type { AwsStores } from "./aws-stores.ts";
import { type Auth, AuthConfigError, createAuth } from "../auth/service.ts";
import { ConfigError, resolveConfig, type RegistryConfig } from "../config/schema.ts";
import { createApp } from "../http/app.ts";
import { Registry } from "../core/registry.ts";

function loadConfig(): RegistryConfig {
  const path = process.env.REGISTRY_CONFIG;
  let file: Record<string, unknown> = {};
  if (path) {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (error) {
      throw new ConfigError([`REGISTRY_CONFIG=${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? "error"}): is the path right?`]);
    }
    try {
      file = JSON.parse(text) as Record<string, unknown>;
    } catch (error) {
      // Where, not what: V8 quotes the text around a syntax error, and the file may hold secrets (auth).
      const where = /at position \d+( \(line \d+ column \d+\))?/.exec((error as Error).message)?.[0] ?? "";
      throw new ConfigError([`REGISTRY_CONFIG=${path} is not valid JSON: syntax error ${where}`.trim()]);
    }
  }
  return resolveConfig(file, { ...process.env, AUTH_CONFIG: process.env.AUTH_CONFIG ?? readAuthConfigFile() });
}

/** AUTH_CONFIG_FILE: the auth section in a file of its own (e.g. a mounted secret). */
function readAuthConfigFile(): string | undefined {
  const path = process.env.AUTH_CONFIG_FILE;
  if (!path) return undefined;
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError([`AUTH_CONFIG_FILE=${path} could not be read: ${(error as NodeJS.ErrnoException).code ?? "error"}`]);
  }
}

async function main(): Promise<void> {
  let config: RegistryConfig;
  let auth: Auth | undefined;
  try {
    config = loadConfig();
    // No signing key configured: a throwaway one, with a warning (fine for one process, trying things out).
    if (config.auth) auth = await createAuth(config.auth, { ephemeralKeyIfNone: true, warn: (message) => console.warn(message) });
  } catch (error) {
    console.error(error instanceof ConfigError || error instanceof AuthConfigError ? error.message : error);
    process.exit(2);
  }
  const dataDir = resolve(config.dataDir);
  if (config.backend !== "aws") await assertWritableDirectory(dataDir);
  // Imported only for BACKEND=aws: the AWS SDK adds ~11 MiB to the memory of every process that loads it.
  const awsModule = config.backend === "aws" ? await import("./aws-stores.ts") : null;
  const aws: AwsStores | null = awsModule ? awsModule.awsStores(config) : null;
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
  const app = createApp(registry, { ...redirects, ...(auth ? { auth } : {}) });
  const server = serve({ fetch: app.fetch, hostname: config.host, port: config.port }, (info) => {
    console.log(`registry listening on http://${info.address}:${info.port} with ${awsModule ? awsModule.describeAwsStores(config) : `data in ${dataDir}`}`);
    console.log(auth ? `token auth on: service "${auth.service}", token endpoint ${auth.realm ?? `http://${info.address}:${info.port}/token`}` : "no auth configured: every caller may pull, push and delete");
  });
  server.on("error", (error: NodeJS.ErrnoException) => {
    const reason = error.code === "EADDRINUSE" ? "the address is already in use (set PORT or HOST)" : error.message;
    console.error(`cannot listen on ${config.host}:${config.port}: ${reason}`);
    process.exit(2);
  });
  // Large layers stream for minutes; Node's default 5-minute request timeout would cut them off.
  if ("requestTimeout" in server) server.requestTimeout = 0;

  const sweep = setInterval(() => {
    registry.uploads.expire(config.uploadTtlSeconds * 1000, { maxBatches: 100 }).catch((error: unknown) => console.error("upload expiry failed:", error));
  }, 60 * 60 * 1000);
  sweep.unref();

  const stop = () => server.close(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

/** Fails at start-up, not on the first push, when DATA_DIR cannot hold data. */
async function assertWritableDirectory(dir: string): Promise<void> {
  const probe = join(dir, `.write-probe-${process.pid}`);
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(probe, "");
    await rm(probe);
  } catch (error) {
    console.error(`DATA_DIR ${dir} is not a writable directory (${(error as NodeJS.ErrnoException).code ?? "error"}); set DATA_DIR or dataDir to one that is`);
    process.exit(2);
  }
}

void main();
