/** Manifest media types this registry understands (image-spec media-types.md; Docker schema 2). */
export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
export const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
export const DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
/** Docker "foreign" layers live elsewhere (their `urls`); registries do not hold them. */
export const DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

export const isIndexType = (mediaType: string): boolean => mediaType === OCI_INDEX || mediaType === DOCKER_MANIFEST_LIST;
