/**
 * An in-process registry with token auth over the memory adapters, the
 * teams the auth tests use, and helpers to log in and to forge tokens.
 */
import { SignJWT, type JWK } from "jose";
import { MemoryBlobStore } from "../../src/adapters/memory/blob-store.ts";
import { MemoryMetadataStore } from "../../src/adapters/memory/metadata-store.ts";
import { hashWasm } from "../../src/adapters/hash-wasm.ts";
import { hashPassword } from "../../src/auth/passwords.ts";
import { generateSigningJwk } from "../../src/auth/keys.ts";
import { robotTokenHash } from "../../src/auth/robot-tokens.ts";
import { type Auth, buildAuth } from "../../src/auth/service.ts";
import { createApp, type AppOptions } from "../../src/http/app.ts";
import { type BlobStore, MIN_PART_SIZE } from "../../src/ports/blob-store.ts";
import type { MetadataStore } from "../../src/ports/metadata-store.ts";
import type { Maintenance } from "../../src/http/routes/admin.ts";

export const SERVICE = "test-registry";
export const PASSWORDS = { alice: "alice-secret", bob: "bob-secret", carol: "carol-secret", olga: "olga-secret" } as const;
export const ROBOT_TOKEN = "ocirobot_test-pusher-token-0123456789abcdefghijklmnop";

let hashes: Promise<Record<keyof typeof PASSWORDS, string>> | undefined;

/** PBKDF2 is slow on purpose: hash the test passwords once per test file. */
function passwordHashes(): Promise<Record<keyof typeof PASSWORDS, string>> {
  hashes ??= (async () => {
    const entries = await Promise.all(Object.entries(PASSWORDS).map(async ([user, password]) => [user, await hashPassword(password)] as const));
    return Object.fromEntries(entries) as Record<keyof typeof PASSWORDS, string>;
  })();
  return hashes;
}

/**
 * alice (blue): pull, push, delete blue/*; bob (green): the same on green/*;
 * carol (readers): pull blue/*; robot blue-pusher: pull, push blue/*;
 * olga (ops): pull everything; public/* is public, blue may push there;
 * every signed-in identity may list the catalog.
 */
export async function teamsConfig(extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const h = await passwordHashes();
  return {
    service: SERVICE,
    users: {
      alice: { password: h.alice, teams: ["blue"] },
      bob: { password: h.bob, teams: ["green"] },
      carol: { password: h.carol, teams: ["readers"] },
      olga: { password: h.olga, teams: ["ops"] },
    },
    robots: { "blue-pusher": { tokenHash: await robotTokenHash(ROBOT_TOKEN) } },
    public: ["public/*"],
    rules: [
      { teams: ["blue"], repositories: ["blue/*"], actions: ["pull", "push", "delete"] },
      { teams: ["green"], repositories: ["green/*"], actions: ["*"] },
      { teams: ["readers"], repositories: ["blue/*"], actions: ["pull"] },
      { identities: ["blue-pusher"], repositories: ["blue/*"], actions: ["pull", "push"] },
      { teams: ["blue"], repositories: ["public/*"], actions: ["push"] },
      { teams: ["ops"], repositories: ["*"], actions: ["pull"] },
      { authenticated: true, catalog: true },
    ],
    ...extra,
  };
}

export interface AuthedRegistry {
  auth: Auth;
  /** The private signing key, to forge tokens the registry should (or should not) accept. */
  signingJwk: JWK;
  request(path: string, init?: RequestInit): Promise<Response>;
  /** GET /token with Basic credentials (or none); returns the token, failing the test on a non-200. */
  token(credentials: [string, string] | null, ...scopes: string[]): Promise<string>;
  /** Signs claims with the registry's own key; `header` and `claims` override the defaults. */
  forge(claims?: Record<string, unknown>, header?: Record<string, unknown>): Promise<string>;
}

/** Other stores than memory, and the runtime's maintenance (the web interface's delete-repository button needs it). */
export interface AuthedRegistryOptions {
  blobs?: BlobStore;
  metadata?: MetadataStore;
  maintenance?: Maintenance;
  /** The request log and the events recorder (http/events.ts), for tests of the audit log. */
  observation?: AppOptions["observation"];
  events?: AppOptions["events"];
}

export async function authedRegistry(config?: Record<string, unknown>, options: AuthedRegistryOptions = {}): Promise<AuthedRegistry> {
  const signingJwk = await generateSigningJwk();
  const auth = await buildAuth({ ...(config ?? (await teamsConfig())), signingKeys: [{ jwk: signingJwk }] });
  const stores = { blobs: options.blobs ?? new MemoryBlobStore(), metadata: options.metadata ?? new MemoryMetadataStore() };
  const app = createApp({ ...stores, hashing: hashWasm, partSize: MIN_PART_SIZE }, {
    auth,
    ...(options.maintenance ? { maintenance: options.maintenance } : {}),
    ...(options.observation ? { observation: options.observation } : {}),
    ...(options.events ? { events: options.events } : {}),
  });
  const request = async (path: string, init?: RequestInit) => app.request(path, init);
  return {
    auth,
    signingJwk,
    request,
    async token(credentials, ...scopes) {
      const query = new URLSearchParams({ service: SERVICE });
      for (const scope of scopes) query.append("scope", scope);
      const headers: Record<string, string> = credentials ? { authorization: basic(...credentials) } : {};
      const res = await request(`/token?${query}`, { headers });
      const body = (await res.json()) as { token?: string };
      if (res.status !== 200 || !body.token) throw new Error(`GET /token answered ${res.status}: ${JSON.stringify(body)}`);
      return body.token;
    },
    async forge(claims = {}, header = {}) {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ iss: SERVICE, sub: "alice", aud: SERVICE, iat: now, nbf: now, exp: now + 300, jti: crypto.randomUUID(), access: [], ...claims })
        .setProtectedHeader({ alg: "ES256", typ: "JWT", kid: signingJwk.kid!, ...header })
        .sign(signingJwk);
    },
  };
}

export function basic(username: string, password: string): string {
  return `Basic ${btoa(`${username}:${password}`)}`;
}

export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
