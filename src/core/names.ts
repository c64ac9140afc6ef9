import { RegistryError } from "./errors.ts";

// distribution-spec § Pulling manifests: the <name> and tag grammars, verbatim.
const NAME = /^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
/** Clients limit host + "/" + name to 255 characters; Distribution caps the name at 255. */
const MAX_NAME_LENGTH = 255;

export function isRepositoryName(name: string): boolean {
  return name.length <= MAX_NAME_LENGTH && NAME.test(name);
}

export function assertRepositoryName(name: string): void {
  if (!isRepositoryName(name)) {
    throw new RegistryError(
      "NAME_INVALID",
      `invalid repository name "${name.slice(0, 300)}": use lowercase path components of [a-z0-9] separated by ".", "_", "__" or "-", joined by "/", at most ${MAX_NAME_LENGTH} characters`,
    );
  }
}

export const isTag = (tag: string): boolean => TAG.test(tag);
