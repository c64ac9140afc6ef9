/**
 * The storage layout, all of it, in one place.
 *
 * ## Blob store (memory, filesystem, R2, S3): keys
 *
 *   blobs/<alg>/<hex>-<write-id>   a blob or manifest whose digest was known before it was
 *                                  written (monolithic push, manifest PUT); the adapter
 *                                  verified the bytes against the digest while writing.
 *                                  Unique per write (lifecycle/collector.ts says why); two
 *                                  pushes of one digest at once both write, the blob index
 *                                  keeps the first, and the other deletes its own object.
 *   blobs/<alg>/<hex>              the same, written by versions before garbage collection.
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
 *   blob index       digest → {size, key}                        global, first writer wins; manifests'
 *                                                                bytes too; marked/revived/removed by GC
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
 * ### sql (SQLite: DATA_DIR/registry.db on Node; each Durable Object's own database)
 *   One schema (adapters/sql/schema.ts) and one set of statements (adapters/sql/records.ts)
 *   behind a synchronous driver: node:sqlite on Node, storage.sql in a Durable Object.
 *   Every row names its repository, even in a database that holds one repository.
 *
 *   links (repository, digest) PK, size, key                   blob link
 *   manifests (repository, digest) PK, subject, record,        ManifestRecord as JSON; the index on
 *             overflow_parts                                   (repository, subject) is the referrers index
 *   manifest_overflow (repository, digest, seq) PK, text       the rest of a record's JSON past 512 Ki
 *                                                              UTF-16 units (a Durable Object row holds
 *                                                              at most 2 MB; only huge annotations)
 *   tags (repository, tag) PK, digest                          indexed by (repository, digest) for deletes
 *   manifests_by_push (repository, pushed_at)                  the newest push of a repository in one index step
 *   held (repository, digest) PK, size, holders                what each repository holds, with how many of its
 *                                                              links, manifest rows and references hold it;
 *   repository_figures (repository PK, bytes)                  and their sum: both kept by triggers on links,
 *                                                              manifests and manifest_refs, in the writing
 *                                                              statement (adapters/sql/repository-figures.ts)
 *   uploads (repository, id) PK, version, created_at, record   UploadRecord as JSON; updated
 *                                                              `WHERE ... AND version = ?`; indexed by age
 *   blobs (digest PK, size, key, marked_at)                    blob index; INSERT OR IGNORE: first writer wins;
 *                                                              marked_at: garbage collection's mark (NULL: live)
 *   repositories (name PK)                                     the catalog
 *   instances (owner PK, started_at)                           Node only: registry processes on this DATA_DIR
 *                                                              (adapters/sqlite/instances.ts)
 *   blob_flights (digest PK, owner, expires_at)                Node only: the process fetching a blob from a
 *                                                              mirror's upstream (adapters/sqlite/blob-flights.ts)
 *   login_failures (key, window PK), count, expires_at         auth state (adapters/sql/auth-state-records.ts):
 *                                                              failed logins per "name:<n>" / "address:<a>"
 *                                                              and fixed window; old windows pruned 50 a time
 *   used_tokens (id PK, expires_at)                            refresh tokens rotated away ("refresh:<jti>")
 *   event_outbox (id PK, endpoint, body, attempts, next_at,    Node only: events waiting for delivery, one row
 *                 claimed_by, claimed_until)                   per endpoint (its envelope, filters applied);
 *                                                              claimed before a send, deleted when delivered
 *                                                              or dropped; at most maxPending rows per endpoint,
 *                                                              claimed per endpoint (index endpoint, next_at)
 *                                                              (adapters/sql/event-records.ts)
 *   audit_log (id PK, repository, entry, change, at)           Node only: AuditEntry as JSON; the last 100,000
 *                                                              changes (change=1: push, delete, gc) and apart
 *                                                              the last 100,000 pulls and refusals (change=0);
 *                                                              at: the entry's time (listed newest first by it)
 *   Also: links.linked_at, manifests.pushed_at and refs_recorded, tags.tagged_at, uploads.touched_at
 *   (garbage collection, retention, expiry), manifests.pulled_at (a mirror's last recorded pull,
 *   NULL: none; retention by last pull), and manifest_refs (repository, manifest, digest PK):
 *   what each manifest holds, indexed by digest.
 *
 *   Node keeps every table in one database file in WAL mode, opened by every process of
 *   the cluster: putManifest (its reference checks, the record, every tag and the catalog
 *   entry), deleteManifest (the record, its overflow and every tag on it) and linkBlob
 *   (with the catalog) are each one transaction started with BEGIN IMMEDIATE, so a second
 *   process's write waits for the lock (busy_timeout) and a reader sees before or after,
 *   never between; a crash loses the whole uncommitted transaction. Upload updates are one
 *   conditional UPDATE. synchronous=FULL, except upload progress (NORMAL): see "Durability".
 *   Tags and names list in SQLite's BINARY collation: UTF-8 byte order, which is code-point
 *   order. No name becomes a file name, so every length the grammar allows is stored.
 *
 *   Before SQLite (versions up to 2026-11), DATA_DIR/metadata held one JSON file per record
 *   (blobs/<alg>/<hex>.json, repositories/<name>/{_repository.json, _links/, _manifests/,
 *   _tags/<tag>.json, _referrers/}, uploads/<id>.json; uppercase letters in file names as
 *   "^" + lowercase). Start-up imports such a folder in one transaction and renames it to
 *   metadata.imported-<time> (adapters/sqlite/import-json-metadata.ts).
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
 *   Durability (Node: filesystem blob store + SQLite). The rule a client relies on: a blob,
 *   manifest, tag, link or delete that was answered survives an OS crash (power loss), and
 *   nothing visible ever names bytes that are not on disk. Progress of an unfinished upload
 *   only needs to survive a process crash: the resumable-upload protocol lets a client ask
 *   where an upload stands (GET, or the Range of a refused PATCH) and send the rest again, or
 *   start over on BLOB_UPLOAD_UNKNOWN / BLOB_UPLOAD_INVALID. So:
 *   - Parts (`.multipart/<id>/<n>.<etag>`) are written and renamed into place without a flush.
 *     completeMultipartUpload flushes every listed part, writes index.json (flushed), flushes
 *     the upload directory, renames it to `.segmented/<key>/` and flushes that parent and its
 *     parents up to the store's root, all before it returns; only then does the engine index
 *     the blob (a synchronous=FULL commit). A visible blob is therefore durable. One narrow
 *     gap: a process killed between that rename and its directory flush leaves the blob in
 *     place, and the PUT's retry indexes it as it finds it (uploads.ts, `store`) without
 *     flushing the rename again; on ext4 (one metadata journal, committed in order) the
 *     index's commit, an fsync on the same filesystem, commits the rename with it. Files written
 *     whole by `put` (blobs whose digest was known, manifests, tails) are flushed before their
 *     rename, as before.
 *   - An OS crash can lose or shorten only parts of unfinished uploads (their record may have
 *     reached the disk before their bytes: a later FULL commit flushes the log, not the parts).
 *     Completion refuses such an upload: a missing part fails the multipart check (part not
 *     uploaded, or another ETag), a short one the equal-size rule or the engine's assembled
 *     size against `received`; the engine discards the upload and answers BLOB_UPLOAD_INVALID,
 *     nothing is indexed. This assumes a filesystem that extends a file's size only once its
 *     data is written (ext4 data=ordered, the default; XFS; btrfs), so a part is never the right
 *     size with lost contents; the hash state is not re-checked against the bytes.
 *   - SQLite runs in WAL mode with synchronous=FULL (each commit flushes the log before it is
 *     answered) for every write except createUpload and updateUpload (upload start, a PATCH's
 *     claim and its received bytes, hash state, part list and tail), which run with
 *     synchronous=NORMAL (adapters/sqlite/node-driver.ts, `progress`; the pragma is per
 *     connection and set between transactions, never inside one). Why that is safe: in WAL
 *     mode a NORMAL commit is complete in the log, in the OS's cache, when it is answered, so a
 *     process crash (SIGKILL) loses nothing; an OS crash may lose the newest NORMAL commits,
 *     and only those after the last FULL commit, because the log is one sequence replayed up
 *     to its last whole commit, and a FULL commit flushes everything before it. The blob index,
 *     links, manifests, tags, deletes (deleteUpload included) and garbage collection keep
 *     FULL. Outbox rows of events that are all pulls are NORMAL too (node-events.ts): a pull
 *     changed nothing, and each pull, anyone's, would otherwise flush the disk while holding
 *     the write lock; an OS crash may lose such an event, a process crash never. An upload whose newest progress was lost answers its older state: a lower Range
 *     (the client resends from there; parts of the lost PATCH are replaced, or fail the ETag
 *     check at completion), or 404 if its start was lost; its hash state always describes
 *     exactly the bytes its `received` counts. Orphaned parts and multipart directories go to
 *     the leftover sweep, as after any crash.
 *   Before this (2026-12), every part was flushed before its PATCH was answered and every
 *   commit was FULL: each 8 MiB PATCH waited for a part flush and two log flushes, which is
 *   what Distribution does not do (it flushes nothing per PATCH). docs/bench.md has the figures.
 *
 * ### durable-object (SQLite-backed Durable Objects; adapters/durable-object)
 *   Three classes; every object is its own SQLite database holding part of the "sql" tables
 *   above, through the same statements. Object names within each class:
 *
 *   RepositoryObject "<repository>"   links, manifests, manifest_overflow, tags, uploads (rows of
 *                                      that one repository), registration (registered, token):
 *                                      one row once the catalog lists it, with the catalog's token,
 *                                      and registration_seen (highest): the newest token seen or
 *                                      fenced; older ones are refused. Objects written before the
 *                                      shared schema had these tables without the repository
 *                                      column: renamed to legacy_* at start, copied in by the first
 *                                      call (legacy-schema.ts)
 *   IndexShardObject "shard-<n>"       n = FNV-1a(key) mod 16, a constant: changing it would
 *                                      hide what was recorded under the old count
 *     blobs                                                 blob index, key = digest
 *     open_uploads (repository, id, created_at)             key = repository "\n" id; indexed
 *                                                           by created_at for the expiry sweep
 *   CatalogObject "catalog"
 *     repositories (name, token)                            the catalog; token: new at each registration,
 *                                                           from registration_sequence (growing; random
 *                                                           UUIDs before it, NULL before deletions existed)
 *     registration_sequence (id = 1, last)                  the last token given
 *     gc_cycle (id = 1, started_at, state JSON)             the garbage collection cycle in progress across
 *                                                           cron runs: phase, cursors, counts
 *     gc_held (cycle, digest PK)                            digests that cycle's scan found held
 *                                                           (lifecycle/resumable-collector.ts)
 *   AuthStateObject "auth-state"      login_failures, used_tokens: the auth state of the deployment
 *                                      (one object: only logins and refresh rotations reach it)
 *
 *   One object per repository is the unit the port's consistency needs: putManifest (with its
 *   reference checks: links and manifests live there too) and deleteManifest are one
 *   transaction there, the upload update one conditional UPDATE, and
 *   a Durable Object runs one call at a time on storage only it touches. Load spreads by
 *   repository. The blob index is global and read by every push, so it is sharded by
 *   digest; the catalog is written once per repository and listed in order, so one object
 *   holds it. Tags and names list in SQLite's BINARY collation: UTF-8 byte order, which is
 *   code-point order. Steps that cross objects are each idempotent, and ordered so that a
 *   failure in between leaves nothing wrong:
 *     linkBlob, putManifest: the index shard's revive of the entry, then the repository
 *       object, which writes only if it has its registration, checked in the same call;
 *       without it, the catalog (a fresh token), the registration, and the write again. A
 *       repository is in the catalog before it holds anything, because the garbage collector
 *       finds holders through the catalog (lifecycle/scanning-collector.ts); a failed write may
 *       leave an empty repository listed.
 *     deleteRepository: every row and the registration in one transaction of the repository
 *       object, then the catalog entry only if its token is still the registration's (a push
 *       that registered in between keeps it listed; metadata-store.ts has the argument).
 *     createUpload writes the open_uploads entry before the record, deleteUpload removes
 *       the record before the entry: expiry never misses a record, and an entry whose
 *       record is gone is dropped when the sweep finds it.
 *   Manifest bytes are in the blob store, never in a row. The R2 blob store keeps the
 *   blob-store keys above unchanged, in one bucket (binding BLOBS).
 *
 * ### dynamodb (one table, string keys pk/sk; adapters/dynamodb)
 *   pk                 sk                              attributes
 *   blob#<digest>      blob                            digest, size, key: blob index
 *   catalog            <repository>                    the catalog, one partition; bytes, bytesVersion, pushedAt:
 *                                                      the repository's size, counted as its link and manifest
 *                                                      items come and go, and newest manifest put (the catalog
 *                                                      page's figures; adapters/dynamodb/repository-figures.ts)
 *   repo#<repository>  link#<digest>                   digest, size, key: blob link
 *                      manifest#<digest>               putId, subject?, deleting?, pushedAt, size, pulledAt? (a
 *                                                      mirror's last recorded pull), refs? (deflated JSON digests it
 *                                                      references; absent: unknown; refsTooMany when the
 *                                                      collector found too many to store), and record (ManifestRecord
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
 *   auth#failures#<key> <window start ms>               count (ADD), authExpiresAt: failed logins
 *   auth#used#<id>     used                            authExpiresAt: a refresh token rotated away
 *                                                      (attribute_not_exists); authExpiresAt is the
 *                                                      table's TTL attribute (adapters/dynamodb/auth-state.ts)
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
 *   putManifest's reference checks are one batched consistent read before its writes, not
 *   a condition of them (no transactions, see below): a blob unlinked in between leaves the
 *   manifest naming a blob its repository no longer links (the SQL stores check inside the
 *   write's transaction instead).
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
 *   The catalog entry is written before every link and manifest put (idempotent). A repository
 *   deletion removes the partition's items, then the entry, then reads the partition again and
 *   lists it again if a push wrote meanwhile; the garbage collector also visits every repo#
 *   partition a Scan finds and lists again any the catalog lost (repository-deletion.ts).
 *   The S3 blob store keeps the blob-store keys above unchanged, in one bucket.
 */

/** Where versions before garbage collection wrote blobs and manifests whose digest was known: still read, never written. */
export function blobKey(digest: string): string {
  const [algorithm, hex] = digest.split(":");
  return `blobs/${algorithm}/${hex}`;
}

/**
 * A new object for bytes whose digest is known, unique to this write: garbage collection
 * deletes the object its index entry named, and a push that writes the same digest again
 * after the entry went must not write where those bytes are being deleted.
 */
export function newBlobKey(digest: string, writeId: string): string {
  return `${blobKey(digest)}-${writeId}`;
}

export function chunkedBlobKey(uploadId: string): string {
  return `blobs/chunked/${uploadId}`;
}

export function uploadTailKey(uploadId: string, nonce: string): string {
  return `uploads/${uploadId}/tail-${nonce}`;
}
