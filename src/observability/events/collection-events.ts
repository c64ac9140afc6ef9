/**
 * Events of a garbage collection run: each tag and manifest retention deleted is a
 * `delete` (what receivers already handle), and each repository the run dropped from the
 * catalog a `gc`; the actor is the collector, not a caller. A dry run changes nothing and
 * sends nothing. Every runtime's collection sends them: Node's timer and POST /admin/gc
 * (runtime/node-server.ts), the Workers cron, whose retention runs apart from its
 * collection steps (runtime/workers.ts), and the Lambda's schedule (runtime/lambda.ts).
 */
import type { CollectionReport } from "../../lifecycle/collector.ts";
import type { RetentionReport } from "../../lifecycle/retention.ts";
import type { Logger } from "../log.ts";
import type { RegistryEvent } from "./envelope.ts";

export interface CollectionRun {
  retention?: RetentionReport;
  collection?: CollectionReport;
}

export function collectionEvents(run: CollectionRun, source: RegistryEvent["source"]): RegistryEvent[] {
  if (run.collection?.dryRun || run.retention?.dryRun) return [];
  const retention = run.retention ?? { tags: [], manifests: [] };
  const requestId = crypto.randomUUID();
  const timestamp = new Date().toISOString();
  const event = (action: RegistryEvent["action"], target: RegistryEvent["target"]): RegistryEvent => ({
    id: crypto.randomUUID(),
    timestamp,
    action,
    target,
    request: { id: requestId, method: "GC" },
    actor: { name: "garbage-collector" },
    source,
  });
  return [
    ...retention.tags.map(({ repository, tag }) => event("delete", { repository, tag })),
    ...retention.manifests.map(({ repository, digest }) => event("delete", { repository, digest })),
    ...(run.collection?.repositoriesRemoved ?? []).map((repository) => event("gc", { repository })),
  ];
}

/**
 * Hands a run's events to the runtime's sink (a queue's producer on Workers and Lambda). A
 * failure to send is logged and swallowed: the deletes are done, and the run goes on.
 */
export async function sendCollectionEvents(
  record: ((events: RegistryEvent[]) => void | Promise<void>) | undefined,
  run: CollectionRun,
  source: RegistryEvent["source"],
  logger: Logger,
): Promise<void> {
  const found = collectionEvents(run, source);
  if (!record || found.length === 0) return;
  try {
    await record(found);
  } catch (error) {
    logger.log("error", "collection events not recorded", { events: found.length, error: error instanceof Error ? error.message : String(error) });
  }
}
