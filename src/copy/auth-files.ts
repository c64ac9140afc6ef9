/**
 * Credentials from the files podman, skopeo, buildah and docker log in to, in the order
 * containers-auth.json(5) reads them: $REGISTRY_AUTH_FILE, ${XDG_RUNTIME_DIR}/containers/auth.json,
 * ~/.config/containers/auth.json, then docker's $DOCKER_CONFIG/config.json (~/.docker/config.json).
 * Within a file the most specific key wins (`host/ns/repo`, `host/ns`, `host`); docker's
 * `https://index.docker.io/v1/` and keys written as URLs count for their host.
 * Credential helpers (`credsStore`, `credHelpers`) are not run: use --src-creds/--dest-creds then.
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export interface Credentials {
  username: string;
  password: string;
}

export interface AuthLookup {
  credentials: Credentials | undefined;
  /** The file the credentials came from, or a note on why a file that has the host gave none (a helper). */
  source: string | undefined;
}

type Env = Record<string, string | undefined>;

/** The auth files to read, in order; a file that does not exist is skipped. */
export function authFilePaths(env: Env, home = homedir()): string[] {
  const paths: string[] = [];
  if (env.REGISTRY_AUTH_FILE) paths.push(env.REGISTRY_AUTH_FILE);
  if (env.XDG_RUNTIME_DIR) paths.push(join(env.XDG_RUNTIME_DIR, "containers", "auth.json"));
  paths.push(join(env.XDG_CONFIG_HOME || join(home, ".config"), "containers", "auth.json"));
  paths.push(join(env.DOCKER_CONFIG || join(home, ".docker"), "config.json"));
  return paths;
}

/** The credentials for `repository` on `host` (as written in the reference: `docker.io` for Docker Hub). */
export function credentialsFromAuthFiles(host: string, repository: string, paths: string[]): AuthLookup {
  for (const path of paths) {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch {
      continue;
    }
    let file: { auths?: Record<string, { auth?: unknown }>; credHelpers?: Record<string, unknown>; credsStore?: unknown };
    try {
      file = JSON.parse(text) as typeof file;
    } catch {
      throw new Error(`${path} is not JSON; fix or remove it, or give credentials with --src-creds/--dest-creds`);
    }
    const auths = normalised(file.auths ?? {});
    for (const key of keysFor(host, repository)) {
      const entry = auths.get(key);
      if (entry === undefined) continue;
      const credentials = decodeAuth(entry.auth);
      if (credentials) return { credentials, source: path };
    }
    if (file.credHelpers?.[host] !== undefined || (file.credsStore !== undefined && auths.has(host))) {
      return { credentials: undefined, source: `${path} names a credential helper for ${host}, which this tool does not run; give --src-creds/--dest-creds` };
    }
  }
  return { credentials: undefined, source: undefined };
}

/** Most specific first: `host/a/b`, `host/a`, `host`. */
function keysFor(host: string, repository: string): string[] {
  const parts = repository.split("/");
  const keys: string[] = [];
  for (let n = parts.length; n > 0; n--) keys.push(`${host}/${parts.slice(0, n).join("/")}`);
  keys.push(host);
  if (host === "docker.io") keys.push("index.docker.io", "registry-1.docker.io");
  return keys;
}

/** Keys as docker writes them (`https://index.docker.io/v1/`, `http://host:5000`) → `index.docker.io`, `host:5000`. */
function normalised(auths: Record<string, { auth?: unknown }>): Map<string, { auth?: unknown }> {
  const map = new Map<string, { auth?: unknown }>();
  for (const [key, value] of Object.entries(auths)) {
    if (typeof value !== "object" || value === null) continue;
    const plain = key.replace(/^https?:\/\//, "").replace(/\/v[12]\/?$/, "").replace(/\/$/, "");
    const host = plain === "index.docker.io" ? "docker.io" : plain;
    if (!map.has(host)) map.set(host, value);
  }
  return map;
}

function decodeAuth(auth: unknown): Credentials | undefined {
  if (typeof auth !== "string" || auth === "") return undefined;
  const text = Buffer.from(auth, "base64").toString("utf8");
  const colon = text.indexOf(":");
  if (colon < 1) return undefined;
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** `USER:PASSWORD` as --src-creds/--dest-creds take it; the password may contain `:`. */
export function parseCredentials(text: string, flag: string): Credentials {
  const colon = text.indexOf(":");
  if (colon < 1) throw new Error(`${flag} takes USER:PASSWORD`);
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}
