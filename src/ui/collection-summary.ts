/**
 * One sentence about a garbage collection run, from the report POST /admin/gc answers
 * (Maintenance.collect: retention, then collection; its shape differs a little per runtime,
 * so only the fields every runtime reports are read).
 */
import { formatBytes } from "./format.ts";

export function describeCollection(report: unknown, dryRun: boolean): string {
  const r = (report ?? {}) as { retention?: { tags?: unknown[]; manifests?: unknown[]; unpulled?: unknown[] }; collection?: { blobsDeleted?: number; bytesFreed?: number; orphanLinksRemoved?: number } };
  const count = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
  const tags = r.retention?.tags?.length ?? 0;
  // Untagged ones, and mirrored ones not pulled lately.
  const manifests = (r.retention?.manifests?.length ?? 0) + (r.retention?.unpulled?.length ?? 0);
  const blobs = r.collection?.blobsDeleted ?? 0;
  const links = r.collection?.orphanLinksRemoved ?? 0;
  const verb = dryRun ? "Would remove" : "Removed";
  return `${dryRun ? "Dry run, nothing changed. " : ""}${verb} ${count(tags, "tag", "tags")} and ${count(manifests, "manifest", "manifests")} by retention rules, ${count(blobs, "blob", "blobs")} (${formatBytes(r.collection?.bytesFreed ?? 0)}) and ${count(links, "link", "links")} no manifest uses.`;
}
