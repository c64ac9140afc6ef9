/**
 * The registry's configuration: one typed schema, validated at start-up.
 * A JSON file and environment variables both map onto it; the environment
 * wins, so a container can override one setting of a shared file.
 */
import { type AuthConfig, validateAuthConfig } from "../auth/config.ts";
import type { ImmutableTagRule } from "../core/patterns.ts";
import { type RetentionRule, retentionProblems } from "../lifecycle/retention.ts";
import { isLogLevel, LOG_LEVELS, type LogLevel } from "../observability/log.ts";
import { type MirrorConfig, parseMirrors } from "../proxy/mirror-config.ts";
import { type NotificationsConfig, parseNotifications } from "../observability/events/config.ts";

export interface RegistryConfig {
  /** Interface the Node server listens on. */
  host: string;
  /**
   * The origin clients reach this registry at (`https://registry.example.com`): the token
   * realm in challenges is `<publicUrl>/token` unless `auth.realm` says otherwise. Empty:
   * taken from each request's Host header, which whoever sends the request chooses.
   */
  publicUrl: string;
  /**
   * The split deployment (docs/aws.md): the origin of a server on the same stores that takes
   * upload bodies (`https://uploads.example.com`). Upload sessions started here answer an
   * absolute Location on it, so clients send their PATCH and PUT there. Empty: uploads stay here.
   */
  uploadUrl: string;
  port: number;
  /** Node processes serving the port (node:cluster); 1: one process. Default: one per CPU core. */
  processes: number;
  /** Where the filesystem backend keeps blobs and metadata. */
  dataDir: string;
  /** Multipart part size for chunked uploads, bytes (>= 5 MiB). */
  partSize: number;
  /** Largest manifest accepted, bytes. */
  maxManifestBytes: number;
  /** Mount without `from` links a blob the registry already holds. */
  automaticMount: boolean;
  /** Hash uploads with the native addon when it was built (npm install); false: WebAssembly. */
  nativeHashing: boolean;
  /** Uploads untouched for this long are aborted and their storage freed. */
  uploadTtlSeconds: number;
  /** How often the server collects garbage (filesystem backend); 0: never (run `npm run gc`). */
  gcIntervalSeconds: number;
  /** How long an unreferenced blob stays marked before its bytes are deleted. */
  gcGraceSeconds: number;
  /** On SIGTERM/SIGINT, how long requests in flight may take to finish before the process exits anyway (Node). */
  shutdownGraceSeconds: number;
  /** Where blobs and metadata live: local disk (`dataDir`), or S3 and DynamoDB (docs/aws.md). */
  backend: "filesystem" | "aws";
  /** The S3 bucket holding blobs and manifests (backend aws). */
  s3Bucket: string;
  /** Another S3 implementation's URL (Ceph RGW, MinIO); empty on AWS. */
  s3Endpoint: string;
  /** Bucket in the path, not the host name: most S3 implementations other than AWS need it. */
  s3ForcePathStyle: boolean;
  /** The DynamoDB table holding metadata (backend aws). */
  dynamodbTable: string;
  /** Another DynamoDB endpoint's URL (dynalite, DynamoDB Local); empty on AWS. */
  dynamodbEndpoint: string;
  /** Answer blob GETs with 307 to a presigned S3 URL, so the bytes bypass the registry (backend aws). */
  blobRedirects: boolean;
  /** How long those URLs stay valid. */
  blobRedirectTtlSeconds: number;
  /** Tags that never move to another digest once pushed, per repository pattern. */
  immutableTags: ImmutableTagRule[];
  /** What to delete on a schedule (lifecycle/retention.ts); garbage collection reclaims the bytes. */
  retention: RetentionRule[];
  /** Namespace → most bytes it may store (core/quotas.ts; every backend). */
  quotas: Record<string, number>;
  /** Pull-through mirrors of upstream registries (src/proxy/mirror-config.ts); each namespace is read-only. */
  mirrors: MirrorConfig[];
  /** Webhook endpoints that receive registry events (observability/events/config.ts). */
  notifications: NotificationsConfig;
  /** Backend aws: the SQS queue events wait in until the Lambda's consumer delivers them. */
  eventsQueueUrl: string;
  /** Token authentication (docs/auth.md); absent: the registry is open to every caller. */
  auth?: AuthConfig;
  /** Least severe log line written: debug, info (one line per request), warn, error. */
  logLevel: LogLevel;
  /** "auto": readable text when stdout is a terminal, JSON lines otherwise. */
  logFormat: "auto" | "json" | "text";
  /** Bearer token GET /metrics requires; empty: open without auth, refused with auth. */
  metricsToken: string;
  /** PEM certificate chain file for HTTPS on Node (with tlsKey); empty: plain HTTP. */
  tlsCert: string;
  /** PEM private key file for tlsCert. */
  tlsKey: string;
  /** A request body that sends no byte for this long while the registry waits for one is ended (408); 0: never (Node). */
  bodyTimeoutSeconds: number;
  /** Upload requests (blob POST/PATCH/PUT, manifest PUT) one Node process serves at once; more get 429. */
  maxUploads: number;
  /** The same, per client address. */
  maxUploadsPerClient: number;
}

export const defaultConfig: RegistryConfig = {
  host: "127.0.0.1",
  publicUrl: "",
  uploadUrl: "",
  port: 5000,
  processes: 0,
  dataDir: "./data",
  partSize: 8 * 1024 * 1024,
  maxManifestBytes: 4 * 1024 * 1024,
  automaticMount: true,
  nativeHashing: true,
  uploadTtlSeconds: 24 * 60 * 60,
  gcIntervalSeconds: 60 * 60,
  gcGraceSeconds: 60 * 60,
  shutdownGraceSeconds: 10,
  backend: "filesystem",
  s3Bucket: "",
  s3Endpoint: "",
  s3ForcePathStyle: false,
  dynamodbTable: "",
  dynamodbEndpoint: "",
  blobRedirects: false,
  blobRedirectTtlSeconds: 300,
  immutableTags: [],
  retention: [],
  quotas: {},
  mirrors: [],
  notifications: { endpoints: [] },
  eventsQueueUrl: "",
  auth: undefined,
  logLevel: "info",
  logFormat: "auto",
  metricsToken: "",
  tlsCert: "",
  tlsKey: "",
  bodyTimeoutSeconds: 60,
  maxUploads: 64,
  maxUploadsPerClient: 16,
};

/** Environment variable for each setting. */
export const environmentNames: Record<keyof RegistryConfig, string> = {
  host: "HOST",
  publicUrl: "PUBLIC_URL",
  uploadUrl: "UPLOAD_URL",
  port: "PORT",
  processes: "PROCESSES",
  dataDir: "DATA_DIR",
  partSize: "PART_SIZE",
  maxManifestBytes: "MAX_MANIFEST_BYTES",
  automaticMount: "AUTOMATIC_MOUNT",
  nativeHashing: "NATIVE_HASHING",
  uploadTtlSeconds: "UPLOAD_TTL_SECONDS",
  gcIntervalSeconds: "GC_INTERVAL_SECONDS",
  gcGraceSeconds: "GC_GRACE_SECONDS",
  shutdownGraceSeconds: "SHUTDOWN_GRACE_SECONDS",
  backend: "BACKEND",
  s3Bucket: "S3_BUCKET",
  s3Endpoint: "S3_ENDPOINT",
  s3ForcePathStyle: "S3_FORCE_PATH_STYLE",
  dynamodbTable: "DYNAMODB_TABLE",
  dynamodbEndpoint: "DYNAMODB_ENDPOINT",
  blobRedirects: "BLOB_REDIRECTS",
  blobRedirectTtlSeconds: "BLOB_REDIRECT_TTL_SECONDS",
  immutableTags: "IMMUTABLE_TAGS",
  retention: "RETENTION",
  quotas: "QUOTAS",
  mirrors: "MIRRORS",
  notifications: "NOTIFICATIONS",
  eventsQueueUrl: "EVENTS_QUEUE_URL",
  auth: "AUTH_CONFIG",
  logLevel: "LOG_LEVEL",
  logFormat: "LOG_FORMAT",
  metricsToken: "METRICS_TOKEN",
  tlsCert: "TLS_CERT",
  tlsKey: "TLS_KEY",
  bodyTimeoutSeconds: "BODY_TIMEOUT_SECONDS",
  maxUploads: "MAX_UPLOADS",
  maxUploadsPerClient: "MAX_UPLOADS_PER_CLIENT",
};

export class ConfigError extends Error {
  constructor(problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

type Source = Record<string, unknown>;

const INVALID = Symbol("invalid");

/** Merges defaults, a parsed config file and the environment; throws ConfigError listing every mistake. */
export function resolveConfig(file: Source, env: Record<string, string | undefined>): RegistryConfig {
  const problems: string[] = [];
  for (const key of Object.keys(file)) {
    if (!Object.hasOwn(defaultConfig, key)) problems.push(`unknown setting "${key}" in the config file (known: ${Object.keys(defaultConfig).join(", ")})`);
  }
  const config = { ...defaultConfig };
  const read = <K extends keyof RegistryConfig>(key: K): unknown => env[environmentNames[key]] ?? file[key] ?? defaultConfig[key];
  // Names where the value came from, so the operator edits the right place.
  const where = (key: keyof RegistryConfig) =>
    env[environmentNames[key]] !== undefined ? `${key} (env ${environmentNames[key]})` : file[key] !== undefined ? `${key} (config file)` : `${key} (env ${environmentNames[key]} or the config file)`;

  const text = (key: "host" | "dataDir") => {
    const value = read(key);
    if (typeof value !== "string" || value === "") problems.push(`${where(key)} must be a non-empty string`);
    else config[key] = value;
  };
  const optionalText = (key: "s3Bucket" | "s3Endpoint" | "dynamodbTable" | "dynamodbEndpoint") => {
    const value = read(key);
    if (typeof value !== "string") problems.push(`${where(key)} must be a string`);
    else config[key] = value;
  };
  const integer = (
    key:
      | "port"
      | "processes"
      | "partSize"
      | "maxManifestBytes"
      | "uploadTtlSeconds"
      | "gcIntervalSeconds"
      | "gcGraceSeconds"
      | "blobRedirectTtlSeconds"
      | "shutdownGraceSeconds"
      | "bodyTimeoutSeconds"
      | "maxUploads"
      | "maxUploadsPerClient",
    min: number,
    max: number,
  ) => {
    const raw = read(key);
    const value = typeof raw === "string" && /^\d+$/.test(raw) ? Number(raw) : raw;
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
      problems.push(`${where(key)} must be an integer from ${min} to ${max}, not ${JSON.stringify(raw)}`);
    } else config[key] = value;
  };
  const flag = (key: "automaticMount" | "nativeHashing" | "s3ForcePathStyle" | "blobRedirects") => {
    const raw = read(key);
    const value = raw === "true" || raw === "1" ? true : raw === "false" || raw === "0" ? false : raw;
    if (typeof value !== "boolean") problems.push(`${where(key)} must be true or false, not ${JSON.stringify(raw)}`);
    else config[key] = value;
  };

  text("host");
  text("dataDir");
  origin("publicUrl", "https://registry.example.com");
  origin("uploadUrl", "https://uploads.example.com");
  integer("port", 0, 65535);
  integer("processes", 0, 256);
  integer("partSize", 5 * 1024 * 1024, 5 * 1024 * 1024 * 1024);
  integer("maxManifestBytes", 4 * 1024 * 1024, 64 * 1024 * 1024);
  integer("uploadTtlSeconds", 60, 30 * 24 * 60 * 60);
  integer("gcIntervalSeconds", 0, 30 * 24 * 60 * 60);
  integer("gcGraceSeconds", 60, 30 * 24 * 60 * 60);
  integer("shutdownGraceSeconds", 0, 24 * 60 * 60);
  flag("automaticMount");
  integer("bodyTimeoutSeconds", 0, 24 * 60 * 60);
  integer("maxUploads", 1, 100_000);
  integer("maxUploadsPerClient", 1, 100_000);
  flag("nativeHashing");
  immutableTags();
  retention();
  quotas();
  mirrors();
  notifications();
  awsSettings();
  operatorSettings();
  config.auth = authSection(file.auth, env[environmentNames.auth], problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return config;

  /** An http(s) origin, kept without a trailing slash; a path, query or credentials would be silently dropped, so they are refused. */
  function origin(key: "publicUrl" | "uploadUrl", example: string): void {
    const raw = read(key);
    if (raw === "") return;
    let url: URL | undefined;
    try {
      url = typeof raw === "string" ? new URL(raw) : undefined;
    } catch {
      url = undefined;
    }
    if (!url || !/^https?:$/.test(url.protocol) || url.pathname !== "/" || url.search || url.hash || url.username || url.password) {
      problems.push(`${where(key)} must be an http(s) origin such as ${example} (no path), not ${JSON.stringify(raw)}`);
    } else config[key] = url.origin;
  }

  /** A structured setting: from the file, or its environment variable as JSON text; INVALID (reported) when that is not JSON. */
  function structured(key: "immutableTags" | "retention" | "quotas" | "mirrors" | "notifications", fallback: unknown): unknown {
    const fromEnv = env[environmentNames[key]];
    if (fromEnv === undefined) return file[key] ?? fallback;
    try {
      return JSON.parse(fromEnv) as unknown;
    } catch {
      problems.push(`${where(key)} is not valid JSON`);
      return INVALID;
    }
  }

  /** A list of {repositories, tags} pattern lists, from the file or IMMUTABLE_TAGS as JSON text. */
  function immutableTags(): void {
    const raw = structured("immutableTags", []);
    if (raw === INVALID) return;
    const names = (value: unknown) => Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === "string" && v !== "");
    if (!Array.isArray(raw) || !raw.every((rule) => typeof rule === "object" && rule !== null && names(rule.repositories) && names(rule.tags))) {
      problems.push(`${where("immutableTags")} must be a list of {"repositories": ["team/*", ...], "tags": ["v*", ...]}`);
      return;
    }
    config.immutableTags = (raw as ImmutableTagRule[]).map((rule) => ({ repositories: [...rule.repositories], tags: [...rule.tags] }));
  }

  function retention(): void {
    const raw = structured("retention", []);
    if (raw === INVALID) return;
    const found = retentionProblems(raw);
    if (found.length > 0) problems.push(...found.map((problem) => `${where("retention")}: ${problem}`));
    else config.retention = structuredClone(raw as RetentionRule[]);
  }

  function quotas(): void {
    const raw = structured("quotas", {});
    if (raw === INVALID) return;
    const valid =
      typeof raw === "object" && raw !== null && !Array.isArray(raw) &&
      Object.entries(raw).every(([name, bytes]) => /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/.test(name) && Number.isSafeInteger(bytes) && (bytes as number) >= 0);
    if (!valid) problems.push(`${where("quotas")} must map namespaces to byte counts, e.g. {"team": 10737418240}`);
    else config.quotas = { ...(raw as Record<string, number>) };
  }

  /** Logs, metrics and TLS (src/observability, runtime/node-tls.ts). */
  function operatorSettings(): void {
    const level = read("logLevel");
    if (typeof level === "string" && isLogLevel(level)) config.logLevel = level;
    else problems.push(`${where("logLevel")} must be one of ${LOG_LEVELS.join(", ")}, not ${JSON.stringify(level)}`);
    const format = read("logFormat");
    if (format === "auto" || format === "json" || format === "text") config.logFormat = format;
    else problems.push(`${where("logFormat")} must be auto, json or text, not ${JSON.stringify(format)}`);
    // Its value is a secret: never echoed.
    const token = read("metricsToken");
    if (typeof token !== "string" || (token !== "" && !/^[\x21-\x7e]{16,}$/.test(token))) problems.push(`${where("metricsToken")} must be at least 16 printable characters without spaces`);
    else config.metricsToken = token;
    for (const key of ["tlsCert", "tlsKey"] as const) {
      const value = read(key);
      if (typeof value !== "string") problems.push(`${where(key)} must be a path to a PEM file`);
      else config[key] = value;
    }
    if ((config.tlsCert === "") !== (config.tlsKey === "")) problems.push(`tlsCert (TLS_CERT) and tlsKey (TLS_KEY) go together: set both for HTTPS, or neither`);
  }

  /** Upstream registries per namespace; messages name fields, never credentials (MIRRORS may be a secret). */
  function mirrors(): void {
    const raw = structured("mirrors", []);
    if (raw === INVALID) return;
    const found = parseMirrors(raw, env);
    if (found.problems.length > 0) problems.push(...found.problems.map((problem) => `${where("mirrors")}: ${problem}`));
    else config.mirrors = found.mirrors;
  }

  /** Event endpoints; messages name fields, never a secret or header value (NOTIFICATIONS may hold secrets). */
  function notifications(): void {
    const raw = structured("notifications", { endpoints: [] });
    if (raw === INVALID) return;
    const found = parseNotifications(raw, env);
    if (found.problems.length > 0) problems.push(...found.problems.map((problem) => `${where("notifications")}: ${problem}`));
    else config.notifications = found.config;
  }

  function awsSettings(): void {
    const backend = read("backend");
    if (backend === "filesystem" || backend === "aws") config.backend = backend;
    else problems.push(`${where("backend")} must be "filesystem" or "aws", not ${JSON.stringify(backend)}`);
    for (const key of ["s3Bucket", "s3Endpoint", "dynamodbTable", "dynamodbEndpoint"] as const) optionalText(key);
    flag("s3ForcePathStyle");
    flag("blobRedirects");
    // SigV4 presigned URLs live at most 7 days.
    integer("blobRedirectTtlSeconds", 1, 7 * 24 * 60 * 60);
    for (const key of ["s3Endpoint", "dynamodbEndpoint"] as const) {
      if (config[key] !== "" && !/^https?:\/\/[^/]/.test(config[key])) problems.push(`${where(key)} must be an http(s) URL`);
    }
    if (config.backend === "aws") {
      for (const key of ["s3Bucket", "dynamodbTable"] as const) if (config[key] === "") problems.push(`${where(key)} is required with backend "aws"`);
    } else if (config.blobRedirects) {
      problems.push(`${where("blobRedirects")} needs backend "aws": the filesystem has no presigned URLs`);
    }
    const queueUrl = read("eventsQueueUrl");
    if (typeof queueUrl !== "string" || (queueUrl !== "" && !/^https?:\/\/[^/]/.test(queueUrl))) problems.push(`${where("eventsQueueUrl")} must be an SQS queue URL`);
    else config.eventsQueueUrl = queueUrl;
    // With S3 + DynamoDB, events wait in SQS (the CDK stack makes the queue and its consumer).
    if (config.backend === "aws" && config.notifications.endpoints.length > 0 && config.eventsQueueUrl === "") {
      problems.push(`${where("notifications")} with backend "aws" need eventsQueueUrl (env EVENTS_QUEUE_URL): the SQS queue events wait in`);
    }
  }
}

/** `auth` from the file, or AUTH_CONFIG as JSON text (a secret on Workers and Lambda). Its values are never echoed. */
function authSection(fromFile: unknown, fromEnv: string | undefined, problems: string[]): AuthConfig | undefined {
  let raw = fromFile;
  if (fromEnv !== undefined) {
    try {
      raw = JSON.parse(fromEnv);
    } catch {
      problems.push(`auth (env ${environmentNames.auth}) is not valid JSON`);
      return undefined;
    }
  }
  if (raw === undefined) return undefined;
  const { config, problems: found } = validateAuthConfig(raw);
  problems.push(...found.map((problem) => `auth: ${problem}`));
  return config;
}
