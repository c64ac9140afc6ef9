/**
 * A client of one registry for the copy tool: the Docker token flow (src/client/bearer.ts) with
 * the scopes each request needs, basic auth where a registry asks for it, and an error that
 * quotes the registry's OCI error message. Credentials go only into Authorization headers,
 * never into errors or output.
 */
import type { Readable } from "node:stream";
import { basicAuthorization, challengeParams, challengeScheme, tokenFromAnswer, tokenRequestUrl } from "../client/bearer.ts";
import type { Credentials } from "./auth-files.ts";
import { discard, header, readSmall, send, type HttpAnswer } from "./http.ts";

const USER_AGENT = "oci-registry-copy";
const SMALL_ANSWER_LIMIT = 64 * 1024;

export class RegistryHttpError extends Error {
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.name = "RegistryHttpError";
    this.status = status;
  }
}

export interface RegistryClientOptions {
  /** host[:port] of the API. */
  host: string;
  /** false: plain HTTP (--src-tls-verify=false / --dest-tls-verify=false). */
  tls: boolean;
  credentials: Credentials | undefined;
}

export interface RequestOptions {
  /** `repository:<name>:<actions>` scopes the token must carry. */
  scopes: string[];
  headers?: Record<string, string>;
  /** The body, made anew for each attempt (a 401 with a stale token sends it again once). */
  body?: () => Readable | Uint8Array;
}

export class RegistryClient {
  readonly origin: string;
  readonly host: string;
  readonly #credentials: Credentials | undefined;
  /** What GET /v2/ asked for: nothing, basic, or a token endpoint's challenge. */
  #challenge: Promise<string | undefined> | undefined;
  readonly #tokens = new Map<string, { authorization: string; expiresAt: number }>();

  constructor(options: RegistryClientOptions) {
    this.host = options.host;
    this.origin = `${options.tls ? "https" : "http"}://${options.host}`;
    this.#credentials = options.credentials;
  }

  /** A request to the registry (a path, or an absolute Location the registry gave) with the Authorization its scopes need. */
  async request(method: string, pathOrUrl: string, options: RequestOptions): Promise<HttpAnswer> {
    const url = new URL(pathOrUrl, this.origin);
    if (url.origin !== this.origin) throw new RegistryHttpError(`${this.host} sent us to another origin (${url.origin}); not sending credentials there`, 0);
    for (let attempt = 0; ; attempt++) {
      const authorization = await this.#authorization(options.scopes, attempt > 0);
      const headers = { "User-Agent": USER_AGENT, ...options.headers, ...(authorization ? { Authorization: authorization } : {}) };
      const answer = await send(url, method, headers, options.body?.());
      if (answer.status !== 401 || attempt > 0) return answer;
      const challenge = header(answer, "www-authenticate");
      discard(answer);
      // A token that expired, or a registry that asks only now: learn the challenge, try once more.
      if (challenge) this.#challenge = Promise.resolve(challenge);
    }
  }

  /** Throws a RegistryHttpError naming what failed and the registry's own message. */
  async fail(answer: HttpAnswer, what: string): Promise<never> {
    let detail = "";
    try {
      const text = (await readSmall(answer.body, SMALL_ANSWER_LIMIT)).toString("utf8");
      const parsed = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
      const first = parsed.errors?.[0];
      if (first) detail = `: ${first.code ?? ""} ${first.message ?? ""}`.trimEnd();
    } catch {
      // no OCI error body
    }
    const hint = answer.status === 401 ? " (give credentials with --src-creds/--dest-creds, or log in with podman/docker)" : "";
    throw new RegistryHttpError(`${what} on ${this.host} answered ${answer.status}${detail}${hint}`, answer.status);
  }

  async #authorization(scopes: string[], renew: boolean): Promise<string | undefined> {
    this.#challenge ??= this.#ping();
    const challenge = await this.#challenge;
    if (challenge === undefined) return undefined;
    const scheme = challengeScheme(challenge);
    if (scheme === "basic") {
      if (!this.#credentials) throw new RegistryHttpError(`${this.host} asks for a user name and password; give --src-creds/--dest-creds or log in with podman/docker`, 401);
      return basicAuthorization(this.#credentials.username, this.#credentials.password);
    }
    if (scheme !== "bearer") throw new RegistryHttpError(`${this.host} asks for authentication this tool does not speak (${scheme})`, 401);
    const key = [...scopes].sort().join(" ");
    const cached = this.#tokens.get(key);
    if (cached && !renew && cached.expiresAt > Date.now()) return cached.authorization;
    const url = tokenRequestUrl(challengeParams(challenge), scopes);
    if (!url) throw new RegistryHttpError(`${this.host}'s Bearer challenge names no token endpoint`, 401);
    const basic = this.#credentials ? basicAuthorization(this.#credentials.username, this.#credentials.password) : undefined;
    const answer = await send(url, "GET", { "User-Agent": USER_AGENT, ...(basic ? { Authorization: basic } : {}) });
    if (answer.status !== 200) {
      discard(answer);
      const why = answer.status === 401 ? (basic ? "; check the user name and password" : "; give credentials") : "";
      throw new RegistryHttpError(`${url.origin}${url.pathname} refused a token for ${scopes.join(" ")} (${answer.status})${why}`, answer.status);
    }
    const token = tokenFromAnswer((await readSmall(answer.body, SMALL_ANSWER_LIMIT)).toString("utf8"));
    if (!token) throw new RegistryHttpError(`${url.origin}${url.pathname} answered no token`, answer.status);
    this.#tokens.set(key, { authorization: token.authorization, expiresAt: Date.now() + token.lifetimeMs });
    return token.authorization;
  }

  /** GET /v2/: undefined when the registry is open to us, otherwise its WWW-Authenticate challenge. */
  async #ping(): Promise<string | undefined> {
    let answer: HttpAnswer;
    try {
      answer = await send(new URL("/v2/", this.origin), "GET", { "User-Agent": USER_AGENT });
    } catch (error) {
      this.#challenge = undefined;
      throw error;
    }
    discard(answer);
    if (answer.status === 401) return header(answer, "www-authenticate") ?? "";
    if (answer.status >= 200 && answer.status < 300) return undefined;
    this.#challenge = undefined;
    throw new RegistryHttpError(`GET ${this.origin}/v2/ answered ${answer.status}: is this a registry?`, answer.status);
  }
}

export function repositoryScope(repository: string, actions: string): string {
  return `repository:${repository}:${actions}`;
}
