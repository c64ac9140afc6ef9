/**
 * Where each metadata record lives under the filesystem metadata root (the
 * layout is described in core/storage-layout.ts). Every name that becomes a
 * path is checked first, so no name can escape its directory or land on
 * another record's file.
 */
import { join } from "node:path";

/**
 * A looser form of the spec's name grammar (core/names.ts checks the exact
 * one), keeping what paths rely on: lowercase, so case-insensitive disks
 * cannot merge two names; components that start with neither "." nor "_", so
 * none is ".." or meets a reserved `_` directory; at most 255 characters, so
 * no component is too long for a file name.
 */
const REPOSITORY = /^[a-z0-9][a-z0-9._-]*(?:\/[a-z0-9][a-z0-9._-]*)*$/;
/** distribution-spec § Pulling manifests: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`. */
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
/** OCI image-spec § Digests: `algorithm:encoded`; neither part can be "." or "..". */
const DIGEST = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([A-Za-z0-9=_-]+)$/;
const UPLOAD_ID = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;

/** A name that cannot be stored; reads treat it as absent, writes fail with it. */
export class InvalidNameError extends Error {
  constructor(kind: string, name: string) {
    super(`invalid ${kind} ${JSON.stringify(name)}`);
    this.name = "InvalidNameError";
  }
}

/** Marks a directory under repositories/ as a registered repository. */
export const REPOSITORY_MARKER = "_repository.json";

export class MetadataPaths {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  blob(digest: string): string {
    return digestFile(join(this.root, "blobs"), digest);
  }

  get repositories(): string {
    return join(this.root, "repositories");
  }

  repository(name: string): string {
    if (!REPOSITORY.test(name) || name.length > 255) throw new InvalidNameError("repository name", name);
    return join(this.repositories, ...name.split("/"));
  }

  link(repository: string, digest: string): string {
    return digestFile(join(this.repository(repository), "_links"), digest);
  }

  manifest(repository: string, digest: string): string {
    return digestFile(join(this.repository(repository), "_manifests"), digest);
  }

  tags(repository: string): string {
    return join(this.repository(repository), "_tags");
  }

  tag(repository: string, tag: string): string {
    if (!TAG.test(tag)) throw new InvalidNameError("tag", tag);
    return join(this.tags(repository), fileName(tag));
  }

  referrers(repository: string, subject: string): string {
    return join(this.repository(repository), "_referrers", ...digestParts(subject));
  }

  referrer(repository: string, subject: string, digest: string): string {
    return digestFile(this.referrers(repository, subject), digest);
  }

  get uploads(): string {
    return join(this.root, "uploads");
  }

  upload(id: string): string {
    if (!UPLOAD_ID.test(id)) throw new InvalidNameError("upload id", id);
    return join(this.uploads, fileName(id));
  }
}

/** `sha256:abc` → ["sha256", "abc"]. */
function digestParts(digest: string): [string, string] {
  const match = DIGEST.exec(digest);
  if (!match?.[1] || !match[2]) throw new InvalidNameError("digest", digest);
  return [match[1], match[2]];
}

/** `<dir>/<algorithm>/<encoded>.json`: two levels, so no ":" in file names and no two digests share a path. */
function digestFile(dir: string, digest: string): string {
  const [algorithm, encoded] = digestParts(digest);
  return join(dir, algorithm, fileName(encoded));
}

/**
 * `<name>.json`, with each uppercase letter written as "^" and its lowercase
 * ("^" is in no tag, digest or upload-id grammar), so names that differ only
 * in case (tags `Latest` and `latest`) stay apart on case-insensitive disks.
 */
function fileName(name: string): string {
  return `${name.replace(/[A-Z]/g, (letter) => `^${letter.toLowerCase()}`)}.json`;
}

/** The name a `fileName` was made from. */
export function nameOfFile(file: string): string {
  return file.replace(/\.json$/, "").replace(/\^([a-z])/g, (_, letter: string) => letter.toUpperCase());
}
