import { DurableObject } from "cloudflare:workers";
import type { BlobInfo, ManifestRecord, ManifestReferences, Page, UploadRecord } from "../../ports/metadata-store.ts";
import { RepositoryRecords } from "../sql/records.ts";
import type { TagTime, RepositoryScan } from "../../ports/collectable.ts";
import { ensureRepositoryFigures } from "../sql/repository-figures.ts";
import { addColumnIfMissing, REPOSITORY_TABLES } from "../sql/schema.ts";
import { DurableObjectSqlDriver } from "./do-driver.ts";
import { LegacyRepositoryTables } from "./legacy-schema.ts";

/**
 * One Durable Object per repository (named by the repository): its blob
 * links, manifests, tags, referrers and upload sessions, in its own SQLite
 * database, through the same SQL as every other SQLite store
 * (sql/records.ts; tables in core/storage-layout.ts, "sql"). A Durable
 * Object runs one call at a time against storage no one else can touch,
 * and every method here is one statement or one synchronous transaction,
 * so each is atomic and strongly consistent without locks. Every call names
 * its repository: the rows carry it, as in the shared schema.
 */
export class RepositoryObject extends DurableObject<unknown> {
  readonly #records: RepositoryRecords;
  readonly #driver: DurableObjectSqlDriver;
  readonly #legacy: LegacyRepositoryTables;

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env);
    this.#driver = new DurableObjectSqlDriver(ctx.storage);
    this.#legacy = new LegacyRepositoryTables(this.#driver);
    this.#driver.exec(REPOSITORY_TABLES + REGISTRATION_TABLE);
    // Objects registered before repository deletion existed have no token (NULL), as their catalog entries.
    addColumnIfMissing(this.#driver, "registration", "token", "TEXT");
    // Objects created before pull times were recorded (mirror retention).
    addColumnIfMissing(this.#driver, "manifests", "pulled_at", "INTEGER");
    ensureRepositoryFigures(this.#driver);
    this.#records = new RepositoryRecords(this.#driver);
  }

  /**
   * Links the blob if the repository is registered in the catalog; answers whether it was (and so
   * whether it linked). The check and the write are one call of this object: nothing runs between.
   */
  linkBlob(repository: string, info: BlobInfo): boolean {
    this.#legacy.migrate(repository);
    if (!this.isRegistered()) return false;
    this.#records.linkBlob(repository, info);
    return true;
  }

  getBlobLink(repository: string, digest: string): BlobInfo | null {
    this.#legacy.migrate(repository);
    return this.#records.getBlobLink(repository, digest);
  }

  unlinkBlob(repository: string, digest: string): boolean {
    this.#legacy.migrate(repository);
    return this.#records.unlinkBlob(repository, digest);
  }

  /**
   * Stores the manifest unless the repository is not registered in the catalog (registered: false,
   * nothing written), a reference is missing or an immutable tag would move; answers which.
   */
  putManifest(
    repository: string,
    record: ManifestRecord,
    tags: string[],
    references?: ManifestReferences,
    fixedTags?: string[],
  ): { missing: string[]; moved: string[]; registered: boolean } {
    this.#legacy.migrate(repository);
    if (!this.isRegistered()) return { missing: [], moved: [], registered: false };
    const { missing, moved } = this.#records.putManifest(repository, record, tags, references, fixedTags);
    return { missing, moved, registered: true };
  }

  getManifest(repository: string, digest: string): ManifestRecord | null {
    this.#legacy.migrate(repository);
    return this.#records.getManifest(repository, digest);
  }

  getTaggedManifest(repository: string, tag: string): ManifestRecord | null {
    this.#legacy.migrate(repository);
    return this.#records.getTaggedManifest(repository, tag);
  }

  listTags(repository: string, page: Page): string[] {
    this.#legacy.migrate(repository);
    return this.#records.listTags(repository, page);
  }

  deleteTag(repository: string, tag: string): boolean {
    this.#legacy.migrate(repository);
    return this.#records.deleteTag(repository, tag);
  }

  deleteManifest(repository: string, digest: string): boolean {
    this.#legacy.migrate(repository);
    return this.#records.deleteManifest(repository, digest);
  }

  listReferrers(repository: string, subject: string): ManifestRecord[] {
    this.#legacy.migrate(repository);
    return this.#records.listReferrers(repository, subject);
  }

  /** The catalog page's figures from this object's rows; the store sizes `unsized` from the index shards. */
  summary(repository: string): { lastPushedAt: number | null; bytes: number; unsized: string[] } {
    this.#legacy.migrate(repository);
    return this.#records.summary(repository);
  }

  /** Garbage collection's visit (lifecycle/scanning-collector.ts): orphan links out, what the repository holds back. */
  scanForCollection(repository: string, linkedBefore: number, dryRun: boolean): RepositoryScan {
    this.#legacy.migrate(repository);
    return this.#records.scanForCollection(repository, linkedBefore, dryRun);
  }

  /** Manifests of the repository whose references were never recorded (copied from legacy tables, or older objects). */
  unrecordedManifests(repository: string, limit: number): ManifestRecord[] {
    this.#legacy.migrate(repository);
    return this.#records.manifestsWithoutReferences({ repository, digest: "" }, limit).filter((m) => m.repository === repository).map((m) => m.record);
  }

  recordReferences(repository: string, digest: string, references: ManifestReferences): boolean {
    this.#legacy.migrate(repository);
    return this.#records.recordReferences(repository, digest, references);
  }

  tagTimes(repository: string): TagTime[] {
    this.#legacy.migrate(repository);
    return this.#records.tagTimes(repository);
  }

  untaggedManifests(repository: string, pushedBefore: number): Array<{ digest: string; pushedAt: number }> {
    this.#legacy.migrate(repository);
    return this.#records.untaggedManifests(repository, pushedBefore);
  }

  deleteTagIfUnchanged(repository: string, tag: string, digest: string, taggedAt: number): boolean {
    return this.#records.deleteTagIfUnchanged(repository, tag, digest, taggedAt);
  }

  deleteUntaggedManifest(repository: string, digest: string, pushedAt: number): boolean {
    return this.#records.deleteUntaggedManifest(repository, digest, pushedAt);
  }

  recordPull(repository: string, digest: string, at: number, unlessSince: number): boolean {
    this.#legacy.migrate(repository);
    return this.#records.recordPull(repository, digest, at, unlessSince);
  }

  unpulledManifests(repository: string, before: number): Array<{ digest: string; lastUsedAt: number }> {
    this.#legacy.migrate(repository);
    return this.#records.unpulledManifests(repository, before);
  }

  deleteUnpulledManifest(repository: string, digest: string, lastUsedAt: number): boolean {
    return this.#records.deleteUnpulledManifest(repository, digest, lastUsedAt);
  }

  isRegistered(): boolean {
    return this.#driver.all("SELECT 1 FROM registration").length > 0;
  }

  /**
   * Called once the catalog listed the repository under `token`; from then on links and manifests
   * are written. Only a token newer than every one this object has seen is taken (it replaces the
   * registration there, if any): an older one may come from a push whose catalog entry a drop or
   * deletion has removed since, under a newer token this object held. Taking it would leave the
   * object registered and unlisted, and the collector would take what it then holds. The push
   * whose token is refused finds the object unregistered and registers again.
   */
  markRegistered(token: string): void {
    const sequence = Number(token);
    this.#driver.transaction(() => {
      const highest = this.#driver.all<{ highest: number }>("SELECT highest FROM registration_seen WHERE id = 1")[0]?.highest ?? 0;
      if (!(sequence > highest)) return;
      this.#see(sequence);
      this.#driver.run("INSERT OR REPLACE INTO registration (registered, token) VALUES (1, ?)", token);
    });
  }

  /**
   * Repository deletion's step in this object: every row of the repository and its registration,
   * in one transaction, and no token up to `fence` (the catalog's token for the name, read just
   * before) is taken from now on, so a write after it must register in the catalog again, under a
   * newer token. Answers what went and whether it was registered.
   */
  deleteRepository(repository: string, fence: string | null): { registered: boolean; manifests: number; tags: number; links: number; uploads: UploadRecord[] } {
    this.#legacy.migrate(repository);
    return this.#driver.transaction(() => {
      const registered = this.isRegistered();
      const deleted = this.#records.deleteRepository(repository);
      this.#unregister(fence);
      return { registered, ...deleted };
    });
  }

  /**
   * The garbage collector's drop of an empty repository, this object's step: if it holds nothing,
   * its registration goes and no token up to `fence` (the catalog's token for the name, read
   * just before) will be taken from now on, all in one call, which the object runs alone. So a
   * write after it must register in the catalog again, under a newer token, and so does a push
   * that registered under the fenced token but had not marked this object yet.
   */
  dropIfEmpty(repository: string, fence: string | null): { dropped: boolean } {
    this.#legacy.migrate(repository);
    return this.#driver.transaction(() => {
      if (!this.#records.holdsNothing(repository)) return { dropped: false };
      this.#unregister(fence);
      return { dropped: true };
    });
  }

  /** Drops the registration and refuses every token up to `fence` from now on (inside a transaction). */
  #unregister(fence: string | null): void {
    const sequence = Number(fence);
    // Tokens given before they were numbers (random UUIDs, or NULL) fence nothing; no push holds one now.
    if (fence !== null && Number.isSafeInteger(sequence)) this.#see(sequence);
    this.#driver.run("DELETE FROM registration");
  }

  /** Records `sequence` as seen: no token up to it is taken from now on. */
  #see(sequence: number): void {
    this.#driver.run("INSERT INTO registration_seen (id, highest) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET highest = max(highest, excluded.highest)", sequence);
  }

  createUpload(record: UploadRecord): void {
    this.#legacy.migrate(record.repository);
    this.#records.createUpload(record);
  }

  getUpload(repository: string, id: string): UploadRecord | null {
    this.#legacy.migrate(repository);
    return this.#records.getUpload(repository, id);
  }

  updateUpload(record: UploadRecord, expectedVersion: number): boolean {
    this.#legacy.migrate(record.repository);
    return this.#records.updateUpload(record, expectedVersion);
  }

  deleteUpload(repository: string, id: string): boolean {
    this.#legacy.migrate(repository);
    return this.#records.deleteUpload(repository, id);
  }
}

/** Only a Durable Object needs this: on Node the catalog table is in the same database. */
const REGISTRATION_TABLE = `
  CREATE TABLE IF NOT EXISTS registration (registered INTEGER PRIMARY KEY);
  CREATE TABLE IF NOT EXISTS registration_seen (id INTEGER PRIMARY KEY CHECK (id = 1), highest INTEGER NOT NULL);
`;
