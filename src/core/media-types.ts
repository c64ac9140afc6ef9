/**
 * Manifest media types this registry stores (image-spec media-types.md; Docker schema 2),
 * and the only ones: each has a shape whose references are checked before it is stored.
 * Any other type would be a way around those checks, and a type of the client's choosing
 * served back (text/html) would be content a browser runs.
 */
export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
export const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
export const DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
/**
 * Layers that live elsewhere (their `urls`) and are never pushed: Docker's
 * "foreign" layers and OCI's non-distributable ones (image-spec layer.md).
 */
export function isNonDistributable(mediaType: string): boolean {
  return (
    mediaType === "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" ||
    mediaType.startsWith("application/vnd.oci.image.layer.nondistributable.v1.tar")
  );
}

export const isIndexType = (mediaType: string): boolean => mediaType === OCI_INDEX || mediaType === DOCKER_MANIFEST_LIST;

export const MANIFEST_TYPES: readonly string[] = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST];

export const isManifestType = (mediaType: string): boolean => MANIFEST_TYPES.includes(mediaType);

/**
 * The Content-Type a stored manifest is served with. Records written before types were
 * restricted may hold any type a client sent; one that is not a manifest or JSON type
 * is served as inert bytes, never as the active content (text/html, SVG, ...) it claims.
 */
export function servedManifestType(stored: string): string {
  if (isManifestType(stored) || /^application\/([a-z0-9][a-z0-9!#$&^_.-]*\+)?json$/.test(stored)) return stored;
  return "application/octet-stream";
}
