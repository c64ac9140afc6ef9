/**
 * Node entry point: the embedded registry on local disk, or on S3 and
 * DynamoDB (BACKEND=aws, for container hosts). Reads configuration, prepares
 * DATA_DIR, then serves from one process (PROCESSES=1) or from one worker per
 * core (node-cluster.ts). No registry rules here.
 */
import cluster from "node:cluster";
import { resolve } from "node:path";
import { generateSigningJwk } from "../auth/keys.ts";
import { type Auth, AuthConfigError, createAuth } from "../auth/service.ts";
import { prepareLocalMetadata, withDatabase } from "../adapters/sqlite/open.ts";
import { SqliteAuthState } from "../adapters/sqlite/auth-state.ts";
import type { AuthStateStore } from "../auth/auth-state.ts";
import { processOwner, registerInstance, releaseClaims, unregisterInstance } from "../adapters/sqlite/instances.ts";
import { ConfigError, type RegistryConfig } from "../config/schema.ts";
import type { JWK } from "jose";
import type { Logger } from "../observability/log.ts";
import { clusterMetrics } from "../observability/prometheus.ts";
import { awaitSetup, metricsFromPrimary, onReloadRequest, report, runPrimary } from "./node-cluster.ts";
import { DataDirectoryError, prepareDataDirectory } from "./data-directory.ts";
import { nodeLogger } from "./node-log.ts";
import { prepareReload, ReloadRefused } from "./node-reload.ts";
import { readTlsFiles, TlsError, type TlsFiles } from "./node-tls.ts";
import type { RunningServer } from "./node-server.ts";
import { loadConfig, processCount } from "./node-config.ts";
import { serveRegistry } from "./node-server.ts";
import { stopOnSignals } from "./node-shutdown.ts";

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
    return await createAuth(config.auth, { state: await authState(config) });
  } catch (error) {
    console.error(error instanceof AuthConfigError ? error.message : error);
    process.exit(2);
  }
}

function tlsOrExit(config: RegistryConfig): TlsFiles | null {
  try {
    return readTlsFiles(config);
  } catch (error) {
    console.error(error instanceof TlsError ? error.message : error);
    process.exit(2);
  }
}

/**
 * SIGHUP in a serving process: the new users, robots, rules, keys and certificate, or,
 * when anything is wrong, the reason logged and the old ones kept (node-reload.ts).
 */
function reloader(server: RunningServer, auth: Auth | undefined, tls: boolean, logger: Logger, ephemeralJwk?: JWK): () => void {
  let running: Promise<void> = Promise.resolve();
  const reload = async () => {
    try {
      const next = await prepareReload({ ...(auth ? { auth } : {}), tls }, ephemeralJwk);
      if (auth && next.auth) auth.adopt(next.auth);
      if (next.tls) server.replaceTls(next.tls);
      logger.log("info", "configuration reloaded", { pid: process.pid, auth: Boolean(next.auth), tls: Boolean(next.tls) });
    } catch (error) {
      logger.log("error", error instanceof ReloadRefused ? error.message : `configuration reload failed: ${String(error)}`, { pid: process.pid });
    }
  };
  // One at a time, in order: the last signal's configuration wins.
  return () => void (running = running.then(reload));
}

/**
 * Failed logins and used refresh tokens, shared by every process: in DATA_DIR's SQLite database,
 * or the DynamoDB table with BACKEND=aws.
 */
async function authState(config: RegistryConfig): Promise<AuthStateStore> {
  if (config.backend !== "aws") return new SqliteAuthState(resolve(config.dataDir));
  const { awsAuthState } = await import("./aws-stores.ts");
  return awsAuthState(config);
}

function announce(config: RegistryConfig, auth: boolean) {
  return (address: string, port: number, description: string) => {
    console.log(`registry listening on ${config.tlsCert ? "https" : "http"}://${address}:${port} with ${description}`);
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
  try {
    await prepareDataDirectory(dir);
  } catch (error) {
    console.error(error instanceof DataDirectoryError ? error.message : error);
    process.exit(2);
  }
}

async function main(): Promise<void> {
  const config = configOrExit();

  if (cluster.isWorker) {
    const setup = await awaitSetup();
    if (setup.ephemeralJwk && config.auth) config.auth = { ...config.auth, signingKeys: [{ jwk: setup.ephemeralJwk }] };
    const auth = await authOrExit(config);
    const logger = nodeLogger(config);
    const tls = tlsOrExit(config);
    const server = await serveRegistry(config, {
      ...(auth ? { auth } : {}),
      logger,
      tls,
      clusterMetrics: metricsFromPrimary,
      sweeps: setup.sweeps,
      onListening: (address, port, description) => report({ type: "listening", address, port, description }),
      onListenError: (message) => {
        report({ type: "listen-error", message });
        process.exit(2);
      },
    });
    const reload = reloader(server, auth, tls !== null, logger, setup.ephemeralJwk);
    onReloadRequest(reload);
    // Also when the whole process group is signalled (a terminal closing); Node's default would exit.
    process.on("SIGHUP", reload);
    // The primary prints the one line; a worker speaks only when it has to cut requests off.
    stopOnSignals(server, { graceSeconds: config.shutdownGraceSeconds, name: `registry process ${process.pid}` });
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
  const tls = tlsOrExit(config);
  const logger = nodeLogger(config);
  await prepare(config);
  if (ephemeralJwk) console.warn(EPHEMERAL_KEY_WARNING);

  const local = config.backend === "aws" ? null : resolve(config.dataDir);
  const forget = () => {
    if (local) withDatabase(local, (db) => unregisterInstance(db, processOwner()));
  };
  if (count > 1) {
    runPrimary(count, {
      graceSeconds: config.shutdownGraceSeconds,
      ...(ephemeralJwk ? { ephemeralJwk } : {}),
      announce: announce(config, auth !== undefined),
      onWorkerExit: (pid) => {
        if (local) withDatabase(local, (db) => releaseClaims(db, processOwner(pid)));
      },
      onExit: forget,
      metrics: clusterMetrics(),
      // Checked once here, so a refusal is logged once; each worker then reads the files itself.
      checkReload: () =>
        prepareReload({ ...(auth ? { auth } : {}), tls: tls !== null }, ephemeralJwk).then(
          () => true,
          (error: unknown) => {
            logger.log("error", error instanceof ReloadRefused ? error.message : `configuration reload failed: ${String(error)}`, { pid: process.pid });
            return false;
          },
        ),
    });
    return;
  }
  const server = await serveRegistry(config, {
    ...(auth ? { auth } : {}),
    logger,
    tls,
    sweeps: true,
    onListening: (address, port, description) => announce(config, auth !== undefined)(address, port, `${description}, 1 process`),
    onListenError: (message) => {
      console.error(message);
      process.exit(2);
    },
  });
  stopOnSignals(server, {
    graceSeconds: config.shutdownGraceSeconds,
    name: `registry process ${process.pid}`,
    announce: (signal) => `${signal}: stopping; requests in flight finish first (at most ${config.shutdownGraceSeconds} s)`,
    onStopped: forget,
  });
  process.on("SIGHUP", reloader(server, auth, tls !== null, logger, ephemeralJwk));
}

void main();
