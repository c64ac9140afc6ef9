import type { BlobInfo } from "../../ports/metadata-store.ts";
import type { IndexedBlob, LinkRef, MarkedBlob } from "../../ports/collectable.ts";
import type { SqlDriver } from "./driver.ts";
import { ORPHAN_LINK } from "./records.ts";

/**
 * Garbage collection's queries over a database that holds every table (the
 * Node store): each decision is one statement or one transaction, so what it
 * checks is still true when it acts. The protocol and why it is safe:
 * lifecycle/collector.ts.
 */

/** The digest is held: a link, a manifest stored under it (its bytes), or a manifest that references it. */
const HELD = `(
  EXISTS (SELECT 1 FROM links l WHERE l.digest = blobs.digest)
  OR EXISTS (SELECT 1 FROM manifests m WHERE m.digest = blobs.digest)
  OR EXISTS (SELECT 1 FROM manifest_refs r WHERE r.digest = blobs.digest))`;


export class CollectorRecords {
  readonly #db: SqlDriver;

  constructor(db: SqlDriver) {
    this.#db = db;
  }

  listOrphanLinks(linkedBefore: number, after: LinkRef | null, limit: number): Array<LinkRef & { size: number }> {
    return this.#db.all<LinkRef & { size: number }>(
      `SELECT repository, digest, size FROM links WHERE (repository, digest) > (?, ?) AND ${ORPHAN_LINK} ORDER BY repository, digest LIMIT ?`,
      after?.repository ?? "",
      after?.digest ?? "",
      linkedBefore,
      Math.max(0, limit),
    );
  }

  /** Removes the link only if it is still an orphan written before `linkedBefore`. */
  removeOrphanLink(link: LinkRef, linkedBefore: number): boolean {
    return this.#db.run(`DELETE FROM links WHERE repository = ? AND digest = ? AND ${ORPHAN_LINK}`, link.repository, link.digest, linkedBefore);
  }

  /** Marks entries nothing holds; answers how many it marked. */
  markUnheld(now: number, limit: number): number {
    return this.#db.transaction(() => {
      const digests = this.#db.all<{ digest: string }>(
        `SELECT digest FROM blobs WHERE marked_at IS NULL AND NOT ${HELD} ORDER BY digest LIMIT ?`,
        Math.max(0, limit),
      );
      for (const { digest } of digests) this.#db.run("UPDATE blobs SET marked_at = ? WHERE digest = ?", now, digest);
      return digests.length;
    });
  }

  /** Entries marked at or before `markedBefore` that nothing holds, after `afterDigest`. */
  listSweepable(markedBefore: number, afterDigest: string, limit: number): MarkedBlob[] {
    return this.#db
      .all<BlobInfo & { marked_at: number }>(
        `SELECT digest, size, key, marked_at FROM blobs WHERE digest > ? AND marked_at <= ? AND NOT ${HELD} ORDER BY digest LIMIT ?`,
        afterDigest,
        markedBefore,
        Math.max(0, limit),
      )
      .map(({ marked_at, ...info }) => ({ ...info, markedAt: marked_at }));
  }

  /** Deletes the entry if its mark is unchanged and nothing holds it: the last check before its bytes go. */
  removeEntry(blob: MarkedBlob): boolean {
    return this.#db.run(`DELETE FROM blobs WHERE digest = ? AND key = ? AND marked_at = ? AND NOT ${HELD}`, blob.digest, blob.key, blob.markedAt);
  }

  /** Entries nothing holds now, or nothing would hold once the orphan links written before `linkedBefore` are gone (a dry run). */
  listUnheld(linkedBefore: number, afterDigest: string, limit: number): IndexedBlob[] {
    return this.#db.all<BlobInfo & { marked_at: number | null }>(
      `SELECT digest, size, key, marked_at FROM blobs WHERE digest > ?
        AND NOT EXISTS (SELECT 1 FROM links WHERE links.digest = blobs.digest AND NOT (${ORPHAN_LINK}))
        AND NOT EXISTS (SELECT 1 FROM manifests m WHERE m.digest = blobs.digest)
        AND NOT EXISTS (SELECT 1 FROM manifest_refs r WHERE r.digest = blobs.digest)
        ORDER BY digest LIMIT ?`,
      afterDigest,
      linkedBefore,
      Math.max(0, limit),
    ).map(({ marked_at, ...info }) => ({ ...info, markedAt: marked_at }));
  }

  /**
   * Drops catalog entries of repositories that hold nothing (no link, manifest, tag or upload),
   * in one statement: a push registers its repository in the same transaction as its first
   * record, so it either comes first (and the entry stays) or registers the name again.
   */
  removeEmptyRepositories(): string[] {
    return this.#db.transaction(() => {
      const empty = this.#db.all<{ name: string }>(
        `SELECT name FROM repositories r WHERE ${["links", "manifests", "tags", "uploads"].map((t) => `NOT EXISTS (SELECT 1 FROM ${t} x WHERE x.repository = r.name)`).join(" AND ")}`,
      );
      for (const { name } of empty) this.#db.run("DELETE FROM repositories WHERE name = ?", name);
      return empty.map((row) => row.name);
    });
  }

  /** The same for one repository (the scanning collector's visit): answers whether its entry went. */
  removeRepositoryIfEmpty(name: string): boolean {
    return this.#db.run(
      `DELETE FROM repositories WHERE name = ? AND ${["links", "manifests", "tags", "uploads"].map((t) => `NOT EXISTS (SELECT 1 FROM ${t} x WHERE x.repository = ?)`).join(" AND ")}`,
      name, name, name, name, name,
    );
  }

  /** Bytes the repositories of `namespace` hold, each digest once (lifecycle/usage.ts counts the same way). */
  namespaceBytes(namespace: string): number {
    const [where, ...params] = inNamespace(namespace);
    const row = this.#db.all<{ bytes: number | null }>(
      `SELECT SUM(size) AS bytes FROM blobs WHERE digest IN (
        SELECT digest FROM links WHERE ${where}
        UNION SELECT digest FROM manifests WHERE ${where}
        UNION SELECT digest FROM manifest_refs WHERE ${where})`,
      ...params,
      ...params,
      ...params,
    )[0];
    return row?.bytes ?? 0;
  }

  namespaceHolds(namespace: string, digest: string): boolean {
    const [where, ...params] = inNamespace(namespace);
    return this.#db.all(
      `SELECT 1 FROM links WHERE digest = ? AND ${where} UNION ALL SELECT 1 FROM manifests WHERE digest = ? AND ${where} LIMIT 1`,
      digest,
      ...params,
      digest,
      ...params,
    ).length > 0;
  }

  /** Every multipart upload id and tail key an upload record names (for the leftover sweep). */
  uploadStorage(): { multipartIds: Set<string>; tailKeys: Set<string> } {
    const multipartIds = new Set<string>();
    const tailKeys = new Set<string>();
    for (const { record } of this.#db.all<{ record: string }>("SELECT record FROM uploads")) {
      const upload = JSON.parse(record) as { multipart: { uploadId: string } | null; tail: { key: string } | null };
      if (upload.multipart) multipartIds.add(upload.multipart.uploadId);
      if (upload.tail) tailKeys.add(upload.tail.key);
    }
    return { multipartIds, tailKeys };
  }

  /** Whether any index entry names `key` (for the leftover sweep of objects written but never recorded). */
  keyIndexed(key: string): boolean {
    return this.#db.all("SELECT 1 FROM blobs WHERE key = ?", key).length > 0;
  }
}

/** A condition on `repository` for the repositories of a namespace (`team`, `team/...`), and its two parameters. */
function inNamespace(namespace: string): [string, string, string] {
  return ["(repository = ? OR repository LIKE ? ESCAPE '\\')", namespace, `${namespace.replace(/[\\%_]/g, (c) => `\\${c}`)}/%`];
}
