/**
 * Pull-through mirrors in the configuration (`mirrors`, env MIRRORS as JSON text): each maps a
 * namespace of ours (`dockerhub` serves `dockerhub/*`) to an upstream registry. Credentials are
 * secrets: no message here ever contains them.
 */
import { isRepositoryName } from "../core/names.ts";

export interface MirrorConfig {
  /** Our namespace: repository `<namespace>/<rest>` mirrors upstream repository `<rest>`. */
  namespace: string;
  /** The upstream registry's origin, e.g. https://registry-1.docker.io. */
  url: string;
  /** Host names a client's `?ns=` may give for this upstream (distribution-spec main: containerd sends `ns=docker.io`). */
  hosts: string[];
  /** Upstream credentials (basic auth, or exchanged at the upstream's token endpoint); anonymous when absent. */
  username?: string;
  password?: string;
  /** How long a tag's digest is served without asking the upstream again. */
  tagFreshnessSeconds: number;
  /** Docker Hub's rule: a one-segment name means `library/<name>`. */
  dockerHubLibrary: boolean;
  /** Cached manifests not pulled for this long are deleted by the scheduled collection (lifecycle/retention.ts); kept forever when absent. */
  unpulledAfterSeconds?: number;
}

const DOCKER_HUB_HOSTS = ["registry-1.docker.io", "docker.io", "index.docker.io"];
const DEFAULT_FRESHNESS_SECONDS = 300;

/** Checks a raw `mirrors` value; answers the parsed list or the problems found (naming fields, never secret values). */
export function parseMirrors(raw: unknown, env: Record<string, string | undefined>): { mirrors: MirrorConfig[]; problems: string[] } {
  const problems: string[] = [];
  if (!Array.isArray(raw)) return { mirrors: [], problems: ['must be a list of {"namespace": "dockerhub", "url": "https://registry-1.docker.io"}'] };
  const mirrors: MirrorConfig[] = [];
  raw.forEach((entry: unknown, index) => {
    const at = `mirror ${index}`;
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) return void problems.push(`${at} must be an object`);
    const fields = entry as Record<string, unknown>;
    const known = ["namespace", "url", "urlEnv", "hosts", "username", "password", "passwordEnv", "tagFreshnessSeconds", "dockerHubLibrary", "unpulledAfterSeconds"];
    for (const key of Object.keys(fields)) if (!known.includes(key)) problems.push(`${at}: unknown field "${key}" (known: ${known.join(", ")})`);
    const namespace = fields.namespace;
    if (typeof namespace !== "string" || !isRepositoryName(namespace) || namespace.includes("/")) {
      return void problems.push(`${at}: namespace must be one lowercase name component such as "dockerhub"`);
    }
    const fromEnv = typeof fields.urlEnv === "string" ? env[fields.urlEnv] : undefined;
    if (fields.urlEnv !== undefined && typeof fields.urlEnv !== "string") problems.push(`${at} (${namespace}): urlEnv must name an environment variable`);
    const url = origin(fromEnv || fields.url);
    if (!url) return void problems.push(`${at} (${namespace}): url must be an http(s) origin such as https://registry-1.docker.io (from urlEnv when that variable is set)`);
    const host = new URL(url).host;
    const dockerHub = DOCKER_HUB_HOSTS.includes(host);
    const hosts = fields.hosts ?? (dockerHub ? DOCKER_HUB_HOSTS : [host]);
    if (!Array.isArray(hosts) || !hosts.every((h) => typeof h === "string" && h !== "")) problems.push(`${at} (${namespace}): hosts must be a list of host names`);
    const freshness = fields.tagFreshnessSeconds ?? DEFAULT_FRESHNESS_SECONDS;
    if (!Number.isSafeInteger(freshness) || (freshness as number) < 0) problems.push(`${at} (${namespace}): tagFreshnessSeconds must be a whole number of seconds`);
    const unpulled = fields.unpulledAfterSeconds;
    if (unpulled !== undefined && (!Number.isSafeInteger(unpulled) || (unpulled as number) <= 0)) problems.push(`${at} (${namespace}): unpulledAfterSeconds must be a positive whole number of seconds`);
    const library = fields.dockerHubLibrary ?? dockerHub;
    if (typeof library !== "boolean") problems.push(`${at} (${namespace}): dockerHubLibrary must be true or false`);
    const password = typeof fields.passwordEnv === "string" ? env[fields.passwordEnv] : fields.password;
    if (fields.passwordEnv !== undefined && (typeof fields.passwordEnv !== "string" || password === undefined)) {
      problems.push(`${at} (${namespace}): passwordEnv must name an environment variable that is set`);
    }
    if ((fields.username !== undefined) !== (password !== undefined) || (password !== undefined && (typeof password !== "string" || typeof fields.username !== "string"))) {
      problems.push(`${at} (${namespace}): give username and password (or passwordEnv) together, as strings`);
    }
    if (mirrors.some((m) => m.namespace === namespace)) problems.push(`${at}: namespace "${namespace}" is mirrored twice`);
    const mirror: MirrorConfig = { namespace, url, hosts: Array.isArray(hosts) ? [...(hosts as string[])] : [], tagFreshnessSeconds: freshness as number, dockerHubLibrary: library === true };
    if (typeof unpulled === "number") mirror.unpulledAfterSeconds = unpulled;
    if (typeof fields.username === "string" && typeof password === "string") Object.assign(mirror, { username: fields.username, password });
    mirrors.push(mirror);
  });
  return { mirrors, problems };
}

function origin(raw: unknown): string | undefined {
  if (typeof raw !== "string") return undefined;
  try {
    const url = new URL(raw);
    if (!/^https?:$/.test(url.protocol) || url.pathname !== "/" || url.search || url.username || url.password) return undefined;
    return url.origin;
  } catch {
    return undefined;
  }
}

/** The mirror serving `repository` and the upstream's name for it, or null when it is an ordinary repository. */
export function mirrorOf(mirrors: MirrorConfig[], repository: string): { mirror: MirrorConfig; upstreamName: string } | null {
  for (const mirror of mirrors) {
    if (!repository.startsWith(`${mirror.namespace}/`)) continue;
    const rest = repository.slice(mirror.namespace.length + 1);
    return { mirror, upstreamName: mirror.dockerHubLibrary && !rest.includes("/") ? `library/${rest}` : rest };
  }
  return null;
}

/** The namespace a client's `?ns=<host>` names, when one mirror lists that host. */
export function namespaceForHost(mirrors: MirrorConfig[], host: string): string | undefined {
  return mirrors.find((mirror) => mirror.hosts.includes(host.toLowerCase()))?.namespace;
}
