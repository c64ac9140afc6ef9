/** Record builders for the metadata-store contract. */
import type { BlobInfo, ManifestRecord, UploadRecord } from "../../src/ports/metadata-store.ts";

/** A well-formed sha256 digest, distinct per `n`. */
export function digest(n: number): string {
  return `sha256:${n.toString(16).padStart(64, "0")}`;
}

export function blob(n: number): BlobInfo {
  return { digest: digest(n), size: 100 + n, key: `blobs/sha256/${digest(n).slice(7)}` };
}

export function manifest(n: number, extra: Partial<ManifestRecord> = {}): ManifestRecord {
  return { digest: digest(n), mediaType: "application/vnd.oci.image.manifest.v1+json", size: 500 + n, key: `blobs/sha256/${digest(n).slice(7)}`, ...extra };
}

export function upload(id: string, extra: Partial<UploadRecord> = {}): UploadRecord {
  return {
    id,
    repository: "library/alpine",
    algorithm: "sha256",
    createdAt: 1_700_000_000_000,
    version: 1,
    received: 0,
    hashState: null,
    partSize: 5 * 1024 * 1024,
    multipart: null,
    parts: [],
    tail: null,
    ...extra,
  };
}
