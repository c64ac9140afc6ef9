/**
 * Where a garbage collection that spans several invocations keeps its place
 * (lifecycle/resumable-collector.ts): one cycle at a time, its progress, and the
 * digests its scan found held. Every write names the cycle it belongs to and is
 * ignored once that cycle has ended, so a slow invocation of an ended cycle cannot
 * bring it back nor mix its digests into the next one.
 */
import type { CollectionReport } from "../lifecycle/collector.ts";

export interface CycleState {
  /** When the cycle began (epoch ms), before any repository was scanned; also its identity. */
  startedAt: number;
  phase: "scan" | "sweep";
  /** The last repository scanned (catalog order); null before the first. */
  repositoryCursor: string | null;
  /** Where the sweep continues in the blob index (store-defined); null at its start. */
  indexCursor: string | null;
  /** Invocations that worked on the cycle, this one included. */
  invocations: number;
  /** Counts over the whole cycle so far. */
  report: CollectionReport;
}

export interface CollectionCycleStore {
  /** The cycle in progress, or `fresh` stored as the new one when there is none. */
  beginOrResume(fresh: CycleState): Promise<CycleState>;
  /** Stores the progress only if the cycle is still the current one; answers whether it did. */
  saveCycle(state: CycleState): Promise<boolean>;
  /** Records digests the cycle's scan found held, only if the cycle is still current. */
  addHeld(startedAt: number, digests: string[]): Promise<boolean>;
  /**
   * Which of `digests` the cycle's scan found held; null when the cycle is no longer current (its
   * held digests are gone: an empty answer would make every held blob look unheld).
   */
  heldAmong(startedAt: number, digests: string[]): Promise<string[] | null>;
  /** Ends the cycle (its state and held digests go), if it is still the current one. */
  endCycle(startedAt: number): Promise<void>;
  /** The cycle in progress, without starting one. */
  currentCycle(): Promise<CycleState | null>;
}
