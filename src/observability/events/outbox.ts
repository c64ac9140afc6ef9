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
  add(entries: { endpoint: string; body: string }[], now: number): void;
  /** Up to `limit` entries due at `now`, claimed by `owner` until `claimUntil`. */
  claimDue(owner: string, now: number, claimUntil: number, limit: number): OutboxEntry[];
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
  recent(limit: number, repository?: string): AuditEntry[];
}
