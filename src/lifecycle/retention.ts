/**
 * Retention rules: deletes, on a schedule, the tags and untagged manifests a team said it
 * does not want to keep; garbage collection then reclaims what they held. Each rule names
 * repositories and what to keep there; the first rule matching a repository applies.
 *
 *   keepLastTags         keep the N most recently pushed tags (protected and immutable tags
 *                        are kept besides and do not count); delete the others
 *   untaggedAfterSeconds delete manifests no tag names, pushed longer ago than this, unless
 *                        an index of the repository references them or their subject (the
 *                        image a signature, SBOM or attestation is about) is still there
 *   protectTags          tag globs never deleted (`latest`, `v*`, ...)
 *
 * Data written before push times and references were recorded is kept: a tag with no push
 * time is never deleted, and a repository holding a manifest whose references are unknown
 * (an index might hold its children) has no untagged manifest deleted until those are known.
 *
 * Mirrors (src/proxy) add one more rule for their namespaces: `unpulledAfterSeconds` deletes
 * cached manifests (tags with them) not pulled for that long; the next pull fetches them
 * from the upstream again (applyMirrorRetention below).
 *
 * Every delete is conditional on what was read: a tag pushed again since the listing, or
 * a manifest tagged or referenced since, is kept. A dry run lists what would go.
 */
import { type PullRecords, recordsPulls, type RetainableMetadata } from "../ports/collectable.ts";
import type { MetadataStore } from "../ports/metadata-store.ts";
import { type ImmutableTagRule, isImmutableTag, repositoryMatches, tagMatches } from "../core/patterns.ts";
import { everyRepository } from "./catalog.ts";

export interface RetentionRule {
  repositories: string[];
  keepLastTags?: number;
  untaggedAfterSeconds?: number;
  protectTags?: string[];
}

export interface RetentionReport {
  dryRun: boolean;
  tags: Array<{ repository: string; tag: string }>;
  manifests: Array<{ repository: string; digest: string }>;
  /** Cached manifests of mirrors not pulled for their `unpulledAfterSeconds`. */
  unpulled: Array<{ repository: string; digest: string }>;
}

/** A mirror's part in retention (proxy/mirror-config.ts's MirrorConfig has these fields). */
export interface MirrorRetention {
  namespace: string;
  unpulledAfterSeconds?: number;
}

export interface RetentionOptions {
  metadata: MetadataStore & RetainableMetadata;
  rules: RetentionRule[];
  immutableTags?: ImmutableTagRule[];
  mirrors?: MirrorRetention[];
  now?: () => number;
}

export async function applyRetention(options: RetentionOptions, { dryRun = false } = {}): Promise<RetentionReport> {
  const report: RetentionReport = { dryRun, tags: [], manifests: [], unpulled: [] };
  const { metadata } = options;
  if (recordsPulls(metadata)) report.unpulled = await applyMirrorRetention({ ...options, metadata }, { dryRun });
  if (options.rules.length === 0) return report;
  const now = (options.now ?? Date.now)();
  for await (const repository of everyRepository(metadata)) {
    const rule = options.rules.find((r) => r.repositories.some((pattern) => repositoryMatches(pattern, repository)));
    if (!rule) continue;
    if (rule.keepLastTags !== undefined) {
      const kept = (tag: string) => (rule.protectTags ?? []).some((p) => tagMatches(p, tag)) || isImmutableTag(options.immutableTags ?? [], repository, tag);
      // A tag whose push time is unknown (0: data of an earlier version) is kept and does not count.
      const candidates = (await metadata.listTagTimes(repository))
        .filter((t) => !kept(t.tag) && t.taggedAt > 0)
        .sort((a, b) => b.taggedAt - a.taggedAt || (a.tag < b.tag ? -1 : 1));
      for (const t of candidates.slice(rule.keepLastTags)) {
        if (dryRun || (await metadata.deleteTagIfUnchanged(repository, t.tag, t.digest, t.taggedAt))) report.tags.push({ repository, tag: t.tag });
      }
    }
    if (rule.untaggedAfterSeconds !== undefined) {
      for (const m of await metadata.listUntaggedManifests(repository, now - rule.untaggedAfterSeconds * 1000)) {
        if (dryRun || (await metadata.deleteUntaggedManifest(repository, m.digest, m.pushedAt))) report.manifests.push({ repository, digest: m.digest });
      }
    }
  }
  return report;
}

/**
 * Deletes (unless `dryRun`) the manifests of mirror namespaces whose last use (pull, or the
 * put that cached them) is older than their mirror's `unpulledAfterSeconds`, each delete
 * conditional on no pull since the listing; answers them. Blobs they held go with garbage collection.
 */
export async function applyMirrorRetention(
  options: { metadata: MetadataStore & PullRecords; mirrors?: MirrorRetention[]; now?: () => number },
  { dryRun = false } = {},
): Promise<Array<{ repository: string; digest: string }>> {
  const expiring = (options.mirrors ?? []).filter((m) => m.unpulledAfterSeconds !== undefined);
  const deleted: Array<{ repository: string; digest: string }> = [];
  if (expiring.length === 0) return deleted;
  const { metadata } = options;
  const now = (options.now ?? Date.now)();
  for await (const repository of everyRepository(metadata)) {
    const mirror = expiring.find((m) => repository.startsWith(`${m.namespace}/`));
    if (!mirror) continue;
    for (const m of await metadata.listUnpulledManifests(repository, now - mirror.unpulledAfterSeconds! * 1000)) {
      if (dryRun || (await metadata.deleteUnpulledManifest(repository, m.digest, m.lastUsedAt))) deleted.push({ repository, digest: m.digest });
    }
  }
  return deleted;
}

/** Validates the `retention` setting; answers the problems found. */
export function retentionProblems(raw: unknown): string[] {
  if (!Array.isArray(raw)) return ["must be a list of rules"];
  const problems: string[] = [];
  raw.forEach((rule: unknown, i) => {
    const at = `rule ${i + 1}`;
    if (typeof rule !== "object" || rule === null) return problems.push(`${at} must be an object`);
    const r = rule as Record<string, unknown>;
    const names = (v: unknown) => Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === "string" && x !== "");
    if (!names(r.repositories)) problems.push(`${at}: "repositories" must list repository patterns ("team/*")`);
    for (const key of ["keepLastTags", "untaggedAfterSeconds"]) {
      if (r[key] !== undefined && (typeof r[key] !== "number" || !Number.isSafeInteger(r[key]) || (r[key] as number) < 0)) problems.push(`${at}: "${key}" must be a whole number`);
    }
    if (r.protectTags !== undefined && !names(r.protectTags)) problems.push(`${at}: "protectTags" must list tag patterns ("latest", "v*")`);
    if (r.keepLastTags === undefined && r.untaggedAfterSeconds === undefined) problems.push(`${at}: give "keepLastTags", "untaggedAfterSeconds" or both`);
    const unknown = Object.keys(r).filter((k) => !["repositories", "keepLastTags", "untaggedAfterSeconds", "protectTags"].includes(k));
    if (unknown.length > 0) problems.push(`${at}: unknown field(s) ${unknown.join(", ")}`);
    return undefined;
  });
  return problems;
}
