/**
 * Events and the audit log on Node: the outbox and the audit table live in DATA_DIR's
 * registry.db on their own connection. Every process runs a delivery loop over the one
 * outbox; a row is claimed before it is sent (adapters/sql/event-records.ts), so each is
 * sent by one process, and a process that died mid-send leaves its claim to expire.
 *
 * An event is written right after the change it describes committed, before the answer
 * is sent, not in the change's own transaction: the core commits in the metadata store
 * and knows nothing of events. A crash between the two loses that one event (the audit
 * line is lost with it); the answer was never sent, so the client retries the push.
 */
import { join } from "node:path";
import { NodeSqliteDriver } from "../adapters/sqlite/node-driver.ts";
import { DATABASE_FILE } from "../adapters/sqlite/open.ts";
import { createEventTables, SqlAuditStore, SqlOutbox } from "../adapters/sql/event-records.ts";
import type { NotificationsConfig } from "../observability/events/config.ts";
import { EventDelivery, type DeliveryMetrics } from "../observability/events/delivery.ts";
import { envelopesFor } from "../observability/events/queued-delivery.ts";
import type { AuditStore } from "../observability/events/outbox.ts";
import type { Logger } from "../observability/log.ts";
import type { EventSink } from "../http/events.ts";

export interface NodeEvents {
  sink: EventSink;
  audit: AuditStore;
  close(): Promise<void>;
}

export function openNodeEvents(dataDir: string, notifications: NotificationsConfig, options: { logger: Logger; metrics: DeliveryMetrics; owner: string }): NodeEvents {
  const driver = new NodeSqliteDriver(join(dataDir, DATABASE_FILE));
  createEventTables(driver);
  const outbox = new SqlOutbox(driver);
  const audit = new SqlAuditStore(driver);
  const { endpoints } = notifications;
  const maxPending = new Map(endpoints.map((endpoint) => [endpoint.name, endpoint.maxPending]));
  const delivery = endpoints.length > 0 ? new EventDelivery({ outbox, endpoints, logger: options.logger, metrics: options.metrics, owner: options.owner }) : null;
  delivery?.start();
  /** Endpoints whose outbox was found full (this process): logged once until one of their events fits again. */
  const full = new Set<string>();
  return {
    audit,
    sink: {
      record(events) {
        const rows = envelopesFor(endpoints, events);
        if (rows.length === 0) return;
        const durable = events.some((event) => event.action !== "pull");
        const refused = outbox.add(rows.map((row) => ({ ...row, maxPending: maxPending.get(row.endpoint)! })), Date.now(), { durable });
        for (const row of rows) if (!refused.includes(row.endpoint)) full.delete(row.endpoint);
        for (const endpoint of refused) {
          options.metrics.dropped(endpoint);
          if (full.has(endpoint)) continue;
          full.add(endpoint);
          options.logger.log("error", "events dropped: the outbox holds maxPending events for the endpoint", { endpoint, maxPending: maxPending.get(endpoint) });
        }
        delivery?.nudge();
      },
      audit: (entry) => audit.add(entry),
    },
    async close() {
      await delivery?.stop();
      audit.flush();
      driver.close();
    },
  };
}
