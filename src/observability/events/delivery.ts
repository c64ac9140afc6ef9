/**
 * Sends the outbox's entries to their endpoints: POST of the envelope with the
 * endpoint's headers and signature, bounded by its timeout. A 2xx answer delivers;
 * anything else (an error status, a refused connection, no answer in time) is tried
 * again after backoffMs × 2^(attempt-1), at most an hour, until maxAttempts, then
 * dropped with one log line. Runs apart from requests, one lane per endpoint: a slow
 * receiver holds its own lane, never a push, a pull or another endpoint's deliveries.
 * A redirect is not followed (it would carry the signature and the endpoint's headers,
 * Authorization included, to wherever the receiver points): it is a failed attempt. The
 * answer's body is never read, only cancelled, so a receiver's endless body costs nothing.
 * Delivery is at least once: a process killed after the receiver's 2xx, before the row is
 * deleted, leaves the row to be sent again when its claim expires (receivers dedupe by event id).
 */
import type { Logger } from "../log.ts";
import type { NotificationEndpoint } from "./config.ts";
import { EVENTS_MEDIA_TYPE, signatureOf } from "./envelope.ts";
import type { Outbox, OutboxEntry } from "./outbox.ts";

export const SIGNATURE_HEADER = "X-Registry-Signature";

export interface DeliveryMetrics {
  delivered(endpoint: string): void;
  failed(endpoint: string): void;
  dropped(endpoint: string): void;
}

export interface DeliveryOptions {
  outbox: Outbox;
  endpoints: NotificationEndpoint[];
  logger: Logger;
  metrics?: DeliveryMetrics;
  owner: string;
  now?: () => number;
  /** How often the outbox is looked at when idle. */
  pollMs?: number;
}

/** One endpoint's share of the loop: its own pass and timer, so endpoints never wait on each other. */
interface Lane {
  endpoint: NotificationEndpoint;
  running: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
}

export class EventDelivery {
  readonly #options: DeliveryOptions;
  readonly #lanes: Lane[];
  #stopped = false;
  #inFlight = new Set<Promise<void>>();
  /** Aborts sends in flight at stop: a receiver that never answers must not hold a shutdown. */
  readonly #stopping = new AbortController();

  constructor(options: DeliveryOptions) {
    this.#options = options;
    this.#lanes = options.endpoints.map((endpoint) => ({ endpoint, running: false, timer: undefined }));
  }

  start(): void {
    this.#dropUnconfigured();
    for (const lane of this.#lanes) this.#schedule(lane, 0);
  }

  /** Looks at the outbox now (after events were added), in each lane not already passing over it. */
  nudge(): void {
    if (this.#stopped) return;
    for (const lane of this.#lanes) if (!lane.running) this.#schedule(lane, 0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const lane of this.#lanes) clearTimeout(lane.timer);
    this.#stopping.abort();
    await Promise.allSettled([...this.#inFlight]);
  }

  /** Rows of endpoints this configuration no longer has would never be claimed: dropped at start, counted and logged. */
  #dropUnconfigured(): void {
    const { outbox, logger, metrics } = this.#options;
    try {
      for (const { endpoint, count } of outbox.dropOthers(this.#lanes.map((lane) => lane.endpoint.name))) {
        for (let i = 0; i < count; i++) metrics?.dropped(endpoint);
        logger.log("warn", "events dropped: their endpoint is no longer configured", { endpoint, count });
      }
    } catch (error) {
      logger.log("error", "event delivery pass failed", { error: error instanceof Error ? error.message : String(error) });
    }
  }

  #schedule(lane: Lane, ms: number): void {
    clearTimeout(lane.timer);
    lane.timer = setTimeout(() => void this.#pass(lane), ms);
    lane.timer.unref?.();
  }

  async #pass(lane: Lane): Promise<void> {
    if (lane.running || this.#stopped) return;
    lane.running = true;
    const now = this.#options.now ?? Date.now;
    try {
      for (;;) {
        const t = now();
        // The claim outlives the attempt, so a crashed owner's rows come back by themselves.
        const due = this.#options.outbox.claimDue(this.#options.owner, lane.endpoint.name, t, t + lane.endpoint.timeoutMs + 30_000, 32);
        if (due.length === 0) break;
        const sends = due.map((entry) => this.#deliver(lane.endpoint, entry));
        for (const send of sends) this.#inFlight.add(send);
        await Promise.allSettled(sends);
        for (const send of sends) this.#inFlight.delete(send);
        if (this.#stopped) return;
      }
    } catch (error) {
      this.#options.logger.log("error", "event delivery pass failed", { endpoint: lane.endpoint.name, error: error instanceof Error ? error.message : String(error) });
    } finally {
      lane.running = false;
      if (!this.#stopped) this.#schedule(lane, this.#options.pollMs ?? 1000);
    }
  }

  async #deliver(endpoint: NotificationEndpoint, entry: OutboxEntry): Promise<void> {
    const { outbox, logger, metrics } = this.#options;
    const attempt = entry.attempts + 1;
    const failure = await sendEnvelope(endpoint, entry.body, this.#stopping.signal);
    if (failure !== null && this.#stopped) {
      // Cut short by the shutdown, not refused: released as it was, for the next start (this attempt does not count).
      outbox.retryAt(entry.id, entry.attempts, (this.#options.now ?? Date.now)());
      return;
    }
    if (failure === null) {
      outbox.delivered(entry.id);
      metrics?.delivered(endpoint.name);
      return;
    }
    metrics?.failed(endpoint.name);
    if (attempt >= endpoint.maxAttempts) {
      outbox.dropped(entry.id);
      metrics?.dropped(endpoint.name);
      logger.log("error", "event dropped after its last attempt", { endpoint: endpoint.name, attempts: attempt, lastFailure: failure, outboxId: entry.id });
      return;
    }
    const wait = retryDelayMs(endpoint, attempt);
    outbox.retryAt(entry.id, attempt, (this.#options.now ?? Date.now)() + wait);
    logger.log("debug", "event delivery failed, will retry", { endpoint: endpoint.name, attempt, lastFailure: failure, retryInMs: wait });
  }
}

/** How long after failed attempt number `attempt` (1-based) the next one is made. */
export function retryDelayMs(endpoint: NotificationEndpoint, attempt: number): number {
  return Math.min(endpoint.backoffMs * 2 ** (attempt - 1), 3_600_000);
}

/** POSTs one envelope: null when the endpoint answered 2xx; otherwise why not, in words without the URL, secret or headers. */
export async function sendEnvelope(endpoint: NotificationEndpoint, body: string, stop?: AbortSignal): Promise<string | null> {
  const headers: Record<string, string> = { ...endpoint.headers, "Content-Type": EVENTS_MEDIA_TYPE };
  if (endpoint.secret) headers[SIGNATURE_HEADER] = await signatureOf(endpoint.secret, body);
  try {
    const answer = await fetch(endpoint.url, { method: "POST", headers, body, signal: stop ? AbortSignal.any([AbortSignal.timeout(endpoint.timeoutMs), stop]) : AbortSignal.timeout(endpoint.timeoutMs), redirect: "manual" });
    await answer.body?.cancel();
    return answer.status >= 200 && answer.status < 300 ? null : `status ${answer.status}`;
  } catch (error) {
    const name = error instanceof Error ? error.name : "";
    if (name === "TimeoutError" || name === "AbortError") return `no answer within ${endpoint.timeoutMs} ms`;
    const code = (error as { cause?: { code?: string } }).cause?.code;
    return code ? `connection failed (${code})` : "connection failed";
  }
}
