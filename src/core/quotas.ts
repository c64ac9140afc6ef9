/**
 * Quotas: the most bytes a namespace (a repository name's first component) may store,
 * counted as lifecycle/usage.ts counts them (a layer shared by its repositories once).
 * A push that would exceed its namespace's quota is refused before its bytes are taken
 * where their length is known (a monolithic push, a PATCH with Content-Length), at the
 * latest when the upload is closed (its size known, the upload discarded), and in any case
 * before its manifest is accepted. The check reads the usage, then the push proceeds:
 * pushes racing into one namespace may together overshoot it by what they carry.
 */
import { RegistryError } from "./errors.ts";

/** A namespace's holdings measured in one pass (stores that must visit its repositories to know). */
export interface NamespaceFigures {
  bytes: number;
  digests: ReadonlySet<string>;
}

export type QuotaDeps = {
  /** Namespace → most bytes it may hold. */
  limits: Record<string, number>;
} & (
  | {
      /** Bytes the namespace holds now. */
      usage(namespace: string): Promise<number>;
      /** Whether the namespace already holds `digest` (a re-push of a shared layer adds nothing). */
      holds(namespace: string, digest: string): Promise<boolean>;
    }
  | {
      /** Both at once, where each would cost a visit of every repository of the namespace. */
      figures(namespace: string): Promise<NamespaceFigures>;
    }
);

export class Quotas {
  readonly #deps: QuotaDeps;

  constructor(deps: QuotaDeps) {
    this.#deps = deps;
  }

  /**
   * Throws DENIED when `repository`'s namespace would hold more than its quota with `adding`
   * more bytes; `digest`, when known, adds nothing if the namespace holds it already.
   */
  async check(repository: string, adding: number, digest?: string): Promise<void> {
    const namespace = repository.split("/")[0]!;
    const limit = this.#deps.limits[namespace];
    if (limit === undefined) return;
    const deps = this.#deps;
    const figures = "figures" in deps ? await deps.figures(namespace) : null;
    if (digest !== undefined && (figures ? figures.digests.has(digest) : await ("holds" in deps && deps.holds(namespace, digest)))) return;
    const used = figures ? figures.bytes : "usage" in deps ? await deps.usage(namespace) : 0;
    if (used + adding <= limit) return;
    throw new RegistryError(
      "DENIED",
      `namespace ${namespace} would store ${used + adding} bytes, over its quota of ${limit} (it stores ${used}); nothing of this blob was kept. Delete images (garbage collection reclaims them, and layers of refused pushes once the grace period is over) or ask for a larger quota`,
      { detail: { namespace, quota: limit, used, adding } },
    );
  }
}
