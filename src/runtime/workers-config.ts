import { ConfigError, resolveConfig, type RegistryConfig } from "../config/schema.ts";

/** Settings of the Workers deployment: `[vars]` in wrangler.toml (or the dashboard). */
export interface WorkersVars {
  MAX_REQUEST_BYTES?: string;
  PART_SIZE?: string;
  MAX_MANIFEST_BYTES?: string;
  AUTOMATIC_MOUNT?: string;
  UPLOAD_TTL_SECONDS?: string;
  /** JSON: [{"repositories": ["team/*"], "tags": ["v*"]}]. */
  IMMUTABLE_TAGS?: string;
  GC_GRACE_SECONDS?: string;
  /** JSON: [{"repositories": ["team/*"], "keepLastTags": 20, "untaggedAfterSeconds": 604800, "protectTags": ["latest"]}]. */
  RETENTION?: string;
  /** The origin clients use (https://registry.example.com): the token realm's base. Unset: each request's Host. */
  PUBLIC_URL?: string;
  /** JSON: {"team": 10737418240}, most bytes each namespace may store. */
  QUOTAS?: string;
  /** Seconds blobs and manifests by digest stay in each location's Cache API; 0 or unset: not cached (README "Edge caching"). */
  EDGE_CACHE_SECONDS?: string;
}

/** Secrets of the Workers deployment: `wrangler secret put NAME` (`.dev.vars` for wrangler dev). */
export interface WorkersSecrets {
  /** The auth section as JSON (docs/auth.md); absent: the registry is open to every caller. */
  AUTH_CONFIG?: string;
  /** Pull-through mirrors as JSON (README "Pull-through cache"); a secret because it may hold upstream credentials. */
  MIRRORS?: string;
  /** Webhook endpoints as JSON (README "Events and audit"); a secret because it holds signing secrets. Needs the REGISTRY_EVENTS queue. */
  NOTIFICATIONS?: string;
}

export interface WorkersConfig extends Pick<RegistryConfig, "partSize" | "maxManifestBytes" | "automaticMount" | "uploadTtlSeconds" | "immutableTags" | "gcGraceSeconds" | "retention" | "quotas" | "auth"> {
  /** How long content by digest stays in each location's Cache API, when edge caching is on. */
  edgeCacheSeconds?: number;
  /** RegistryConfig.notifications, when it has endpoints (the NOTIFICATIONS secret). */
  notifications?: RegistryConfig["notifications"];
  /** RegistryConfig.mirrors, when any (the MIRRORS secret). */
  mirrors?: RegistryConfig["mirrors"];
  /** Largest request body Cloudflare lets through on the zone's plan; larger uploads get a 413 that says how to chunk. */
  maxRequestBytes: number;
  /** RegistryConfig.publicUrl, when set. */
  publicUrl?: string;
}

/** Cloudflare's request body limit on Free and Pro zones (Business 200 MB, Enterprise 500 MB). */
export const DEFAULT_MAX_REQUEST_BYTES = 100 * 1000 * 1000;

/**
 * A Worker has 128 MB of memory, and an upload holds about three parts at
 * once (one filling, two being written), so parts stay well below that.
 */
export const MAX_WORKERS_PART_SIZE = 32 * 1024 * 1024;

/**
 * Validates the vars and the AUTH_CONFIG secret, reporting every mistake at
 * once (the shared schema, plus what only Workers have). Messages name
 * settings, never the secret's text.
 */
export function resolveWorkersConfig(vars: WorkersVars, secrets: WorkersSecrets = {}): WorkersConfig {
  const problems: string[] = [];
  let shared: RegistryConfig | undefined;
  try {
    const { PART_SIZE, MAX_MANIFEST_BYTES, AUTOMATIC_MOUNT, UPLOAD_TTL_SECONDS, IMMUTABLE_TAGS, GC_GRACE_SECONDS, RETENTION, PUBLIC_URL, QUOTAS } = vars;
    shared = resolveConfig({}, { PART_SIZE, MAX_MANIFEST_BYTES, AUTOMATIC_MOUNT, UPLOAD_TTL_SECONDS, IMMUTABLE_TAGS, GC_GRACE_SECONDS, RETENTION, PUBLIC_URL, QUOTAS, AUTH_CONFIG: secrets.AUTH_CONFIG, MIRRORS: secrets.MIRRORS, NOTIFICATIONS: secrets.NOTIFICATIONS });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.message.split("\n  - ").slice(1));
  }
  if (vars.PART_SIZE !== undefined && /^\d+$/.test(vars.PART_SIZE) && Number(vars.PART_SIZE) > MAX_WORKERS_PART_SIZE) {
    problems.push(`partSize (env PART_SIZE) must be at most ${MAX_WORKERS_PART_SIZE} on Workers (128 MB of memory), not ${vars.PART_SIZE}`);
  }
  const raw = vars.MAX_REQUEST_BYTES;
  const maxRequestBytes = raw === undefined ? DEFAULT_MAX_REQUEST_BYTES : /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(maxRequestBytes) || maxRequestBytes < 1024 * 1024) {
    problems.push(`MAX_REQUEST_BYTES must be an integer of at least 1048576 (Cloudflare's limit for the zone's plan: 100000000 on Free and Pro), not ${JSON.stringify(raw)}`);
  }
  const edgeRaw = vars.EDGE_CACHE_SECONDS;
  const edgeCacheSeconds = edgeRaw === undefined || edgeRaw === "" ? 0 : /^\d+$/.test(edgeRaw) ? Number(edgeRaw) : NaN;
  if (!Number.isSafeInteger(edgeCacheSeconds) || edgeCacheSeconds > 365 * 24 * 60 * 60) {
    problems.push(`EDGE_CACHE_SECONDS must be a whole number of seconds up to one year (0: no edge caching), not ${JSON.stringify(edgeRaw)}`);
  }
  // Never a throwaway key here: each isolate would sign with its own, and tokens would fail at random.
  if (shared?.auth && shared.auth.signingKeys.length === 0) {
    problems.push("auth.signingKeys (secret AUTH_CONFIG) is empty: a Worker needs a lasting key every isolate shares (`npm run auth:keygen` prints one)");
  }
  if (problems.length > 0 || !shared) throw new ConfigError(problems);
  const { partSize, maxManifestBytes, automaticMount, uploadTtlSeconds, immutableTags, gcGraceSeconds, retention, quotas, auth, publicUrl, mirrors, notifications } = shared;
  return {
    partSize,
    maxManifestBytes,
    automaticMount,
    uploadTtlSeconds,
    immutableTags,
    gcGraceSeconds,
    retention,
    quotas,
    maxRequestBytes,
    ...(notifications.endpoints.length > 0 ? { notifications } : {}),
    ...(mirrors.length > 0 ? { mirrors } : {}),
    ...(edgeCacheSeconds > 0 ? { edgeCacheSeconds } : {}),
    ...(auth ? { auth } : {}),
    ...(publicUrl ? { publicUrl } : {}),
  };
}
