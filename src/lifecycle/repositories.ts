/**
 * Deleting a whole repository: every manifest, tag, blob link and upload of it and its
 * catalog entry go at once (one transaction), the uploads' storage is freed, and the
 * blobs it held become garbage the next collection reclaims (unless another repository
 * holds them). Available where one transaction can do it (the SQLite store).
 */
import type { BlobStore } from "../ports/blob-store.ts";
import type { CollectableMetadata } from "../ports/collectable.ts";

export interface RepositoryDeleted {
  repository: string;
  manifests: number;
  tags: number;
  links: number;
  uploads: number;
}

export async function deleteRepository(metadata: CollectableMetadata, blobs: BlobStore, repository: string): Promise<RepositoryDeleted | null> {
  const deleted = await metadata.deleteRepository(repository);
  if (!deleted) return null;
  for (const upload of deleted.uploads) {
    if (upload.multipart) await blobs.abortMultipartUpload(upload.multipart.key, upload.multipart.uploadId).catch(() => {});
    if (upload.tail) await blobs.delete(upload.tail.key).catch(() => {});
  }
  return { repository, manifests: deleted.manifests, tags: deleted.tags, links: deleted.links, uploads: deleted.uploads.length };
}
