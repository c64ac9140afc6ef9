/**
 * Readiness: can this instance reach its blob storage and its metadata now?
 * One cheap read of each (a key and a digest that never exist), each bounded
 * by a timeout, so a probe never hangs on a store that stopped answering.
 */
import type { BlobStore } from "../ports/blob-store.ts";
import type { MetadataStore } from "../ports/metadata-store.ts";

export interface ReadinessReport {
  ready: boolean;
  checks: { blobs: CheckResult; metadata: CheckResult };
}

/** `reason` is safe to show anyone (a timeout, an error code); `detail`, the error's message, goes to the log only. */
export type CheckResult = { ok: true; ms: number } | { ok: false; ms: number; reason: string; detail: string };

export type ReadinessProbe = () => Promise<ReadinessReport>;

const ABSENT_DIGEST = `sha256:${"0".repeat(64)}`;
const ABSENT_KEY = "readiness-probe/absent";

/**
 * `blobsCheck` runs before the blob read where a missing object does not prove the store
 * works (a local directory that is gone or replaced answers "absent" to every read).
 */
export function storageReadiness(stores: { blobs: BlobStore; metadata: MetadataStore; blobsCheck?: () => Promise<void> }, timeoutMs = 2_000): ReadinessProbe {
  const readBlobs = async () => {
    await stores.blobsCheck?.();
    return stores.blobs.head(ABSENT_KEY);
  };
  return async () => {
    const [blobs, metadata] = await Promise.all([check(readBlobs, timeoutMs), check(() => stores.metadata.getBlob(ABSENT_DIGEST), timeoutMs)]);
    return { ready: blobs.ok && metadata.ok, checks: { blobs, metadata } };
  };
}

async function check(read: () => Promise<unknown>, timeoutMs: number): Promise<CheckResult> {
  const started = Date.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([read(), timeout]);
    return { ok: true, ms: Date.now() - started };
  } catch (error) {
    // Probes are unauthenticated: a message may name paths or hosts, so it stays in the log.
    const detail = error instanceof Error ? error.message.slice(0, 500) : String(error);
    const code = (error as { code?: unknown; name?: unknown }).code ?? (error as { name?: unknown }).name;
    const reason = detail.startsWith("no answer within") ? detail : `unreachable (${typeof code === "string" ? code : "error"})`;
    return { ok: false, ms: Date.now() - started, reason, detail };
  } finally {
    clearTimeout(timer);
  }
}
