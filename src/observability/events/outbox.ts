/**
 * The outbox port: events waiting for delivery, one row per endpoint and event, kept
 * durably until delivered or dropped. Deliveries are claimed for a while before they are
 * sent, so several processes (or registries) on one store never send the same row at once.
 */
export interface OutboxEntry {
  id: number;
  endpoint: string;
  body: string;
  attempts: number;
}

export interface Outbox {
  /**
   * Adds each entry unless its endpoint already has `maxPending` waiting; returns the
   * endpoints of the entries refused that way (one per entry). `durable: false` (events of
   * pulls only): an OS crash may lose them, a process crash never.
   */
  add(entries: { endpoint: string; body: string; maxPending: number }[], now: number, options?: { durable: boolean }): string[];
  /**
   * Up to `limit` of `endpoint`'s entries due at `now`, claimed by `owner` until `claimUntil`.
   * Per endpoint: a receiver that hangs holds its own entries, never another endpoint's.
   */
  claimDue(owner: string, endpoint: string, now: number, claimUntil: number, limit: number): OutboxEntry[];
  /** Deletes the entries of every endpoint not in `endpoints` (left by an earlier configuration); their counts. */
  dropOthers(endpoints: string[]): { endpoint: string; count: number }[];
  delivered(id: number): void;
  /** Another attempt failed: try again at `nextAt`. */
  retryAt(id: number, attempts: number, nextAt: number): void;
  dropped(id: number): void;
}

export interface AuditEntry {
  time: string;
  action: string;
  outcome: "ok" | "refused";
  status: number;
  identity: string;
  addr?: string;
  repository?: string;
  digest?: string;
  tag?: string;
  requestId: string;
}

/** Where audit entries are kept for GET /admin/audit (Node: SQLite). */
export interface AuditStore {
  add(entry: AuditEntry): void;
  /** Newest first; `changesOnly`: pushes, deletes and collections, not pulls or refusals. */
  recent(limit: number, filter?: { repository?: string; changesOnly?: boolean }): AuditEntry[];
}
