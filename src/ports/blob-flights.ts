/**
 * Claims on fetching a blob from an upstream, shared by the processes serving one store
 * (Node's PROCESSES>1 on one DATA_DIR), so concurrent pulls of one missing blob fetch it
 * from the upstream once per registry, not once per process (proxy/pull-through.ts).
 * A claim only ever makes others wait, and only for a bounded time: a claimant that
 * crashed or stalls never blocks pulls.
 */
export interface BlobFlights {
  /**
   * Takes the claim on `digest` for `ttlMs`, unless a live claim of another process holds it
   * (one that has not expired, and whose process is not known to be dead); answers whether taken.
   */
  claim(digest: string, ttlMs: number): Promise<boolean>;
  /** Drops this process's claim on `digest`, if it holds one. */
  release(digest: string): Promise<void>;
}
