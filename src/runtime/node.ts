/**
 * Node entry point: the embedded registry on local disk, or on S3 and
 * DynamoDB (BACKEND=aws, for container hosts). Reads configuration, prepares
 * DATA_DIR, then serves from one process (PROCESSES=1) or from one worker per
 * core (node-cluster.ts). No registry rules here.
 */
import cluster from "node:cluster";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { generateSigningJwk } from "../auth/keys.ts";
import { type Auth, AuthConfigError, createAuth } from "../auth/service.ts";
import { prepareLocalMetadata, withDatabase } from "../adapters/sqlite/open.ts";
import { processOwner, registerInstance, releaseClaims, unregisterInstance } from "../adapters/sqlite/instances.ts";
import { ConfigError, type RegistryConfig } from "../config/schema.ts";
import { awaitSetup, report, runPrimary } from "./node-cluster.ts";
import { loadConfig, processCount } from "./node-config.ts";
import { serveRegistry } from "./node-server.ts";

const EPHEMERAL_KEY_WARNING =
  "auth: no signingKeys configured; signing with a throwaway ES256 key. Tokens stop working when the registry restarts. `npm run auth:keygen` makes a lasting key.";

function configOrExit(): RegistryConfig {
  try {
    return loadConfig();
  } catch (error) {
    console.error(error instanceof ConfigError ? error.message : error);
    process.exit(2);
  }
}

async function authOrExit(config: RegistryConfig): Promise<Auth | undefined> {
  if (!config.auth) return undefined;
  try {
    return await createAuth(config.auth);
  } catch (error) {
    console.error(error instanceof AuthConfigError ? error.message : error);
    process.exit(2);
  }
}

function announce(config: RegistryConfig, auth: boolean) {
  return (address: string, port: number, description: string) => {
    console.log(`registry listening on http://${address}:${port} with ${description}`);
    for (const mirror of config.mirrors) {
      console.log(`mirror ${mirror.namespace}/* -> ${mirror.url} (${mirror.username ? `as ${mirror.username}` : "anonymous"}; tags rechecked after ${mirror.tagFreshnessSeconds} s; read-only)`);
    }
    if (!auth) return console.log("no auth configured: every caller may pull, push and delete");
    const realm = config.auth!.realm ?? (config.publicUrl ? `${config.publicUrl}/token` : undefined);
    console.log(
      realm
        ? `token auth on: service "${config.auth!.service}", token endpoint ${realm}`
        : `token auth on: service "${config.auth!.service}", token endpoint <the request's Host>/token (e.g. http://${address}:${port}/token); ` +
            "set PUBLIC_URL (publicUrl) to the URL clients use, so that no request can choose the realm its challenge names",
    );
  };
}

/**
 * Runs once per start, before any process serves: DATA_DIR writable, database created, old
 * metadata imported, this registry registered among those running on DATA_DIR (and, when it
 * is the only one, the upload claims of processes that died released).
 */
async function prepare(config: RegistryConfig): Promise<void> {
  if (config.backend === "aws") return;
  const dataDir = resolve(config.dataDir);
  await assertWritableDirectory(dataDir);
  try {
    const released = withDatabase(dataDir, (db) => (registerInstance(db, processOwner()).alone ? releaseClaims(db, null) : 0));
    if (released > 0) console.log(`released ${released} upload claim(s) left by a registry process that stopped mid-request; those uploads resume at once`);
    const imported = prepareLocalMetadata(dataDir);
    if (imported) {
      console.log(
        `imported the JSON metadata of an earlier version into SQLite: ${imported.repositories} repositories, ${imported.manifests} manifests, ` +
          `${imported.tags} tags, ${imported.links} blob links, ${imported.blobs} blobs, ${imported.uploads} uploads; the old files are kept at ${imported.keptAt} (safe to delete)`,
      );
    }
  } catch (error) {
    console.error(`cannot prepare the metadata database in ${dataDir}: ${(error as Error).message}`);
    process.exit(2);
  }
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

async function main(): Promise<void> {
  const config = configOrExit();

  if (cluster.isWorker) {
    const setup = await awaitSetup();
    if (setup.ephemeralJwk && config.auth) config.auth = { ...config.auth, signingKeys: [{ jwk: setup.ephemeralJwk }] };
    const auth = await authOrExit(config);
    const server = await serveRegistry(config, {
      ...(auth ? { auth } : {}),
      sweeps: setup.sweeps,
      onListening: (address, port, description) => report({ type: "listening", address, port, description }),
      onListenError: (message) => {
        report({ type: "listen-error", message });
        process.exit(2);
      },
    });
    const stop = () => void server.close().then(() => process.exit(0));
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
    // The primary is gone (killed): no one would restart or stop this process.
    process.on("disconnect", () => process.exit(1));
    return;
  }

  const count = processCount(config);
  // No signing key configured: one throwaway key for every process, so any of them verifies any token.
  const ephemeralJwk = config.auth && config.auth.signingKeys.length === 0 ? await generateSigningJwk() : undefined;
  if (ephemeralJwk) config.auth = { ...config.auth!, signingKeys: [{ jwk: ephemeralJwk }] };
  // Built here even with workers: a bad key is reported once, before anything starts.
  const auth = await authOrExit(config);
  await prepare(config);
  if (ephemeralJwk) console.warn(EPHEMERAL_KEY_WARNING);

  const local = config.backend === "aws" ? null : resolve(config.dataDir);
  const forget = () => {
    if (local) withDatabase(local, (db) => unregisterInstance(db, processOwner()));
  };
  if (count > 1) {
    runPrimary(count, {
      ...(ephemeralJwk ? { ephemeralJwk } : {}),
      announce: announce(config, auth !== undefined),
      onWorkerExit: (pid) => {
        if (local) withDatabase(local, (db) => releaseClaims(db, processOwner(pid)));
      },
      onExit: forget,
    });
    return;
  }
  const server = await serveRegistry(config, {
    ...(auth ? { auth } : {}),
    sweeps: true,
    onListening: (address, port, description) => announce(config, auth !== undefined)(address, port, `${description}, 1 process`),
    onListenError: (message) => {
      console.error(message);
      process.exit(2);
    },
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping; requests in flight finish first (at most ${STOP_GRACE_SECONDS} s)`);
    // A client that stalls mid-request would otherwise hold the process forever.
    setTimeout(() => process.exit(0), STOP_GRACE_SECONDS * 1000).unref();
    void server.close().then(() => {
      forget();
      process.exit(0);
    });
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

const STOP_GRACE_SECONDS = 10;

void main();
