/**
 * Deleting a whole repository: every manifest, tag, blob link and upload of it and its
 * catalog entry go (SQLite: one transaction; Durable Objects: one transaction of the
 * repository's object, then the catalog; DynamoDB: item by item, then the catalog; each
 * store's deleteRepository says why a racing push is never left unlisted), the uploads'
 * storage is freed, and the blobs it held become garbage the next collection reclaims
 * (unless another repository holds them).
 */
import type { BlobStore } from "../ports/blob-store.ts";
import type { DeletableRepositories } from "../ports/collectable.ts";

export interface RepositoryDeleted {
  repository: string;
  manifests: number;
  tags: number;
  links: number;
  uploads: number;
}

export async function deleteRepository(metadata: DeletableRepositories, blobs: BlobStore, repository: string): Promise<RepositoryDeleted | null> {
  const deleted = await metadata.deleteRepository(repository);
  if (!deleted) return null;
  for (const upload of deleted.uploads) {
    if (upload.multipart) await blobs.abortMultipartUpload(upload.multipart.key, upload.multipart.uploadId).catch(() => {});
    if (upload.tail) await blobs.delete(upload.tail.key).catch(() => {});
  }
  return { repository, manifests: deleted.manifests, tags: deleted.tags, links: deleted.links, uploads: deleted.uploads.length };
}
