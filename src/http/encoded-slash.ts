import type { MiddlewareHandler } from "hono";
import { RegistryError } from "../core/errors.ts";

/**
 * Refuses `/v2/` paths that percent-encode their repository name. The router decodes path
 * parameters, so `/v2/a%2Fb/manifests/x` was taken as repository `a/b` and `/v2/bl%75e/app/…`
 * as `blue/app`: one name reachable under several spellings, which caches, proxies and
 * path-based policies in front of the registry see as different resources. No name of the
 * spec's grammar needs an escape; only the last segment (a tag or digest, which some clients
 * encode, `sha256%3A…`) may hold one. The `%2F` case keeps its own message.
 */
export const refuseEncodedSlash: MiddlewareHandler = async (c, next) => {
  const path = new URL(c.req.url).pathname;
  if (/%2f/i.test(path)) {
    throw new RegistryError("NAME_INVALID", 'the path holds an encoded "/" (%2F); write the "/" of a repository name as it is, e.g. /v2/team/app/manifests/latest');
  }
  if (path.slice(0, path.lastIndexOf("/")).includes("%")) {
    throw new RegistryError("NAME_INVALID", "the path percent-encodes the repository name; names need no escapes: write it as it is, e.g. /v2/team/app/manifests/latest");
  }
  await next();
};
