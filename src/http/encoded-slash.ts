import type { MiddlewareHandler } from "hono";
import { RegistryError } from "../core/errors.ts";

/**
 * Refuses `/v2/` paths that spell a "/" as `%2F`. The router decodes path parameters, so
 * `/v2/a%2Fb/manifests/x` was taken as repository `a/b`: one name reachable under two spellings,
 * which caches, proxies and path-based policies in front of the registry see as different
 * resources. No name, tag or digest of the spec's grammars needs the encoding.
 */
export const refuseEncodedSlash: MiddlewareHandler = async (c, next) => {
  const path = new URL(c.req.url).pathname;
  if (/%2f/i.test(path)) {
    throw new RegistryError("NAME_INVALID", 'the path holds an encoded "/" (%2F); write the "/" of a repository name as it is, e.g. /v2/team/app/manifests/latest');
  }
  await next();
};
