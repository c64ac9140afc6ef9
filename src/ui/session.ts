/**
 * Sign-in sessions and CSRF protection for the pages.
 *
 * The session is a cookie holding a JWT of the registry's own keys (auth/tokens.ts,
 * `typ: session+jwt`, never accepted as an access token): HttpOnly, SameSite=Lax, Secure
 * when the registry is reached over TLS. It carries a random CSRF secret that every
 * state-changing form must echo; visitors without a session get the same secret from a
 * cookie of its own (double submit), so sign-in itself and the forms of an open registry
 * are protected too. A POST is also refused when the browser says it came from another
 * origin (Origin, Sec-Fetch-Site), whatever its token.
 */
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { Auth, SignInOutcome } from "../auth/service.ts";
import { RegistryError } from "../core/errors.ts";
import { readLimited } from "../core/streams.ts";
import { openRegistryViewer, policyViewer, type Viewer } from "./viewer.ts";

const SESSION_COOKIE = "registry_session";
const CSRF_COOKIE = "registry_csrf";
/** The pages' forms hold a few short fields. */
const MAX_FORM_BYTES = 16 * 1024;

export interface UiSettings {
  auth?: Auth;
  /** RegistryConfig.publicUrl: the origin visitors use (pull lines, the Secure flag, the Origin check). */
  publicUrl?: string;
  /** The client's address, as the token endpoint sees it: failed sign-ins count against it. */
  clientAddress?: (c: Context) => string | undefined;
}

export interface Visit {
  viewer: Viewer;
  /** The value a form's hidden `csrf` field must hold. */
  csrf: string;
}

export async function visitOf(c: Context, settings: UiSettings): Promise<Visit> {
  const { auth } = settings;
  if (auth) {
    const token = getCookie(c, SESSION_COOKIE);
    const session = token ? await auth.session(token) : null;
    if (session) return { viewer: policyViewer(auth, session.identity), csrf: session.csrf };
    if (token) deleteCookie(c, SESSION_COOKIE, { path: "/" });
  }
  let csrf = getCookie(c, CSRF_COOKIE);
  if (!csrf || !/^[A-Za-z0-9_-]{32,64}$/.test(csrf)) {
    csrf = randomSecret();
    setCookie(c, CSRF_COOKIE, csrf, cookieOptions(c, settings));
  }
  return { viewer: auth ? policyViewer(auth, null) : openRegistryViewer, csrf };
}

/**
 * Signs in with the token flow's identities, under its failed-login limits. The new session has
 * a CSRF secret of its own.
 */
export async function startSession(c: Context, settings: UiSettings, username: string, password: string): Promise<SignInOutcome> {
  if (!settings.auth) return { ok: false };
  const outcome = await settings.auth.signIn(username, password, randomSecret(), settings.clientAddress?.(c));
  if (outcome.ok) setCookie(c, SESSION_COOKIE, outcome.token, cookieOptions(c, settings));
  return outcome;
}

export function endSession(c: Context, settings: UiSettings): void {
  deleteCookie(c, SESSION_COOKIE, cookieOptions(c, settings));
}

/**
 * The form of a state-changing POST, read with a byte limit, after its origin and CSRF token
 * are checked. Throws DENIED (403) when either is wrong: nothing has changed then.
 */
export async function checkedForm(c: Context, settings: UiSettings, visit: Visit): Promise<URLSearchParams> {
  const site = c.req.header("sec-fetch-site");
  const origin = c.req.header("origin");
  if ((site !== undefined && site !== "same-origin" && site !== "none") || (origin !== undefined && !allowedOrigins(c, settings).includes(origin))) {
    throw new RegistryError("DENIED", "this form was sent from another site; open the registry's page and send it from there");
  }
  const tooLarge = () => new RegistryError("SIZE_INVALID", `a form may have at most ${MAX_FORM_BYTES} bytes`, { status: 413 });
  const length = Number(c.req.header("content-length") ?? "0");
  if (length > MAX_FORM_BYTES) throw tooLarge();
  const form = new URLSearchParams(new TextDecoder().decode(await readLimited(c.req.raw.body, MAX_FORM_BYTES, tooLarge)));
  if (!sameSecret(form.get("csrf") ?? "", visit.csrf)) {
    throw new RegistryError("DENIED", "this form has expired or was not sent from this registry's page (CSRF check); reload the page and try again");
  }
  return form;
}

/** The pages are served over TLS when the public URL, or the request, says https. */
export function isSecure(c: Context, settings: UiSettings): boolean {
  return (settings.publicUrl ?? c.req.url).startsWith("https:");
}

function cookieOptions(c: Context, settings: UiSettings) {
  return { path: "/", httpOnly: true, sameSite: "Lax", secure: isSecure(c, settings) } as const;
}

function allowedOrigins(c: Context, settings: UiSettings): string[] {
  const origins = [new URL(c.req.url).origin];
  if (settings.publicUrl) origins.push(new URL(settings.publicUrl).origin);
  return origins;
}

function randomSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Compares without an early exit, so timing does not tell how much of a guess was right. */
function sameSecret(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}
