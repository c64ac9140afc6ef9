/**
 * Events of a garbage collection run: each tag and manifest retention deleted is a
 * `delete` (what receivers already handle), and each repository the run dropped from the
 * catalog a `gc`; the actor is the collector, not a caller. A dry run changes nothing and
 * sends nothing.
 */
import type { CollectionReport } from "../../lifecycle/collector.ts";
import type { RetentionReport } from "../../lifecycle/retention.ts";
import type { RegistryEvent } from "./envelope.ts";

export function collectionEvents(run: { retention?: RetentionReport; collection: CollectionReport }, source: RegistryEvent["source"]): RegistryEvent[] {
  if (run.collection.dryRun) return [];
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
    ...(run.collection.repositoriesRemoved ?? []).map((repository) => event("gc", { repository })),
  ];
}
