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
 *   uploads/<upload-id>/tail-<n>   bytes received after the last full part of an upload
 *                                  (less than one part), written by one request and read
 *                                  back by the next; <n> is unique per request. A racing or
 *                                  retried request therefore never overwrites (or, losing
 *                                  the race, deletes) the tail the current record points at.
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
 *   upload           (repository, upload id) → UploadRecord      versioned, conditional updates;
 *                                                                `writer` is the request allowed
 *                                                                to write its parts and tail now
 *                                                                (core/uploads.ts, "One writer at
 *                                                                a time"): part numbers are slots
 *                                                                a later write replaces, so only
 *                                                                the claim keeps racers apart
 *
 * Adapter layouts:
 *
 * ### memory
 *   Maps keyed as above, held in one process: the blob index by digest, and per
 *   repository its links, manifests, tags, referrers (subject → set of digests),
 *   uploads and a `registered` flag for the catalog. Records are copied in and
 *   out. The memory blob store keeps objects and each multipart upload's parts
 *   as byte arrays, concatenating the listed parts on completion.
 *
 * ### filesystem (DATA_DIR/metadata)
 *   One small JSON file per record; <digest> below is `<alg>/<encoded>` (two
 *   path levels, so no ":" in file names). In tag, digest and upload-id file
 *   names each uppercase letter is written "^" + lowercase, so `Latest` and
 *   `latest` stay two files on case-insensitive disks.
 *
 *   blobs/<digest>.json                           blob index: BlobInfo
 *   repositories/<name>/                          one directory per path component of
 *                                                 the name, so `a/b` nests inside `a`
 *     _repository.json                            {name}: registered (linkBlob, putManifest);
 *                                                 the catalog is every directory holding one,
 *                                                 sorted by full name after the walk
 *     _links/<digest>.json                        blob link: BlobInfo
 *     _manifests/<digest>.json                    ManifestRecord
 *     _tags/<tag>.json                            {digest}
 *     _referrers/<subject digest>/<digest>.json   {digest}: manifest <digest> has that subject
 *   uploads/<upload-id>.json                      UploadRecord (global, so the expiry sweep
 *                                                 reads one directory); getUpload checks its
 *                                                 `repository`
 *   .tmp/                                         files being written
 *
 *   Reserved directories start with "_", which a repository path component
 *   cannot (the adapter checks every name before it becomes a path), so
 *   `a/_tags` can never be a repository and `a/tags` never meets `a`'s tags.
 *   Every write goes to .tmp/, is flushed and renamed into place. putManifest
 *   writes the manifest before its referrer entry and tags, and deleteManifest
 *   removes them in the opposite order, so a tag or referrer never leads to a
 *   missing manifest. Read-modify-write changes (conditional upload updates,
 *   the first-writer-wins blob index, deleteManifest's tag sweep) hold an
 *   in-process lock per repository or on the blob index: this backend is for
 *   ONE process owning DATA_DIR; two processes on one directory can both win
 *   a race.
 *
 *   The filesystem blob store (DATA_DIR/blobs) keeps key `a/b/c` at file `a/b/c`;
 *   keys may not contain "..", start with "/", or have a segment starting with
 *   ".", which keeps its hidden directories apart: `.tmp/` for puts and
 *   completions in progress (renamed into place once verified), and
 *   `.multipart/<upload-id>/` holding the upload's `key` and its parts as
 *   `<part-number>.<etag>`. Completion writes `index.json` (the parts in
 *   order) into that directory and renames it to `.segmented/<key>/`; reads
 *   of such a key stream across the parts. Joining the parts into one file
 *   would copy every byte of a chunked blob a second time.
 *
 * ### durable-object (SQLite-backed Durable Objects; adapters/durable-object)
 *   Three classes; every object is its own SQLite database. Object names within each class:
 *
 *   RepositoryObject "<repository>"   all that one repository owns
 *     links (digest PK, size, key)                          blob link
 *     manifests (digest PK, subject, record, overflow_parts) ManifestRecord as JSON; the index
 *                                                           on subject is the referrers index
 *     manifest_overflow (digest, seq, text)                 the rest of a record's JSON past
 *                                                           512 Ki UTF-16 units (a row holds at
 *                                                           most 2 MB; only huge annotations)
 *     tags (tag PK, digest)                                 indexed by digest for deleteManifest
 *     uploads (id PK, version, created_at, record)          UploadRecord as JSON; updated
 *                                                           `WHERE id = ? AND version = ?`
 *                                                           (10,000 parts: under 1 MB)
 *     registration (registered)                             one row once the catalog has it
 *   IndexShardObject "shard-<n>"       n = FNV-1a(key) mod 16, a constant: changing it would
 *                                      hide what was recorded under the old count
 *     blobs (digest PK, size, key)                          blob index, key = digest;
 *                                                           INSERT OR IGNORE: first writer wins
 *     open_uploads (repository, id, created_at)             key = repository "\n" id; indexed
 *                                                           by created_at for the expiry sweep
 *   CatalogObject "catalog"
 *     repositories (name PK)                                the catalog
 *
 *   One object per repository is the unit the port's consistency needs: putManifest and
 *   deleteManifest are one transaction there, the upload update one conditional UPDATE, and
 *   a Durable Object runs one call at a time on storage only it touches. Load spreads by
 *   repository. The blob index is global and read by every push, so it is sharded by
 *   digest; the catalog is written once per repository and listed in order, so one object
 *   holds it. Tags and names list in SQLite's BINARY collation: UTF-8 byte order, which is
 *   code-point order. Steps that cross objects are each idempotent, and ordered so that a
 *   failure in between leaves nothing wrong:
 *     linkBlob, putManifest: the repository object first (it answers whether the
 *       repository is registered), then, only the first time, the catalog, then the
 *       registration row; a failure in between leaves the name out of the catalog until
 *       the next write registers it.
 *     createUpload writes the open_uploads entry before the record, deleteUpload removes
 *       the record before the entry: expiry never misses a record, and an entry whose
 *       record is gone is dropped when the sweep finds it.
 *   Manifest bytes are in the blob store, never in a row. The R2 blob store keeps the
 *   blob-store keys above unchanged, in one bucket (binding BLOBS).
 *
 * ### dynamodb (one table, string keys pk/sk; adapters/dynamodb)
 *   pk                 sk                              attributes
 *   blob#<digest>      blob                            digest, size, key: blob index
 *   catalog            <repository>                    (none): the catalog, one partition
 *   repo#<repository>  link#<digest>                   digest, size, key: blob link
 *                      manifest#<digest>               putId, subject?, deleting?, and record (ManifestRecord
 *                                                      JSON) or, over 300 KB (annotations), chunkCount:
 *                      manifest#<digest>#<putId>#<n>   chunk: the deflated record in 300 KB pieces,
 *                                                      written before the item naming them; keyed by
 *                                                      the put, so a re-put never overwrites chunks a
 *                                                      reader follows (it deletes the ones it replaced)
 *                      tag#<tag>                       digest
 *                      tagged#<digest>#<tag>           putId: <digest> was given <tag> (back-reference)
 *                      referrer#<subject>#<digest>     putId
 *                      upload#<upload-id>              record (JSON, parts aside, writer in it), parts (deflated
 *                                                      JSON, ~25 bytes a part, so 10,000 parts fit
 *                                                      the 400 KB item limit), version, uploadIndex,
 *                                                      createdAt
 *   index uploads-by-age: uploadIndex ("upload", on upload items only) / createdAt, keys only,
 *   for the expiry sweep; like every index it is eventually consistent, which expiry tolerates.
 *
 *   Reads are strongly consistent. One repository is one partition, and each item kind one
 *   contiguous sort-key range ("#" < "$" bounds a prefix), so tags and the catalog list in
 *   UTF-8 byte order, which is code-point order, by Query pages (Limit and the 1 MB cap,
 *   followed through LastEvaluatedKey). Manifest bytes live in the blob store (an item holds
 *   at most 400 KB); only a record with huge annotations needs chunks.
 *   Single-item rules are conditions: first writer wins the blob index
 *   (attribute_not_exists), upload updates need `version = expected`.
 *   putManifest and deleteManifest touch many items, without transactions (dynalite has
 *   none; DynamoDB's are capped at 100 items). A put writes the manifest item whole (which
 *   drops any `deleting` mark), then the referrer, the tagged# back-references, the tags,
 *   then reads the manifest again: if it is gone or marked, a delete overlapped, and the put
 *   removes the tags it wrote that still point at the digest (and its referrer, by putId).
 *   A delete marks the manifest (`deleting` = a fresh token), removes every tag its tagged#
 *   entries name that still points at the digest, the referrer, then the manifest on
 *   condition that its token is still there; a put in between removed the mark, so the
 *   delete starts again (up to 5 rounds). Back-references go last, each on condition of
 *   its putId, so a retry still finds them all. Why no tag is left dangling: the delete
 *   removes the manifest only if no put wrote it after the mark. A put whose re-read came
 *   before the mark had written its back-references and tags before the delete queried
 *   them, so the delete removes those tags; a put whose re-read came after it sees the mark
 *   or the gap and removes its own. While both run, a tag may briefly name a missing
 *   manifest; getTaggedManifest reads through to the manifest and answers null then.
 *   The catalog entry is written once per repository per process (names are never removed).
 *   The S3 blob store keeps the blob-store keys above unchanged, in one bucket.
 */

export function blobKey(digest: string): string {
  const [algorithm, hex] = digest.split(":");
  return `blobs/${algorithm}/${hex}`;
}

export function chunkedBlobKey(uploadId: string): string {
  return `blobs/chunked/${uploadId}`;
}

export function uploadTailKey(uploadId: string, nonce: string): string {
  return `uploads/${uploadId}/tail-${nonce}`;
}
