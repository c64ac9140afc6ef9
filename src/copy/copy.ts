/**
 * `copy`: an image or an index (every platform it lists, nested indexes too) from a source
 * into a registry. Blobs first, several at once (each blob once, however many platforms share
 * it), then each platform's manifest by digest, then the root manifest under the destination's
 * tag: a reader never sees a tag whose content is not all there.
 */
import type { Readable } from "node:stream";
import { RegistryClient, repositoryScope } from "./registry-client.ts";
import { discard } from "./http.ts";
import { formatBytes } from "../core/format-bytes.ts";
import type { Progress } from "./progress.ts";
import { MEDIA_TYPES, type Descriptor, type ImageSource, type ManifestBytes } from "./sources.ts";
import { uploadBlob, type UploadOutcome } from "./upload.ts";
import type { DockerReference } from "./transports.ts";

export interface CopyOptions {
  source: ImageSource;
  destination: RegistryClient;
  reference: DockerReference;
  /** Blobs uploaded at once. */
  jobs: number;
  chunkLimit: number | undefined;
  progress: Progress;
  retryDelayMs?: (attempt: number) => number;
}

export interface CopyResult {
  digest: string;
  blobs: Record<UploadOutcome, number>;
  bytesUploaded: number;
}

const INDEX_TYPES = new Set([MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerList]);

export async function copyImage(options: CopyOptions): Promise<CopyResult> {
  const { source, destination, reference, progress } = options;
  const repository = reference.repository;
  const result: CopyResult = { digest: "", blobs: { exists: 0, mounted: 0, uploaded: 0 }, bytesUploaded: 0 };
  const pool = limiter(options.jobs);
  const blobs = new Map<string, Promise<void>>();
  const mountFrom = source.registry && source.registry.client.origin === destination.origin && source.registry.repository !== repository ? source.registry.repository : undefined;

  const copyBlob = (descriptor: Descriptor): Promise<void> => {
    let pending = blobs.get(descriptor.digest);
    if (!pending) {
      pending = pool(async () => {
        const bar = progress.blob(descriptor.digest.replace(/^sha256:/, "").slice(0, 12), descriptor.size);
        const outcome = await uploadBlob({
          client: destination,
          repository,
          descriptor,
          read: (start: number, end: number): Promise<Readable> => source.blob(descriptor, start, end),
          mountFrom,
          chunkLimit: options.chunkLimit,
          progress: bar,
          ...(options.retryDelayMs ? { retryDelayMs: options.retryDelayMs } : {}),
        });
        result.blobs[outcome]++;
        if (outcome === "uploaded") result.bytesUploaded += descriptor.size;
        bar.set(descriptor.size);
        bar.done(outcome === "exists" ? "already there" : outcome === "mounted" ? `mounted from ${mountFrom}` : `uploaded ${formatBytes(descriptor.size)}`);
      });
      blobs.set(descriptor.digest, pending);
    }
    return pending;
  };

  /** A manifest's blobs, or an index's manifests (recursively), then the manifest itself under `ref`. */
  const copyManifest = async (manifest: ManifestBytes, ref: string): Promise<void> => {
    const parsed = JSON.parse(manifest.bytes.toString("utf8")) as { manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[] };
    if (INDEX_TYPES.has(manifest.mediaType) || Array.isArray(parsed.manifests)) {
      await Promise.all((parsed.manifests ?? []).map(async (child) => copyManifest(await source.manifest(child), child.digest)));
    } else {
      const descriptors = [...(parsed.config ? [parsed.config] : []), ...(parsed.layers ?? [])];
      await Promise.all(descriptors.map(copyBlob));
    }
    await putManifest(destination, repository, ref, manifest);
  };

  const root = await source.root();
  result.digest = root.digest;
  if (reference.digest && reference.digest !== root.digest) {
    throw new Error(`the destination names ${reference.digest}, but the source's manifest is ${root.digest}`);
  }
  await copyManifest(root, reference.digest ?? reference.tag ?? root.digest);
  return result;
}

async function putManifest(client: RegistryClient, repository: string, ref: string, manifest: ManifestBytes): Promise<void> {
  const answer = await client.request("PUT", `/v2/${repository}/manifests/${ref}`, {
    scopes: [repositoryScope(repository, "pull,push")],
    headers: { "Content-Type": manifest.mediaType, "Content-Length": String(manifest.bytes.length) },
    body: () => manifest.bytes,
  });
  if (answer.status !== 201) return client.fail(answer, `PUT manifest ${repository}:${ref}`);
  discard(answer);
}

/** Runs at most `n` of the given tasks at once. */
function limiter(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async (task) => {
    if (running >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
    try {
      return await task();
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}
