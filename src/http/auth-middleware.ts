/**
 * Token auth in front of the registry routes (docker-token-auth token.md).
 * Each route's guard is registered with the route's own method and path
 * pattern, so it sees exactly the `<name>` the route will serve, and it runs
 * before the route: a denied request never reaches storage and answers the
 * same whether the repository or blob exists or not.
 */
import type { Context, Hono, MiddlewareHandler } from "hono";
import type { Caller } from "../auth/caller.ts";
import { type AccessEntry, adminAccess, catalogAccess, formatScope, repositoryAccess } from "../auth/scope.ts";
import type { Auth } from "../auth/service.ts";
import { RegistryError } from "../core/errors.ts";
import { isRepositoryName } from "../core/names.ts";
import { repositoryParam } from "./request.ts";
import { setReadAccess } from "./read-access.ts";

/** What a route needs: `required` must all be permitted; `challenge` is the scope a client should ask a token for. */
interface Need {
  required: AccessEntry[];
  challenge: AccessEntry[];
}

interface GuardedRoute {
  methods: string[];
  path: string;
  need(c: Context): Need;
  /** An upload session's own URL: an upload grant for exactly it (UPLOAD_GRANT_PARAMETER) stands in for a token. */
  uploadSession?: true;
}

/** The query parameter of an upload session's Location that carries its grant (Auth.uploadGrant, the split deployment). */
export const UPLOAD_GRANT_PARAMETER = "grant";

const pull = (c: Context): Need => {
  const name = repositoryParam(c);
  return { required: [repositoryAccess(name, ["pull"])], challenge: [repositoryAccess(name, ["pull"])] };
};

/** Clients ask for `pull,push` to push (distribution's handlers require both); pushing needs only push here. */
const push = (c: Context): Need => {
  const name = repositoryParam(c);
  return { required: [repositoryAccess(name, ["push"])], challenge: [repositoryAccess(name, ["pull", "push"])] };
};

/** Delete is its own action, not implied by push. */
const remove = (c: Context): Need => {
  const name = repositoryParam(c);
  return { required: [repositoryAccess(name, ["delete"])], challenge: [repositoryAccess(name, ["delete"])] };
};

/** A mount from another repository also asks for pull there; without it the route opens an ordinary upload. */
const startUpload = (c: Context): Need => {
  const need = push(c);
  const from = c.req.query("from");
  if (c.req.query("mount") !== undefined && from && isRepositoryName(from)) need.challenge.push(repositoryAccess(from, ["pull"]));
  return need;
};

const catalog = (): Need => ({ required: [catalogAccess], challenge: [catalogAccess] });
const admin = (): Need => ({ required: [adminAccess], challenge: [adminAccess] });

/** Every registry route with what it needs. test/auth/matrix.test.ts checks that no route of the app is missing. */
export const guardedRoutes: GuardedRoute[] = [
  { methods: ["GET", "HEAD"], path: "/v2/_catalog", need: catalog },
  { methods: ["GET", "HEAD"], path: "/v2/:name{.+}/tags/list", need: pull },
  { methods: ["GET", "HEAD"], path: "/v2/:name{.+}/referrers/:digest", need: pull },
  { methods: ["POST"], path: "/v2/:name{.+}/blobs/uploads/", need: startUpload },
  { methods: ["POST"], path: "/v2/:name{.+}/blobs/uploads", need: startUpload },
  { methods: ["GET", "HEAD", "PATCH", "PUT", "DELETE"], path: "/v2/:name{.+}/blobs/uploads/:id", need: push, uploadSession: true },
  { methods: ["GET", "HEAD"], path: "/v2/:name{.+}/blobs/:digest", need: pull },
  { methods: ["DELETE"], path: "/v2/:name{.+}/blobs/:digest", need: remove },
  { methods: ["GET", "HEAD"], path: "/v2/:name{.+}/manifests/:reference", need: pull },
  { methods: ["PUT"], path: "/v2/:name{.+}/manifests/:reference", need: push },
  { methods: ["DELETE"], path: "/v2/:name{.+}/manifests/:reference", need: remove },
  { methods: ["GET", "HEAD"], path: "/admin/usage", need: admin },
  { methods: ["GET", "HEAD"], path: "/admin/audit", need: admin },
  { methods: ["POST"], path: "/admin/gc", need: admin },
  { methods: ["DELETE"], path: "/admin/repositories/:name{.+}", need: admin },
];

/**
 * Registers the guards; call before the routes they guard. `realm` is the token endpoint's
 * URL from configuration; undefined: derived from each request (its Host header).
 */
export function guardRoutes(app: Hono, auth: Auth, realm?: string): void {
  const challenge = (c: Context, scopes: AccessEntry[], error?: "invalid_token" | "insufficient_scope") =>
    challengeError(realm ?? new URL("/token", c.req.url).href, auth.service, scopes, error);
  // end-1 with auth: any valid token passes (an anonymous one too); without one, the
  // challenge clients key their login on (B.10: a 200 here would make docker login fail).
  app.on(["GET", "HEAD"], ["/v2/", "/v2"], async (c, next) => {
    const caller = await auth.caller(c.req.header("authorization"));
    if (!caller) throw challenge(c, [], "invalid_token");
    if (!caller.hasToken) throw challenge(c, []);
    await next();
  });
  for (const route of guardedRoutes) app.on(route.methods, route.path, guard(auth, route, challenge));
}

type Challenge = (c: Context, scopes: AccessEntry[], error?: "invalid_token" | "insufficient_scope") => RegistryError;

function guard(auth: Auth, route: GuardedRoute, challenge: Challenge): MiddlewareHandler {
  return async (c, next) => {
    // A malformed name is refused as the route would refuse it, before anything is looked up.
    const need = route.need(c);
    const grant = route.uploadSession ? c.req.query(UPLOAD_GRANT_PARAMETER) : undefined;
    if (grant !== undefined) {
      // Not a grant for exactly this session (another one's, expired, altered): the token decides, as without one.
      const granted = await auth.uploadCaller(grant, repositoryParam(c), c.req.param("id") ?? "");
      if (granted) {
        setReadAccess(c, granted);
        return next();
      }
    }
    const caller = await auth.caller(c.req.header("authorization"));
    if (!caller) throw challenge(c, need.challenge, "invalid_token");
    if (!permitsAll(caller, need.required)) throw challenge(c, need.challenge, caller.hasToken ? "insufficient_scope" : undefined);
    setReadAccess(c, caller);
    await next();
  };
}

function permitsAll(caller: Caller, required: AccessEntry[]): boolean {
  return required.every((entry) => entry.actions.every((action) => caller.permits(entry.type, entry.name, action)));
}

const messages = {
  none: "authentication required: get a token from the realm in WWW-Authenticate",
  invalid_token: "the bearer token is not valid here (expired, or not issued by this registry's token service)",
  insufficient_scope: "the bearer token does not grant access to the requested resource",
};

/**
 * 401 with an RFC 6750 challenge for every failure, as distribution answers:
 * clients fetch a new token on 401 with the challenge's scope and give up on
 * 403, so a missing scope must be a 401 for a client to be able to recover.
 */
function challengeError(realm: string, service: string, scopes: AccessEntry[], error?: "invalid_token" | "insufficient_scope"): RegistryError {
  let header = `Bearer realm="${quoted(realm)}",service="${quoted(service)}"`;
  if (scopes.length > 0) header += `,scope="${scopes.map(formatScope).join(" ")}"`;
  if (error) header += `,error="${error}"`;
  const detail = scopes.flatMap((entry) => entry.actions.map((action) => ({ Type: entry.type, Name: entry.name, Action: action })));
  return new RegistryError("UNAUTHORIZED", messages[error ?? "none"], { headers: { "WWW-Authenticate": header }, detail: detail.length > 0 ? detail : null });
}

/** RFC 9110 quoted-string: `"` and `\` escaped. Scopes need none: names are validated. */
function quoted(value: string): string {
  return value.replace(/["\\]/g, "\\$&");
}
