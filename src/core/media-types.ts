/** Manifest media types this registry understands (image-spec media-types.md; Docker schema 2). */
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
