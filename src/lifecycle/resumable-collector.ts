/**
 * The scanning collector's run (lifecycle/scanning-collector.ts) cut into steps that fit one
 * invocation each: a Worker's cron run has a subrequest and CPU limit, so on a large registry a
 * whole run would stop part-way every time and never reclaim anything. A collection is a
 * *cycle* whose place is kept durably (ports/collection-cycle.ts); each step does at most a
 * budget of store calls and continues where the last stopped:
 *
 *   scan   catalog page by page; each repository's held digests are recorded in the cycle
 *          *before* the cursor moves past it (a step that dies between scans it again).
 *   sweep  the blob index page by page from a cursor; an entry the cycle recorded as held is
 *          left alone, another is marked, or removed if marked `graceMs` before the cycle began.
 *   end    the cycle's state and held digests go; the next step begins a new cycle.
 *
 * ## Why spreading a run over invocations keeps the scanning collector's argument
 * The argument (scanning-collector.ts, a–d) needs three things of a run: (1) `started` is taken
 * before any repository is scanned, (2) the held set is the union of scans all made after
 * `started`, (3) an entry is removed only on condition its key and mark are unchanged and the mark
 * is at least `graceMs` older than `started`. Here `started` is the cycle's `startedAt`, fixed
 * when the cycle begins and before its first scan (1). Held digests are written to the cycle
 * before the cursor that skips their repository is saved, and the sweep begins only once the
 * scan reached the catalog's end, so the held set the sweep reads is the union of scans of every
 * repository, each made after `startedAt` (2), however many invocations that took and however
 * long. (3) is unchanged: the removal is the same conditional write.
 * So a blob marked in one invocation and swept in a later one: its mark is older than the
 * cycle by `graceMs`; any link, mount or upload finish in between revived it first (clearing
 * the mark), and the conditional removal then fails. A push between the scan of its repository
 * and the sweep may link a blob the cycle does not count as held: the blob is revived by that
 * push (its mark cleared, or re-marked later than `startedAt`), so this cycle marks it at most,
 * and the next cycle's scan sees it held. A repository registered behind the cursor is the same
 * case: everything it holds was revived after `startedAt`.
 * A step that throws loses only work since its last save, which is idempotent to redo (scans
 * only add, marks and removals are conditional). Two steps running at once (a slow cron run
 * and the next) may save cursors out of order: a cursor then moves back, never past work not
 * done, and held digests only accumulate; a step of an ended cycle writes nothing (the store
 * refuses writes naming a cycle that is not current) and sweeps nothing: its held set is gone
 * with the cycle, and reading "none held" from it would lose a blob linked after its scan and
 * marked since (held, yet marked), so the store answers null and the step stops.
 */
import type { BlobStore } from "../ports/blob-store.ts";
import type { ScannableMetadata } from "../ports/collectable.ts";
import type { CollectionCycleStore, CycleState } from "../ports/collection-cycle.ts";
import type { MetadataStore } from "../ports/metadata-store.ts";
import { type CollectionReport, deleteObject, emptyReport } from "./collector.ts";
import { recordReferences } from "./scanning-collector.ts";

export interface ResumableCollectorOptions {
  metadata: MetadataStore & ScannableMetadata & Required<Pick<ScannableMetadata, "blobIndexPage">>;
  blobs: BlobStore;
  cycles: CollectionCycleStore;
  graceMs: number;
  orphanLinkAgeMs: number;
  /** Store calls (subrequests) one step may make, roughly; it stops at the first page boundary past it. */
  budget: number;
  /** Time one step may take; it stops at the first page boundary past it. */
  maxMs?: number;
  pageSize?: number;
  now?: () => number;
}

export interface StepResult {
  /** The cycle as this step left it (counts over the whole cycle). */
  cycle: CycleState;
  /** What this step alone did. */
  step: CollectionReport;
  /** The cycle ended with this step. */
  finished: boolean;
  /** Store calls this step made. */
  calls: number;
}

export class ResumableCollector {
  readonly #o: ResumableCollectorOptions;
  readonly #now: () => number;
  readonly #page: number;

  constructor(options: ResumableCollectorOptions) {
    // Such a store (DynamoDB) needs a Scan of its repositories, not the catalog, for safety (a); not resumable here.
    if (options.metadata.repositoriesHoldingAnything) throw new Error("the resumable collector walks the catalog; this store needs repositoriesHoldingAnything");
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#page = options.pageSize ?? 50;
  }

  async step(): Promise<StepResult> {
    const { metadata, blobs, cycles } = this.#o;
    const began = this.#now();
    const now = began;
    const fresh: CycleState = { startedAt: now, phase: "scan", repositoryCursor: null, indexCursor: null, invocations: 0, report: emptyReport(false, this.#o.graceMs) };
    const cycle = await cycles.beginOrResume(fresh);
    cycle.invocations++;
    const step = emptyReport(false, this.#o.graceMs);
    let calls = 1;
    const spent = () => calls >= this.#o.budget || (this.#o.maxMs !== undefined && this.#now() - began >= this.#o.maxMs);
    const result = (finished: boolean): StepResult => ({ cycle, step, finished, calls });
    const before = cycle.report;
    const save = async () => {
      cycle.report = sum(before, step);
      calls++;
      return cycles.saveCycle(cycle);
    };

    while (cycle.phase === "scan") {
      if (spent()) return (await save(), result(false));
      const names = await metadata.listRepositories({ limit: this.#page, ...(cycle.repositoryCursor === null ? {} : { after: cycle.repositoryCursor }) });
      calls++;
      const held = new Set<string>();
      for (const name of names) {
        calls += await recordReferences(metadata, blobs, name, step, this.#page);
        const scanned = await metadata.scanRepository(name, cycle.startedAt - this.#o.orphanLinkAgeMs, false);
        calls++;
        step.orphanLinksRemoved += scanned.orphanLinks;
        for (const digest of scanned.held) held.add(digest);
        // As in the scanning collector: a repository found holding nothing leaves the catalog.
        if (scanned.held.length === 0 && metadata.removeRepositoryIfEmpty) {
          // The catalog's token, the repository object's drop, the catalog's (Durable Objects).
          calls += 3;
          if (await metadata.removeRepositoryIfEmpty(name)) (step.repositoriesRemoved ??= []).push(name);
        }
      }
      // Held digests first, then the cursor: never a cursor past a repository whose digests are not recorded.
      calls++;
      if (!(await cycles.addHeld(cycle.startedAt, [...held]))) return result(false);
      if (names.length < this.#page) cycle.phase = "sweep";
      else cycle.repositoryCursor = names[names.length - 1]!;
      if (!(await save())) return result(false);
    }

    const sweepBefore = cycle.startedAt - this.#o.graceMs;
    for (;;) {
      if (spent()) return (await save(), result(false));
      const { entries, next } = await metadata.blobIndexPage(cycle.indexCursor, this.#page);
      calls += 2;
      const heldHere = entries.length > 0 ? await cycles.heldAmong(cycle.startedAt, entries.map((entry) => entry.digest)) : [];
      // The cycle ended meanwhile (another invocation finished it): its held set is gone, so stop.
      if (heldHere === null) return result(false);
      const held = new Set(heldHere);
      for (const entry of entries) {
        if (held.has(entry.digest)) continue;
        calls++;
        if (entry.markedAt === null) {
          if (await metadata.markBlob(entry.digest, entry.key, this.#now())) step.blobsMarked++;
        } else if (entry.markedAt <= sweepBefore && (await metadata.removeMarkedBlob({ ...entry, markedAt: entry.markedAt }))) {
          calls++;
          await deleteObject(blobs, entry, step);
        }
      }
      if (next === null) break;
      cycle.indexCursor = next;
      if (!(await save())) return result(false);
    }
    cycle.report = sum(before, step);
    await cycles.endCycle(cycle.startedAt);
    return { cycle, step, finished: true, calls: calls + 1 };
  }
}

/** The cycle's counts before a step plus the step's; problems kept to the last few, as the state is stored whole. */
function sum(total: CollectionReport, step: CollectionReport): CollectionReport {
  return {
    ...total,
    orphanLinksRemoved: total.orphanLinksRemoved + step.orphanLinksRemoved,
    blobsMarked: total.blobsMarked + step.blobsMarked,
    blobsDeleted: total.blobsDeleted + step.blobsDeleted,
    bytesFreed: total.bytesFreed + step.bytesFreed,
    referencesRecorded: total.referencesRecorded + step.referencesRecorded,
    problems: [...total.problems, ...step.problems].slice(-MAX_PROBLEMS_KEPT),
    ...(total.repositoriesRemoved || step.repositoriesRemoved ? { repositoriesRemoved: [...(total.repositoriesRemoved ?? []), ...(step.repositoriesRemoved ?? [])].slice(-MAX_REMOVED_KEPT) } : {}),
  };
}

const MAX_PROBLEMS_KEPT = 20;
/** The cycle's record (saved with it) names at most this many dropped repositories; each step's events name all of its own. */
const MAX_REMOVED_KEPT = 100;
