/**
 * SOURCE and DESTINATION of `oci-registry copy`, in skopeo's transport syntax (containers-transports(5)),
 * so that a skopeo user knows them at once:
 *
 *   oci:DIR[:TAG]                  an OCI image layout (a directory)
 *   oci-archive:FILE[:TAG]         an OCI image layout in a tar file
 *   docker-archive:FILE[:NAME:TAG | :@N]   `docker save` / `podman save` output
 *   docker://[HOST/]NAME[:TAG | @DIGEST]   a registry; no host means Docker Hub
 *
 * As in skopeo, the path ends at the first `:` after the transport's own.
 */

export type Transport =
  | { kind: "oci"; dir: string; tag: string | undefined }
  | { kind: "oci-archive"; file: string; tag: string | undefined }
  | { kind: "docker-archive"; file: string; select: { name: string } | { index: number } | undefined }
  | { kind: "docker"; reference: DockerReference };

export interface DockerReference {
  /** As written (`docker.io` for Docker Hub): the key of auth files. */
  host: string;
  /** Where the API is: `registry-1.docker.io` for Docker Hub, otherwise `host`. */
  apiHost: string;
  /** The repository, with Docker Hub's `library/` for one-segment names. */
  repository: string;
  tag: string | undefined;
  digest: string | undefined;
}

export class TransportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TransportError";
  }
}

const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const REPOSITORY = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const DOCKER_HUB = new Set(["docker.io", "index.docker.io", "registry-1.docker.io"]);

export function parseTransport(text: string): Transport {
  const colon = text.indexOf(":");
  if (colon < 1) throw new TransportError(`"${text}" names no transport; write oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE or docker://HOST/NAME[:TAG]`);
  const transport = text.slice(0, colon);
  const rest = text.slice(colon + 1);
  switch (transport) {
    case "oci":
    case "oci-archive": {
      const [path, tag] = splitPath(rest, text);
      if (tag !== undefined && !TAG.test(tag)) throw new TransportError(`"${tag}" in ${text} is not a valid tag`);
      return transport === "oci" ? { kind: "oci", dir: path, tag } : { kind: "oci-archive", file: path, tag };
    }
    case "docker-archive": {
      const [file, ref] = splitPath(rest, text);
      if (ref === undefined) return { kind: "docker-archive", file, select: undefined };
      if (/^@\d+$/.test(ref)) return { kind: "docker-archive", file, select: { index: Number(ref.slice(1)) } };
      if (!ref.includes(":")) throw new TransportError(`"${ref}" in ${text} must be NAME:TAG (as in the archive's RepoTags) or @N (the N-th image, from 0)`);
      return { kind: "docker-archive", file, select: { name: ref } };
    }
    case "docker": {
      if (!rest.startsWith("//")) throw new TransportError(`${text}: the docker transport is written docker://HOST/NAME[:TAG]`);
      return { kind: "docker", reference: parseDockerReference(rest.slice(2)) };
    }
    default:
      throw new TransportError(`unknown transport "${transport}"; this tool knows oci:, oci-archive:, docker-archive: and docker://`);
  }
}

function splitPath(rest: string, whole: string): [string, string | undefined] {
  const colon = rest.indexOf(":");
  const path = colon < 0 ? rest : rest.slice(0, colon);
  if (path === "") throw new TransportError(`${whole} names no path`);
  return [path, colon < 0 ? undefined : rest.slice(colon + 1)];
}

/** `[HOST[:PORT]/]NAME[:TAG][@DIGEST]` (docker's reference grammar; a first part with `.` or `:`, or `localhost`, is a host). */
export function parseDockerReference(text: string): DockerReference {
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw new TransportError(`"${digest}" in docker://${text} is not a digest`);
  }
  const slash = rest.indexOf("/");
  const first = slash < 0 ? "" : rest.slice(0, slash);
  const hasHost = first !== "" && (first.includes(".") || first.includes(":") || first === "localhost");
  const host = hasHost ? first : "docker.io";
  let path = hasHost ? rest.slice(slash + 1) : rest;
  let tag: string | undefined;
  const tagColon = path.lastIndexOf(":");
  if (tagColon >= 0) {
    tag = path.slice(tagColon + 1);
    path = path.slice(0, tagColon);
    if (!TAG.test(tag)) throw new TransportError(`"${tag}" in docker://${text} is not a valid tag`);
  }
  const dockerHub = DOCKER_HUB.has(host);
  const repository = dockerHub && !path.includes("/") ? `library/${path}` : path;
  if (!REPOSITORY.test(repository)) throw new TransportError(`"${path}" in docker://${text} is not a repository name (lowercase letters, digits, separators)`);
  if (tag === undefined && digest === undefined) tag = "latest";
  return { host, apiHost: dockerHub ? "registry-1.docker.io" : host, repository, tag, digest };
}
