/**
 * The storage layout, all of it, in one place.
 *
 * ## Blob store (memory, filesystem, R2, S3): keys
 *
 *   blobs/<alg>/<hex>              a blob or manifest whose digest was known before it was
 *                                  written (monolithic push, manifest PUT); the adapter
 *                                  verified the bytes against the digest while writing.
 *   blobs/chunked/<upload-id>      a blob assembled from a multipart upload. S3 and R2 fix an
 *                                  upload's key when it starts, before the digest is known,
 *                                  and cannot rename on completion; copying to blobs/<alg>/<hex>
 *                                  would write every byte twice. So the key stays, and the
 *                                  metadata blob index maps the digest to it.
 *   uploads/<upload-id>/tail-<v>   bytes received after the last full part of an upload
 *                                  (less than one part), written by the request that made
 *                                  record version <v> and read back by the next one. A new
 *                                  key per version: a retried or racing request never
 *                                  overwrites the tail the current record points at.
 *
 * Content is immutable per key, except tails, which are deleted when superseded.
 * Blob deletes unlink from a repository; bytes are reclaimed by garbage collection,
 * not by the DELETE request (another repository may link the same digest).
 *
 * ## Metadata store: records (see ports/metadata-store.ts for the semantics)
 *
 *   blob index       digest → {size, key}                        global, first writer wins
 *   blob link        (repository, digest) → {size, key}          a repository's view of a blob
 *   manifest         (repository, digest) → ManifestRecord
 *   tag              (repository, tag) → manifest digest
 *   referrer         (repository, subject digest, digest)        derived from manifest.subject
 *   repository       name                                        for the catalog
 *   upload           (repository, upload id) → UploadRecord      versioned, conditional updates
 *
 * Adapter layouts:
 *
 * ### memory
 *   Maps keyed as above, held in one process.
 *
 * ### filesystem (DATA_DIR/metadata)
 *   Filled in by the filesystem adapter (see below).
 */

export function blobKey(digest: string): string {
  const [algorithm, hex] = digest.split(":");
  return `blobs/${algorithm}/${hex}`;
}

export function chunkedBlobKey(uploadId: string): string {
  return `blobs/chunked/${uploadId}`;
}

export function uploadTailKey(uploadId: string, version: number): string {
  return `uploads/${uploadId}/tail-${version}`;
}
