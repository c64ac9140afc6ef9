/**
 * An HTTP client for one upstream registry: the Docker token flow (a 401 with
 * `WWW-Authenticate: Bearer realm,service` → a token for `repository:<name>:pull`
 * from the realm, with our credentials when configured, reused until it expires),
 * basic auth for registries that ask for it, and `Retry-After`: after a 429 or
 * 503 nothing is sent to the upstream until the time it named has passed.
 * Credentials go only into Authorization headers, never into errors or logs.
 */
import { basicAuthorization, challengeParams, challengeScheme, tokenFromAnswer, tokenRequestUrl } from "../client/bearer.ts";
import { readLimited } from "../core/streams.ts";
import type { MirrorConfig } from "./mirror-config.ts";

export type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

/** Why the upstream gave no usable answer; `status` is the upstream's, when it answered. */
export class UpstreamError extends Error {
  readonly kind: "unavailable" | "rate-limited" | "not-found" | "denied";
  readonly retryAfterSeconds: number | undefined;
  constructor(kind: UpstreamError["kind"], message: string, retryAfterSeconds?: number) {
    super(message);
    this.name = "UpstreamError";
    this.kind = kind;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** How long to wait for an upstream's headers; a body then streams for as long as it takes. */
const HEADERS_TIMEOUT_MS = 30_000;
const TOKEN_BODY_LIMIT = 64 * 1024;
const MAX_REDIRECTS = 5;
/** A 429 or 503 without Retry-After still pauses requests this long. */
const DEFAULT_PAUSE_SECONDS = 10;

export class UpstreamClient {
  readonly #mirror: MirrorConfig;
  readonly #fetch: Fetch;
  readonly #now: () => number;
  /** Authorization header per scope, with its expiry (epoch ms). */
  readonly #tokens = new Map<string, { authorization: string; expiresAt: number }>();
  #pausedUntil = 0;

  constructor(mirror: MirrorConfig, options: { fetch?: Fetch; now?: () => number } = {}) {
    this.#mirror = mirror;
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.#now = options.now ?? Date.now;
  }

  get host(): string {
    return new URL(this.#mirror.url).host;
  }

  /**
   * `GET`/`HEAD` of `/v2/<name>/<path>` upstream. Answers 2xx responses (redirects followed);
   * throws UpstreamError for everything else, with the body cancelled.
   */
  async request(method: "GET" | "HEAD", name: string, path: string, headers: Record<string, string> = {}): Promise<Response> {
    const waitSeconds = Math.ceil((this.#pausedUntil - this.#now()) / 1000);
    if (waitSeconds > 0) throw new UpstreamError("rate-limited", `${this.host} asked us to wait (Retry-After); ${waitSeconds} s left`, waitSeconds);
    const url = `${this.#mirror.url}/v2/${name}/${path}`;
    const scope = `repository:${name}:pull`;
    const cached = this.#tokens.get(scope);
    let authorization = cached && cached.expiresAt > this.#now() ? cached.authorization : undefined;
    let response = await this.#send(method, url, headers, authorization);
    if (response.status === 401) {
      const challenge = response.headers.get("www-authenticate") ?? "";
      await response.body?.cancel();
      authorization = await this.#authorize(challenge, scope);
      response = await this.#send(method, url, headers, authorization);
    }
    if (response.ok) return response;
    await response.body?.cancel().catch(() => {});
    throw this.#failure(response, `${method} ${url}`);
  }

  /**
   * One request; redirects (Docker Hub sends blob GETs to a CDN with a signed URL) are followed
   * here, without our Authorization header: credentials go to the upstream's own origin only.
   */
  async #send(method: string, url: string, headers: Record<string, string>, authorization: string | undefined): Promise<Response> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), HEADERS_TIMEOUT_MS);
    try {
      let target = url;
      for (let hop = 0; ; hop++) {
        const sameOrigin = new URL(target).origin === new URL(url).origin;
        const withAuth = authorization && sameOrigin ? { ...headers, Authorization: authorization } : headers;
        const response = await this.#fetch(target, { method, headers: withAuth, signal: controller.signal, redirect: "manual" });
        const location = response.headers.get("location");
        if (response.status < 300 || response.status > 399 || !location || hop === MAX_REDIRECTS) return response;
        await response.body?.cancel().catch(() => {});
        target = new URL(location, target).href;
      }
    } catch (error) {
      throw new UpstreamError("unavailable", `${this.host} did not answer ${method} ${url}: ${(error as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The Authorization header the challenge asks for, from the token endpoint when it is Bearer. */
  async #authorize(challenge: string, scope: string): Promise<string> {
    const basic = this.#basic();
    const scheme = challengeScheme(challenge);
    if (scheme === "basic") {
      if (!basic) throw new UpstreamError("denied", `${this.host} asks for a user name and password; give the mirror username and password`);
      // Sent with every later request of this scope, not only after another 401.
      this.#tokens.set(scope, { authorization: basic, expiresAt: Number.MAX_SAFE_INTEGER });
      return basic;
    }
    if (scheme !== "bearer") throw new UpstreamError("denied", `${this.host} answered 401 without a challenge we understand`);
    const tokenUrl = tokenRequestUrl(challengeParams(challenge), [scope]);
    if (!tokenUrl) throw new UpstreamError("denied", `${this.host}'s Bearer challenge names no realm`);
    const response = await this.#send("GET", tokenUrl.href, {}, basic);
    if (response.status === 429 || response.status === 503) throw this.#failure(response, `GET ${tokenUrl.origin}${tokenUrl.pathname}`);
    if (!response.ok) {
      await response.body?.cancel().catch(() => {});
      throw new UpstreamError("denied", `${tokenUrl.origin}${tokenUrl.pathname} refused a token for ${scope} (${response.status})${basic ? "; check the mirror's username and password" : ""}`);
    }
    const text = new TextDecoder().decode(await readLimited(response.body, TOKEN_BODY_LIMIT, () => new UpstreamError("unavailable", `${this.host}'s token answer is too large`)));
    const token = tokenFromAnswer(text);
    if (!token) throw new UpstreamError("unavailable", `${this.host}'s token endpoint answered no token (or no JSON)`);
    this.#tokens.set(scope, { authorization: token.authorization, expiresAt: this.#now() + token.lifetimeMs });
    return token.authorization;
  }

  #basic(): string | undefined {
    const { username, password } = this.#mirror;
    if (username === undefined || password === undefined) return undefined;
    return basicAuthorization(username, password);
  }

  #failure(response: Response, what: string): UpstreamError {
    const status = response.status;
    if (status === 429 || status === 503) {
      const seconds = retryAfterSeconds(response.headers.get("retry-after"), this.#now()) ?? DEFAULT_PAUSE_SECONDS;
      this.#pausedUntil = Math.max(this.#pausedUntil, this.#now() + seconds * 1000);
      return new UpstreamError("rate-limited", `${what} answered ${status}; not asking again for ${seconds} s (Retry-After)`, seconds);
    }
    if (status === 404) return new UpstreamError("not-found", `${what} answered 404`);
    if (status === 401 || status === 403) return new UpstreamError("denied", `${what} answered ${status}: the upstream refuses this repository to the mirror's credentials`);
    return new UpstreamError("unavailable", `${what} answered ${status}`);
  }
}

/** RFC 9110 § 10.2.3: seconds, or an HTTP date. */
export function retryAfterSeconds(value: string | null, now: number): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - now) / 1000));
}
